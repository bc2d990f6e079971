//! The logical unit: SPC-4 and SBC-3 commands executed against a
//! [`BlockBackend`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::{Bytes, BytesMut};

use crate::backend::BlockBackend;
use crate::cdb;
use crate::command::{BlockAccess, Command, ModeSense};
use crate::data::{Lun, Reader, ReportLuns, StandardInquiry};
use crate::fail::Fail;
pub use crate::nexus::Nexus;
pub use crate::pr::PrStore;
use crate::pr::Reservations;
use crate::sense::{Asc, Sense, SenseFormat, SenseKey, Status};

mod alua;
mod gate;
mod sanitize;
mod sbc;
mod spc;
mod vpd;
mod xcopy;

pub use alua::{TargetPortGroup, TargetPortGroups};
use gate::GateGuard;
pub use sanitize::{Background, BackgroundWork, SANITIZE_CHUNK_BYTES};
pub use sbc::{Begun, IoPlan};

pub use xcopy::{
    COPY_CHUNK_BYTES, CopyTargets, MAX_CSCD_DESCRIPTORS, MAX_DESCRIPTOR_LIST_LENGTH,
    MAX_SEGMENT_BYTES, MAX_SEGMENT_DESCRIPTORS,
};

/// What identifies the unit in INQUIRY and its VPD pages.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LuConfig {
    /// T10 VENDOR IDENTIFICATION (8 ASCII bytes, space padded).
    pub vendor: String,
    /// PRODUCT IDENTIFICATION (16 bytes).
    pub product: String,
    /// PRODUCT REVISION LEVEL (4 bytes).
    pub revision: String,
    /// Unit serial number (VPD 0x80), also the T10 vendor ID designator.
    pub serial: String,
    /// The 16-byte NAA IEEE Registered Extended identifier (VPD 0x83).
    pub naa: [u8; 16],
    /// The SCSI target device name (for iSCSI, the target's IQN).
    pub target_name: String,
    /// Refuse writes (DATA PROTECT / WRITE PROTECTED).
    pub read_only: bool,
    /// Write cache enabled (WCE in the Caching mode page) at start.
    pub write_cache: bool,
    /// Logical blocks per physical block, as a power of two (the LOGICAL
    /// BLOCKS PER PHYSICAL BLOCK EXPONENT of READ CAPACITY(16), SBC-3
    /// §5.16.2): 0 when a physical block is one logical block, 3 for
    /// 512-byte logical blocks on 4096-byte physical blocks. The optimal
    /// transfer and unmap granularities of the Block Limits page follow it.
    pub lbppbe: u8,
    /// Runs and paces a SANITIZE in the background, so a sanitize
    /// outlives its command and does not starve the other units of a
    /// shared backend. The runtime supplies it: it owns threads, clocks
    /// and sleeping. `None`: a sanitize runs on the command's thread, as
    /// fast as the backend goes, and IMMED completes only when it ends.
    pub background: Option<Arc<dyn Background>>,
    /// Keeps persistent reservations through power loss when an initiator
    /// asks for it (APTPL); `None`: APTPL is refused (PTPL_C 0). The
    /// runtime supplies it and restores what it kept with
    /// [`LogicalUnit::restore_persistent_reservations`].
    pub pr_store: Option<Arc<dyn PrStore>>,
    /// Aborts other I_T nexuses' tasks for this unit when a command asks
    /// for it (PREEMPT AND ABORT). The runtime supplies it: the tasks
    /// live in its sessions. `None`: the preempted nexuses' tasks run on
    /// (and meet the new reservation when they reach the unit).
    pub task_sets: Option<Arc<dyn TaskSets>>,
    /// The target port groups the unit is reached through (ALUA, SPC-4
    /// §5.15), shared with the other units of the target; `None`: no ALUA
    /// (TPGS 00b, every port active/optimized).
    pub port_groups: Option<Arc<TargetPortGroups>>,
}

impl LuConfig {
    /// A configuration for a unit with `serial` on target `target_name`;
    /// the NAA identifier is derived from both.
    #[must_use]
    pub fn new(target_name: impl Into<String>, serial: impl Into<String>) -> Self {
        let target_name = target_name.into();
        let serial = serial.into();
        Self {
            vendor: "RSISCSI".to_owned(),
            product: "RAMDISK".to_owned(),
            revision: "0001".to_owned(),
            naa: naa_from(&target_name, &serial),
            serial,
            target_name,
            read_only: false,
            write_cache: true,
            lbppbe: 0,
            background: None,
            pr_store: None,
            task_sets: None,
            port_groups: None,
        }
    }
}

