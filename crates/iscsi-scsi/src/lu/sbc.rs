//! The SBC-3 commands of a logical unit: READ CAPACITY, reads, writes,
//! VERIFY, COMPARE AND WRITE, WRITE SAME, UNMAP, GET LBA STATUS, SYNCHRONIZE
//! CACHE, PRE-FETCH, READ DEFECT DATA.

use super::*;
use crate::data::{
    LbaStatus, LbaStatusDescriptor, ProvisioningStatus, ReadCapacity10, ReadCapacity16,
};

/// How [`LogicalUnit::begin`] left a command: answered, an I/O for the
/// caller to do (asynchronously, on a backend that can) and hand to
/// [`LogicalUnit::finish_read`] or [`LogicalUnit::finish_write`], or a
/// command for [`LogicalUnit::execute`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Begun {
    /// Answered without touching the medium: a CHECK CONDITION (unit
    /// attention, reservation conflict, LBA out of range, …) or a
    /// transfer of zero blocks.
    Done(Response),
    /// Read [`IoPlan::len`] bytes from byte [`IoPlan::offset`].
    Read(IoPlan),
    /// Write the first [`IoPlan::len`] bytes of the Data-Out at byte
    /// [`IoPlan::offset`], then make them durable when [`IoPlan::flush`]
    /// (FUA with the write cache on).
    Write(IoPlan),
    /// Anything else (or a READ/WRITE that would wait behind an atomic
    /// command): run it with [`LogicalUnit::execute`].
    Execute,
}

/// How a plan holds the write gate.
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// Shared, if that needs no wait (the asynchronous path).
    TryShared,
    /// Shared, waiting for an atomic command.
    Shared,
    /// Exclusively (WRITE ATOMIC).
    Exclusive,
}

/// A READ's or WRITE's transfer after its checks.
#[derive(Debug)]
enum Planned {
    /// Zero blocks: nothing to move.
    Nothing,
    /// The gate is held exclusively or wanted so ([`Hold::TryShared`]).
    Busy,
    /// The transfer, gate held.
    Io(IoPlan),
}

/// An admitted READ or WRITE: where its bytes go. It holds the unit's
/// write gate shared until it is finished (or dropped), so COMPARE AND
/// WRITE, ORWRITE and WRITE ATOMIC stay atomic against it.
#[derive(Debug)]
#[non_exhaustive]
pub struct IoPlan {
    /// Byte offset in the backend.
    pub offset: u64,
    /// Bytes to transfer: whole blocks.
    pub len: usize,
    /// Writes: flush (SYNCHRONIZE CACHE semantics) after the write.
    pub flush: bool,
    lba: u64,
    _gate: GateGuard,
}

impl LogicalUnit {
    /// The first half of [`execute`](Self::execute) for READ(6/10/12/16)
    /// and WRITE(6/10/12/16), for backends whose I/O completes
    /// asynchronously: everything SAM-5 and SBC-3 check before the medium
    /// is touched, then the plan of the transfer. Every other command is
    /// [`Begun::Execute`].
    #[must_use]
    pub fn begin(&self, req: &Request<'_>) -> Begun {
        // Only a READ or a plain WRITE splits: decide before admitting
        // (which consumes a unit attention).
        let splits = matches!(
            req.command.map_or_else(|| Command::parse(req.cdb), Ok),
            Ok(Command::Read(_) | Command::Write { atomic: false, .. })
        );
        if !splits {
            return Begun::Execute;
        }
        let format = self.sense_format();
        let command = match self.admit(req) {
            Ok(command) => command,
            Err(response) => return Begun::Done(response),
        };
        let planned = match command {
            Command::Read(access) => self.plan_read(access, Hold::TryShared),
            Command::Write {
                access,
                atomic: false,
            } => self.plan_write(req, access, Hold::TryShared),
            _ => return Begun::Execute,
        };
        match (planned, command) {
            (Ok(Planned::Io(plan)), Command::Read(_)) => Begun::Read(plan),
            (Ok(Planned::Io(plan)), _) => Begun::Write(plan),
            // No shared gate without waiting: the blocking path waits.
            (Ok(Planned::Busy), _) => Begun::Execute,
            (Ok(Planned::Nothing), _) => Begun::Done(Response::good(Bytes::new())),
            (Err(fail), _) => Begun::Done(Response::failed(fail, format)),
        }
    }

