//! SANITIZE (SBC-4 §5.30, §4.11): OVERWRITE and BLOCK ERASE of the whole
//! medium, EXIT FAILURE MODE; CRYPTOGRAPHIC ERASE is not supported (these
//! units keep no data encrypted), so its service action is refused like
//! any other the unit does not have.
//!
//! The operation runs on a thread of the runtime's ([`Background::spawn`]),
//! not tied to the command, the task or the session: aborts, resets and
//! lost connections do not stop it (SBC-4 §4.11.1). While it runs every command but INQUIRY, REPORT
//! LUNS and REQUEST SENSE ends in NOT READY, LOGICAL UNIT NOT READY,
//! SANITIZE IN PROGRESS (04h/1Bh), on every I_T nexus, before any unit
//! attention. With IMMED set the command completes when the operation
//! starts, otherwise when it ends. A sanitize that fails leaves the unit in
//! sanitize failure mode: medium access commands end in MEDIUM ERROR,
//! SANITIZE COMMAND FAILED (31h/03h) until a sanitize succeeds or, when
//! the failed one had AUSE set, EXIT FAILURE MODE.
//!
//! The medium is written in chunks of [`SANITIZE_CHUNK_BYTES`]; after
//! each one the unit's [`Background`] ([`LuConfig::background`]) may hold
//! the operation back, so a sanitize does not starve the other units of a
//! shared backend. Threads and waiting are the runtime's: this module
//! starts none and sleeps never. A unit without one runs the operation on
//! the command's own thread, so IMMED then completes only when it ends.

use std::sync::atomic::AtomicU8;

use super::*;

/// The bytes a sanitize writes or deallocates at a time.
pub const SANITIZE_CHUNK_BYTES: u64 = 1 << 20;

/// The work a [`Background`] runs: a whole sanitize operation.
pub type BackgroundWork = Box<dyn FnOnce() + Send>;

/// The runtime side of a long background operation of a logical unit
/// (SANITIZE): where it runs and how fast.
pub trait Background: Send + Sync + std::fmt::Debug {
    /// Starts `work` on a thread of the runtime's, one that outlives the
    /// command, the task and the session that asked for it.
    ///
    /// # Errors
    /// When no thread can be had; the command then ends in MEDIUM ERROR,
    /// SANITIZE COMMAND FAILED and the unit is left as it was.
    fn spawn(&self, work: BackgroundWork) -> std::io::Result<()>;

    /// Called on the operation's thread after each chunk of `bytes` bytes
    /// (at most [`SANITIZE_CHUNK_BYTES`]); returns when the next chunk may
    /// start. The default does not wait.
    fn chunk_done(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// Sanitize state shared by the unit and the operation's thread.
#[derive(Debug, Default)]
pub(super) struct SanitizeState {
    /// An operation is running.
    running: AtomicBool,
    /// 0: no failure; 1: the last sanitize failed (AUSE 0); 2: it failed
    /// with AUSE 1 (EXIT FAILURE MODE allowed).
    failure: AtomicU8,
}

impl SanitizeState {
    pub(super) fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    pub(super) fn failed(&self) -> bool {
        self.failure.load(Ordering::Acquire) != 0
    }
}

/// What a sanitize writes.
#[derive(Debug, Clone)]
enum Job {
    /// Every block becomes this block (the pattern repeated).
    Overwrite(Vec<u8>),
    /// Every block is deallocated (thin units) or zeroed.
    BlockErase,
}

/// NOT READY, LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS.
pub(super) fn in_progress() -> Sense {
    Sense::new(SenseKey::NOT_READY, Asc::NOT_READY_SANITIZE_IN_PROGRESS)
}

/// MEDIUM ERROR, SANITIZE COMMAND FAILED.
pub(super) fn failure_mode() -> Sense {
    Sense::new(SenseKey::MEDIUM_ERROR, Asc::SANITIZE_COMMAND_FAILED)
}

impl LogicalUnit {
    /// SANITIZE (SBC-4 §5.30). `reserved` is set when a reserved CDB bit
    /// or byte is (byte 1 bit 6, bytes 2–6).
    pub(super) fn sanitize(
        &self,
        req: &Request<'_>,
        immed: bool,
        reserved: bool,
        ause: bool,
        service_action: u8,
        parameter_list_length: u16,
    ) -> Outcome {
        if reserved {
            return Err(field(1, Some(6)));
        }
        self.check_writable()?;
        if self.sanitize.running() {
            return Err(Fail::Check(in_progress()));
        }
        let job = match service_action {
            cdb::op::SANITIZE_EXIT_FAILURE_MODE => {
                if parameter_list_length != 0 {
                    return Err(field(7, None));
                }
                // Only a failure with AUSE set may be left this way.
                if self
                    .sanitize
                    .failure
                    .compare_exchange(2, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return Err(field(1, Some(4)));
                }
                return Ok(Bytes::new());
            }
            cdb::op::SANITIZE_BLOCK_ERASE => {
                if parameter_list_length != 0 {
                    return Err(field(7, None));
                }
                Job::BlockErase
            }
            _ => Job::Overwrite(self.overwrite_block(req, parameter_list_length)?),
        };
        if self
            .sanitize
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Fail::Check(in_progress()));
        }
        let backend = self.backend.clone();
        let state = self.sanitize.clone();
        let bytes = self.block_count() * u64::from(self.block_size);
        let background = self.config.background.clone();
        let finish = move |result: &std::io::Result<()>| {
            let failure = match (result, ause) {
                (Ok(()), _) => 0,
                (Err(_), false) => 1,
                (Err(_), true) => 2,
            };
            state.failure.store(failure, Ordering::Release);
            state.running.store(false, Ordering::Release);
        };
        match background {
            Some(background) if immed => {
                let runner = background.clone();
                let work: BackgroundWork = Box::new(move || {
                    let result = run(backend.as_ref(), &job, bytes, Some(runner.as_ref()));
                    finish(&result);
                });
                if let Err(e) = background.spawn(work) {
                    self.sanitize.running.store(false, Ordering::Release);
                    return Err(Fail::Medium(failure_mode(), e.to_string()));
                }
                Ok(Bytes::new())
            }
            // Without IMMED the command waits for the operation anyway, so
            // it runs here, on the command's thread (the runtime gives
            // SANITIZE one that may block).
            background => {
                let result = run(backend.as_ref(), &job, bytes, background.as_deref());
                finish(&result);
                result
                    .map(|()| Bytes::new())
                    .map_err(|e| Fail::Medium(failure_mode(), e.to_string()))
            }
        }
    }