/// The task sets of a logical unit, one per I_T nexus, which live in the
/// runtime's sessions.
pub trait TaskSets: Send + Sync + std::fmt::Debug {
    /// Aborts every task of the I_T nexuses `nexuses` (ids, as in
    /// [`Nexus::id`]) for this logical unit, as ABORT TASK SET from
    /// each would, without TASK ABORTED status (TAS 0): a task waiting for
    /// data or its turn is dropped, a running one sends no status. Called
    /// before the command that asked ends, from the command's thread; it
    /// must not wait for the sessions.
    fn abort(&self, nexuses: &[u64]);
}

/// An NAA 6 (IEEE Registered Extended, SPC-4 §7.8.6.6.4) identifier: a
/// fixed company id and a stable hash of the target name and serial, so the
/// same unit keeps its identity across restarts.
fn naa_from(target: &str, serial: &str) -> [u8; 16] {
    // FNV-1a 64, twice with different seeds: stable across runs and builds.
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in target.bytes().chain([0]).chain(serial.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let a = fnv(0xcbf2_9ce4_8422_2325);
    let b = fnv(0x8422_2325_cbf2_9ce4);
    let mut out = [0u8; 16];
    // NAA 6 (4 bits), IEEE company id 0x5254AA (24 bits), vendor specific
    // identifier (36 bits), vendor specific identifier extension (64 bits).
    out[0] = 0x65;
    out[1] = 0x25;
    out[2] = 0x4a;
    out[3] = 0xa0 | ((a >> 32) as u8 & 0x0f);
    out[4..8].copy_from_slice(&(a as u32).to_be_bytes());
    out[8..16].copy_from_slice(&b.to_be_bytes());
    out
}

/// The outcome of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// SCSI status.
    pub status: Status,
    /// Data for the initiator (Data-In), already cut to the allocation length.
    pub data: Bytes,
    /// Sense data with CHECK CONDITION.
    pub sense: Option<Sense>,
    /// The format the sense data is sent in (D_SENSE of the Control page).
    pub sense_format: SenseFormat,
    /// The backend's error behind a MEDIUM ERROR (the OS error text), for
    /// the target's log: the initiator sees only the sense data.
    pub backend_error: Option<String>,
}

impl Response {
    /// GOOD with data.
    #[must_use]
    pub fn good(data: Bytes) -> Self {
        Self {
            status: Status::GOOD,
            data,
            sense: None,
            sense_format: SenseFormat::Fixed,
            backend_error: None,
        }
    }

    /// CHECK CONDITION with `sense`.
    #[must_use]
    pub fn check(sense: Sense, format: SenseFormat) -> Self {
        Self {
            status: Status::CHECK_CONDITION,
            data: Bytes::new(),
            sense: Some(sense),
            sense_format: format,
            backend_error: None,
        }
    }

    /// A status without data or sense (RESERVATION CONFLICT, CONDITION MET, BUSY).
    #[must_use]
    pub fn status(status: Status) -> Self {
        Self {
            status,
            data: Bytes::new(),
            sense: None,
            sense_format: SenseFormat::Fixed,
            backend_error: None,
        }
    }

    fn failed(fail: Fail, format: SenseFormat) -> Self {
        match fail {
            Fail::Check(sense) => Self::check(sense, format),
            Fail::Medium(sense, cause) => Self {
                backend_error: Some(cause),
                ..Self::check(sense, format)
            },
            Fail::Conflict => Self::status(Status::RESERVATION_CONFLICT),
        }
    }

    /// The sense data bytes to send, in the unit's format.
    #[must_use]
    pub fn sense_data(&self) -> Option<Bytes> {
        self.sense.map(|s| s.encode(self.sense_format))
    }
}