    /// The checks of a READ (SBC-3 §5.2, §5.11) and its transfer.
    fn plan_read(&self, access: BlockAccess, hold: Hold) -> Result<Planned, Fail> {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            ..
        } = access;
        self.check_range(lba, u64::from(blocks), protect)?;
        if u64::from(blocks) * u64::from(self.block_size) > MAX_TRANSFER_BYTES as u64 {
            return Err(field(7, None));
        }
        if blocks == 0 {
            return Ok(Planned::Nothing);
        }
        let len = self.bytes_of(u64::from(blocks))?;
        Ok(self.plan(hold, lba, len, false))
    }

    /// The checks of a WRITE and its transfer: when the transport delivered
    /// less than the CDB asks (an iSCSI expected length below it), only the
    /// whole blocks received are written; the transport reports the
    /// residual.
    fn plan_write(
        &self,
        req: &Request<'_>,
        access: BlockAccess,
        hold: Hold,
    ) -> Result<Planned, Fail> {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            fua,
            ..
        } = access;
        self.check_range(lba, u64::from(blocks), protect)?;
        self.check_writable()?;
        if u64::from(blocks) * u64::from(self.block_size) > MAX_TRANSFER_BYTES as u64 {
            return Err(field(7, None));
        }
        let len = self
            .bytes_of(u64::from(blocks))?
            .min(self.whole_blocks(req.data_out_len()));
        if len == 0 {
            return Ok(Planned::Nothing);
        }
        let flush = fua && lock(&self.mode).wce;
        Ok(self.plan(hold, lba, len, flush))
    }

    fn plan(&self, hold: Hold, lba: u64, len: usize, flush: bool) -> Planned {
        let gate = match hold {
            Hold::TryShared => match self.write_gate.try_shared() {
                Some(gate) => gate,
                None => return Planned::Busy,
            },
            Hold::Shared => self.shared_writes(),
            Hold::Exclusive => self.exclusive_writes(),
        };
        Planned::Io(IoPlan {
            offset: lba * u64::from(self.block_size),
            len,
            flush,
            lba,
            _gate: gate,
        })
    }

    /// The answer to a [`Begun::Read`] once its bytes (or the backend's
    /// error: MEDIUM ERROR, or NOT READY for storage out of reach) are in.
    #[must_use]
    pub fn finish_read(&self, plan: IoPlan, data: std::io::Result<Bytes>) -> Response {
        match data {
            Ok(data) if data.len() == plan.len => Response::good(data),
            Ok(data) => Response::failed(
                medium_error(
                    &std::io::Error::other(format!(
                        "the backend returned {} of {} bytes",
                        data.len(),
                        plan.len
                    )),
                    Asc::UNRECOVERED_READ_ERROR,
                    plan.lba,
                ),
                self.sense_format(),
            ),
            Err(e) => Response::failed(
                medium_error(&e, Asc::UNRECOVERED_READ_ERROR, plan.lba),
                self.sense_format(),
            ),
        }
    }

    /// The answer to a [`Begun::Write`] once the write (and the flush the
    /// plan asked for) completed or failed.
    #[must_use]
    pub fn finish_write(&self, plan: IoPlan, done: std::io::Result<()>) -> Response {
        match done {
            Ok(()) => Response::good(Bytes::new()),
            Err(e) => Response::failed(
                medium_error(&e, Asc::WRITE_ERROR, plan.lba),
                self.sense_format(),
            ),
        }
    }

    pub(super) fn read_capacity_10(&self, lba: u32, pmi: bool) -> Outcome {
        if !pmi && lba != 0 {
            return Err(field(2, None));
        }
        let data = ReadCapacity10::new(self.block_count(), self.block_size).encode();
        Ok(Bytes::copy_from_slice(&data))
    }

    pub(super) fn read_capacity_16(&self, alloc: u32) -> Bytes {
        let alloc = usize::try_from(alloc).unwrap_or(usize::MAX);
        let thin = self.backend.thin();
        let data = ReadCapacity16 {
            lbpme: thin,
            lbprz: thin,
            lbppbe: self.config.lbppbe,
            ..ReadCapacity16::new(self.block_count(), self.block_size)
        };
        truncate(data.encode().to_vec(), alloc)
    }

    /// Checks the range and the protection field (we have no protection
    /// information: any non-zero RDPROTECT/WRPROTECT/VRPROTECT is invalid,
    /// SBC-3 §5.2).
    pub(super) fn check_range(&self, lba: u64, blocks: u64, protect: u8) -> Result<(), Fail> {
        if protect != 0 {
            return Err(field(1, Some(7)));
        }
        let capacity = self.block_count();
        match lba.checked_add(blocks) {
            Some(end) if end <= capacity && lba < capacity => Ok(()),
            _ => Err(illegal(Asc::LBA_OUT_OF_RANGE)),
        }
    }

    /// `len` rounded down to whole blocks.
    pub(super) fn whole_blocks(&self, len: usize) -> usize {
        let bs = self.block_size as usize;
        len / bs * bs
    }

    /// Bytes of Data-Out the CDB asks for (transfer length in blocks, or a
    /// parameter list length): what a transport should solicit, and what its
    /// residual is counted against. Zero for commands without Data-Out.
    #[must_use]
    pub fn expected_data_out(&self, cdb: &[u8]) -> usize {
        cdb::data_out_len(cdb, self.block_size)
    }

    /// [`expected_data_out`](Self::expected_data_out) for a CDB already
    /// decoded into `command`: its Data-Out Buffer Size (SAM-5 §5.1) in
    /// bytes, without decoding `cdb` again.
    #[must_use]
    pub fn data_out_buffer_size(&self, cdb: &[u8], command: &Command) -> usize {
        cdb::data_out_buffer_size(
            cdb.first().copied().unwrap_or(0xff),
            command,
            self.block_size,
        )
    }

    pub(super) fn bytes_of(&self, blocks: u64) -> Result<usize, Fail> {
        usize::try_from(blocks * u64::from(self.block_size)).map_err(|_| field(7, None))
    }

    pub(super) fn read_blocks(&self, lba: u64, blocks: u64) -> Result<BytesMut, Fail> {
        let len = self.bytes_of(blocks)?;
        let mut buf = BytesMut::with_capacity(len);
        buf.resize(len, 0);
        self.backend
            .read_at(lba * u64::from(self.block_size), &mut buf)
            .map_err(|e| medium_error(&e, Asc::UNRECOVERED_READ_ERROR, lba))?;
        Ok(buf)
    }

    pub(super) fn read(&self, access: BlockAccess) -> Outcome {
        match self.plan_read(access, Hold::Shared)? {
            Planned::Io(plan) => {
                let mut buf = BytesMut::zeroed(plan.len);
                self.backend
                    .read_at(plan.offset, &mut buf)
                    .map_err(|e| medium_error(&e, Asc::UNRECOVERED_READ_ERROR, plan.lba))?;
                Ok(buf.freeze())
            }
            Planned::Nothing | Planned::Busy => Ok(Bytes::new()),
        }
    }

    pub(super) fn check_writable(&self) -> Result<(), Fail> {
        if self.read_only() {
            return Err(Fail::Check(Sense::new(
                SenseKey::DATA_PROTECT,
                Asc::WRITE_PROTECTED,
            )));
        }
        if lock(&self.mode).swp {
            return Err(Fail::Check(Sense::new(
                SenseKey::DATA_PROTECT,
                Asc::SOFTWARE_WRITE_PROTECTED,
            )));
        }
        Ok(())
    }

    /// The write gate held shared: ordinary reads and writes run side by
    /// side under it.
    pub(super) fn shared_writes(&self) -> GateGuard {
        self.write_gate.shared()
    }

    /// The write gate held exclusively: COMPARE AND WRITE, WRITE ATOMIC and
    /// ORWRITE see no other write to their blocks in between.
    pub(super) fn exclusive_writes(&self) -> GateGuard {
        self.write_gate.exclusive()
    }

    /// Writes the whole Data-Out of `req` at `lba`; `fua` forces it to
    /// stable storage when the write cache is on.
    pub(super) fn write_data(
        &self,
        req: &Request<'_>,
        lba: u64,
        len: usize,
        fua: bool,
    ) -> Result<(), Fail> {
        let mut slices: Vec<&[u8]> = Vec::with_capacity(req.data_out.len());
        let mut left = len;
        for b in req.data_out {
            if left == 0 {
                break;
            }
            let n = b.len().min(left);
            slices.push(b.get(..n).unwrap_or(&[]));
            left -= n;
        }
        self.backend
            .write_vectored_at(lba * u64::from(self.block_size), &slices)
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        self.flush_if_fua(fua, lba)
    }

    /// FUA (SBC-3, the WRITE commands): with the write cache on, the write just done at
    /// `lba` reaches stable storage before the command completes.
    pub(super) fn flush_if_fua(&self, fua: bool, lba: u64) -> Result<(), Fail> {
        if fua && lock(&self.mode).wce {
            self.backend
                .flush()
                .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        }
        Ok(())
    }

    pub(super) fn write(&self, req: &Request<'_>, access: BlockAccess, atomic: bool) -> Outcome {
        let hold = if atomic {
            Hold::Exclusive
        } else {
            Hold::Shared
        };
        if let Planned::Io(plan) = self.plan_write(req, access, hold)? {
            self.write_data(req, plan.lba, plan.len, plan.flush)?;
        }
        Ok(Bytes::new())
    }

    pub(super) fn write_and_verify(
        &self,
        req: &Request<'_>,
        access: BlockAccess,
        bytchk: u8,
    ) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            ..
        } = access;
        if bytchk == 3 {
            return Err(field(1, Some(2)));
        }
        self.check_range(lba, u64::from(blocks), protect)?;
        self.check_writable()?;
        let len = self
            .bytes_of(u64::from(blocks))?
            .min(self.whole_blocks(req.data_out_len()));
        if len == 0 {
            return Ok(Bytes::new());
        }
        let _gate = self.shared_writes();
        // The medium is verified by writing through: the backend confirms
        // the write before returning, so BYTCHK 0 and 1 both succeed.
        self.write_data(req, lba, len, true)?;
        Ok(Bytes::new())
    }

    pub(super) fn orwrite(&self, req: &Request<'_>, access: BlockAccess) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            ..
        } = access;
        self.check_range(lba, u64::from(blocks), protect)?;
        self.check_writable()?;
        let len = self.bytes_of(u64::from(blocks))?;
        if req.data_out_len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        if blocks == 0 {
            return Ok(Bytes::new());
        }
        let _gate = self.exclusive_writes();
        let mut current = self.read_blocks(lba, u64::from(blocks))?;
        let mut at = 0;
        for b in req.data_out {
            for byte in b.iter() {
                if let Some(dst) = current.get_mut(at) {
                    *dst |= *byte;
                }
                at += 1;
            }
        }
        self.backend
            .write_at(lba * u64::from(self.block_size), &current)
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        Ok(Bytes::new())
    }

    pub(super) fn verify(&self, req: &Request<'_>, access: BlockAccess, bytchk: u8) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            ..
        } = access;
        if bytchk == 2 {
            return Err(field(1, Some(2)));
        }
        self.check_range(lba, u64::from(blocks), protect)?;
        if blocks == 0 {
            return Ok(Bytes::new());
        }
        let _gate = self.shared_writes();
        let medium = self.read_blocks(lba, u64::from(blocks))?;
        if bytchk == 0 {
            return Ok(Bytes::new());
        }
        let expected = req.data_out_bytes();
        let bs = self.block_size as usize;
        let needed = if bytchk == 3 { bs } else { medium.len() };
        if expected.len() < needed {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let mismatch = medium.iter().enumerate().find(|(i, m)| {
            let e = if bytchk == 3 {
                expected.get(i % bs)
            } else {
                expected.get(*i)
            };
            e != Some(m)
        });
        if let Some((offset, _)) = mismatch {
            return Err(miscompare(offset));
        }
        Ok(Bytes::new())
    }

    pub(super) fn synchronize_cache(&self, access: BlockAccess) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            ..
        } = access;
        self.check_range(lba, u64::from(blocks), 0)?;
        self.backend
            .flush()
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        Ok(Bytes::new())
    }

    pub(super) fn pre_fetch(&self, access: BlockAccess, format: SenseFormat) -> Response {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            ..
        } = access;
        match self.check_range(lba, u64::from(blocks), 0) {
            // Nothing to do (RAM, or the OS page cache does read-ahead).
            // GOOD rather than CONDITION MET: initiators (libiscsi's
            // conformance suite among them) expect GOOD.
            Ok(()) => Response::good(Bytes::new()),
            Err(fail) => Response::failed(fail, format),
        }
    }

    pub(super) fn write_same(
        &self,
        req: &Request<'_>,
        sixteen: bool,
        access: BlockAccess,
        unmap: bool,
        anchor: bool,
        ndob: bool,
    ) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            ..
        } = access;
        let blocks = u64::from(blocks);
        if anchor {
            return Err(field(1, Some(4)));
        }
        // NUMBER OF LOGICAL BLOCKS 0: to the end of the medium (WSNZ=0).
        let blocks = if blocks == 0 {
            self.block_count().saturating_sub(lba)
        } else {
            blocks
        };
        self.check_range(lba, blocks.max(1), protect)?;
        self.check_writable()?;
        if blocks > MAX_WRITE_SAME_BLOCKS {
            return Err(field(if sixteen { 10 } else { 7 }, None));
        }
        let bs = self.block_size as usize;
        let block = if ndob {
            Bytes::from(vec![0u8; bs])
        } else {
            // The initiator must announce exactly one block of Data-Out
            // (SBC-4 §5.49): half a block or two are refused, not cut.
            if req.announced_data_out.is_some_and(|n| n != bs) {
                return Err(illegal(Asc::INVALID_FIELD_IN_CDB));
            }
            let data = req.data_out_bytes();
            if data.len() < bs {
                return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
            }
            data.slice(..bs)
        };
        let offset = lba * u64::from(self.block_size);
        let _gate = self.shared_writes();
        // UNMAP=1 on a thin unit deallocates whatever the data (SBC-3
        // §5.44: LBPRZ=1 then reads zeros); without it zeros still may.
        let zero = block.iter().all(|b| *b == 0);
        let result = if (unmap || zero) && self.backend.thin() {
            self.backend
                .unmap(offset, blocks * u64::from(self.block_size))
        } else {
            self.backend.write_same(offset, blocks, &block)
        };
        result.map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        Ok(Bytes::new())
    }

    pub(super) fn unmap(&self, req: &Request<'_>, anchor: bool, len: u16) -> Outcome {
        if anchor {
            return Err(field(1, Some(0)));
        }
        let len = usize::from(len);
        self.check_writable()?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let data = req.data_out_bytes();
        if len < 8 || data.len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let p = Reader(&data);
        let descriptors_len = usize::from(p.u16(2));
        if descriptors_len % 16 != 0 || 8 + descriptors_len > len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let count = descriptors_len / 16;
        if count > MAX_UNMAP_DESCRIPTORS as usize {
            return Err(Fail::Check(Sense::invalid_parameter_field(2, None)));
        }
        let mut ranges = Vec::with_capacity(count);
        let capacity = self.block_count();
        for i in 0..count {
            let at = 8 + 16 * i;
            let lba = p.u64(at);
            let n = u64::from(p.u32(at + 8));
            if n > u64::from(MAX_UNMAP_BLOCKS) {
                return Err(Fail::Check(Sense::invalid_parameter_field(
                    u16::try_from(at + 8).unwrap_or(u16::MAX),
                    None,
                )));
            }
            match lba.checked_add(n) {
                Some(end) if end <= capacity => ranges.push((lba, n)),
                _ => return Err(illegal(Asc::LBA_OUT_OF_RANGE)),
            }
        }
        let _gate = self.shared_writes();
        let bs = u64::from(self.block_size);
        for (lba, n) in ranges {
            if n > 0 {
                self.backend
                    .unmap(lba * bs, n * bs)
                    .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
            }
        }
        Ok(Bytes::new())
    }

    pub(super) fn compare_and_write(&self, req: &Request<'_>, access: BlockAccess) -> Outcome {
        let BlockAccess {
            lba,
            transfer_length: blocks,
            protect,
            fua,
            ..
        } = access;
        self.check_range(lba, u64::from(blocks), protect)?;
        self.check_writable()?;
        let len = self.bytes_of(u64::from(blocks))?;
        let data = req.data_out_bytes();
        let announced = req.announced_data_out.unwrap_or(data.len());
        if data.len() != 2 * len || announced != 2 * len {
            // The Data-Out must be exactly the verify and write halves
            // (SBC-3 §5.2); NUMBER OF LOGICAL BLOCKS 0 with data is wrong too.
            return Err(field(13, None));
        }
        if blocks == 0 {
            return Ok(Bytes::new());
        }
        let (verify, write) = data.split_at(len);
        let _gate = self.exclusive_writes();
        // Atomic in the storage when the backend can (RBD: at the OSD).
        if let Some(done) =
            self.backend
                .compare_and_write(lba * u64::from(self.block_size), verify, write)
        {
            if let Some(offset) = done.map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))? {
                return Err(miscompare(usize::try_from(offset).unwrap_or(usize::MAX)));
            }
            self.flush_if_fua(fua, lba)?;
            return Ok(Bytes::new());
        }
        let current = self.read_blocks(lba, u64::from(blocks))?;
        if let Some(offset) = current.iter().zip(verify).position(|(a, b)| a != b) {
            return Err(miscompare(offset));
        }
        self.backend
            .write_at(lba * u64::from(self.block_size), write)
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        self.flush_if_fua(fua, lba)?;
        Ok(Bytes::new())
    }

    pub(super) fn get_lba_status(&self, lba: u64, alloc: u32) -> Outcome {
        let alloc = usize::try_from(alloc).unwrap_or(usize::MAX);
        let capacity = self.block_count();
        if lba >= capacity {
            return Err(illegal(Asc::LBA_OUT_OF_RANGE));
        }
        let bs = u64::from(self.block_size);
        let mut descriptors = Vec::new();
        let mut at = lba;
        // As many descriptors as fit the allocation length, at most 64.
        let room = (alloc.saturating_sub(8) / 16).clamp(1, 64);
        while at < capacity && descriptors.len() < room {
            let (mapped, run) = self
                .backend
                .mapping(at * bs)
                .map_err(|e| medium_error(&e, Asc::UNRECOVERED_READ_ERROR, at))?;
            let n = (run / bs).clamp(1, capacity - at);
            descriptors.push((at, n, mapped));
            at += n;
        }
        let status = LbaStatus::new(
            descriptors
                .into_iter()
                .map(|(start, n, mapped)| {
                    let status = if mapped {
                        ProvisioningStatus::Mapped
                    } else {
                        ProvisioningStatus::Deallocated
                    };
                    LbaStatusDescriptor::new(start, u32::try_from(n).unwrap_or(u32::MAX), status)
                })
                .collect(),
        );
        Ok(truncate(status.encode(), alloc))
    }
}

/// READ DEFECT DATA(10)/(12) data: no defects, the header alone, echoing
/// the list format asked for with PLISTV/GLISTV clear (SBC-3 §5.14).
pub(super) fn read_defect_data(ten: bool, flags: u8, alloc: u32) -> Bytes {
    let alloc = usize::try_from(alloc).unwrap_or(usize::MAX);
    let format = flags & 0x07;
    let out = if ten {
        vec![0, format, 0, 0]
    } else {
        vec![0, format, 0, 0, 0, 0, 0, 0]
    };
    truncate(out, alloc)
}
