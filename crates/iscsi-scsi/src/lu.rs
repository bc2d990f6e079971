//! The logical unit: SPC-4 and SBC-3 commands executed against a
//! [`BlockBackend`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::{BufMut, Bytes, BytesMut};

use crate::backend::BlockBackend;
use crate::cdb::{self, Fields, Handler, op};
use crate::pr::Reservations;
use crate::sense::{Asc, Sense, SenseFormat, SenseKey, Status};

/// An I_T nexus as a logical unit sees it: the initiator port and the
/// target port a command came through (SAM-5 §4.6.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Nexus {
    /// Unique per nexus for the lifetime of the target (a session id).
    pub id: u64,
    /// The initiator port name, for iSCSI `iqn...,i,0x<ISID>` (SPC-4 §7.6.4.6).
    pub initiator_port: Arc<str>,
    /// The relative target port identifier (for iSCSI the portal group tag).
    pub target_port: u16,
}

impl Nexus {
    /// A nexus with this id, initiator port name and target port.
    #[must_use]
    pub fn new(id: u64, initiator_port: impl Into<Arc<str>>, target_port: u16) -> Self {
        Self {
            id,
            initiator_port: initiator_port.into(),
            target_port,
        }
    }
}

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
        }
    }
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
#[derive(Clone, Copy, Debug)]
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
        }
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

/// Failure of a command before it produced a response.
#[derive(Debug)]
pub(crate) enum Fail {
    Check(Sense),
    /// MEDIUM ERROR sense and the backend error behind it.
    Medium(Sense, String),
    Conflict,
}

impl From<Sense> for Fail {
    fn from(s: Sense) -> Self {
        Self::Check(s)
    }
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
    blocks: u64,
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
    write_gate: RwLock<()>,
}

impl std::fmt::Debug for LogicalUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogicalUnit")
            .field("serial", &self.config.serial)
            .field("block_size", &self.block_size)
            .field("blocks", &self.blocks)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ascii(field: &str, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = field
        .bytes()
        .map(|b| {
            if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b'_'
            }
        })
        .take(len)
        .collect();
    out.resize(len, b' ');
    out
}

/// Truncates `data` to `alloc` bytes (SPC-4 §4.2.5.6: a short allocation
/// length truncates, it is never an error).
fn truncate(data: impl Into<Bytes>, alloc: usize) -> Bytes {
    let mut data = data.into();
    data.truncate(alloc);
    data
}