/// A command for the unit.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Request<'a> {
    /// Who sent it.
    pub nexus: &'a Nexus,
    /// The CDB (with any extended CDB bytes appended).
    pub cdb: &'a [u8],
    /// The Data-Out payload as it arrived, in order.
    pub data_out: &'a [Bytes],
    /// The Data-Out length the initiator announced (iSCSI Expected Data
    /// Transfer Length), when it may differ from what `data_out` holds
    /// (the transport delivers only what the CDB uses).
    pub announced_data_out: Option<usize>,
    /// `cdb` already decoded (by a transport that sized its Data-Out with
    /// it); the unit decodes `cdb` itself when this is `None`.
    pub command: Option<Command>,
    /// The other units an EXTENDED COPY from this nexus may name; without
    /// them a copy may only name the unit itself.
    pub copy_targets: Option<&'a dyn CopyTargets>,
}

impl<'a> Request<'a> {
    /// A request from `nexus` with `cdb` and Data-Out `data_out`.
    #[must_use]
    pub const fn new(nexus: &'a Nexus, cdb: &'a [u8], data_out: &'a [Bytes]) -> Self {
        Self {
            nexus,
            cdb,
            data_out,
            announced_data_out: None,
            command: None,
            copy_targets: None,
        }
    }

    /// This request with the units an EXTENDED COPY may name besides the
    /// one it is sent to.
    #[must_use]
    pub const fn with_copy_targets(mut self, targets: &'a dyn CopyTargets) -> Self {
        self.copy_targets = Some(targets);
        self
    }

    /// This request with `cdb` already decoded into `command` (which must
    /// be what [`Command::parse`] gives for `cdb`).
    #[must_use]
    pub const fn with_command(mut self, command: Command) -> Self {
        self.command = Some(command);
        self
    }

    /// This request with the Data-Out length the initiator announced.
    #[must_use]
    pub const fn with_announced_data_out(mut self, bytes: usize) -> Self {
        self.announced_data_out = Some(bytes);
        self
    }

    fn data_out_len(&self) -> usize {
        self.data_out.iter().map(Bytes::len).sum()
    }

    /// The parameter list of a command with PARAMETER LIST LENGTH `pll`:
    /// the Data-Out cut to it (shorter when less arrived).
    fn parameter_list(&self, pll: u32) -> Bytes {
        let mut data = self.data_out_bytes();
        data.truncate(usize::try_from(pll).unwrap_or(usize::MAX));
        data
    }

    /// The Data-Out payload gathered into one buffer (for parameter lists).
    fn data_out_bytes(&self) -> Bytes {
        match self.data_out {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut buf = BytesMut::with_capacity(self.data_out_len());
                for b in many {
                    buf.extend_from_slice(b);
                }
                buf.freeze()
            }
        }
    }
}

/// Kinds of reset a unit can be told about (SAM-5 §5.6, task management).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetKind {
    /// LOGICAL UNIT RESET.
    LogicalUnit,
    /// TARGET WARM RESET.
    TargetWarm,
    /// TARGET COLD RESET.
    TargetCold,
}

type Outcome = Result<Bytes, Fail>;

#[derive(Debug, Clone, Copy)]
struct ModeState {
    wce: bool,
    d_sense: bool,
    swp: bool,
}

/// The transfer length a unit advertises as its maximum, blocks (VPD 0xB0
/// MAXIMUM TRANSFER LENGTH): 8 MiB of 512-byte blocks.
pub const MAX_TRANSFER_BLOCKS: u32 = 16384;
/// The largest transfer actually accepted, bytes (256 MiB): initiators
/// that do not read the Block Limits page still get service.
pub const MAX_TRANSFER_BYTES: usize = 256 << 20;
/// MAXIMUM COMPARE AND WRITE LENGTH, blocks.
pub const MAX_COMPARE_AND_WRITE_BLOCKS: u8 = 255;
/// MAXIMUM UNMAP LBA COUNT.
pub const MAX_UNMAP_BLOCKS: u32 = 1 << 20;
/// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
pub const MAX_UNMAP_DESCRIPTORS: u32 = 256;
/// MAXIMUM WRITE SAME LENGTH, blocks.
/// MAXIMUM WRITE SAME LENGTH, blocks; a WRITE SAME "to the end of the
/// medium" (NUMBER OF LOGICAL BLOCKS 0, WSNZ=0) longer than this is refused.
pub const MAX_WRITE_SAME_BLOCKS: u64 = 1 << 16;