    /// The block an OVERWRITE writes everywhere, from its parameter list
    /// (SBC-4 §5.30.3): INVERT, TEST, OVERWRITE COUNT, INITIALIZATION
    /// PATTERN LENGTH and the pattern, repeated to fill a block. With
    /// INVERT the passes alternate between the pattern and its inverse,
    /// so an even count leaves the inverse.
    fn overwrite_block(&self, req: &Request<'_>, pll: u16) -> Result<Vec<u8>, Fail> {
        let bs = self.block_size as usize;
        let pll = usize::from(pll);
        if pll < 5 || pll > bs + 4 {
            return Err(field(7, None));
        }
        let data = req.data_out_bytes();
        let list = data.get(..pll).ok_or_else(|| field(7, None))?;
        let p = Reader(list);
        let invert = p.bit(0, 0x80);
        let count = p.u8(0) & 0x1f;
        if p.u8(0) & 0x60 != 0 {
            return Err(parameter_field(0, Some(6)));
        }
        if count == 0 {
            return Err(parameter_field(0, None));
        }
        let pattern_len = usize::from(p.u16(2));
        if pattern_len == 0 || pattern_len > bs || pattern_len + 4 != pll {
            return Err(parameter_field(2, None));
        }
        let pattern = p.span(4, 4 + pattern_len);
        let flip = invert && count % 2 == 0;
        Ok(pattern
            .iter()
            .cycle()
            .take(bs)
            .map(|b| if flip { !b } else { *b })
            .collect())
    }
}

fn parameter_field(byte: u16, bit: Option<u8>) -> Fail {
    Fail::Check(Sense::invalid_parameter_field(byte, bit))
}

/// Writes or deallocates `bytes` bytes from 0 in chunks, `pace` told of
/// each.
fn run(
    backend: &dyn BlockBackend,
    job: &Job,
    bytes: u64,
    pace: Option<&dyn Background>,
) -> std::io::Result<()> {
    let bs = u64::from(backend.block_size());
    let zero = vec![0u8; usize::try_from(bs).unwrap_or(512)];
    // A deallocation in whole allocation units of the backend, or the
    // units stay allocated (zeroed) and GET LBA STATUS says MAPPED.
    let chunk = match job {
        Job::BlockErase if backend.thin() => {
            let unit = backend.allocation_unit().max(1);
            SANITIZE_CHUNK_BYTES.div_ceil(unit).saturating_mul(unit)
        }
        _ => SANITIZE_CHUNK_BYTES,
    };
    let mut done = 0u64;
    while done < bytes {
        let len = (bytes - done).min(chunk);
        match job {
            Job::Overwrite(block) => backend.write_same(done, len / bs, block)?,
            Job::BlockErase if backend.thin() => backend.unmap(done, len)?,
            Job::BlockErase => backend.write_same(done, len / bs, &zero)?,
        }
        done += len;
        if let Some(pace) = pace {
            pace.chunk_done(len);
        }
    }
    backend.flush()
}