/// MEDIUM ERROR with the failing LBA; the backend's error travels on to
/// [`Response::backend_error`] for the log.
fn medium_error(cause: &dyn std::fmt::Display, asc: Asc, lba: u64) -> Fail {
    Fail::Medium(
        Sense::new(SenseKey::MEDIUM_ERROR, asc).with_information(lba),
        cause.to_string(),
    )
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
        let blocks = backend.block_count();
        let mode = ModeState {
            wce: config.write_cache,
            d_sense: false,
            swp: false,
        };
        Self {
            backend,
            config,
            block_size,
            blocks,
            mode: Mutex::new(mode),
            attentions: Mutex::new(HashMap::new()),
            pending_attentions: AtomicUsize::new(0),
            nexuses: Mutex::new(Vec::new()),
            reservations: Mutex::new(Reservations::default()),
            any_reservation: AtomicBool::new(false),
            prevent: Mutex::new(Vec::new()),
            write_gate: RwLock::new(()),
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

    /// Capacity, blocks.
    #[must_use]
    pub const fn block_count(&self) -> u64 {
        self.blocks
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
        let format = self.sense_format();
        let cdb = req.cdb;
        let opcode = cdb.first().copied().unwrap_or(0xff);
        if let Err(sense) = cdb::check_len(cdb) {
            return Response::check(sense, format);
        }
        let spec = cdb::lookup(cdb);
        // Unit attentions stop every command but INQUIRY, REPORT LUNS and
        // REQUEST SENSE (SAM-5 §5.14, SPC-4 §6.29); unknown commands too.
        if spec.is_none_or(|c| c.unit_attention)
            && let Some(ua) = self.take_attention(req.nexus.id)
        {
            return Response::check(ua, format);
        }
        if self.any_reservation.load(Ordering::Acquire) {
            let access = cdb::access(cdb);
            let r = lock(&self.reservations);
            if r.conflicts(req.nexus, access) {
                return Response::status(Status::RESERVATION_CONFLICT);
            }
        }
        let Some(handler) = cdb::handler(opcode) else {
            let sense = Sense {
                field: Some(crate::sense::FieldPointer {
                    in_cdb: true,
                    byte: 0,
                    bit: None,
                }),
                ..Sense::new(
                    SenseKey::ILLEGAL_REQUEST,
                    Asc::INVALID_COMMAND_OPERATION_CODE,
                )
            };
            return Response::failed(Fail::Check(sense), format);
        };
        let outcome = match handler {
            Handler::TestUnitReady => Ok(Bytes::new()),
            Handler::Inquiry => self.inquiry(req),
            Handler::RequestSense => return self.request_sense(req, format),
            // REPORT LUNS is the target's: it knows every LUN.
            Handler::ReportLuns => Err(illegal(Asc::INVALID_COMMAND_OPERATION_CODE)),
            Handler::ModeSense => self.mode_sense(req),
            Handler::ModeSelect => self.mode_select(req),
            Handler::MaintenanceIn => self.maintenance_in(req),
            Handler::PreventAllow => self.prevent_allow(req),
            Handler::StartStopUnit => self.start_stop_unit(req),
            Handler::Reserve => self.reserve(req),
            Handler::Release => self.release(req),
            Handler::PersistentReserveIn => self.persistent_reserve_in(req),
            Handler::PersistentReserveOut => self.persistent_reserve_out(req),
            Handler::ReadCapacity10 => self.read_capacity_10(req),
            Handler::ServiceActionIn => self.service_action_in(req),
            Handler::Read => self.read(req),
            Handler::Write => self.write(req),
            Handler::WriteAndVerify => self.write_and_verify(req),
            Handler::OrWrite => self.orwrite(req),
            Handler::Verify => self.verify(req),
            Handler::SynchronizeCache => self.synchronize_cache(req),
            Handler::PreFetch => return self.pre_fetch(req, format),
            Handler::WriteSame => self.write_same(req),
            Handler::Unmap => self.unmap(req),
            Handler::CompareAndWrite => self.compare_and_write(req),
            Handler::ReadDefectData => self.read_defect_data(req),
        };
        match outcome {
            Ok(data) => Response::good(data),
            Err(fail) => Response::failed(fail, format),
        }
    }

    // ---- SPC commands. ----

    fn request_sense(&self, req: &Request<'_>, format: SenseFormat) -> Response {
        let f = Fields(req.cdb);
        let desc = f.bit(1, 0x01);
        let alloc = usize::from(f.u8(4));
        let sense = self
            .take_attention(req.nexus.id)
            .unwrap_or_else(|| Sense::new(SenseKey::NO_SENSE, Asc::NO_ADDITIONAL_SENSE));
        let wanted = if desc {
            SenseFormat::Descriptor
        } else {
            SenseFormat::Fixed
        };
        let _ = format;
        Response::good(truncate(sense.encode(wanted), alloc))
    }

    fn inquiry(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let evpd = f.bit(1, 0x01);
        if f.u8(1) & 0xfe != 0 {
            return Err(field(1, Some(1)));
        }
        let page = f.u8(2);
        let alloc = usize::from(f.u16(3));
        if !evpd {
            if page != 0 {
                return Err(field(2, None));
            }
            return Ok(truncate(self.standard_inquiry(), alloc));
        }
        let data = crate::vpd::page(self, req.nexus, page).ok_or_else(|| field(2, None))?;
        Ok(truncate(data, alloc))
    }

    fn standard_inquiry(&self) -> Vec<u8> {
        let mut d = [0u8; 96];
        d[0] = 0x00; // connected, direct access block device
        d[1] = 0x00; // not removable
        d[2] = 0x06; // SPC-4
        d[3] = 0x12; // HISUP, response data format 2
        d[4] = 96 - 5;
        d[5] = 0x00;
        d[6] = 0x00;
        d[7] = 0x02; // CMDQUE
        d[8..16].copy_from_slice(&ascii(&self.config.vendor, 8));
        d[16..32].copy_from_slice(&ascii(&self.config.product, 16));
        d[32..36].copy_from_slice(&ascii(&self.config.revision, 4));
        // Version descriptors (SPC-4 table 26): SAM-5, iSCSI (RFC 7143),
        // SPC-4, SBC-3.
        for (slot, v) in d
            .get_mut(58..66)
            .into_iter()
            .flat_map(|s| s.chunks_exact_mut(2))
            .zip([0x00a0u16, 0x0960, 0x0460, 0x04c0])
        {
            slot.copy_from_slice(&v.to_be_bytes());
        }
        d.to_vec()
    }

    fn mode_sense(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let ten = f.u8(0) == op::MODE_SENSE_10;
        let dbd = f.bit(1, 0x08);
        let llbaa = ten && f.bit(1, 0x10);
        let pc = f.u8(2) >> 6;
        let page = f.u8(2) & 0x3f;
        let subpage = f.u8(3);
        let alloc = if ten {
            usize::from(f.u16(7))
        } else {
            usize::from(f.u8(4))
        };
        if pc == 3 {
            return Err(illegal(Asc::new(0x39, 0x00)));
        }
        let mode = *lock(&self.mode);
        let pages = crate::mode::pages(page, subpage, pc, &mode_view(mode))
            .ok_or_else(|| field(2, Some(5)))?;
        let mut block_descriptor = Vec::new();
        if !dbd {
            if llbaa {
                block_descriptor.extend_from_slice(&self.blocks.to_be_bytes());
                block_descriptor.extend_from_slice(&[0, 0, 0, 0]);
                block_descriptor.extend_from_slice(&self.block_size.to_be_bytes());
            } else {
                let n = u32::try_from(self.blocks).unwrap_or(u32::MAX);
                block_descriptor.extend_from_slice(&n.to_be_bytes());
                block_descriptor.push(0);
                let bs = self.block_size.to_be_bytes();
                block_descriptor.extend_from_slice(&bs[1..4]);
            }
        }
        let device_specific = if self.read_only() || mode.swp {
            0x80
        } else {
            0
        } | 0x10;
        let mut out = Vec::new();
        if ten {
            let len = 8 + block_descriptor.len() + pages.len() - 2;
            out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
            out.push(0);
            out.push(device_specific);
            out.push(u8::from(llbaa));
            out.push(0);
            out.extend_from_slice(
                &u16::try_from(block_descriptor.len())
                    .unwrap_or(0)
                    .to_be_bytes(),
            );
        } else {
            let len = 4 + block_descriptor.len() + pages.len() - 1;
            out.push(u8::try_from(len).unwrap_or(u8::MAX));
            out.push(0);
            out.push(device_specific);
            out.push(u8::try_from(block_descriptor.len()).unwrap_or(0));
        }
        out.extend_from_slice(&block_descriptor);
        out.extend_from_slice(&pages);
        Ok(truncate(out, alloc))
    }

    fn mode_select(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let ten = f.u8(0) == op::MODE_SELECT_10;
        let len = if ten {
            usize::from(f.u16(7))
        } else {
            usize::from(f.u8(4))
        };
        if f.bit(1, 0x01) {
            // SP: saving pages is not supported.
            return Err(field(1, Some(0)));
        }
        if len == 0 {
            return Ok(Bytes::new());
        }
        let data = req.data_out_bytes();
        if data.len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let data = data.slice(..len);
        let mut mode = *lock(&self.mode);
        let old = mode;
        crate::mode::select(&data, ten, &mut mode_view_mut(&mut mode))?;
        *lock(&self.mode) = mode;
        if mode.wce != old.wce || mode.d_sense != old.d_sense || mode.swp != old.swp {
            self.queue_attention_all(
                Some(req.nexus.id),
                Sense::new(SenseKey::UNIT_ATTENTION, Asc::MODE_PARAMETERS_CHANGED),
            );
        }
        Ok(Bytes::new())
    }

    fn maintenance_in(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        if u16::from(f.u8(1) & 0x1f) != op::MI_REPORT_SUPPORTED_OPERATION_CODES {
            return Err(field(1, Some(4)));
        }
        crate::mode::report_supported_opcodes(req.cdb)
    }

    fn prevent_allow(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let prevent = f.u8(4) & 0x03;
        let mut p = lock(&self.prevent);
        p.retain(|n| *n != req.nexus.id);
        if prevent & 0x01 != 0 {
            p.push(req.nexus.id);
        }
        Ok(Bytes::new())
    }

    fn start_stop_unit(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let power_condition = f.u8(4) >> 4;
        let loej = f.bit(4, 0x02);
        let start = f.bit(4, 0x01);
        if !matches!(power_condition, 0 | 1 | 2 | 3 | 5 | 7 | 0xa | 0xb) {
            return Err(field(4, Some(7)));
        }
        if power_condition == 0 && loej && !start && !lock(&self.prevent).is_empty() {
            return Err(illegal(Asc::MEDIUM_REMOVAL_PREVENTED));
        }
        Ok(Bytes::new())
    }

    fn reserve(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        if f.u8(0) == op::RESERVE_6 && (f.bit(1, 0x01) || f.u16(3) != 0) {
            return Err(field(1, Some(0)));
        }
        if f.u8(0) == op::RESERVE_10 && (f.bit(1, 0x03) || f.u16(7) != 0) {
            return Err(field(1, Some(0)));
        }
        let mut r = lock(&self.reservations);
        let result = r.reserve_spc2(req.nexus);
        self.any_reservation.store(r.active(), Ordering::Release);
        result.map(|()| Bytes::new())
    }

    fn release(&self, req: &Request<'_>) -> Outcome {
        let mut r = lock(&self.reservations);
        r.release_spc2(req.nexus);
        self.any_reservation.store(r.active(), Ordering::Release);
        Ok(Bytes::new())
    }

    fn persistent_reserve_in(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let alloc = usize::from(f.u16(7));
        let r = lock(&self.reservations);
        let data = r.pr_in(f.u8(1) & 0x1f, req.nexus)?;
        Ok(truncate(data, alloc))
    }

    fn persistent_reserve_out(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let len = usize::try_from(f.u32(5)).unwrap_or(usize::MAX);
        let data = req.data_out_bytes();
        if len != 24 || data.len() < 24 {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let mut r = lock(&self.reservations);
        let known = lock(&self.nexuses).clone();
        let effects = r.pr_out(f.u8(1) & 0x1f, f.u8(2), &data, req.nexus)?;
        self.any_reservation.store(r.active(), Ordering::Release);
        drop(r);
        for (ids, sense) in effects.attentions {
            let ids: Vec<u64> = ids.into_iter().filter(|id| known.contains(id)).collect();
            self.queue_attention_ids(&ids, sense);
        }
        Ok(Bytes::new())
    }

    // ---- SBC commands. ----

    fn read_capacity_10(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let pmi = f.bit(8, 0x01);
        if !pmi && f.u32(2) != 0 {
            return Err(field(2, None));
        }
        let last = u32::try_from(self.blocks - 1).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(8);
        out.extend_from_slice(&last.to_be_bytes());
        out.extend_from_slice(&self.block_size.to_be_bytes());
        Ok(Bytes::from(out))
    }

    fn service_action_in(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let alloc = usize::try_from(f.u32(10)).unwrap_or(usize::MAX);
        match u16::from(f.u8(1) & 0x1f) {
            op::SAI_READ_CAPACITY_16 => {
                let mut out = [0u8; 32];
                out[0..8].copy_from_slice(&(self.blocks - 1).to_be_bytes());
                out[8..12].copy_from_slice(&self.block_size.to_be_bytes());
                if self.backend.thin() {
                    out[14] = 0x80 | 0x40; // LBPME, LBPRZ
                }
                Ok(truncate(out.to_vec(), alloc))
            }
            op::SAI_GET_LBA_STATUS => self.get_lba_status(req, alloc),
            _ => Err(field(1, Some(4))),
        }
    }

    /// Checks the range and the protection field (we have no protection
    /// information: any non-zero RDPROTECT/WRPROTECT/VRPROTECT is invalid,
    /// SBC-3 §5.2).
    fn check_range(&self, lba: u64, blocks: u64, protect: u8) -> Result<(), Fail> {
        if protect != 0 {
            return Err(field(1, Some(7)));
        }
        match lba.checked_add(blocks) {
            Some(end) if end <= self.blocks && lba < self.blocks => Ok(()),
            _ => Err(illegal(Asc::LBA_OUT_OF_RANGE)),
        }
    }

    /// `len` rounded down to whole blocks.
    fn whole_blocks(&self, len: usize) -> usize {
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

    fn bytes_of(&self, blocks: u64) -> Result<usize, Fail> {
        usize::try_from(blocks * u64::from(self.block_size)).map_err(|_| field(7, None))
    }

    fn read_blocks(&self, lba: u64, blocks: u64) -> Result<BytesMut, Fail> {
        let len = self.bytes_of(blocks)?;
        let mut buf = BytesMut::with_capacity(len);
        buf.resize(len, 0);
        self.backend
            .read_at(lba * u64::from(self.block_size), &mut buf)
            .map_err(|e| medium_error(&e, Asc::UNRECOVERED_READ_ERROR, lba))?;
        Ok(buf)
    }

    fn read(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
        self.check_range(lba, u64::from(blocks), protect)?;
        if u64::from(blocks) * u64::from(self.block_size) > MAX_TRANSFER_BYTES as u64 {
            return Err(field(7, None));
        }
        if blocks == 0 {
            return Ok(Bytes::new());
        }
        let _gate = self.shared_writes();
        Ok(self.read_blocks(lba, u64::from(blocks))?.freeze())
    }

    fn check_writable(&self) -> Result<(), Fail> {
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
    fn shared_writes(&self) -> RwLockReadGuard<'_, ()> {
        self.write_gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The write gate held exclusively: COMPARE AND WRITE, WRITE ATOMIC and
    /// ORWRITE see no other write to their blocks in between.
    fn exclusive_writes(&self) -> RwLockWriteGuard<'_, ()> {
        self.write_gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the whole Data-Out of `req` at `lba`; `fua` forces it to
    /// stable storage when the write cache is on.
    fn write_data(&self, req: &Request<'_>, lba: u64, len: usize, fua: bool) -> Result<(), Fail> {
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
    fn flush_if_fua(&self, fua: bool, lba: u64) -> Result<(), Fail> {
        if fua && lock(&self.mode).wce {
            self.backend
                .flush()
                .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        }
        Ok(())
    }

    fn write(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
        let f = Fields(req.cdb);
        let atomic = f.u8(0) == op::WRITE_ATOMIC_16;
        let blocks = if atomic { u32::from(f.u16(12)) } else { blocks };
        self.check_range(lba, u64::from(blocks), protect)?;
        self.check_writable()?;
        if u64::from(blocks) * u64::from(self.block_size) > MAX_TRANSFER_BYTES as u64 {
            return Err(field(7, None));
        }
        // When the transport delivered less than the CDB asks (an iSCSI
        // expected length below it), only the whole blocks received are
        // written; the transport reports the residual.
        let len = self
            .bytes_of(u64::from(blocks))?
            .min(self.whole_blocks(req.data_out_len()));
        if len == 0 {
            return Ok(Bytes::new());
        }
        let fua = f.u8(0) >> 5 != 0 && f.bit(1, 0x08);
        if atomic {
            let _gate = self.exclusive_writes();
            self.write_data(req, lba, len, fua)?;
        } else {
            let _gate = self.shared_writes();
            self.write_data(req, lba, len, fua)?;
        }
        Ok(Bytes::new())
    }

    fn write_and_verify(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
        let f = Fields(req.cdb);
        if f.u8(1) & 0x04 != 0 && f.u8(1) & 0x02 != 0 {
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

    fn orwrite(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
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

    fn verify(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
        let f = Fields(req.cdb);
        let bytchk = (f.u8(1) >> 1) & 0x03;
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

    fn synchronize_cache(&self, req: &Request<'_>) -> Outcome {
        let (lba, blocks, _) = cdb::rw_fields(req.cdb);
        self.check_range(lba, u64::from(blocks), 0)?;
        self.backend
            .flush()
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        Ok(Bytes::new())
    }

    fn pre_fetch(&self, req: &Request<'_>, format: SenseFormat) -> Response {
        let (lba, blocks, _) = cdb::rw_fields(req.cdb);
        match self.check_range(lba, u64::from(blocks), 0) {
            // Nothing to do (RAM, or the OS page cache does read-ahead).
            // GOOD rather than CONDITION MET: initiators (libiscsi's
            // conformance suite among them) expect GOOD.
            Ok(()) => Response::good(Bytes::new()),
            Err(fail) => Response::failed(fail, format),
        }
    }

    fn write_same(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let sixteen = f.u8(0) == op::WRITE_SAME_16;
        let (lba, blocks, protect) = cdb::rw_fields(req.cdb);
        let blocks = u64::from(blocks);
        let unmap = f.bit(1, 0x08);
        let anchor = f.bit(1, 0x10);
        let ndob = sixteen && f.bit(1, 0x01);
        if anchor {
            return Err(field(1, Some(4)));
        }
        // NUMBER OF LOGICAL BLOCKS 0: to the end of the medium (WSNZ=0).
        let blocks = if blocks == 0 {
            self.blocks.saturating_sub(lba)
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

    fn unmap(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        if f.bit(1, 0x01) {
            return Err(field(1, Some(0)));
        }
        let len = usize::from(f.u16(7));
        self.check_writable()?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let data = req.data_out_bytes();
        if len < 8 || data.len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let p = Fields(&data);
        let descriptors_len = usize::from(p.u16(2));
        if descriptors_len % 16 != 0 || 8 + descriptors_len > len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let count = descriptors_len / 16;
        if count > MAX_UNMAP_DESCRIPTORS as usize {
            return Err(Fail::Check(Sense::invalid_parameter_field(2, None)));
        }
        let mut ranges = Vec::with_capacity(count);
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
                Some(end) if end <= self.blocks => ranges.push((lba, n)),
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

    fn compare_and_write(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let lba = f.u64(2);
        let blocks = f.u8(13);
        self.check_range(lba, u64::from(blocks), f.u8(1) >> 5)?;
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
        let current = self.read_blocks(lba, u64::from(blocks))?;
        if let Some(offset) = current.iter().zip(verify).position(|(a, b)| a != b) {
            return Err(miscompare(offset));
        }
        self.backend
            .write_at(lba * u64::from(self.block_size), write)
            .map_err(|e| medium_error(&e, Asc::WRITE_ERROR, lba))?;
        self.flush_if_fua(f.bit(1, 0x08), lba)?;
        Ok(Bytes::new())
    }

    fn get_lba_status(&self, req: &Request<'_>, alloc: usize) -> Outcome {
        let f = Fields(req.cdb);
        let lba = f.u64(2);
        if lba >= self.blocks {
            return Err(illegal(Asc::LBA_OUT_OF_RANGE));
        }
        let bs = u64::from(self.block_size);
        let mut descriptors = Vec::new();
        let mut at = lba;
        // As many descriptors as fit the allocation length, at most 64.
        let room = (alloc.saturating_sub(8) / 16).clamp(1, 64);
        while at < self.blocks && descriptors.len() < room {
            let (mapped, run) = self
                .backend
                .mapping(at * bs)
                .map_err(|e| medium_error(&e, Asc::UNRECOVERED_READ_ERROR, at))?;
            let n = (run / bs).clamp(1, self.blocks - at);
            descriptors.push((at, n, mapped));
            at += n;
        }
        let mut out = Vec::with_capacity(8 + 16 * descriptors.len());
        let len = u32::try_from(4 + 16 * descriptors.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        for (start, n, mapped) in descriptors {
            out.extend_from_slice(&start.to_be_bytes());
            out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
            out.push(if mapped { 0 } else { 1 });
            out.extend_from_slice(&[0, 0, 0]);
        }
        Ok(truncate(out, alloc))
    }

    fn read_defect_data(&self, req: &Request<'_>) -> Outcome {
        let f = Fields(req.cdb);
        let ten = f.u8(0) == op::READ_DEFECT_DATA_10;
        let (flags, alloc) = if ten {
            (f.u8(2), usize::from(f.u16(7)))
        } else {
            (f.u8(1), usize::try_from(f.u32(6)).unwrap_or(usize::MAX))
        };
        // No defects: the header alone, echoing the list format asked for
        // with PLISTV/GLISTV clear (SBC-3 §5.14).
        let format = flags & 0x07;
        let out = if ten {
            vec![0, format, 0, 0]
        } else {
            vec![0, format, 0, 0, 0, 0, 0, 0]
        };
        Ok(truncate(out, alloc))
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
    let f = Fields(cdb);
    let select = f.u8(2);
    let alloc = usize::try_from(f.u32(6)).unwrap_or(usize::MAX);
    if cdb.len() < 12 || !matches!(select, 0x00 | 0x01 | 0x02 | 0x10 | 0x11 | 0x12) {
        return Response::check(Sense::invalid_cdb_field(2, None), SenseFormat::Fixed);
    }
    if alloc < 16 {
        return Response::check(Sense::invalid_cdb_field(6, None), SenseFormat::Fixed);
    }
    let listed: Vec<u16> = if select == 0x01 {
        Vec::new()
    } else {
        luns.to_vec()
    };
    let mut out = BytesMut::with_capacity(8 + 8 * listed.len());
    out.put_u32(u32::try_from(8 * listed.len()).unwrap_or(u32::MAX));
    out.put_u32(0);
    for lun in listed {
        let (b0, b1) = if lun < 256 {
            (0u8, lun as u8)
        } else {
            (0x40 | ((lun >> 8) as u8 & 0x3f), lun as u8)
        };
        out.put_slice(&[b0, b1, 0, 0, 0, 0, 0, 0]);
    }
    Response::good(truncate(out.freeze(), alloc))
}

/// The response for a command to a LUN the target does not have (SPC-4
/// §4.6.5): INQUIRY gets peripheral qualifier 011b, REQUEST SENSE reports
/// LOGICAL UNIT NOT SUPPORTED as data, everything else CHECK CONDITION
/// ILLEGAL REQUEST / LOGICAL UNIT NOT SUPPORTED (25/00).
#[must_use]
pub fn lun_not_supported(cdb: &[u8]) -> Response {
    let f = Fields(cdb);
    let sense = Sense::new(SenseKey::ILLEGAL_REQUEST, Asc::LOGICAL_UNIT_NOT_SUPPORTED);
    match f.u8(0) {
        op::INQUIRY if !f.bit(1, 0x01) => {
            let mut d = [0u8; 36];
            d[0] = 0x7f;
            d[2] = 0x06;
            d[3] = 0x12;
            d[4] = 31;
            Response::good(truncate(d.to_vec(), usize::from(f.u16(3))))
        }
        op::REQUEST_SENSE => Response::good(truncate(
            sense.encode(SenseFormat::Fixed),
            usize::from(f.u8(4)),
        )),
        _ => Response::check(sense, SenseFormat::Fixed),
    }
}