/// A SCSI direct-access block device (SBC-3) over a [`BlockBackend`].
///
/// [`execute`](Self::execute) runs one command to completion; it takes
/// `&self` and may run for many commands at once from many threads. Data
/// moves without a global lock: only COMPARE AND WRITE, ORWRITE and WRITE
/// ATOMIC take the unit's write gate exclusively, to be atomic against
/// other commands.
pub struct LogicalUnit {
    backend: Arc<dyn BlockBackend>,
    config: LuConfig,
    block_size: u32,
    mode: Mutex<ModeState>,
    /// Unit attentions queued per nexus id.
    attentions: Mutex<HashMap<u64, VecDeque<Sense>>>,
    pending_attentions: AtomicUsize,
    /// Nexus ids known to the unit (to queue attentions for everyone).
    nexuses: Mutex<Vec<u64>>,
    reservations: Mutex<Reservations>,
    any_reservation: AtomicBool,
    /// PREVENT ALLOW MEDIUM REMOVAL state per nexus.
    prevent: Mutex<Vec<u64>>,
    write_gate: gate::WriteGate,
    /// The last ALUA change this unit queued unit attentions for.
    alua_seen: std::sync::atomic::AtomicU64,
    /// A SANITIZE running or failed.
    sanitize: Arc<sanitize::SanitizeState>,
    /// EXTENDED COPY status by nexus id and LIST IDENTIFIER.
    copies: Mutex<HashMap<(u64, u8), xcopy::CopyRecord>>,
}

impl std::fmt::Debug for LogicalUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogicalUnit")
            .field("serial", &self.config.serial)
            .field("block_size", &self.block_size)
            .field("blocks", &self.block_count())
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Truncates `data` to `alloc` bytes (SPC-4 §4.2.5.6: a short allocation
/// length truncates, it is never an error).
fn truncate(data: impl Into<Bytes>, alloc: usize) -> Bytes {
    let mut data = data.into();
    data.truncate(alloc);
    data
}

/// A backend's failure at `lba`: MEDIUM ERROR with `asc` (SBC-3 §4.15),
/// except when the storage could not be reached in time (a network
/// backend's cluster down or fenced: `ETIMEDOUT`, `ENOTCONN`,
/// `ESHUTDOWN`, a refused or reset connection), which is NOT READY,
/// LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE (SPC-4 §4.5.6): nothing
/// is known to be wrong with the medium and the command may be retried,
/// on another path too. The backend's error travels on to
/// [`Response::backend_error`] for the log.
fn medium_error(cause: &std::io::Error, asc: Asc, lba: u64) -> Fail {
    use std::io::ErrorKind;
    /// ESHUTDOWN on Linux: librados after this client was blocklisted.
    const ESHUTDOWN: i32 = 108;
    let unreachable = matches!(
        cause.kind(),
        ErrorKind::TimedOut
            | ErrorKind::NotConnected
            | ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::NetworkDown
    ) || cause.raw_os_error() == Some(ESHUTDOWN);
    let sense = if unreachable {
        Sense::new(SenseKey::NOT_READY, Asc::NOT_READY_CAUSE_NOT_REPORTABLE)
    } else {
        Sense::new(SenseKey::MEDIUM_ERROR, asc).with_information(lba)
    };
    Fail::Medium(sense, cause.to_string())
}

fn illegal(asc: Asc) -> Fail {
    Fail::Check(Sense::new(SenseKey::ILLEGAL_REQUEST, asc))
}

fn field(byte: u16, bit: Option<u8>) -> Fail {
    Fail::Check(Sense::invalid_cdb_field(byte, bit))
}

/// MISCOMPARE DURING VERIFY OPERATION with the byte `offset` of the first
/// difference in INFORMATION (SBC-3 COMPARE AND WRITE and VERIFY).
fn miscompare(offset: usize) -> Fail {
    Fail::Check(
        Sense::new(SenseKey::MISCOMPARE, Asc::MISCOMPARE_DURING_VERIFY)
            .with_information(offset as u64),
    )
}

impl LogicalUnit {
    /// A unit over `backend`.
    #[must_use]
    pub fn new(backend: Arc<dyn BlockBackend>, config: LuConfig) -> Self {
        let block_size = backend.block_size();
        let ptpl_capable = config.pr_store.is_some();
        let mode = ModeState {
            wce: config.write_cache,
            d_sense: false,
            swp: false,
        };
        Self {
            backend,
            config,
            block_size,
            mode: Mutex::new(mode),
            attentions: Mutex::new(HashMap::new()),
            pending_attentions: AtomicUsize::new(0),
            nexuses: Mutex::new(Vec::new()),
            reservations: Mutex::new(Reservations::new(ptpl_capable)),
            any_reservation: AtomicBool::new(false),
            prevent: Mutex::new(Vec::new()),
            write_gate: gate::WriteGate::default(),
            alua_seen: std::sync::atomic::AtomicU64::new(0),
            sanitize: Arc::default(),
            copies: Mutex::new(HashMap::new()),
        }
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> &Arc<dyn BlockBackend> {
        &self.backend
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LuConfig {
        &self.config
    }

    /// Logical block size, bytes.
    #[must_use]
    pub const fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Capacity, blocks: the backend's, which [`resize`](Self::resize)
    /// changes while the unit serves.
    #[must_use]
    pub fn block_count(&self) -> u64 {
        self.backend.block_count()
    }

    /// Puts back the persistent reservations a [`PrStore`] kept (APTPL):
    /// registrations, the reservation and the PR generation, with APTPL
    /// in effect. Call it before the unit serves.
    ///
    /// # Errors
    /// `line N: what` when `text` does not parse; the unit then has no
    /// reservation.
    pub fn restore_persistent_reservations(&self, text: &str) -> Result<(), String> {
        let mut r = lock(&self.reservations);
        r.restore(text)?;
        self.any_reservation.store(r.active(), Ordering::Release);
        Ok(())
    }

    /// Changes the capacity to `blocks` logical blocks while sessions run
    /// (online resize): the backend grows or shrinks, READ CAPACITY
    /// answers the new size, and every I_T nexus gets CAPACITY DATA HAS
    /// CHANGED (2Ah/09h, SBC-4 §4.8) on its next command. Whether a shrink
    /// that cuts off data is wanted is the caller's decision.
    ///
    /// # Errors
    /// The backend's: it cannot change size, `blocks` is zero or too
    /// large, or the OS error. The unit keeps its size and queues nothing.
    pub fn resize(&self, blocks: u64) -> std::io::Result<()> {
        self.backend.resize(blocks)?;
        self.queue_attention_all(
            None,
            Sense::new(SenseKey::UNIT_ATTENTION, Asc::CAPACITY_DATA_HAS_CHANGED),
        );
        Ok(())
    }

    fn sense_format(&self) -> SenseFormat {
        if lock(&self.mode).d_sense {
            SenseFormat::Descriptor
        } else {
            SenseFormat::Fixed
        }
    }

    fn read_only(&self) -> bool {
        self.config.read_only || self.backend.read_only()
    }

    // ---- Nexus life cycle, resets and unit attentions. ----

    /// A new I_T nexus: it gets POWER ON, RESET, OR BUS DEVICE RESET
    /// OCCURRED on its first command (SAM-5 §5.14).
    pub fn add_nexus(&self, nexus: &Nexus) {
        let mut known = lock(&self.nexuses);
        if !known.contains(&nexus.id) {
            known.push(nexus.id);
            drop(known);
            self.queue_attention(
                nexus.id,
                Sense::new(SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET),
            );
        }
    }

    /// The nexus is gone (logout, connection lost): its SPC-2 reservation
    /// and PREVENT ALLOW state are released; persistent registrations stay.
    pub fn nexus_lost(&self, nexus_id: u64) {
        lock(&self.nexuses).retain(|n| *n != nexus_id);
        lock(&self.prevent).retain(|n| *n != nexus_id);
        lock(&self.copies).retain(|(n, _), _| *n != nexus_id);
        if let Some(q) = lock(&self.attentions).remove(&nexus_id) {
            self.pending_attentions
                .fetch_sub(q.len(), Ordering::Relaxed);
        }
        let mut r = lock(&self.reservations);
        r.nexus_lost(nexus_id);
        self.any_reservation.store(r.active(), Ordering::Release);
    }

    /// A reset: SPC-2 reservations and PREVENT ALLOW state are cleared and
    /// every nexus but the one that asked for the reset (`by`) gets a unit
    /// attention (SAM-5 §6.3).
    pub fn reset(&self, kind: ResetKind, by: Option<u64>) {
        lock(&self.prevent).clear();
        {
            let mut r = lock(&self.reservations);
            r.clear_spc2();
            if kind == ResetKind::TargetCold {
                r.clear_spc2();
            }
            self.any_reservation.store(r.active(), Ordering::Release);
        }
        let asc = match kind {
            // The generic code: initiators (libiscsi among them) treat it as
            // the expected attention after any reset.
            ResetKind::LogicalUnit | ResetKind::TargetWarm => Asc::POWER_ON_RESET,
            ResetKind::TargetCold => Asc::POWER_ON_OCCURRED,
        };
        self.queue_attention_all(by, Sense::new(SenseKey::UNIT_ATTENTION, asc));
    }

    /// The target's LUN inventory changed: REPORTED LUNS DATA HAS CHANGED
    /// for every nexus.
    pub fn luns_changed(&self) {
        self.queue_attention_all(
            None,
            Sense::new(
                SenseKey::UNIT_ATTENTION,
                Asc::REPORTED_LUNS_DATA_HAS_CHANGED,
            ),
        );
    }

    fn queue_attention(&self, nexus: u64, sense: Sense) {
        let mut map = lock(&self.attentions);
        let q = map.entry(nexus).or_default();
        if !q.contains(&sense) && q.len() < 16 {
            q.push_back(sense);
            self.pending_attentions.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn queue_attention_all(&self, except: Option<u64>, sense: Sense) {
        let known = lock(&self.nexuses).clone();
        for id in known {
            if Some(id) != except {
                self.queue_attention(id, sense);
            }
        }
    }

    /// Queues a unit attention for the nexuses whose initiator ports `f` selects.
    pub(crate) fn queue_attention_ids(&self, ids: &[u64], sense: Sense) {
        for id in ids {
            self.queue_attention(*id, sense);
        }
    }

    fn take_attention(&self, nexus: u64) -> Option<Sense> {
        if self.pending_attentions.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut map = lock(&self.attentions);
        let sense = map.get_mut(&nexus)?.pop_front()?;
        self.pending_attentions.fetch_sub(1, Ordering::Relaxed);
        Some(sense)
    }

    /// Writes the backend's cache out (for shutdown).
    ///
    /// # Errors
    /// The backend's error.
    pub fn flush(&self) -> std::io::Result<()> {
        self.backend.flush()
    }

    // ---- Dispatch. ----

    /// Executes one command (SAM-5 §5.1): unit attentions, reservations,
    /// then the command itself.
    #[must_use]
    pub fn execute(&self, req: &Request<'_>) -> Response {
        match self.admit(req) {
            Ok(command) => self.run(req, command),
            Err(response) => response,
        }
    }

    /// What comes before a command runs: its CDB checked, a running or
    /// failed SANITIZE, unit attentions, the port's ALUA state,
    /// reservations, the CDB decoded. `Err` holds the answer when the
    /// command does not run.
    fn admit(&self, req: &Request<'_>) -> Result<Command, Response> {
        let format = self.sense_format();
        let cdb = req.cdb;
        if let Err(sense) = cdb::check_len(cdb) {
            return Err(Response::check(sense, format));
        }
        let spec = cdb::lookup(cdb);
        self.alua_note_changes();
        // A running SANITIZE stops every command but INQUIRY, REPORT LUNS
        // and REQUEST SENSE on every nexus, ahead of unit attentions
        // (SBC-4 §4.11.1); REQUEST SENSE reports it.
        if self.sanitize.running() {
            match spec.map(|c| c.handler) {
                Some(cdb::Handler::Inquiry | cdb::Handler::ReportLuns) => {}
                Some(cdb::Handler::RequestSense) => {
                    let alloc = usize::from(Reader(cdb).u8(4));
                    let desc = Reader(cdb).bit(1, 0x01);
                    let wanted = if desc {
                        SenseFormat::Descriptor
                    } else {
                        SenseFormat::Fixed
                    };
                    return Err(Response::good(truncate(
                        sanitize::in_progress().encode(wanted),
                        alloc,
                    )));
                }
                _ => return Err(Response::check(sanitize::in_progress(), format)),
            }
        }
        // Unit attentions stop every command but INQUIRY, REPORT LUNS and
        // REQUEST SENSE (SAM-5 §5.14, SPC-4 §6.29); unknown commands too.
        if spec.is_none_or(|c| c.unit_attention)
            && let Some(ua) = self.take_attention(req.nexus.id)
        {
            return Err(Response::check(ua, format));
        }
        // A port whose group is in standby, unavailable or transitioning
        // lets only some commands through (SPC-4 §5.15.2.4).
        if let Some(sense) = self.alua_check(req, spec.map(|c| c.handler)) {
            return Err(Response::check(sense, format));
        }
        if self.any_reservation.load(Ordering::Acquire) {
            let access = cdb::access(cdb);
            let r = lock(&self.reservations);
            if r.conflicts(req.nexus, access) {
                return Err(Response::status(Status::RESERVATION_CONFLICT));
            }
        }
        let parsed = match req.command {
            Some(command) => Ok(command),
            None => Command::parse(cdb),
        };
        let command = match parsed {
            Ok(command) => command,
            Err(sense) => return Err(Response::check(sense, format)),
        };
        // After a failed SANITIZE the medium is not to be trusted until a
        // sanitize succeeds (SBC-4 §4.11.3).
        if self.sanitize.failed()
            && (command.block_access().is_some()
                || matches!(
                    command,
                    Command::Unmap { .. } | Command::ExtendedCopy { .. }
                ))
        {
            return Err(Response::check(sanitize::failure_mode(), format));
        }
        Ok(command)
    }

    /// Runs an admitted command.
    fn run(&self, req: &Request<'_>, command: Command) -> Response {
        let format = self.sense_format();
        let outcome = match command {
            Command::TestUnitReady => Ok(Bytes::new()),
            Command::Inquiry {
                evpd,
                cmddt_or_reserved,
                page_code,
                allocation_length,
            } => self.inquiry(req, evpd, cmddt_or_reserved, page_code, allocation_length),
            Command::RequestSense {
                desc,
                allocation_length,
            } => return self.request_sense(req, desc, allocation_length),
            // REPORT LUNS is the target's: it knows every LUN.
            Command::ReportLuns { .. } => Err(illegal(Asc::INVALID_COMMAND_OPERATION_CODE)),
            Command::ModeSense(fields) => self.mode_sense(&fields),
            Command::ModeSelect { ten, sp, .. } => self.mode_select(req, ten, sp, &command),
            Command::ReportSupportedOperationCodes(fields) => {
                crate::mode::report_supported_opcodes(&fields)
            }
            Command::ReportTargetPortGroups {
                extended,
                allocation_length,
            } => self.report_target_port_groups(extended, allocation_length),
            Command::SetTargetPortGroups {
                parameter_list_length,
            } => self.set_target_port_groups(req, parameter_list_length),
            Command::PreventAllowMediumRemoval { prevent } => self.prevent_allow(req, prevent),
            Command::StartStopUnit {
                power_condition,
                loej,
                start,
                ..
            } => self.start_stop_unit(power_condition, loej, start),
            Command::Reserve {
                third_party_or_extents,
            } => self.reserve(req, third_party_or_extents),
            Command::Release => self.release(req),
            Command::PersistentReserveIn {
                service_action,
                allocation_length,
            } => self.persistent_reserve_in(req, service_action, allocation_length),
            Command::PersistentReserveOut {
                service_action,
                scope_type,
                parameter_list_length,
            } => {
                self.persistent_reserve_out(req, service_action, scope_type, parameter_list_length)
            }
            Command::ReadCapacity10 { lba, pmi } => self.read_capacity_10(lba, pmi),
            Command::ReadCapacity16 { allocation_length } => {
                Ok(self.read_capacity_16(allocation_length))
            }
            Command::GetLbaStatus {
                lba,
                allocation_length,
            } => self.get_lba_status(lba, allocation_length),
            Command::Read(access) => self.read(access),
            Command::Write { access, atomic } => self.write(req, access, atomic),
            Command::WriteAndVerify { access, bytchk } => {
                self.write_and_verify(req, access, bytchk)
            }
            Command::OrWrite(access) => self.orwrite(req, access),
            Command::Verify { access, bytchk } => self.verify(req, access, bytchk),
            Command::SynchronizeCache { access, .. } => self.synchronize_cache(access),
            Command::PreFetch { access, .. } => return self.pre_fetch(access, format),
            Command::WriteSame {
                sixteen,
                access,
                unmap,
                anchor,
                ndob,
            } => self.write_same(req, sixteen, access, unmap, anchor, ndob),
            Command::Unmap {
                anchor,
                parameter_list_length,
            } => self.unmap(req, anchor, parameter_list_length),
            Command::CompareAndWrite(access) => self.compare_and_write(req, access),
            Command::Sanitize {
                immed,
                reserved,
                ause,
                service_action,
                parameter_list_length,
            } => self.sanitize(
                req,
                immed,
                reserved,
                ause,
                service_action,
                parameter_list_length,
            ),
            Command::ExtendedCopy {
                parameter_list_length,
            } => self.extended_copy(req, parameter_list_length),
            Command::ReceiveCopyResults {
                service_action,
                list_identifier,
                allocation_length,
            } => self.receive_copy_results(req, service_action, list_identifier, allocation_length),
            Command::ReadDefectData {
                ten,
                list_format,
                allocation_length,
            } => Ok(sbc::read_defect_data(ten, list_format, allocation_length)),
        };
        match outcome {
            Ok(data) => Response::good(data),
            Err(fail) => Response::failed(fail, format),
        }
    }
}

fn mode_view(m: ModeState) -> crate::mode::ModeValues {
    crate::mode::ModeValues {
        wce: m.wce,
        d_sense: m.d_sense,
        swp: m.swp,
    }
}

struct ModeViewMut<'a>(&'a mut ModeState);

fn mode_view_mut(m: &mut ModeState) -> ModeViewMut<'_> {
    ModeViewMut(m)
}

impl crate::mode::ModeSink for ModeViewMut<'_> {
    fn set_wce(&mut self, on: bool) {
        self.0.wce = on;
    }
    fn set_d_sense(&mut self, on: bool) {
        self.0.d_sense = on;
    }
    fn set_swp(&mut self, on: bool) {
        self.0.swp = on;
    }
}

/// REPORT LUNS data (SPC-4 §6.33) for a target with these LUN indexes, in
/// SAM peripheral (below 256) or flat space addressing. The target layer
/// answers REPORT LUNS with it, whatever LUN the command names.
#[must_use]
pub fn report_luns(luns: &[u16], cdb: &[u8]) -> Response {
    let Ok(Command::ReportLuns {
        select_report: select,
        allocation_length,
    }) = Command::parse(cdb)
    else {
        return Response::check(Sense::invalid_cdb_field(2, None), SenseFormat::Fixed);
    };
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    if !matches!(select, 0x00 | 0x01 | 0x02 | 0x10 | 0x11 | 0x12) {
        return Response::check(Sense::invalid_cdb_field(2, None), SenseFormat::Fixed);
    }
    if alloc < 16 {
        return Response::check(Sense::invalid_cdb_field(6, None), SenseFormat::Fixed);
    }
    // The target configuration refuses LUN indexes above Lun::MAX_INDEX.
    let listed = if select == 0x01 {
        Vec::new()
    } else {
        luns.iter().filter_map(|&i| Lun::from_index(i)).collect()
    };
    Response::good(truncate(ReportLuns::new(listed).encode(), alloc))
}

/// The response for a command to a LUN the target does not have (SPC-4
/// §4.6.5): INQUIRY gets peripheral qualifier 011b, REQUEST SENSE reports
/// LOGICAL UNIT NOT SUPPORTED as data, everything else CHECK CONDITION
/// ILLEGAL REQUEST / LOGICAL UNIT NOT SUPPORTED (25/00).
#[must_use]
pub fn lun_not_supported(cdb: &[u8]) -> Response {
    let sense = Sense::new(SenseKey::ILLEGAL_REQUEST, Asc::LOGICAL_UNIT_NOT_SUPPORTED);
    match Command::parse(cdb) {
        Ok(Command::Inquiry {
            evpd: false,
            allocation_length,
            ..
        }) => {
            // Peripheral qualifier 011b, device type 1Fh: no unit here.
            let data = StandardInquiry {
                peripheral_qualifier: 3,
                device_type: 0x1f,
                version: 0x06,
                hisup: true,
                response_data_format: 2,
                additional_length: StandardInquiry::MIN_ADDITIONAL_LENGTH,
                ..StandardInquiry::default()
            };
            Response::good(truncate(data.encode(), usize::from(allocation_length)))
        }
        Ok(Command::RequestSense {
            allocation_length, ..
        }) => Response::good(truncate(
            sense.encode(SenseFormat::Fixed),
            usize::from(allocation_length),
        )),
        _ => Response::check(sense, SenseFormat::Fixed),
    }
}
