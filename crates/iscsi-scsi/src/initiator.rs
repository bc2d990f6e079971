//! The initiator half of the SCSI layer: command descriptor blocks built
//! byte for byte per SPC-4 and SBC-3, the parameter lists some of them send,
//! and parsers for the data targets return.
//!
//! Nothing here does I/O. A [`Cdb`] goes into a SCSI Command PDU, the
//! parameter lists (UNMAP, PERSISTENT RESERVE OUT) into its Data-Out, and
//! the Data-In that comes back goes to the matching `parse` function. The
//! parsers take whatever the target returned: data cut short by a small
//! allocation length parses as far as it goes (absent fields read as zero
//! or `false`), and no input, however malformed, panics.
//!
//! Multi-byte fields are big-endian (most significant byte first)
//! throughout. Lengths are in bytes and transfer lengths in logical blocks
//! unless a name says otherwise.

use core::fmt;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A CDB field value that the chosen CDB form cannot hold (SPC-4 §4.2: the
/// 6-, 10-, 12- and 16-byte CDB layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdbError {
    /// The value does not fit the field (for example an LBA above
    /// 0xFFFF_FFFF in a 10-byte CDB): use a longer CDB form.
    #[error("{field} {value:#x} does not fit its CDB field (maximum {max:#x})")]
    #[non_exhaustive]
    OutOfRange {
        /// The T10 name of the field.
        field: &'static str,
        /// The value that was asked for.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
    /// A CDB of this many bytes cannot be built (1 to 16 are allowed).
    #[error("a CDB holds 1 to 16 bytes, not {0}")]
    Length(usize),
}

/// Data-In returned by a target that cannot be parsed. Data merely cut short
/// by the ALLOCATION LENGTH (SPC-4 §4.2.5.6) is not an error where the
/// standard allows it: only a missing fixed header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the fixed part of the structure needs.
    #[error("{what}: {got} bytes, at least {needed} needed")]
    #[non_exhaustive]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A VPD page other than the one asked for (SPC-4 §7.8.1, PAGE CODE).
    #[error("expected VPD page {expected:#04x}, got page {got:#04x}")]
    #[non_exhaustive]
    WrongPage {
        /// The page code the parser handles.
        expected: u8,
        /// The PAGE CODE byte of the data.
        got: u8,
    },
}

fn need(what: &'static str, data: &[u8], needed: usize) -> Result<(), ParseError> {
    if data.len() < needed {
        Err(ParseError::Truncated {
            what,
            needed,
            got: data.len(),
        })
    } else {
        Ok(())
    }
}

/// `value` as a `T`, or [`CdbError::OutOfRange`] naming `field`.
fn fit<T>(field: &'static str, value: impl Into<u64>, max: T) -> Result<T, CdbError>
where
    T: TryFrom<u64> + Into<u64>,
{
    let value = value.into();
    T::try_from(value).map_err(|_| CdbError::OutOfRange {
        field,
        value,
        max: max.into(),
    })
}

// ---------------------------------------------------------------------------
// Byte access that never panics
// ---------------------------------------------------------------------------

/// Byte `i` of `d`, or 0 past the end.
fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

fn be_bytes<const N: usize>(d: &[u8], i: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (k, b) in out.iter_mut().enumerate() {
        *b = byte(d, i.saturating_add(k));
    }
    out
}

fn be16(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes(be_bytes(d, i))
}

fn be24(d: &[u8], i: usize) -> u32 {
    let [a, b, c] = be_bytes(d, i);
    u32::from_be_bytes([0, a, b, c])
}

fn be32(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(be_bytes(d, i))
}

fn be64(d: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(be_bytes(d, i))
}

fn bit(d: &[u8], i: usize, mask: u8) -> bool {
    byte(d, i) & mask != 0
}

/// `d[start..end]` clamped to the data, empty when `start` is past the end.
fn span(d: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(d.len());
    d.get(start..end).unwrap_or(&[])
}

/// ASCII text of `d[start..end]` with leading and trailing spaces and NULs
/// removed (SPC-4 §4.3.1: ASCII fields are padded with spaces).
fn text(d: &[u8], start: usize, end: usize) -> String {
    String::from_utf8_lossy(span(d, start, end))
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_owned()
}

fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

// ---------------------------------------------------------------------------
// CDB
// ---------------------------------------------------------------------------

/// A command descriptor block (SPC-4 §4.2): 6, 10, 12 or 16 bytes, with the
/// CONTROL byte (the last) zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cdb {
    bytes: [u8; 16],
    len: u8,
}

impl fmt::Debug for Cdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cdb(")?;
        for (i, b) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl AsRef<[u8]> for Cdb {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// PAGE CONTROL field of MODE SENSE (SPC-4 §6.13): which values
/// of the mode parameters to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PageControl {
    /// 00b: current values.
    #[default]
    Current,
    /// 01b: changeable values (a mask of the bits MODE SELECT may change).
    Changeable,
    /// 10b: default values.
    Default,
    /// 11b: saved values.
    Saved,
}

impl PageControl {
    const fn code(self) -> u8 {
        match self {
            Self::Current => 0,
            Self::Changeable => 1,
            Self::Default => 2,
            Self::Saved => 3,
        }
    }
}

/// REPORTING OPTIONS field of REPORT SUPPORTED OPERATION CODES (SPC-4
/// §6.35.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReportingOptions {
    /// 000b: all commands, in the "all commands" format.
    #[default]
    AllCommands,
    /// 001b: one command by operation code (no service action).
    OneCommand,
    /// 010b: one command by operation code and service action.
    OneCommandServiceAction,
    /// 011b: one command, with or without a service action.
    OneCommandOptionalServiceAction,
}

impl ReportingOptions {
    const fn code(self) -> u8 {
        match self {
            Self::AllCommands => 0,
            Self::OneCommand => 1,
            Self::OneCommandServiceAction => 2,
            Self::OneCommandOptionalServiceAction => 3,
        }
    }
}

/// BYTCHK field of VERIFY (SBC-3 §5.28): what data the command
/// transfers and compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ByteCheck {
    /// 00b: no Data-Out; the device server verifies the medium only.
    #[default]
    MediumOnly,
    /// 01b: Data-Out holds every block, compared byte by byte.
    Compare,
    /// 11b: Data-Out holds one block, compared with each block in the range.
    CompareSingleBlock,
}

impl ByteCheck {
    const fn code(self) -> u8 {
        match self {
            Self::MediumOnly => 0,
            Self::Compare => 1,
            Self::CompareSingleBlock => 3,
        }
    }
}

/// PERSISTENT RESERVE IN service actions (SPC-4 §6.15.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrInAction {
    /// 00h READ KEYS.
    ReadKeys,
    /// 01h READ RESERVATION.
    ReadReservation,
    /// 02h REPORT CAPABILITIES.
    ReportCapabilities,
    /// 03h READ FULL STATUS.
    ReadFullStatus,
}

impl PrInAction {
    /// The SERVICE ACTION code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::ReadKeys => 0x00,
            Self::ReadReservation => 0x01,
            Self::ReportCapabilities => 0x02,
            Self::ReadFullStatus => 0x03,
        }
    }
}

/// PERSISTENT RESERVE OUT service actions (SPC-4 §6.16.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrOutAction {
    /// 00h REGISTER.
    Register,
    /// 01h RESERVE.
    Reserve,
    /// 02h RELEASE.
    Release,
    /// 03h CLEAR.
    Clear,
    /// 04h PREEMPT.
    Preempt,
    /// 05h PREEMPT AND ABORT.
    PreemptAndAbort,
    /// 06h REGISTER AND IGNORE EXISTING KEY.
    RegisterAndIgnoreExistingKey,
    /// 07h REGISTER AND MOVE.
    RegisterAndMove,
    /// 08h REPLACE LOST RESERVATION.
    ReplaceLostReservation,
}

impl PrOutAction {
    /// The SERVICE ACTION code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Register => 0x00,
            Self::Reserve => 0x01,
            Self::Release => 0x02,
            Self::Clear => 0x03,
            Self::Preempt => 0x04,
            Self::PreemptAndAbort => 0x05,
            Self::RegisterAndIgnoreExistingKey => 0x06,
            Self::RegisterAndMove => 0x07,
            Self::ReplaceLostReservation => 0x08,
        }
    }
}

/// Persistent reservation TYPE (SPC-4 §6.15.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrType {
    /// 1h Write Exclusive.
    WriteExclusive,
    /// 3h Exclusive Access.
    ExclusiveAccess,
    /// 5h Write Exclusive – Registrants Only.
    WriteExclusiveRegistrantsOnly,
    /// 6h Exclusive Access – Registrants Only.
    ExclusiveAccessRegistrantsOnly,
    /// 7h Write Exclusive – All Registrants.
    WriteExclusiveAllRegistrants,
    /// 8h Exclusive Access – All Registrants.
    ExclusiveAccessAllRegistrants,
}

impl PrType {
    /// The 4-bit TYPE code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::WriteExclusive => 0x1,
            Self::ExclusiveAccess => 0x3,
            Self::WriteExclusiveRegistrantsOnly => 0x5,
            Self::ExclusiveAccessRegistrantsOnly => 0x6,
            Self::WriteExclusiveAllRegistrants => 0x7,
            Self::ExclusiveAccessAllRegistrants => 0x8,
        }
    }

    /// The type with TYPE code `code`, if SPC-4 defines one.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x1 => Self::WriteExclusive,
            0x3 => Self::ExclusiveAccess,
            0x5 => Self::WriteExclusiveRegistrantsOnly,
            0x6 => Self::ExclusiveAccessRegistrantsOnly,
            0x7 => Self::WriteExclusiveAllRegistrants,
            0x8 => Self::ExclusiveAccessAllRegistrants,
            _ => return None,
        })
    }
}

const DPO: u8 = 0x10;
const FUA: u8 = 0x08;
const LBA: &str = "LOGICAL BLOCK ADDRESS";
const TRANSFER_LENGTH: &str = "TRANSFER LENGTH";
const NUMBER_OF_BLOCKS: &str = "NUMBER OF LOGICAL BLOCKS";

const fn rw_flags(dpo: bool, fua: bool) -> u8 {
    (if dpo { DPO } else { 0 }) | (if fua { FUA } else { 0 })
}

impl Cdb {
    const fn with_opcode(opcode: u8, len: u8) -> Self {
        let mut bytes = [0u8; 16];
        bytes[0] = opcode;
        Self { bytes, len }
    }

    fn put(&mut self, at: usize, src: &[u8]) {
        if let Some(dst) = at
            .checked_add(src.len())
            .and_then(|end| self.bytes.get_mut(at..end))
        {
            dst.copy_from_slice(src);
        }
    }

    /// A CDB from raw bytes, for commands this module has no builder for
    /// (SPC-4 §4.2).
    ///
    /// # Errors
    /// [`CdbError::Length`] unless `bytes` holds 1 to 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CdbError> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|l| (1..=16).contains(l))
            .ok_or(CdbError::Length(bytes.len()))?;
        let mut cdb = Self {
            bytes: [0u8; 16],
            len,
        };
        cdb.put(0, bytes);
        Ok(cdb)
    }

    /// The CDB bytes (6, 10, 12 or 16 of them).
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The CDB length in bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a CDB holds at least its OPERATION CODE byte.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The OPERATION CODE (byte 0, SPC-4 §4.2.5.1).
    #[must_use]
    pub const fn opcode(&self) -> u8 {
        self.bytes[0]
    }

    // -- 10/12/16-byte block-command layouts shared by many commands --------

    /// Layout of READ(10) and relatives: flags in byte 1, LBA in bytes 2–5,
    /// a 16-bit length in bytes 7–8.
    fn lba10(
        op: u8,
        flags: u8,
        lba: u64,
        blocks: u32,
        len_field: &'static str,
    ) -> Result<Self, CdbError> {
        let lba: u32 = fit(LBA, lba, u32::MAX)?;
        let blocks: u16 = fit(len_field, blocks, u16::MAX)?;
        let mut c = Self::with_opcode(op, 10);
        c.bytes[1] = flags;
        c.put(2, &lba.to_be_bytes());
        c.put(7, &blocks.to_be_bytes());
        Ok(c)
    }

    /// Layout of READ(12): flags in byte 1, LBA in bytes 2–5, a 32-bit length
    /// in bytes 6–9.
    fn lba12(op: u8, flags: u8, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        let lba: u32 = fit(LBA, lba, u32::MAX)?;
        let mut c = Self::with_opcode(op, 12);
        c.bytes[1] = flags;
        c.put(2, &lba.to_be_bytes());
        c.put(6, &blocks.to_be_bytes());
        Ok(c)
    }

    /// Layout of READ(16) and relatives: flags in byte 1, LBA in bytes 2–9,
    /// a 32-bit length in bytes 10–13.
    fn lba16(op: u8, flags: u8, lba: u64, blocks: u32) -> Self {
        let mut c = Self::with_opcode(op, 16);
        c.bytes[1] = flags;
        c.put(2, &lba.to_be_bytes());
        c.put(10, &blocks.to_be_bytes());
        c
    }

    /// READ(6)/WRITE(6): a 21-bit LBA and an 8-bit length where 0 means 256.
    fn rw6(op: u8, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        if lba > 0x1f_ffff {
            return Err(CdbError::OutOfRange {
                field: LBA,
                value: lba,
                max: 0x1f_ffff,
            });
        }
        let length = match blocks {
            256 => 0,
            1..=255 => blocks,
            _ => {
                // 0 cannot be expressed: the field's zero means 256 blocks.
                return Err(CdbError::OutOfRange {
                    field: TRANSFER_LENGTH,
                    value: blocks.into(),
                    max: 256,
                });
            }
        };
        let [_, b1, b2, b3] = (lba as u32).to_be_bytes();
        let mut c = Self::with_opcode(op, 6);
        c.put(1, &[b1 & 0x1f, b2, b3, length as u8]);
        Ok(c)
    }

    // -- SPC-4 commands ------------------------------------------------------

    /// TEST UNIT READY (SPC-4 §6.47): opcode 00h, 6 bytes, no data.
    #[must_use]
    pub const fn test_unit_ready() -> Self {
        Self::with_opcode(0x00, 6)
    }

    /// INQUIRY (SPC-4 §6.6): opcode 12h, 6 bytes. `evpd` asks for the VPD
    /// page `page_code` (SPC-4 §7.8) instead of the standard data (then
    /// `page_code` must be 0); `alloc` is the allocation length in bytes.
    #[must_use]
    pub fn inquiry(evpd: bool, page_code: u8, alloc: u16) -> Self {
        let mut c = Self::with_opcode(0x12, 6);
        c.bytes[1] = u8::from(evpd);
        c.bytes[2] = page_code;
        c.put(3, &alloc.to_be_bytes());
        c
    }

    /// REQUEST SENSE (SPC-4 §6.39): opcode 03h, 6 bytes. `desc` asks for
    /// descriptor-format sense data; `alloc` is the allocation length in
    /// bytes.
    #[must_use]
    pub const fn request_sense(desc: bool, alloc: u8) -> Self {
        let mut c = Self::with_opcode(0x03, 6);
        c.bytes[1] = desc as u8;
        c.bytes[4] = alloc;
        c
    }

    /// REPORT LUNS (SPC-4 §6.33): opcode A0h, 12 bytes. `select_report` is
    /// the SELECT REPORT code (00h all logical units with LU addressing,
    /// 01h well-known, 02h all); `alloc` is the allocation length in bytes
    /// (at least 16).
    #[must_use]
    pub fn report_luns(select_report: u8, alloc: u32) -> Self {
        let mut c = Self::with_opcode(0xa0, 12);
        c.bytes[2] = select_report;
        c.put(6, &alloc.to_be_bytes());
        c
    }

    /// MODE SENSE(6) (SPC-4 §6.13): opcode 1Ah, 6 bytes. `dbd` disables
    /// block descriptors; `page_code` (6 bits, 3Fh for all pages) and
    /// `subpage` (FFh for all subpages) select the page; `alloc` is the
    /// allocation length in bytes.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when `page_code` exceeds 3Fh.
    pub fn mode_sense6(
        dbd: bool,
        pc: PageControl,
        page_code: u8,
        subpage: u8,
        alloc: u8,
    ) -> Result<Self, CdbError> {
        let mut c = Self::with_opcode(0x1a, 6);
        c.mode_sense_fields(dbd, pc, page_code, subpage)?;
        c.bytes[4] = alloc;
        Ok(c)
    }

    /// MODE SENSE(10) (SPC-4 §6.14): opcode 5Ah, 10 bytes, fields as in
    /// [`Cdb::mode_sense6`] with a 16-bit allocation length in bytes.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when `page_code` exceeds 3Fh.
    pub fn mode_sense10(
        dbd: bool,
        pc: PageControl,
        page_code: u8,
        subpage: u8,
        alloc: u16,
    ) -> Result<Self, CdbError> {
        let mut c = Self::with_opcode(0x5a, 10);
        c.mode_sense_fields(dbd, pc, page_code, subpage)?;
        c.put(7, &alloc.to_be_bytes());
        Ok(c)
    }

    fn mode_sense_fields(
        &mut self,
        dbd: bool,
        pc: PageControl,
        page_code: u8,
        subpage: u8,
    ) -> Result<(), CdbError> {
        if page_code > 0x3f {
            return Err(CdbError::OutOfRange {
                field: "PAGE CODE",
                value: page_code.into(),
                max: 0x3f,
            });
        }
        self.bytes[1] = if dbd { 0x08 } else { 0 };
        self.bytes[2] = (pc.code() << 6) | page_code;
        self.bytes[3] = subpage;
        Ok(())
    }

    /// MODE SELECT(6) (SPC-4 §6.11): opcode 15h, 6 bytes. `pf` marks the pages
    /// as SPC-4 format, `sp` asks to save them; `param_len` is the parameter
    /// list length in bytes.
    #[must_use]
    pub const fn mode_select6(pf: bool, sp: bool, param_len: u8) -> Self {
        let mut c = Self::with_opcode(0x15, 6);
        c.bytes[1] = (if pf { 0x10 } else { 0 }) | sp as u8;
        c.bytes[4] = param_len;
        c
    }

    /// MODE SELECT(10) (SPC-4 §6.12): opcode 55h, 10 bytes, as
    /// [`Cdb::mode_select6`] with a 16-bit parameter list length in bytes.
    #[must_use]
    pub fn mode_select10(pf: bool, sp: bool, param_len: u16) -> Self {
        let mut c = Self::with_opcode(0x55, 10);
        c.bytes[1] = (if pf { 0x10 } else { 0 }) | u8::from(sp);
        c.put(7, &param_len.to_be_bytes());
        c
    }

    /// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35): MAINTENANCE IN (A3h)
    /// service action 0Ch, 12 bytes. `rctd` asks for command timeout
    /// descriptors; `opcode` and `service_action` name the command for the
    /// one-command options; `alloc` is the allocation length in bytes.
    #[must_use]
    pub fn report_supported_operation_codes(
        options: ReportingOptions,
        rctd: bool,
        opcode: u8,
        service_action: u16,
        alloc: u32,
    ) -> Self {
        let mut c = Self::with_opcode(0xa3, 12);
        c.bytes[1] = 0x0c;
        c.bytes[2] = (if rctd { 0x80 } else { 0 }) | options.code();
        c.bytes[3] = opcode;
        c.put(4, &service_action.to_be_bytes());
        c.put(6, &alloc.to_be_bytes());
        c
    }

    /// PREVENT ALLOW MEDIUM REMOVAL (SBC-3 §5.10): opcode 1Eh, 6 bytes;
    /// PREVENT 01b when `prevent`, else 00b.
    #[must_use]
    pub const fn prevent_allow_medium_removal(prevent: bool) -> Self {
        let mut c = Self::with_opcode(0x1e, 6);
        c.bytes[4] = prevent as u8;
        c
    }

    /// START STOP UNIT (SBC-3 §5.24): opcode 1Bh, 6 bytes. `immed` returns
    /// before the operation completes; `power_condition` is the 4-bit POWER
    /// CONDITION (0 to use `loej` and `start`); `loej` loads or ejects the
    /// medium; `start` spins up (true) or stops (false).
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when `power_condition` exceeds 0Fh.
    pub fn start_stop_unit(
        immed: bool,
        power_condition: u8,
        loej: bool,
        start: bool,
    ) -> Result<Self, CdbError> {
        if power_condition > 0x0f {
            return Err(CdbError::OutOfRange {
                field: "POWER CONDITION",
                value: power_condition.into(),
                max: 0x0f,
            });
        }
        let mut c = Self::with_opcode(0x1b, 6);
        c.bytes[1] = u8::from(immed);
        c.bytes[4] = (power_condition << 4) | (u8::from(loej) << 1) | u8::from(start);
        Ok(c)
    }

    /// RESERVE(6) (SPC-2 §7.25, obsolete in SPC-4): opcode 16h, 6 bytes,
    /// reserving the whole logical unit.
    #[must_use]
    pub const fn reserve6() -> Self {
        Self::with_opcode(0x16, 6)
    }

    /// RELEASE(6) (SPC-2 §7.20, obsolete in SPC-4): opcode 17h, 6 bytes.
    #[must_use]
    pub const fn release6() -> Self {
        Self::with_opcode(0x17, 6)
    }

    /// RESERVE(10) (SPC-2 §7.24, obsolete in SPC-4): opcode 56h, 10 bytes,
    /// no third-party reservation, no parameter list.
    #[must_use]
    pub const fn reserve10() -> Self {
        Self::with_opcode(0x56, 10)
    }

    /// RELEASE(10) (SPC-2 §7.19, obsolete in SPC-4): opcode 57h, 10 bytes,
    /// no third-party release.
    #[must_use]
    pub const fn release10() -> Self {
        Self::with_opcode(0x57, 10)
    }

    /// PERSISTENT RESERVE IN (SPC-4 §6.15): opcode 5Eh, 10 bytes; `alloc` is
    /// the allocation length in bytes.
    #[must_use]
    pub fn persistent_reserve_in(action: PrInAction, alloc: u16) -> Self {
        let mut c = Self::with_opcode(0x5e, 10);
        c.bytes[1] = action.code();
        c.put(7, &alloc.to_be_bytes());
        c
    }

    /// PERSISTENT RESERVE OUT (SPC-4 §6.16): opcode 5Fh, 10 bytes. SCOPE is
    /// LU_SCOPE (0h, the only scope SPC-4 defines); `pr_type` is the TYPE
    /// (ignored by REGISTER, CLEAR and friends: pass `None` for 0h);
    /// `param_len` is the parameter list length in bytes (24 for the basic
    /// list of [`PrOutParameterList`]).
    #[must_use]
    pub fn persistent_reserve_out(
        action: PrOutAction,
        pr_type: Option<PrType>,
        param_len: u32,
    ) -> Self {
        let mut c = Self::with_opcode(0x5f, 10);
        c.bytes[1] = action.code();
        c.bytes[2] = pr_type.map_or(0, PrType::code);
        c.put(5, &param_len.to_be_bytes());
        c
    }

    // -- SBC-3 commands ------------------------------------------------------

    /// READ(6) (SBC-2; obsolete in SBC-3): opcode 08h, 6 bytes; a 21-bit LBA and 1 to 256
    /// blocks (the field's 0 means 256). No DPO or FUA in this form.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] for an LBA above 1F_FFFFh or a length of 0
    /// or above 256 blocks.
    pub fn read6(lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::rw6(0x08, lba, blocks)
    }

    /// READ(10) (SBC-3 §5.11): opcode 28h, 10 bytes; 32-bit LBA, up to 65 535
    /// blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn read10(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba10(0x28, rw_flags(dpo, fua), lba, blocks, TRANSFER_LENGTH)
    }

    /// READ(12) (SBC-3 §5.12): opcode A8h, 12 bytes; 32-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA does not fit 32 bits.
    pub fn read12(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba12(0xa8, rw_flags(dpo, fua), lba, blocks)
    }

    /// READ(16) (SBC-3 §5.13): opcode 88h, 16 bytes; 64-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    #[must_use]
    pub fn read16(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::lba16(0x88, rw_flags(dpo, fua), lba, blocks)
    }

    /// The shortest of READ(10) and READ(16) that holds `lba` and `blocks`
    /// (SBC-3 §5.11, §5.13).
    #[must_use]
    pub fn read(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::read10(lba, blocks, dpo, fua).unwrap_or_else(|_| Self::read16(lba, blocks, dpo, fua))
    }

    /// WRITE(6) (SBC-2; obsolete in SBC-3): opcode 0Ah, 6 bytes; a 21-bit LBA and 1 to
    /// 256 blocks (the field's 0 means 256).
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] for an LBA above 1F_FFFFh or a length of 0
    /// or above 256 blocks.
    pub fn write6(lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::rw6(0x0a, lba, blocks)
    }

    /// WRITE(10) (SBC-3 §5.32): opcode 2Ah, 10 bytes; 32-bit LBA, up to
    /// 65 535 blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn write10(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba10(0x2a, rw_flags(dpo, fua), lba, blocks, TRANSFER_LENGTH)
    }

    /// WRITE(12) (SBC-3 §5.33): opcode AAh, 12 bytes; 32-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA does not fit 32 bits.
    pub fn write12(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba12(0xaa, rw_flags(dpo, fua), lba, blocks)
    }

    /// WRITE(16) (SBC-3 §5.34): opcode 8Ah, 16 bytes; 64-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    #[must_use]
    pub fn write16(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::lba16(0x8a, rw_flags(dpo, fua), lba, blocks)
    }

    /// The shortest of WRITE(10) and WRITE(16) that holds `lba` and
    /// `blocks` (SBC-3 §5.32, §5.34).
    #[must_use]
    pub fn write(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::write10(lba, blocks, dpo, fua)
            .unwrap_or_else(|_| Self::write16(lba, blocks, dpo, fua))
    }

    /// WRITE AND VERIFY(10) (SBC-3 §5.36): opcode 2Eh, 10 bytes; `bytchk`
    /// compares the written data byte by byte (BYTCHK 01b) instead of only
    /// verifying the medium.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn write_and_verify10(
        lba: u64,
        blocks: u32,
        dpo: bool,
        bytchk: bool,
    ) -> Result<Self, CdbError> {
        let flags = (if dpo { DPO } else { 0 }) | (u8::from(bytchk) << 1);
        Self::lba10(0x2e, flags, lba, blocks, TRANSFER_LENGTH)
    }

    /// WRITE AND VERIFY(16) (SBC-3 §5.38): opcode 8Eh, 16 bytes; fields as
    /// in [`Cdb::write_and_verify10`].
    #[must_use]
    pub fn write_and_verify16(lba: u64, blocks: u32, dpo: bool, bytchk: bool) -> Self {
        let flags = (if dpo { DPO } else { 0 }) | (u8::from(bytchk) << 1);
        Self::lba16(0x8e, flags, lba, blocks)
    }

    /// VERIFY(10) (SBC-3 §5.28): opcode 2Fh, 10 bytes; `blocks` is the
    /// VERIFICATION LENGTH in blocks, `bytchk` the 2-bit BYTCHK field.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn verify10(lba: u64, blocks: u32, dpo: bool, bytchk: ByteCheck) -> Result<Self, CdbError> {
        let flags = (if dpo { DPO } else { 0 }) | (bytchk.code() << 1);
        Self::lba10(0x2f, flags, lba, blocks, "VERIFICATION LENGTH")
    }

    /// VERIFY(16) (SBC-3 §5.30): opcode 8Fh, 16 bytes; fields as in
    /// [`Cdb::verify10`].
    #[must_use]
    pub fn verify16(lba: u64, blocks: u32, dpo: bool, bytchk: ByteCheck) -> Self {
        let flags = (if dpo { DPO } else { 0 }) | (bytchk.code() << 1);
        Self::lba16(0x8f, flags, lba, blocks)
    }

    /// SYNCHRONIZE CACHE(10) (SBC-3 §5.25): opcode 35h, 10 bytes; `blocks`
    /// 0 means from `lba` to the end of the medium.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn synchronize_cache10(immed: bool, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::lba10(0x35, u8::from(immed) << 1, lba, blocks, NUMBER_OF_BLOCKS)
    }

    /// SYNCHRONIZE CACHE(16) (SBC-3 §5.26): opcode 91h, 16 bytes; fields as
    /// in [`Cdb::synchronize_cache10`].
    #[must_use]
    pub fn synchronize_cache16(immed: bool, lba: u64, blocks: u32) -> Self {
        Self::lba16(0x91, u8::from(immed) << 1, lba, blocks)
    }

    /// PRE-FETCH(10) (SBC-3 §5.8): opcode 34h, 10 bytes; `blocks` is the
    /// PREFETCH LENGTH (0: to the end of the medium).
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn pre_fetch10(immed: bool, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::lba10(0x34, u8::from(immed) << 1, lba, blocks, "PREFETCH LENGTH")
    }

    /// PRE-FETCH(16) (SBC-3 §5.9): opcode 90h, 16 bytes; fields as in
    /// [`Cdb::pre_fetch10`].
    #[must_use]
    pub fn pre_fetch16(immed: bool, lba: u64, blocks: u32) -> Self {
        Self::lba16(0x90, u8::from(immed) << 1, lba, blocks)
    }

    /// READ CAPACITY(10) (SBC-3 §5.15): opcode 25h, 10 bytes, 8 bytes of
    /// data in ([`ReadCapacity10`]).
    #[must_use]
    pub const fn read_capacity10() -> Self {
        Self::with_opcode(0x25, 10)
    }

    /// READ CAPACITY(16) (SBC-3 §5.16): SERVICE ACTION IN(16) (9Eh) service
    /// action 10h, 16 bytes; `alloc` is the allocation length in bytes (32
    /// for the whole [`ReadCapacity16`]).
    #[must_use]
    pub fn read_capacity16(alloc: u32) -> Self {
        let mut c = Self::with_opcode(0x9e, 16);
        c.bytes[1] = 0x10;
        c.put(10, &alloc.to_be_bytes());
        c
    }

    /// WRITE SAME(10) (SBC-3 §5.42): opcode 41h, 10 bytes; one block of
    /// Data-Out written to `blocks` blocks (0: to the end of the medium),
    /// or unmapped with `unmap`; `anchor` anchors instead of deallocating.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn write_same10(
        lba: u64,
        blocks: u32,
        unmap: bool,
        anchor: bool,
    ) -> Result<Self, CdbError> {
        let flags = (if anchor { 0x10 } else { 0 }) | (if unmap { 0x08 } else { 0 });
        Self::lba10(0x41, flags, lba, blocks, NUMBER_OF_BLOCKS)
    }

    /// WRITE SAME(16) (SBC-3 §5.43): opcode 93h, 16 bytes; fields as in
    /// [`Cdb::write_same10`], plus `ndob` (no Data-Out: write zeros).
    #[must_use]
    pub fn write_same16(lba: u64, blocks: u32, unmap: bool, anchor: bool, ndob: bool) -> Self {
        let flags =
            (if anchor { 0x10 } else { 0 }) | (if unmap { 0x08 } else { 0 }) | u8::from(ndob);
        Self::lba16(0x93, flags, lba, blocks)
    }

    /// UNMAP (SBC-3 §5.27): opcode 42h, 10 bytes; `param_len` is the length
    /// in bytes of the list from [`unmap_parameter_list`].
    #[must_use]
    pub fn unmap(anchor: bool, param_len: u16) -> Self {
        let mut c = Self::with_opcode(0x42, 10);
        c.bytes[1] = u8::from(anchor);
        c.put(7, &param_len.to_be_bytes());
        c
    }

    /// COMPARE AND WRITE (SBC-3 §5.2): opcode 89h, 16 bytes; LBA in bytes
    /// 2–9 and NUMBER OF LOGICAL BLOCKS in byte 13. The Data-Out holds
    /// `2 × blocks` blocks: the compare data, then the write data.
    #[must_use]
    pub fn compare_and_write(lba: u64, blocks: u8, dpo: bool, fua: bool) -> Self {
        let mut c = Self::with_opcode(0x89, 16);
        c.bytes[1] = rw_flags(dpo, fua);
        c.put(2, &lba.to_be_bytes());
        c.bytes[13] = blocks;
        c
    }

    /// GET LBA STATUS (SBC-3 §5.4): SERVICE ACTION IN(16) (9Eh) service
    /// action 12h, 16 bytes; `alloc` is the allocation length in bytes.
    #[must_use]
    pub fn get_lba_status(lba: u64, alloc: u32) -> Self {
        let mut c = Self::with_opcode(0x9e, 16);
        c.bytes[1] = 0x12;
        c.put(2, &lba.to_be_bytes());
        c.put(10, &alloc.to_be_bytes());
        c
    }
}

// ---------------------------------------------------------------------------
// Parameter lists (Data-Out)
// ---------------------------------------------------------------------------

/// The most block descriptors one UNMAP parameter list holds: its 16-bit
/// UNMAP DATA LENGTH limits it to (65 535 − 6) / 16 descriptors
/// (SBC-3 §5.27.2).
pub const UNMAP_MAX_DESCRIPTORS: usize = 4095;

/// The UNMAP parameter list (SBC-3 §5.27.2): an 8-byte header with UNMAP
/// DATA LENGTH and UNMAP BLOCK DESCRIPTOR DATA LENGTH, then one 16-byte
/// descriptor (LBA, number of blocks) per `(lba, blocks)` range.
///
/// At most [`UNMAP_MAX_DESCRIPTORS`] ranges fit; later ones are left out,
/// so split longer lists (and respect the target's MAXIMUM UNMAP BLOCK
/// DESCRIPTOR COUNT, [`BlockLimits`]).
#[must_use]
pub fn unmap_parameter_list(ranges: &[(u64, u32)]) -> Vec<u8> {
    let ranges = ranges.get(..UNMAP_MAX_DESCRIPTORS).unwrap_or(ranges);
    let descriptors = ranges.len() * 16;
    let mut out = Vec::with_capacity(8 + descriptors);
    let data_len = u16::try_from(descriptors + 6).unwrap_or(u16::MAX);
    let desc_len = u16::try_from(descriptors).unwrap_or(u16::MAX);
    out.extend_from_slice(&data_len.to_be_bytes());
    out.extend_from_slice(&desc_len.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for &(lba, blocks) in ranges {
        out.extend_from_slice(&lba.to_be_bytes());
        out.extend_from_slice(&blocks.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
    }
    out
}

/// The basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3): 24 bytes. Transport IDs (SPEC_I_PT) and REGISTER AND MOVE
/// lists are not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrOutParameterList {
    /// RESERVATION KEY (bytes 0–7): the key this I_T nexus registered.
    pub reservation_key: u64,
    /// SERVICE ACTION RESERVATION KEY (bytes 8–15): the new key for
    /// REGISTER, the key to preempt for PREEMPT.
    pub service_action_reservation_key: u64,
    /// SPEC_I_PT (byte 20 bit 3).
    pub spec_i_pt: bool,
    /// ALL_TG_PT (byte 20 bit 2): register on all target ports.
    pub all_tg_pt: bool,
    /// APTPL (byte 20 bit 0): keep the registrations across power loss.
    pub aptpl: bool,
}

impl PrOutParameterList {
    /// Length of the basic parameter list in bytes.
    pub const LEN: usize = 24;

    /// A list with the two keys and every flag clear.
    #[must_use]
    pub const fn new(reservation_key: u64, service_action_reservation_key: u64) -> Self {
        Self {
            reservation_key,
            service_action_reservation_key,
            spec_i_pt: false,
            all_tg_pt: false,
            aptpl: false,
        }
    }

    /// The 24 bytes of the list.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for (dst, src) in out.iter_mut().zip(
            self.reservation_key
                .to_be_bytes()
                .into_iter()
                .chain(self.service_action_reservation_key.to_be_bytes()),
        ) {
            *dst = src;
        }
        out[20] = (u8::from(self.spec_i_pt) << 3)
            | (u8::from(self.all_tg_pt) << 2)
            | u8::from(self.aptpl);
        out
    }

    /// Parses the first 24 bytes of a PERSISTENT RESERVE OUT parameter list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 24 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("PERSISTENT RESERVE OUT parameter list", data, Self::LEN)?;
        Ok(Self {
            reservation_key: be64(data, 0),
            service_action_reservation_key: be64(data, 8),
            spec_i_pt: bit(data, 20, 0x08),
            all_tg_pt: bit(data, 20, 0x04),
            aptpl: bit(data, 20, 0x01),
        })
    }
}

// ---------------------------------------------------------------------------
// Standard INQUIRY data
// ---------------------------------------------------------------------------

/// Standard INQUIRY data (SPC-4 §6.6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StandardInquiry {
    /// PERIPHERAL QUALIFIER (byte 0 bits 7–5): 0 connected, 1 not connected,
    /// 3 no logical unit.
    pub peripheral_qualifier: u8,
    /// PERIPHERAL DEVICE TYPE (byte 0 bits 4–0): 00h block device.
    pub device_type: u8,
    /// RMB (byte 1 bit 7): removable medium.
    pub rmb: bool,
    /// VERSION (byte 2): 06h for SPC-4.
    pub version: u8,
    /// NORMACA (byte 3 bit 5).
    pub normaca: bool,
    /// HISUP (byte 3 bit 4): hierarchical LUN addressing.
    pub hisup: bool,
    /// RESPONSE DATA FORMAT (byte 3 bits 3–0): 2.
    pub response_data_format: u8,
    /// ADDITIONAL LENGTH (byte 4): bytes that follow byte 4.
    pub additional_length: u8,
    /// SCCS (byte 5 bit 7): embedded storage array controller.
    pub sccs: bool,
    /// ACC (byte 5 bit 6): access controls coordinator.
    pub acc: bool,
    /// TPGS (byte 5 bits 5–4): asymmetric logical unit access support.
    pub tpgs: u8,
    /// 3PC (byte 5 bit 3): third-party copy.
    pub three_pc: bool,
    /// PROTECT (byte 5 bit 0): protection information.
    pub protect: bool,
    /// ENCSERV (byte 6 bit 6): embedded enclosure services.
    pub encserv: bool,
    /// MULTIP (byte 6 bit 4): multiple ports.
    pub multip: bool,
    /// CMDQUE (byte 7 bit 1): command queuing.
    pub cmdque: bool,
    /// T10 VENDOR IDENTIFICATION (bytes 8–15), trimmed.
    pub vendor: String,
    /// PRODUCT IDENTIFICATION (bytes 16–31), trimmed.
    pub product: String,
    /// PRODUCT REVISION LEVEL (bytes 32–35), trimmed.
    pub revision: String,
    /// VERSION DESCRIPTORs 1–8 (bytes 58–73, two bytes each), zeros left out.
    pub version_descriptors: Vec<u16>,
}

impl StandardInquiry {
    /// Parses standard INQUIRY data, as far as the data and its ADDITIONAL
    /// LENGTH go (at least the 5-byte header).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 5 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("standard INQUIRY data", data, 5)?;
        let d = span(data, 0, 5 + usize::from(byte(data, 4)));
        let version_descriptors = span(d, 58, 74)
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([byte(c, 0), byte(c, 1)]))
            .filter(|&v| v != 0)
            .collect();
        Ok(Self {
            peripheral_qualifier: byte(d, 0) >> 5,
            device_type: byte(d, 0) & 0x1f,
            rmb: bit(d, 1, 0x80),
            version: byte(d, 2),
            normaca: bit(d, 3, 0x20),
            hisup: bit(d, 3, 0x10),
            response_data_format: byte(d, 3) & 0x0f,
            additional_length: byte(d, 4),
            sccs: bit(d, 5, 0x80),
            acc: bit(d, 5, 0x40),
            tpgs: (byte(d, 5) >> 4) & 0x03,
            three_pc: bit(d, 5, 0x08),
            protect: bit(d, 5, 0x01),
            encserv: bit(d, 6, 0x40),
            multip: bit(d, 6, 0x10),
            cmdque: bit(d, 7, 0x02),
            vendor: text(d, 8, 16),
            product: text(d, 16, 32),
            revision: text(d, 32, 36),
            version_descriptors,
        })
    }
}

// ---------------------------------------------------------------------------
// VPD pages
// ---------------------------------------------------------------------------

/// The page clamped to its PAGE LENGTH (SPC-4 §7.8.1: a 4-byte
/// header with a 16-bit PAGE LENGTH in bytes 2–3).
fn vpd_page<'a>(data: &'a [u8], page: u8, what: &'static str) -> Result<&'a [u8], ParseError> {
    need(what, data, 4)?;
    if byte(data, 1) != page {
        return Err(ParseError::WrongPage {
            expected: page,
            got: byte(data, 1),
        });
    }
    Ok(span(data, 0, 4 + usize::from(be16(data, 2))))
}

/// Supported VPD Pages (SPC-4 §7.8.16): VPD page 00h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SupportedVpdPages {
    /// The page codes the logical unit supports, in ascending order.
    pub pages: Vec<u8>,
}

impl SupportedVpdPages {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x00;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Supported VPD Pages page")?;
        Ok(Self {
            pages: span(page, 4, page.len()).to_vec(),
        })
    }
}

/// Unit Serial Number (SPC-4 §7.8.18): VPD page 80h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UnitSerialNumber {
    /// PRODUCT SERIAL NUMBER (bytes 4..), trimmed of spaces and NULs.
    pub serial: String,
}

impl UnitSerialNumber {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x80;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Unit Serial Number page")?;
        Ok(Self {
            serial: text(page, 4, page.len()),
        })
    }
}

/// CODE SET of a designation descriptor (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeSet {
    /// 1h: binary values.
    Binary,
    /// 2h: printable ASCII.
    Ascii,
    /// 3h: UTF-8.
    Utf8,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl CodeSet {
    /// The code set with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            1 => Self::Binary,
            2 => Self::Ascii,
            3 => Self::Utf8,
            other => Self::Reserved(other),
        }
    }
}

/// ASSOCIATION of a designation descriptor (SPC-4 §7.8.6.1):
/// what the designator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Association {
    /// 00b: the logical unit.
    LogicalUnit,
    /// 01b: the target port the command came through.
    TargetPort,
    /// 10b: the SCSI target device.
    TargetDevice,
    /// 11b: reserved.
    Reserved,
}

impl Association {
    /// The association with 2-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x03 {
            0 => Self::LogicalUnit,
            1 => Self::TargetPort,
            2 => Self::TargetDevice,
            _ => Self::Reserved,
        }
    }
}

/// DESIGNATOR TYPE of a designation descriptor (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DesignatorType {
    /// 0h: vendor specific.
    VendorSpecific,
    /// 1h: T10 vendor ID based (8-byte vendor ID, then vendor-specific data).
    T10VendorId,
    /// 2h: EUI-64 based.
    Eui64,
    /// 3h: NAA (IEEE Name Address Authority).
    Naa,
    /// 4h: relative target port identifier.
    RelativeTargetPort,
    /// 5h: target port group.
    TargetPortGroup,
    /// 6h: logical unit group.
    LogicalUnitGroup,
    /// 7h: MD5 logical unit identifier.
    Md5LogicalUnit,
    /// 8h: SCSI name string (for iSCSI, the iqn./eui./naa. name).
    ScsiNameString,
    /// 9h: protocol specific port identifier.
    ProtocolSpecificPort,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl DesignatorType {
    /// The designator type with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0x0 => Self::VendorSpecific,
            0x1 => Self::T10VendorId,
            0x2 => Self::Eui64,
            0x3 => Self::Naa,
            0x4 => Self::RelativeTargetPort,
            0x5 => Self::TargetPortGroup,
            0x6 => Self::LogicalUnitGroup,
            0x7 => Self::Md5LogicalUnit,
            0x8 => Self::ScsiNameString,
            0x9 => Self::ProtocolSpecificPort,
            other => Self::Reserved(other),
        }
    }
}

/// One designation descriptor of the Device Identification page
/// (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Designator {
    /// PROTOCOL IDENTIFIER (byte 0 bits 7–4; 5h iSCSI), meaningful when
    /// `piv` is set.
    pub protocol_identifier: u8,
    /// CODE SET (byte 0 bits 3–0).
    pub code_set: CodeSet,
    /// PIV (byte 1 bit 7): `protocol_identifier` is valid.
    pub piv: bool,
    /// ASSOCIATION (byte 1 bits 5–4).
    pub association: Association,
    /// DESIGNATOR TYPE (byte 1 bits 3–0).
    pub designator_type: DesignatorType,
    /// The DESIGNATOR bytes.
    pub value: Vec<u8>,
}

impl fmt::Display for Designator {
    /// NAA and EUI-64 as `naa.`/`eui.` and upper-case hex, T10 vendor IDs as
    /// `t10.` and text, SCSI name strings as their text, port and group
    /// numbers in decimal, anything else as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.value;
        let as_text = || text(v, 0, v.len());
        match self.designator_type {
            DesignatorType::Naa => write!(f, "naa.{}", hex_upper(v)),
            DesignatorType::Eui64 => write!(f, "eui.{}", hex_upper(v)),
            DesignatorType::T10VendorId => write!(f, "t10.{}", as_text()),
            DesignatorType::ScsiNameString => f.write_str(&as_text()),
            DesignatorType::RelativeTargetPort => write!(f, "relative target port {}", be16(v, 2)),
            DesignatorType::TargetPortGroup => write!(f, "target port group {}", be16(v, 2)),
            DesignatorType::LogicalUnitGroup => write!(f, "logical unit group {}", be16(v, 2)),
            _ if matches!(self.code_set, CodeSet::Ascii | CodeSet::Utf8) => f.write_str(&as_text()),
            _ => write!(f, "0x{}", hex_upper(v)),
        }
    }
}

/// Device Identification (SPC-4 §7.8.6): VPD page 83h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeviceIdentification {
    /// The designation descriptors, in page order. A descriptor cut short
    /// by the allocation length is left out.
    pub designators: Vec<Designator>,
}

impl DeviceIdentification {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x83;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Device Identification page")?;
        let mut designators = Vec::new();
        let mut rest = span(page, 4, page.len());
        while let [b0, b1, _, len, tail @ ..] = rest {
            let Some(value) = tail.get(..usize::from(*len)) else {
                break;
            };
            designators.push(Designator {
                protocol_identifier: b0 >> 4,
                code_set: CodeSet::from_code(*b0),
                piv: b1 & 0x80 != 0,
                association: Association::from_code(b1 >> 4),
                designator_type: DesignatorType::from_code(*b1),
                value: value.to_vec(),
            });
            rest = tail.get(usize::from(*len)..).unwrap_or(&[]);
        }
        Ok(Self { designators })
    }
}

/// Extended INQUIRY Data (SPC-4 §7.8.7): VPD page 86h. Fields
/// past the end of short data read as zero.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtendedInquiry {
    /// ACTIVATE MICROCODE (byte 4 bits 7–6).
    pub activate_microcode: u8,
    /// SPT (byte 4 bits 5–3): supported protection types.
    pub spt: u8,
    /// GRD_CHK (byte 4 bit 2).
    pub grd_chk: bool,
    /// APP_CHK (byte 4 bit 1).
    pub app_chk: bool,
    /// REF_CHK (byte 4 bit 0).
    pub ref_chk: bool,
    /// UASK_SUP (byte 5 bit 5).
    pub uask_sup: bool,
    /// GROUP_SUP (byte 5 bit 4).
    pub group_sup: bool,
    /// PRIOR_SUP (byte 5 bit 3).
    pub prior_sup: bool,
    /// HEADSUP (byte 5 bit 2): HEAD OF QUEUE task attribute.
    pub headsup: bool,
    /// ORDSUP (byte 5 bit 1): ORDERED task attribute.
    pub ordsup: bool,
    /// SIMPSUP (byte 5 bit 0): SIMPLE task attribute.
    pub simpsup: bool,
    /// WU_SUP (byte 6 bit 3).
    pub wu_sup: bool,
    /// CRD_SUP (byte 6 bit 2).
    pub crd_sup: bool,
    /// NV_SUP (byte 6 bit 1): non-volatile cache.
    pub nv_sup: bool,
    /// V_SUP (byte 6 bit 0): volatile cache.
    pub v_sup: bool,
    /// P_I_I_SUP (byte 7 bit 4).
    pub p_i_i_sup: bool,
    /// LUICLR (byte 7 bit 0).
    pub luiclr: bool,
    /// R_SUP (byte 8 bit 4): referrals.
    pub r_sup: bool,
    /// CBCS (byte 8 bit 0).
    pub cbcs: bool,
    /// MULTI I_T NEXUS MICROCODE DOWNLOAD (byte 9 bits 3–0).
    pub multi_it_nexus_microcode_download: u8,
    /// EXTENDED SELF-TEST COMPLETION MINUTES (bytes 10–11), in minutes.
    pub extended_self_test_minutes: u16,
    /// POA_SUP (byte 12 bit 7).
    pub poa_sup: bool,
    /// HRA_SUP (byte 12 bit 6).
    pub hra_sup: bool,
    /// VSA_SUP (byte 12 bit 5).
    pub vsa_sup: bool,
    /// MAXIMUM SUPPORTED SENSE DATA LENGTH (byte 13), in bytes; 0 means not
    /// reported.
    pub max_sense_data_length: u8,
}

impl ExtendedInquiry {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x86;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Extended INQUIRY Data page")?;
        Ok(Self {
            activate_microcode: byte(p, 4) >> 6,
            spt: (byte(p, 4) >> 3) & 0x07,
            grd_chk: bit(p, 4, 0x04),
            app_chk: bit(p, 4, 0x02),
            ref_chk: bit(p, 4, 0x01),
            uask_sup: bit(p, 5, 0x20),
            group_sup: bit(p, 5, 0x10),
            prior_sup: bit(p, 5, 0x08),
            headsup: bit(p, 5, 0x04),
            ordsup: bit(p, 5, 0x02),
            simpsup: bit(p, 5, 0x01),
            wu_sup: bit(p, 6, 0x08),
            crd_sup: bit(p, 6, 0x04),
            nv_sup: bit(p, 6, 0x02),
            v_sup: bit(p, 6, 0x01),
            p_i_i_sup: bit(p, 7, 0x10),
            luiclr: bit(p, 7, 0x01),
            r_sup: bit(p, 8, 0x10),
            cbcs: bit(p, 8, 0x01),
            multi_it_nexus_microcode_download: byte(p, 9) & 0x0f,
            extended_self_test_minutes: be16(p, 10),
            poa_sup: bit(p, 12, 0x80),
            hra_sup: bit(p, 12, 0x40),
            vsa_sup: bit(p, 12, 0x20),
            max_sense_data_length: byte(p, 13),
        })
    }
}

/// Block Limits (SBC-3 §6.6.3): VPD page B0h. Lengths are in
/// logical blocks; 0 means "not reported" (or "no limit") for every field,
/// and fields past the end of a short page (older devices return 16 bytes
/// of page) read as 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockLimits {
    /// WSNZ (byte 4 bit 0): WRITE SAME with 0 blocks is refused.
    pub wsnz: bool,
    /// MAXIMUM COMPARE AND WRITE LENGTH (byte 5), in blocks.
    pub max_compare_and_write_length: u8,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6–7), in blocks.
    pub optimal_transfer_length_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH (bytes 8–11), in blocks.
    pub max_transfer_length: u32,
    /// OPTIMAL TRANSFER LENGTH (bytes 12–15), in blocks.
    pub optimal_transfer_length: u32,
    /// MAXIMUM PREFETCH LENGTH (bytes 16–19), in blocks.
    pub max_prefetch_length: u32,
    /// MAXIMUM UNMAP LBA COUNT (bytes 20–23), in blocks.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (bytes 24–27).
    pub max_unmap_block_descriptor_count: u32,
    /// OPTIMAL UNMAP GRANULARITY (bytes 28–31), in blocks.
    pub optimal_unmap_granularity: u32,
    /// UGAVALID (byte 32 bit 7): `unmap_granularity_alignment` is valid.
    pub ugavalid: bool,
    /// UNMAP GRANULARITY ALIGNMENT (bytes 32–35, 31 bits): LBA of the first
    /// aligned block.
    pub unmap_granularity_alignment: u32,
    /// MAXIMUM WRITE SAME LENGTH (bytes 36–43), in blocks.
    pub max_write_same_length: u64,
    /// MAXIMUM ATOMIC TRANSFER LENGTH (bytes 44–47), in blocks.
    pub max_atomic_transfer_length: u32,
    /// ATOMIC ALIGNMENT (bytes 48–51), in blocks.
    pub atomic_alignment: u32,
    /// ATOMIC TRANSFER LENGTH GRANULARITY (bytes 52–55), in blocks.
    pub atomic_transfer_length_granularity: u32,
    /// MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY (bytes 56–59,
    /// SBC-4), in blocks.
    pub max_atomic_transfer_length_with_boundary: u32,
    /// MAXIMUM ATOMIC BOUNDARY SIZE (bytes 60–63, SBC-4), in blocks.
    pub max_atomic_boundary_size: u32,
}

impl BlockLimits {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb0;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Block Limits page")?;
        Ok(Self {
            wsnz: bit(p, 4, 0x01),
            max_compare_and_write_length: byte(p, 5),
            optimal_transfer_length_granularity: be16(p, 6),
            max_transfer_length: be32(p, 8),
            optimal_transfer_length: be32(p, 12),
            max_prefetch_length: be32(p, 16),
            max_unmap_lba_count: be32(p, 20),
            max_unmap_block_descriptor_count: be32(p, 24),
            optimal_unmap_granularity: be32(p, 28),
            ugavalid: bit(p, 32, 0x80),
            unmap_granularity_alignment: be32(p, 32) & 0x7fff_ffff,
            max_write_same_length: be64(p, 36),
            max_atomic_transfer_length: be32(p, 44),
            atomic_alignment: be32(p, 48),
            atomic_transfer_length_granularity: be32(p, 52),
            max_atomic_transfer_length_with_boundary: be32(p, 56),
            max_atomic_boundary_size: be32(p, 60),
        })
    }
}

/// Block Device Characteristics (SBC-3 §6.6.2): VPD page B1h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockDeviceCharacteristics {
    /// MEDIUM ROTATION RATE (bytes 4–5): 0 not reported, 1 non-rotating
    /// (solid state), otherwise revolutions per minute.
    pub medium_rotation_rate: u16,
    /// PRODUCT TYPE (byte 6): 0 not indicated, 1 CFast, 2 CompactFlash, …
    pub product_type: u8,
    /// WABEREQ (byte 7 bits 7–6).
    pub wabereq: u8,
    /// WACEREQ (byte 7 bits 5–4).
    pub wacereq: u8,
    /// NOMINAL FORM FACTOR (byte 7 bits 3–0): 1 5.25", 2 3.5", 3 2.5",
    /// 4 1.8", 5 under 1.8".
    pub nominal_form_factor: u8,
    /// FUAB (byte 8 bit 1).
    pub fuab: bool,
    /// VBULS (byte 8 bit 0).
    pub vbuls: bool,
}

impl BlockDeviceCharacteristics {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb1;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Block Device Characteristics page")?;
        Ok(Self {
            medium_rotation_rate: be16(p, 4),
            product_type: byte(p, 6),
            wabereq: byte(p, 7) >> 6,
            wacereq: (byte(p, 7) >> 4) & 0x03,
            nominal_form_factor: byte(p, 7) & 0x0f,
            fuab: bit(p, 8, 0x02),
            vbuls: bit(p, 8, 0x01),
        })
    }

    /// True when MEDIUM ROTATION RATE says non-rotating medium (0001h).
    #[must_use]
    pub const fn is_non_rotating(&self) -> bool {
        self.medium_rotation_rate == 1
    }
}

/// Logical Block Provisioning (SBC-3 §6.6.4): VPD page B2h.
/// The provisioning group descriptor that may follow is not parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LogicalBlockProvisioning {
    /// THRESHOLD EXPONENT (byte 4).
    pub threshold_exponent: u8,
    /// LBPU (byte 5 bit 7): UNMAP supported.
    pub lbpu: bool,
    /// LBPWS (byte 5 bit 6): WRITE SAME(16) with UNMAP supported.
    pub lbpws: bool,
    /// LBPWS10 (byte 5 bit 5): WRITE SAME(10) with UNMAP supported.
    pub lbpws10: bool,
    /// LBPRZ (byte 5 bits 4–2; SBC-3 defines only bit 2): nonzero when
    /// unmapped blocks read back as zeros.
    pub lbprz: u8,
    /// ANC_SUP (byte 5 bit 1): ANCHOR supported.
    pub anc_sup: bool,
    /// DP (byte 5 bit 0): a provisioning group descriptor follows.
    pub dp: bool,
    /// PROVISIONING TYPE (byte 6 bits 2–0): 0 fully provisioned (or not
    /// reported), 1 resource provisioned, 2 thin provisioned.
    pub provisioning_type: u8,
}

impl LogicalBlockProvisioning {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb2;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Logical Block Provisioning page")?;
        Ok(Self {
            threshold_exponent: byte(p, 4),
            lbpu: bit(p, 5, 0x80),
            lbpws: bit(p, 5, 0x40),
            lbpws10: bit(p, 5, 0x20),
            lbprz: (byte(p, 5) >> 2) & 0x07,
            anc_sup: bit(p, 5, 0x02),
            dp: bit(p, 5, 0x01),
            provisioning_type: byte(p, 6) & 0x07,
        })
    }
}

/// A VPD page (SPC-4 §7.8, SBC-3 §6.6), by the PAGE CODE in byte 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VpdPage {
    /// 00h Supported VPD Pages.
    SupportedPages(SupportedVpdPages),
    /// 80h Unit Serial Number.
    UnitSerialNumber(UnitSerialNumber),
    /// 83h Device Identification.
    DeviceIdentification(DeviceIdentification),
    /// 86h Extended INQUIRY Data.
    ExtendedInquiry(ExtendedInquiry),
    /// B0h Block Limits.
    BlockLimits(BlockLimits),
    /// B1h Block Device Characteristics.
    BlockDeviceCharacteristics(BlockDeviceCharacteristics),
    /// B2h Logical Block Provisioning.
    LogicalBlockProvisioning(LogicalBlockProvisioning),
    /// Any other page.
    #[non_exhaustive]
    Other {
        /// PAGE CODE (byte 1).
        page_code: u8,
        /// The bytes after the 4-byte header, up to PAGE LENGTH.
        data: Vec<u8>,
    },
}

impl VpdPage {
    /// Parses a VPD page of any kind.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("VPD page", data, 4)?;
        Ok(match byte(data, 1) {
            SupportedVpdPages::PAGE_CODE => Self::SupportedPages(SupportedVpdPages::parse(data)?),
            UnitSerialNumber::PAGE_CODE => Self::UnitSerialNumber(UnitSerialNumber::parse(data)?),
            DeviceIdentification::PAGE_CODE => {
                Self::DeviceIdentification(DeviceIdentification::parse(data)?)
            }
            ExtendedInquiry::PAGE_CODE => Self::ExtendedInquiry(ExtendedInquiry::parse(data)?),
            BlockLimits::PAGE_CODE => Self::BlockLimits(BlockLimits::parse(data)?),
            BlockDeviceCharacteristics::PAGE_CODE => {
                Self::BlockDeviceCharacteristics(BlockDeviceCharacteristics::parse(data)?)
            }
            LogicalBlockProvisioning::PAGE_CODE => {
                Self::LogicalBlockProvisioning(LogicalBlockProvisioning::parse(data)?)
            }
            page_code => Self::Other {
                page_code,
                data: span(data, 4, 4 + usize::from(be16(data, 2))).to_vec(),
            },
        })
    }

    /// The PAGE CODE.
    #[must_use]
    pub const fn page_code(&self) -> u8 {
        match self {
            Self::SupportedPages(_) => SupportedVpdPages::PAGE_CODE,
            Self::UnitSerialNumber(_) => UnitSerialNumber::PAGE_CODE,
            Self::DeviceIdentification(_) => DeviceIdentification::PAGE_CODE,
            Self::ExtendedInquiry(_) => ExtendedInquiry::PAGE_CODE,
            Self::BlockLimits(_) => BlockLimits::PAGE_CODE,
            Self::BlockDeviceCharacteristics(_) => BlockDeviceCharacteristics::PAGE_CODE,
            Self::LogicalBlockProvisioning(_) => LogicalBlockProvisioning::PAGE_CODE,
            Self::Other { page_code, .. } => *page_code,
        }
    }
}

// ---------------------------------------------------------------------------
// READ CAPACITY
// ---------------------------------------------------------------------------

/// READ CAPACITY(10) parameter data (SBC-3 §5.15.2): 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReadCapacity10 {
    /// RETURNED LOGICAL BLOCK ADDRESS (bytes 0–3): the last LBA;
    /// FFFF_FFFFh when the capacity needs READ CAPACITY(16).
    pub last_lba: u32,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 4–7).
    pub block_length: u32,
}

impl ReadCapacity10 {
    /// Parses the 8 bytes.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ CAPACITY(10) data", data, 8)?;
        Ok(Self {
            last_lba: be32(data, 0),
            block_length: be32(data, 4),
        })
    }

    /// The number of logical blocks (last LBA + 1).
    #[must_use]
    pub const fn block_count(&self) -> u64 {
        self.last_lba as u64 + 1
    }

    /// The capacity in bytes.
    #[must_use]
    pub const fn capacity_bytes(&self) -> u64 {
        // At most 2^32 × (2^32 − 1): always fits.
        self.block_count().saturating_mul(self.block_length as u64)
    }

    /// True when the LBA field is saturated and READ CAPACITY(16) must be
    /// used (SBC-3 §5.15.2).
    #[must_use]
    pub const fn needs_read_capacity16(&self) -> bool {
        self.last_lba == u32::MAX
    }
}

/// READ CAPACITY(16) parameter data (SBC-3 §5.16.2): 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReadCapacity16 {
    /// RETURNED LOGICAL BLOCK ADDRESS (bytes 0–7): the last LBA.
    pub last_lba: u64,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 8–11).
    pub block_length: u32,
    /// P_TYPE (byte 12 bits 3–1): protection type − 1 when `prot_en`.
    pub p_type: u8,
    /// PROT_EN (byte 12 bit 0): protection information enabled.
    pub prot_en: bool,
    /// P_I_EXPONENT (byte 13 bits 7–4).
    pub p_i_exponent: u8,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (byte 13 bits 3–0).
    pub lbppbe: u8,
    /// LBPME (byte 14 bit 7): logical block provisioning (thin) enabled.
    pub lbpme: bool,
    /// LBPRZ (byte 14 bit 6): unmapped blocks read as zeros.
    pub lbprz: bool,
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS (bytes 14–15, 14 bits).
    pub lowest_aligned_lba: u16,
}

impl ReadCapacity16 {
    /// Parses the data, at least the 12 bytes of LBA and block length
    /// (fields past a short allocation length read as zero).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 12 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ CAPACITY(16) data", data, 12)?;
        Ok(Self {
            last_lba: be64(data, 0),
            block_length: be32(data, 8),
            p_type: (byte(data, 12) >> 1) & 0x07,
            prot_en: bit(data, 12, 0x01),
            p_i_exponent: byte(data, 13) >> 4,
            lbppbe: byte(data, 13) & 0x0f,
            lbpme: bit(data, 14, 0x80),
            lbprz: bit(data, 14, 0x40),
            lowest_aligned_lba: be16(data, 14) & 0x3fff,
        })
    }

    /// The number of logical blocks (last LBA + 1, saturating).
    #[must_use]
    pub const fn block_count(&self) -> u64 {
        self.last_lba.saturating_add(1)
    }

    /// The capacity in bytes (saturating at `u64::MAX`).
    #[must_use]
    pub const fn capacity_bytes(&self) -> u64 {
        self.block_count().saturating_mul(self.block_length as u64)
    }

    /// Logical blocks per physical block (2^LBPPBE).
    #[must_use]
    pub const fn logical_blocks_per_physical_block(&self) -> u32 {
        1 << (self.lbppbe & 0x0f)
    }

    /// The protection type (1–3) when protection is enabled (SBC-3 §5.16.2,
    /// P_TYPE).
    #[must_use]
    pub const fn protection_type(&self) -> Option<u8> {
        if self.prot_en {
            Some(self.p_type + 1)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------
// REPORT LUNS
// ---------------------------------------------------------------------------

/// An 8-byte LOGICAL UNIT NUMBER (SAM-5 §4.7), as REPORT LUNS lists it and
/// the iSCSI LUN field carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a plain newtype over the 8 LUN bytes"
)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// The LUN for index `index` in single-level form (SAM-5 §4.7):
    /// peripheral device addressing (00b) below 256, flat space addressing
    /// (01b) below 16 384, `None` above.
    #[must_use]
    pub const fn from_index(index: u16) -> Option<Self> {
        let [hi, lo] = index.to_be_bytes();
        if index < 0x100 {
            Some(Self([0, lo, 0, 0, 0, 0, 0, 0]))
        } else if index < 0x4000 {
            Some(Self([0x40 | hi, lo, 0, 0, 0, 0, 0, 0]))
        } else {
            None
        }
    }

    /// The single-level index of this LUN: peripheral device addressing with
    /// bus 0 (byte 0 = 00h, index in byte 1) or flat space addressing
    /// (14 bits in bytes 0–1), with bytes 2–7 zero. `None` for any other
    /// (multi-level, extended or logical unit) addressing.
    #[must_use]
    pub const fn index(&self) -> Option<u16> {
        let [b0, b1, b2, b3, b4, b5, b6, b7] = self.0;
        if b2 | b3 | b4 | b5 | b6 | b7 != 0 {
            return None;
        }
        match b0 >> 6 {
            0b00 if b0 == 0 => Some(b1 as u16),
            0b01 => Some((((b0 & 0x3f) as u16) << 8) | b1 as u16),
            _ => None,
        }
    }

    /// The 8 bytes as one big-endian number.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

impl From<u64> for Lun {
    fn from(value: u64) -> Self {
        Self(value.to_be_bytes())
    }
}

/// REPORT LUNS parameter data (SPC-4 §6.33).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReportLuns {
    /// LUN LIST LENGTH (bytes 0–3), in bytes: 8 × the number of LUNs the
    /// target has, which may exceed what the allocation length let through.
    pub lun_list_length: u32,
    /// The LUNs that were returned.
    pub luns: Vec<Lun>,
}

impl ReportLuns {
    /// Parses the data: the 8-byte header, then whole 8-byte LUN entries up
    /// to LUN LIST LENGTH or the end of the data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT LUNS data", data, 8)?;
        let lun_list_length = be32(data, 0);
        let end = usize::try_from(lun_list_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        let luns = span(data, 8, end)
            .chunks_exact(8)
            .map(|c| Lun(be_bytes(c, 0)))
            .collect();
        Ok(Self {
            lun_list_length,
            luns,
        })
    }

    /// The allocation length in bytes that returns every LUN.
    #[must_use]
    pub fn full_length(&self) -> u64 {
        u64::from(self.lun_list_length) + 8
    }

    /// True when the target has more LUNs than were returned.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        (self.luns.len() as u64) * 8 < u64::from(self.lun_list_length)
    }
}

// ---------------------------------------------------------------------------
// MODE SENSE
// ---------------------------------------------------------------------------

/// A mode parameter block descriptor for a direct-access device (SBC-3
/// §6.4.2): short (8 bytes: 32-bit block count, 24-bit block length) or
/// long (16 bytes, LONGLBA: 64-bit count, 32-bit length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockDescriptor {
    /// NUMBER OF LOGICAL BLOCKS.
    pub blocks: u64,
    /// LOGICAL BLOCK LENGTH, in bytes.
    pub block_length: u32,
}

/// One mode page (SPC-4 §7.5.7): page_0 or sub_page format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModePage {
    /// PAGE CODE (byte 0 bits 5–0).
    pub page_code: u8,
    /// SUBPAGE CODE (byte 1 of the sub_page format; 0 for page_0 format).
    pub subpage: u8,
    /// PS (byte 0 bit 7): the page can be saved.
    pub ps: bool,
    /// SPF (byte 0 bit 6): the page is in sub_page format.
    pub spf: bool,
    /// The whole page, header included, so that byte numbers match the
    /// standard's tables.
    pub bytes: Vec<u8>,
}

/// The Caching mode page (SBC-3 §6.4.5, page 08h), as far as the initiator
/// usually cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CachingPage {
    /// WCE (byte 2 bit 2): write cache enabled.
    pub wce: bool,
    /// RCD (byte 2 bit 0): read cache disabled.
    pub rcd: bool,
}

/// The Control mode page (SPC-4 §7.5.8, page 0Ah).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ControlPage {
    /// TST (byte 2 bits 7–5): task set type.
    pub tst: u8,
    /// TMF_ONLY (byte 2 bit 4).
    pub tmf_only: bool,
    /// D_SENSE (byte 2 bit 2): descriptor-format sense data.
    pub d_sense: bool,
    /// GLTSD (byte 2 bit 1).
    pub gltsd: bool,
    /// RLEC (byte 2 bit 0).
    pub rlec: bool,
    /// QUEUE ALGORITHM MODIFIER (byte 3 bits 7–4): 0 restricted, 1
    /// unrestricted reordering.
    pub queue_algorithm_modifier: u8,
    /// QERR (byte 3 bits 2–1).
    pub qerr: u8,
    /// SWP (byte 4 bit 3): software write protect.
    pub swp: bool,
    /// TAS (byte 5 bit 6): task aborted status.
    pub tas: bool,
}

impl ModePage {
    /// The Caching page fields, when this is page 08h subpage 0 and long
    /// enough.
    #[must_use]
    pub fn caching(&self) -> Option<CachingPage> {
        if self.page_code != 0x08 || self.subpage != 0 || self.bytes.len() < 3 {
            return None;
        }
        Some(CachingPage {
            wce: bit(&self.bytes, 2, 0x04),
            rcd: bit(&self.bytes, 2, 0x01),
        })
    }

    /// The Control page fields, when this is page 0Ah subpage 0 and long
    /// enough (6 bytes).
    #[must_use]
    pub fn control(&self) -> Option<ControlPage> {
        let b = &self.bytes;
        if self.page_code != 0x0a || self.subpage != 0 || b.len() < 6 {
            return None;
        }
        Some(ControlPage {
            tst: byte(b, 2) >> 5,
            tmf_only: bit(b, 2, 0x10),
            d_sense: bit(b, 2, 0x04),
            gltsd: bit(b, 2, 0x02),
            rlec: bit(b, 2, 0x01),
            queue_algorithm_modifier: byte(b, 3) >> 4,
            qerr: (byte(b, 3) >> 1) & 0x03,
            swp: bit(b, 4, 0x08),
            tas: bit(b, 5, 0x40),
        })
    }
}

/// MODE SENSE(6)/(10) data (SPC-4 §7.5.4–§7.5.6): mode parameter header,
/// block descriptors and mode pages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModeParameters {
    /// MODE DATA LENGTH: bytes that follow the length field itself.
    pub mode_data_length: u16,
    /// MEDIUM TYPE (00h for block devices).
    pub medium_type: u8,
    /// DEVICE-SPECIFIC PARAMETER (SBC-3 §6.4.1: WP 80h, DPOFUA 10h).
    pub device_specific: u8,
    /// LONGLBA (MODE SENSE(10) header byte 4 bit 0): 16-byte descriptors.
    pub long_lba: bool,
    /// BLOCK DESCRIPTOR LENGTH, in bytes.
    pub block_descriptor_length: u16,
    /// The block descriptors that were returned whole.
    pub block_descriptors: Vec<BlockDescriptor>,
    /// The mode pages that were returned whole.
    pub pages: Vec<ModePage>,
    /// True when MODE DATA LENGTH announces more than was returned (the last
    /// page or descriptor was cut short and left out).
    pub truncated: bool,
}

impl ModeParameters {
    /// Parses MODE SENSE(6) data (4-byte header, SPC-4 §7.5.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse6(data: &[u8]) -> Result<Self, ParseError> {
        need("MODE SENSE(6) data", data, 4)?;
        let mode_data_length = u16::from(byte(data, 0));
        Ok(Self::parse_body(
            data,
            4,
            usize::from(mode_data_length) + 1,
            Self {
                mode_data_length,
                medium_type: byte(data, 1),
                device_specific: byte(data, 2),
                long_lba: false,
                block_descriptor_length: u16::from(byte(data, 3)),
                ..Self::default()
            },
        ))
    }

    /// Parses MODE SENSE(10) data (8-byte header, SPC-4 §7.5.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 8 header bytes.
    pub fn parse10(data: &[u8]) -> Result<Self, ParseError> {
        need("MODE SENSE(10) data", data, 8)?;
        let mode_data_length = be16(data, 0);
        Ok(Self::parse_body(
            data,
            8,
            usize::from(mode_data_length) + 2,
            Self {
                mode_data_length,
                medium_type: byte(data, 2),
                device_specific: byte(data, 3),
                long_lba: bit(data, 4, 0x01),
                block_descriptor_length: be16(data, 6),
                ..Self::default()
            },
        ))
    }

    fn parse_body(data: &[u8], header: usize, total: usize, mut out: Self) -> Self {
        out.truncated = total > data.len();
        let data = span(data, 0, total);
        let bd_end = header + usize::from(out.block_descriptor_length);
        if bd_end > data.len() {
            out.truncated = true;
        }
        let (size, long) = if out.long_lba { (16, true) } else { (8, false) };
        out.block_descriptors = span(data, header, bd_end)
            .chunks_exact(size)
            .map(|d| {
                if long {
                    BlockDescriptor {
                        blocks: be64(d, 0),
                        block_length: be32(d, 12),
                    }
                } else {
                    BlockDescriptor {
                        blocks: be32(d, 0).into(),
                        block_length: be24(d, 5),
                    }
                }
            })
            .collect();
        let mut rest = span(data, bd_end, data.len());
        while let [b0, b1, ..] = rest {
            let spf = b0 & 0x40 != 0;
            let (subpage, len) = if spf {
                if rest.len() < 4 {
                    out.truncated = true;
                    break;
                }
                (*b1, 4 + usize::from(be16(rest, 2)))
            } else {
                (0, 2 + usize::from(*b1))
            };
            let Some(bytes) = rest.get(..len) else {
                out.truncated = true;
                break;
            };
            out.pages.push(ModePage {
                page_code: b0 & 0x3f,
                subpage,
                ps: b0 & 0x80 != 0,
                spf,
                bytes: bytes.to_vec(),
            });
            rest = rest.get(len..).unwrap_or(&[]);
        }
        out
    }

    /// WP (DEVICE-SPECIFIC PARAMETER bit 7, SBC-3 §6.4.1): write protected.
    #[must_use]
    pub const fn write_protected(&self) -> bool {
        self.device_specific & 0x80 != 0
    }

    /// DPOFUA (DEVICE-SPECIFIC PARAMETER bit 4, SBC-3 §6.4.1): DPO and FUA
    /// are supported.
    #[must_use]
    pub const fn dpofua(&self) -> bool {
        self.device_specific & 0x10 != 0
    }

    /// The page with this page code and subpage code, if returned.
    #[must_use]
    pub fn page(&self, page_code: u8, subpage: u8) -> Option<&ModePage> {
        self.pages
            .iter()
            .find(|p| p.page_code == page_code && p.subpage == subpage)
    }

    /// The Caching page (08h) fields, if returned.
    #[must_use]
    pub fn caching(&self) -> Option<CachingPage> {
        self.page(0x08, 0).and_then(ModePage::caching)
    }

    /// The Control page (0Ah) fields, if returned.
    #[must_use]
    pub fn control(&self) -> Option<ControlPage> {
        self.page(0x0a, 0).and_then(ModePage::control)
    }
}

// ---------------------------------------------------------------------------
// REPORT SUPPORTED OPERATION CODES
// ---------------------------------------------------------------------------

/// A command timeouts descriptor (SPC-4 §6.35.4), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandTimeouts {
    /// NOMINAL COMMAND PROCESSING TIMEOUT, in seconds (0: not reported).
    pub nominal: u32,
    /// RECOMMENDED COMMAND TIMEOUT, in seconds (0: not reported).
    pub recommended: u32,
}

/// A command descriptor of the "all commands" format (SPC-4 §6.35.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandDescriptor {
    /// OPERATION CODE (byte 0).
    pub opcode: u8,
    /// SERVICE ACTION (bytes 2–3), meaningful when `servactv`.
    pub service_action: u16,
    /// SERVACTV (byte 5 bit 0): the command has a service action.
    pub servactv: bool,
    /// CDB LENGTH (bytes 6–7), in bytes.
    pub cdb_length: u16,
    /// The command timeouts descriptor, present when CTDP (byte 5 bit 1).
    pub timeouts: Option<CommandTimeouts>,
}

/// REPORT SUPPORTED OPERATION CODES data in the "all commands" format
/// (REPORTING OPTIONS 000b; SPC-4 §6.35.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SupportedOperationCodes {
    /// COMMAND DATA LENGTH (bytes 0–3): bytes of descriptors the target has.
    pub command_data_length: u32,
    /// The descriptors returned whole.
    pub commands: Vec<CommandDescriptor>,
}

impl SupportedOperationCodes {
    /// Parses "all commands" data; a descriptor cut short ends the list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT SUPPORTED OPERATION CODES data", data, 4)?;
        let command_data_length = be32(data, 0);
        let end = usize::try_from(command_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        let mut rest = span(data, 4, end);
        let mut commands = Vec::new();
        while rest.len() >= 8 {
            let ctdp = bit(rest, 5, 0x02);
            let size = if ctdp { 20 } else { 8 };
            if rest.len() < size {
                break;
            }
            commands.push(CommandDescriptor {
                opcode: byte(rest, 0),
                service_action: be16(rest, 2),
                servactv: bit(rest, 5, 0x01),
                cdb_length: be16(rest, 6),
                timeouts: ctdp.then(|| CommandTimeouts {
                    nominal: be32(rest, 12),
                    recommended: be32(rest, 16),
                }),
            });
            rest = rest.get(size..).unwrap_or(&[]);
        }
        Ok(Self {
            command_data_length,
            commands,
        })
    }

    /// True when the command `opcode` (with `service_action`, for commands
    /// that have one) is listed.
    #[must_use]
    pub fn supports(&self, opcode: u8, service_action: Option<u16>) -> bool {
        self.commands.iter().any(|c| {
            c.opcode == opcode
                && match service_action {
                    Some(sa) => c.servactv && c.service_action == sa,
                    None => !c.servactv,
                }
        })
    }
}

// ---------------------------------------------------------------------------
// PERSISTENT RESERVE IN
// ---------------------------------------------------------------------------

/// PERSISTENT RESERVE IN READ KEYS data (SPC-4 §6.15.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReadKeys {
    /// PRGENERATION (bytes 0–3).
    pub generation: u32,
    /// ADDITIONAL LENGTH (bytes 4–7): bytes of keys the target has.
    pub additional_length: u32,
    /// The registered reservation keys returned whole.
    pub keys: Vec<u64>,
}

impl PrReadKeys {
    /// Parses READ KEYS data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ KEYS data", data, 8)?;
        let additional_length = be32(data, 4);
        let end = usize::try_from(additional_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        Ok(Self {
            generation: be32(data, 0),
            additional_length,
            keys: span(data, 8, end)
                .chunks_exact(8)
                .map(|c| be64(c, 0))
                .collect(),
        })
    }
}

/// The persistent reservation READ RESERVATION reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReservation {
    /// RESERVATION KEY (bytes 8–15) of the holder.
    pub key: u64,
    /// SCOPE (byte 21 bits 7–4): 0 LU_SCOPE.
    pub scope: u8,
    /// TYPE (byte 21 bits 3–0); see [`PrReservation::reservation_type`].
    pub pr_type: u8,
}

impl PrReservation {
    /// The TYPE as a [`PrType`], if SPC-4 defines it.
    #[must_use]
    pub const fn reservation_type(&self) -> Option<PrType> {
        PrType::from_code(self.pr_type)
    }
}

/// PERSISTENT RESERVE IN READ RESERVATION data (SPC-4 §6.15.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReadReservation {
    /// PRGENERATION (bytes 0–3).
    pub generation: u32,
    /// The reservation, `None` when the logical unit is not reserved
    /// (ADDITIONAL LENGTH 0).
    pub reservation: Option<PrReservation>,
}

impl PrReadReservation {
    /// Parses READ RESERVATION data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes, or fewer than 24
    /// when ADDITIONAL LENGTH announces a reservation.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ RESERVATION data", data, 8)?;
        let reservation = if be32(data, 4) >= 16 {
            need("READ RESERVATION data", data, 24)?;
            Some(PrReservation {
                key: be64(data, 8),
                scope: byte(data, 21) >> 4,
                pr_type: byte(data, 21) & 0x0f,
            })
        } else {
            None
        };
        Ok(Self {
            generation: be32(data, 0),
            reservation,
        })
    }
}

// ---------------------------------------------------------------------------
// GET LBA STATUS
// ---------------------------------------------------------------------------

/// PROVISIONING STATUS of an LBA status descriptor (SBC-3 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProvisioningStatus {
    /// 0h: mapped (or status unknown).
    Mapped,
    /// 1h: deallocated.
    Deallocated,
    /// 2h: anchored.
    Anchored,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl ProvisioningStatus {
    /// The status with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0 => Self::Mapped,
            1 => Self::Deallocated,
            2 => Self::Anchored,
            other => Self::Reserved(other),
        }
    }
}

/// An LBA status descriptor (SBC-3 §5.4): 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LbaStatusDescriptor {
    /// LBA STATUS LOGICAL BLOCK ADDRESS (bytes 0–7): first block of the
    /// extent.
    pub lba: u64,
    /// NUMBER OF LOGICAL BLOCKS (bytes 8–11) in the extent.
    pub blocks: u32,
    /// PROVISIONING STATUS (byte 12 bits 3–0).
    pub status: ProvisioningStatus,
}

/// GET LBA STATUS parameter data (SBC-3 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LbaStatus {
    /// PARAMETER DATA LENGTH (bytes 0–3): bytes that follow the field.
    pub parameter_data_length: u32,
    /// The descriptors returned whole.
    pub descriptors: Vec<LbaStatusDescriptor>,
}

impl LbaStatus {
    /// Parses GET LBA STATUS data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 8 header bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("GET LBA STATUS data", data, 8)?;
        let parameter_data_length = be32(data, 0);
        let end = usize::try_from(parameter_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        Ok(Self {
            parameter_data_length,
            descriptors: span(data, 8, end)
                .chunks_exact(16)
                .map(|d| LbaStatusDescriptor {
                    lba: be64(d, 0),
                    blocks: be32(d, 8),
                    status: ProvisioningStatus::from_code(byte(d, 12)),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]
mod tests {
    use super::*;

    fn b(cdb: Cdb) -> Vec<u8> {
        cdb.as_slice().to_vec()
    }

    fn ok(cdb: Result<Cdb, CdbError>) -> Vec<u8> {
        b(cdb.unwrap())
    }

    // -- CDB type ------------------------------------------------------------

    #[test]
    fn cdb_basics() {
        let c = Cdb::test_unit_ready();
        assert_eq!(c.len(), 6);
        assert!(!c.is_empty());
        assert_eq!(c.opcode(), 0x00);
        assert_eq!(c.as_ref(), &[0u8; 6][..]);
        assert_eq!(format!("{c:?}"), "Cdb(00 00 00 00 00 00)");
        let v = Cdb::from_slice(&[0xc0, 1, 2]).unwrap();
        assert_eq!(
            (v.len(), v.opcode(), v.as_slice()),
            (3, 0xc0, &[0xc0, 1, 2][..])
        );
        assert_eq!(Cdb::from_slice(&[]), Err(CdbError::Length(0)));
        assert_eq!(Cdb::from_slice(&[0; 17]), Err(CdbError::Length(17)));
        assert_eq!(Cdb::from_slice(&[0x28; 16]).unwrap().len(), 16);
    }

    // -- SPC-4 builders ------------------------------------------------------

    #[test]
    fn test_unit_ready_cdb() {
        assert_eq!(b(Cdb::test_unit_ready()), [0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn inquiry_cdb() {
        assert_eq!(b(Cdb::inquiry(false, 0, 36)), [0x12, 0, 0, 0, 36, 0]);
        assert_eq!(
            b(Cdb::inquiry(true, 0x83, 0x1000)),
            [0x12, 1, 0x83, 0x10, 0x00, 0]
        );
    }

    #[test]
    fn request_sense_cdb() {
        assert_eq!(b(Cdb::request_sense(true, 252)), [0x03, 1, 0, 0, 252, 0]);
        assert_eq!(b(Cdb::request_sense(false, 18)), [0x03, 0, 0, 0, 18, 0]);
    }

    #[test]
    fn report_luns_cdb() {
        assert_eq!(
            b(Cdb::report_luns(2, 0x0001_0000)),
            [0xa0, 0, 2, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0]
        );
    }

    #[test]
    fn mode_sense_cdbs() {
        assert_eq!(
            ok(Cdb::mode_sense6(
                true,
                PageControl::Changeable,
                0x08,
                0,
                0xff
            )),
            [0x1a, 0x08, 0x48, 0x00, 0xff, 0]
        );
        assert_eq!(
            ok(Cdb::mode_sense6(
                false,
                PageControl::Current,
                0x3f,
                0xff,
                192
            )),
            [0x1a, 0x00, 0x3f, 0xff, 192, 0]
        );
        assert_eq!(
            ok(Cdb::mode_sense10(
                false,
                PageControl::Saved,
                0x0a,
                0x01,
                0x1234
            )),
            [0x5a, 0x00, 0xca, 0x01, 0, 0, 0, 0x12, 0x34, 0]
        );
        assert_eq!(
            ok(Cdb::mode_sense10(true, PageControl::Default, 0x1c, 0, 8)),
            [0x5a, 0x08, 0x9c, 0, 0, 0, 0, 0, 8, 0]
        );
        assert!(matches!(
            Cdb::mode_sense6(false, PageControl::Current, 0x40, 0, 4),
            Err(CdbError::OutOfRange {
                field: "PAGE CODE",
                value: 0x40,
                max: 0x3f
            })
        ));
        assert!(Cdb::mode_sense10(false, PageControl::Current, 0xff, 0, 4).is_err());
    }

    #[test]
    fn mode_select_cdbs() {
        assert_eq!(
            b(Cdb::mode_select6(true, false, 0x18)),
            [0x15, 0x10, 0, 0, 0x18, 0]
        );
        assert_eq!(
            b(Cdb::mode_select6(true, true, 0x18)),
            [0x15, 0x11, 0, 0, 0x18, 0]
        );
        assert_eq!(
            b(Cdb::mode_select10(true, true, 0x0102)),
            [0x55, 0x11, 0, 0, 0, 0, 0, 0x01, 0x02, 0]
        );
        assert_eq!(
            b(Cdb::mode_select10(false, false, 0)),
            [0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn report_supported_operation_codes_cdb() {
        assert_eq!(
            b(Cdb::report_supported_operation_codes(
                ReportingOptions::AllCommands,
                true,
                0,
                0,
                0x2000
            )),
            [0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0x20, 0x00, 0, 0]
        );
        assert_eq!(
            b(Cdb::report_supported_operation_codes(
                ReportingOptions::OneCommandServiceAction,
                false,
                0x9e,
                0x10,
                512
            )),
            [0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x10, 0, 0, 0x02, 0x00, 0, 0]
        );
        assert_eq!(
            b(Cdb::report_supported_operation_codes(
                ReportingOptions::OneCommandOptionalServiceAction,
                false,
                0x28,
                0,
                64
            ))[2],
            0x03
        );
        assert_eq!(
            b(Cdb::report_supported_operation_codes(
                ReportingOptions::OneCommand,
                false,
                0x28,
                0,
                64
            ))[2],
            0x01
        );
    }

    #[test]
    fn prevent_allow_cdb() {
        assert_eq!(
            b(Cdb::prevent_allow_medium_removal(true)),
            [0x1e, 0, 0, 0, 1, 0]
        );
        assert_eq!(
            b(Cdb::prevent_allow_medium_removal(false)),
            [0x1e, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn start_stop_unit_cdb() {
        assert_eq!(
            ok(Cdb::start_stop_unit(true, 0, true, false)),
            [0x1b, 1, 0, 0, 0x02, 0]
        );
        assert_eq!(
            ok(Cdb::start_stop_unit(false, 0, false, true)),
            [0x1b, 0, 0, 0, 0x01, 0]
        );
        assert_eq!(
            ok(Cdb::start_stop_unit(false, 3, false, false)),
            [0x1b, 0, 0, 0, 0x30, 0]
        );
        assert!(Cdb::start_stop_unit(false, 0x10, false, false).is_err());
    }

    #[test]
    fn reserve_release_cdbs() {
        assert_eq!(b(Cdb::reserve6()), [0x16, 0, 0, 0, 0, 0]);
        assert_eq!(b(Cdb::release6()), [0x17, 0, 0, 0, 0, 0]);
        assert_eq!(b(Cdb::reserve10()), [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(b(Cdb::release10()), [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn persistent_reserve_cdbs() {
        assert_eq!(
            b(Cdb::persistent_reserve_in(
                PrInAction::ReadReservation,
                0x2000
            )),
            [0x5e, 0x01, 0, 0, 0, 0, 0, 0x20, 0x00, 0]
        );
        assert_eq!(
            b(Cdb::persistent_reserve_in(PrInAction::ReadKeys, 8))[1],
            0x00
        );
        assert_eq!(
            b(Cdb::persistent_reserve_in(
                PrInAction::ReportCapabilities,
                8
            ))[1],
            0x02
        );
        assert_eq!(
            b(Cdb::persistent_reserve_in(PrInAction::ReadFullStatus, 8))[1],
            0x03
        );
        assert_eq!(
            b(Cdb::persistent_reserve_out(
                PrOutAction::Reserve,
                Some(PrType::WriteExclusiveRegistrantsOnly),
                24
            )),
            [0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0]
        );
        assert_eq!(
            b(Cdb::persistent_reserve_out(
                PrOutAction::Register,
                None,
                0x0102_0304
            )),
            [0x5f, 0x00, 0x00, 0, 0, 0x01, 0x02, 0x03, 0x04, 0]
        );
        let codes = [
            (PrOutAction::Clear, 3),
            (PrOutAction::Preempt, 4),
            (PrOutAction::PreemptAndAbort, 5),
            (PrOutAction::RegisterAndIgnoreExistingKey, 6),
            (PrOutAction::RegisterAndMove, 7),
            (PrOutAction::ReplaceLostReservation, 8),
            (PrOutAction::Release, 2),
        ];
        for (action, code) in codes {
            assert_eq!(b(Cdb::persistent_reserve_out(action, None, 24))[1], code);
        }
        for code in 0..16 {
            if let Some(t) = PrType::from_code(code) {
                assert_eq!(t.code(), code);
            }
        }
        assert_eq!(PrType::from_code(2), None);
        assert_eq!(
            PrType::from_code(8),
            Some(PrType::ExclusiveAccessAllRegistrants)
        );
    }

    #[test]
    fn pr_out_parameter_list_bytes() {
        let mut list = PrOutParameterList::new(0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00);
        list.aptpl = true;
        list.all_tg_pt = true;
        let bytes = list.to_bytes();
        assert_eq!(
            bytes,
            [
                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
                0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, //
                0, 0, 0, 0, 0x05, 0, 0, 0
            ]
        );
        assert_eq!(PrOutParameterList::parse(&bytes), Ok(list));
        list.spec_i_pt = true;
        assert_eq!(list.to_bytes()[20], 0x0d);
        assert!(PrOutParameterList::parse(&bytes[..23]).is_err());
        assert_eq!(PrOutParameterList::default().to_bytes(), [0; 24]);
    }

    // -- SBC-3 builders ------------------------------------------------------

    #[test]
    fn read_write6_cdbs() {
        assert_eq!(
            ok(Cdb::read6(0x12345, 256)),
            [0x08, 0x01, 0x23, 0x45, 0x00, 0]
        );
        assert_eq!(
            ok(Cdb::read6(0x1f_ffff, 1)),
            [0x08, 0x1f, 0xff, 0xff, 0x01, 0]
        );
        assert_eq!(ok(Cdb::write6(0, 255)), [0x0a, 0, 0, 0, 0xff, 0]);
        assert!(matches!(
            Cdb::read6(0x20_0000, 1),
            Err(CdbError::OutOfRange { max: 0x1f_ffff, .. })
        ));
        assert!(matches!(
            Cdb::write6(0, 0),
            Err(CdbError::OutOfRange {
                field: "TRANSFER LENGTH",
                value: 0,
                max: 256
            })
        ));
        assert!(Cdb::read6(0, 257).is_err());
    }

    #[test]
    fn read10_example_from_the_brief() {
        assert_eq!(
            ok(Cdb::read10(0x1234_5678, 8, false, true)),
            [0x28, 0x08, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x08, 0x00]
        );
    }

    #[test]
    fn read_write10_cdbs() {
        assert_eq!(
            ok(Cdb::read10(1, 0xffff, true, true)),
            [0x28, 0x18, 0, 0, 0, 1, 0, 0xff, 0xff, 0]
        );
        assert_eq!(
            ok(Cdb::write10(0xffff_ffff, 1, true, false)),
            [0x2a, 0x10, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0]
        );
        assert!(matches!(
            Cdb::read10(1 << 32, 1, false, false),
            Err(CdbError::OutOfRange {
                field: "LOGICAL BLOCK ADDRESS",
                ..
            })
        ));
        assert!(matches!(
            Cdb::write10(0, 0x1_0000, false, false),
            Err(CdbError::OutOfRange {
                field: "TRANSFER LENGTH",
                value: 0x1_0000,
                max: 0xffff
            })
        ));
    }

    #[test]
    fn read_write12_cdbs() {
        assert_eq!(
            ok(Cdb::read12(0x0102_0304, 0x0506_0708, true, false)),
            [0xa8, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]
        );
        assert_eq!(
            ok(Cdb::write12(0x0102_0304, 0x0506_0708, false, true)),
            [0xaa, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]
        );
        assert!(Cdb::write12(1 << 32, 1, false, false).is_err());
    }

    #[test]
    fn read_write16_cdbs() {
        assert_eq!(
            b(Cdb::read16(0x0102_0304_0506_0708, 0x090a_0b0c, true, true)),
            [0x88, 0x18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0]
        );
        assert_eq!(
            b(Cdb::write16(u64::MAX, u32::MAX, false, false)),
            [
                0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
                0
            ]
        );
    }

    #[test]
    fn read_write_pick_the_short_form() {
        assert_eq!(Cdb::read(5, 1, false, false).opcode(), 0x28);
        assert_eq!(Cdb::read(1 << 32, 1, false, false).opcode(), 0x88);
        assert_eq!(Cdb::read(0, 70_000, false, false).opcode(), 0x88);
        assert_eq!(Cdb::write(5, 1, false, true).as_slice()[1], FUA);
        assert_eq!(Cdb::write(1 << 40, 1, false, false).opcode(), 0x8a);
    }

    #[test]
    fn write_and_verify_cdbs() {
        assert_eq!(
            ok(Cdb::write_and_verify10(0x10, 4, true, true)),
            [0x2e, 0x12, 0, 0, 0, 0x10, 0, 0, 4, 0]
        );
        assert_eq!(
            b(Cdb::write_and_verify16(0x10, 4, false, true)),
            [0x8e, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 4, 0, 0]
        );
        assert!(Cdb::write_and_verify10(0, 0x1_0000, false, false).is_err());
    }

    #[test]
    fn verify_cdbs() {
        assert_eq!(
            ok(Cdb::verify10(0x20, 0x100, false, ByteCheck::Compare)),
            [0x2f, 0x02, 0, 0, 0, 0x20, 0, 0x01, 0x00, 0]
        );
        assert_eq!(
            ok(Cdb::verify10(0, 1, false, ByteCheck::CompareSingleBlock))[1],
            0x06
        );
        assert_eq!(
            b(Cdb::verify16(1, 2, true, ByteCheck::MediumOnly)),
            [0x8f, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]
        );
        assert!(matches!(
            Cdb::verify10(0, 0x1_0000, false, ByteCheck::MediumOnly),
            Err(CdbError::OutOfRange {
                field: "VERIFICATION LENGTH",
                ..
            })
        ));
    }

    #[test]
    fn synchronize_cache_cdbs() {
        assert_eq!(
            ok(Cdb::synchronize_cache10(true, 0, 0)),
            [0x35, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            ok(Cdb::synchronize_cache10(false, 0x0a0b_0c0d, 0x0102)),
            [0x35, 0, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0x01, 0x02, 0]
        );
        assert_eq!(
            b(Cdb::synchronize_cache16(false, 1 << 32, 0x10)),
            [0x91, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]
        );
        assert_eq!(b(Cdb::synchronize_cache16(true, 0, 0))[1], 0x02);
        assert!(Cdb::synchronize_cache10(false, 1 << 32, 0).is_err());
    }

    #[test]
    fn pre_fetch_cdbs() {
        assert_eq!(
            ok(Cdb::pre_fetch10(true, 0x10, 0x20)),
            [0x34, 0x02, 0, 0, 0, 0x10, 0, 0, 0x20, 0]
        );
        assert_eq!(
            b(Cdb::pre_fetch16(false, 0x10, 0x20)),
            [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0]
        );
        assert!(Cdb::pre_fetch10(false, 0, 0x1_0000).is_err());
    }

    #[test]
    fn read_capacity_cdbs() {
        assert_eq!(b(Cdb::read_capacity10()), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            b(Cdb::read_capacity16(32)),
            [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]
        );
    }

    #[test]
    fn write_same_cdbs() {
        assert_eq!(
            ok(Cdb::write_same10(0x1000, 8, true, false)),
            [0x41, 0x08, 0, 0, 0x10, 0x00, 0, 0, 8, 0]
        );
        assert_eq!(ok(Cdb::write_same10(0, 1, true, true))[1], 0x18);
        assert_eq!(
            b(Cdb::write_same16(0x1000, 0x0001_0000, true, false, true)),
            [0x93, 0x09, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(b(Cdb::write_same16(0, 1, false, true, false))[1], 0x10);
        assert!(Cdb::write_same10(0, 0x1_0000, false, false).is_err());
    }

    #[test]
    fn unmap_cdb_and_parameter_list() {
        assert_eq!(b(Cdb::unmap(false, 24)), [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]);
        assert_eq!(
            b(Cdb::unmap(true, 0x0102)),
            [0x42, 1, 0, 0, 0, 0, 0, 0x01, 0x02, 0]
        );
        let list = unmap_parameter_list(&[(0x1000, 0x80), (0xffff_ffff_ffff, 1)]);
        assert_eq!(
            list,
            [
                0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0, // header: 38 and 32 bytes
                0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0x80, 0, 0, 0, 0, //
                0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0,
            ]
        );
        assert_eq!(unmap_parameter_list(&[]), [0, 6, 0, 0, 0, 0, 0, 0]);
        let many = vec![(0u64, 1u32); UNMAP_MAX_DESCRIPTORS + 10];
        let list = unmap_parameter_list(&many);
        assert_eq!(list.len(), 8 + 16 * UNMAP_MAX_DESCRIPTORS);
        assert_eq!(u16::from_be_bytes([list[0], list[1]]), 65_526);
        assert_eq!(u16::from_be_bytes([list[2], list[3]]), 65_520);
    }

    #[test]
    fn compare_and_write_cdb() {
        assert_eq!(
            b(Cdb::compare_and_write(0x1234, 1, false, true)),
            [0x89, 0x08, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(
            b(Cdb::compare_and_write(0, 255, true, false))[1..],
            [0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0]
        );
    }

    #[test]
    fn get_lba_status_cdb() {
        assert_eq!(
            b(Cdb::get_lba_status(0x55, 4096)),
            [
                0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x55, 0, 0, 0x10, 0x00, 0, 0
            ]
        );
    }

    #[test]
    fn cdb_error_messages() {
        let e = Cdb::read10(1 << 32, 1, false, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "LOGICAL BLOCK ADDRESS 0x100000000 does not fit its CDB field (maximum 0xffffffff)"
        );
        assert_eq!(
            CdbError::Length(0).to_string(),
            "a CDB holds 1 to 16 bytes, not 0"
        );
    }

    // -- Parsers -------------------------------------------------------------

    fn padded(s: &[u8], n: usize) -> Vec<u8> {
        let mut v = s.to_vec();
        v.resize(n, b' ');
        v
    }

    fn sample_inquiry() -> Vec<u8> {
        let mut d = vec![0x00, 0x80, 0x06, 0x12, 91, 0x39, 0x50, 0x02];
        d.extend(padded(b"LIO-ORG", 8));
        d.extend(padded(b"disk0", 16));
        d.extend(padded(b"4.0", 4));
        d.resize(58, 0);
        for v in [0x0460u16, 0, 0x04c0, 0x0960, 0, 0, 0, 0] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        d.resize(96, 0);
        d
    }

    #[test]
    fn standard_inquiry_round_trip() {
        let inq = StandardInquiry::parse(&sample_inquiry()).unwrap();
        assert_eq!(inq.peripheral_qualifier, 0);
        assert_eq!(inq.device_type, 0);
        assert!(inq.rmb);
        assert_eq!(inq.version, 6);
        assert!(!inq.normaca);
        assert!(inq.hisup);
        assert_eq!(inq.response_data_format, 2);
        assert_eq!(inq.additional_length, 91);
        assert!(!inq.sccs && !inq.acc);
        assert_eq!(inq.tpgs, 3);
        assert!(inq.three_pc && inq.protect);
        assert!(inq.encserv && inq.multip && inq.cmdque);
        assert_eq!(inq.vendor, "LIO-ORG");
        assert_eq!(inq.product, "disk0");
        assert_eq!(inq.revision, "4.0");
        assert_eq!(inq.version_descriptors, [0x0460, 0x04c0, 0x0960]);
    }

    #[test]
    fn standard_inquiry_short_and_odd() {
        let full = sample_inquiry();
        let inq = StandardInquiry::parse(&full[..36]).unwrap();
        assert_eq!(
            (inq.vendor.as_str(), inq.revision.as_str()),
            ("LIO-ORG", "4.0")
        );
        assert!(inq.version_descriptors.is_empty());
        let inq = StandardInquiry::parse(&full[..5]).unwrap();
        assert_eq!(
            (inq.version, inq.vendor.as_str(), inq.cmdque),
            (6, "", false)
        );
        assert_eq!(
            StandardInquiry::parse(&full[..4]),
            Err(ParseError::Truncated {
                what: "standard INQUIRY data",
                needed: 5,
                got: 4
            })
        );
        // ADDITIONAL LENGTH 31 hides the version descriptors that follow.
        let mut short_len = full.clone();
        short_len[4] = 31;
        assert!(
            StandardInquiry::parse(&short_len)
                .unwrap()
                .version_descriptors
                .is_empty()
        );
        // No logical unit: qualifier 3, type 1Fh; non-UTF-8 text is replaced.
        let mut none = full;
        none[0] = 0x7f;
        none[8] = 0xff;
        let inq = StandardInquiry::parse(&none).unwrap();
        assert_eq!((inq.peripheral_qualifier, inq.device_type), (3, 0x1f));
        assert!(inq.vendor.starts_with('\u{fffd}'));
    }

    fn vpd(page: u8, body: &[u8]) -> Vec<u8> {
        let mut d = vec![0x00, page];
        d.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        d.extend_from_slice(body);
        d
    }

    #[test]
    fn supported_vpd_pages() {
        let d = vpd(0x00, &[0x00, 0x80, 0x83, 0xb0, 0xb2]);
        assert_eq!(
            SupportedVpdPages::parse(&d).unwrap().pages,
            [0x00, 0x80, 0x83, 0xb0, 0xb2]
        );
        // Cut short: what is there.
        assert_eq!(
            SupportedVpdPages::parse(&d[..6]).unwrap().pages,
            [0x00, 0x80]
        );
        // PAGE LENGTH shorter than the data: the length wins.
        let mut d2 = d.clone();
        d2[3] = 2;
        assert_eq!(SupportedVpdPages::parse(&d2).unwrap().pages, [0x00, 0x80]);
        assert_eq!(
            SupportedVpdPages::parse(&vpd(0x80, b"x")),
            Err(ParseError::WrongPage {
                expected: 0x00,
                got: 0x80
            })
        );
        assert!(matches!(
            SupportedVpdPages::parse(&d[..3]),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn unit_serial_number() {
        let d = vpd(0x80, b"  SER123\0\0");
        assert_eq!(UnitSerialNumber::parse(&d).unwrap().serial, "SER123");
        assert_eq!(UnitSerialNumber::parse(&vpd(0x80, b"")).unwrap().serial, "");
        assert!(UnitSerialNumber::parse(&vpd(0x83, b"")).is_err());
    }

    fn designator(b0: u8, b1: u8, value: &[u8]) -> Vec<u8> {
        let mut d = vec![b0, b1, 0, u8::try_from(value.len()).unwrap()];
        d.extend_from_slice(value);
        d
    }

    fn sample_device_identification() -> Vec<u8> {
        let naa = [
            0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
            0xf0, 0x12,
        ];
        let mut body = designator(0x01, 0x03, &naa);
        body.extend(designator(0x02, 0x01, b"LIO-ORG disk0   "));
        body.extend(designator(
            0x53,
            0x98,
            b"iqn.2003-01.org.example:t1,t,0x0001\0",
        ));
        body.extend(designator(0x51, 0x94, &[0, 0, 0, 1]));
        body.extend(designator(0x51, 0x95, &[0, 0, 0, 2]));
        body.extend(designator(
            0x01,
            0x02,
            &[0x00, 0x14, 0x05, 0xff, 0xfe, 0x00, 0x00, 0x01],
        ));
        body.extend(designator(0x01, 0x00, &[0xde, 0xad]));
        vpd(0x83, &body)
    }

    #[test]
    fn device_identification_round_trip() {
        let page = DeviceIdentification::parse(&sample_device_identification()).unwrap();
        let d = &page.designators;
        assert_eq!(d.len(), 7);
        assert_eq!(d[0].designator_type, DesignatorType::Naa);
        assert_eq!(d[0].code_set, CodeSet::Binary);
        assert_eq!(d[0].association, Association::LogicalUnit);
        assert!(!d[0].piv);
        assert_eq!(d[0].value.len(), 16);
        assert_eq!(d[0].to_string(), "naa.6001405ABCDEF0123456789ABCDEF012");
        assert_eq!(d[1].designator_type, DesignatorType::T10VendorId);
        assert_eq!(d[1].code_set, CodeSet::Ascii);
        assert_eq!(d[1].to_string(), "t10.LIO-ORG disk0");
        assert_eq!(d[2].protocol_identifier, 5);
        assert!(d[2].piv);
        assert_eq!(d[2].code_set, CodeSet::Utf8);
        assert_eq!(d[2].association, Association::TargetPort);
        assert_eq!(d[2].designator_type, DesignatorType::ScsiNameString);
        assert_eq!(d[2].to_string(), "iqn.2003-01.org.example:t1,t,0x0001");
        assert_eq!(d[3].designator_type, DesignatorType::RelativeTargetPort);
        assert_eq!(d[3].to_string(), "relative target port 1");
        assert_eq!(d[4].designator_type, DesignatorType::TargetPortGroup);
        assert_eq!(d[4].to_string(), "target port group 2");
        assert_eq!(d[5].to_string(), "eui.001405FFFE000001");
        assert_eq!(d[6].designator_type, DesignatorType::VendorSpecific);
        assert_eq!(d[6].to_string(), "0xDEAD");
    }

    #[test]
    fn device_identification_truncated_and_codes() {
        let full = sample_device_identification();
        // Cut inside the second descriptor: only the first survives.
        let page = DeviceIdentification::parse(&full[..4 + 20 + 6]).unwrap();
        assert_eq!(page.designators.len(), 1);
        // A descriptor that claims more than the page holds is dropped.
        let page = DeviceIdentification::parse(&vpd(0x83, &[0x01, 0x03, 0, 16, 1, 2])).unwrap();
        assert!(page.designators.is_empty());
        assert_eq!(CodeSet::from_code(0xf), CodeSet::Reserved(0xf));
        assert_eq!(Association::from_code(3), Association::Reserved);
        assert_eq!(Association::from_code(2), Association::TargetDevice);
        assert_eq!(
            DesignatorType::from_code(0x7),
            DesignatorType::Md5LogicalUnit
        );
        assert_eq!(
            DesignatorType::from_code(0x6),
            DesignatorType::LogicalUnitGroup
        );
        assert_eq!(
            DesignatorType::from_code(0x9),
            DesignatorType::ProtocolSpecificPort
        );
        assert_eq!(
            DesignatorType::from_code(0xa),
            DesignatorType::Reserved(0xa)
        );
    }

    #[test]
    fn extended_inquiry() {
        let mut body = vec![0x6d, 0x3f, 0x0a, 0x11, 0x11, 0x0f, 0x00, 0x1e, 0xe0, 252];
        body.resize(0x3c, 0);
        let e = ExtendedInquiry::parse(&vpd(0x86, &body)).unwrap();
        assert_eq!((e.activate_microcode, e.spt), (1, 5));
        assert!(e.grd_chk && !e.app_chk && e.ref_chk);
        assert!(e.uask_sup && e.group_sup && e.prior_sup && e.headsup && e.ordsup && e.simpsup);
        assert!(e.wu_sup && !e.crd_sup && e.nv_sup && !e.v_sup);
        assert!(e.p_i_i_sup && e.luiclr && e.r_sup && e.cbcs);
        assert_eq!(e.multi_it_nexus_microcode_download, 0x0f);
        assert_eq!(e.extended_self_test_minutes, 30);
        assert!(e.poa_sup && e.hra_sup && e.vsa_sup);
        assert_eq!(e.max_sense_data_length, 252);
        let short = ExtendedInquiry::parse(&vpd(0x86, &[0x08])).unwrap();
        assert_eq!(short.spt, 1);
        assert!(!short.simpsup);
    }

    fn sample_block_limits() -> Vec<u8> {
        let mut body = vec![0x01, 0x01, 0x00, 0x08];
        for v in [
            0x0000_4000u32,
            0x0000_0080,
            0x0000_1000,
            0x0040_0000,
            0x0000_0100,
            0x0000_0008,
        ] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        body.extend_from_slice(&(0x8000_0007u32).to_be_bytes());
        body.extend_from_slice(&(0x0000_0001_0000_0000u64).to_be_bytes());
        for v in [
            0x0000_0200u32,
            0x0000_0008,
            0x0000_0004,
            0x0000_0400,
            0x0000_0800,
        ] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(body.len(), 0x3c);
        vpd(0xb0, &body)
    }

    #[test]
    fn block_limits() {
        let l = BlockLimits::parse(&sample_block_limits()).unwrap();
        assert!(l.wsnz);
        assert_eq!(l.max_compare_and_write_length, 1);
        assert_eq!(l.optimal_transfer_length_granularity, 8);
        assert_eq!(l.max_transfer_length, 0x4000);
        assert_eq!(l.optimal_transfer_length, 0x80);
        assert_eq!(l.max_prefetch_length, 0x1000);
        assert_eq!(l.max_unmap_lba_count, 0x40_0000);
        assert_eq!(l.max_unmap_block_descriptor_count, 0x100);
        assert_eq!(l.optimal_unmap_granularity, 8);
        assert!(l.ugavalid);
        assert_eq!(l.unmap_granularity_alignment, 7);
        assert_eq!(l.max_write_same_length, 1 << 32);
        assert_eq!(l.max_atomic_transfer_length, 0x200);
        assert_eq!(l.atomic_alignment, 8);
        assert_eq!(l.atomic_transfer_length_granularity, 4);
        assert_eq!(l.max_atomic_transfer_length_with_boundary, 0x400);
        assert_eq!(l.max_atomic_boundary_size, 0x800);
        // An old 16-byte page: the later fields read as zero.
        let mut old = sample_block_limits();
        old[3] = 0x10;
        let l = BlockLimits::parse(&old).unwrap();
        assert_eq!(
            (l.max_transfer_length, l.optimal_transfer_length),
            (0x4000, 0x80)
        );
        assert_eq!((l.max_unmap_lba_count, l.max_write_same_length), (0, 0));
        assert!(!l.ugavalid);
    }

    #[test]
    fn block_device_characteristics() {
        let mut body = vec![0x00, 0x01, 0x00, 0x23, 0x02];
        body.resize(0x3c, 0);
        let c = BlockDeviceCharacteristics::parse(&vpd(0xb1, &body)).unwrap();
        assert_eq!(c.medium_rotation_rate, 1);
        assert!(c.is_non_rotating());
        assert_eq!(
            (c.product_type, c.wabereq, c.wacereq, c.nominal_form_factor),
            (0, 0, 2, 3)
        );
        assert!(c.fuab && !c.vbuls);
        let spinning =
            BlockDeviceCharacteristics::parse(&vpd(0xb1, &[0x1c, 0x20, 0x01, 0xc2, 0x01])).unwrap();
        assert_eq!(spinning.medium_rotation_rate, 7200);
        assert!(!spinning.is_non_rotating());
        assert_eq!(
            (
                spinning.product_type,
                spinning.wabereq,
                spinning.nominal_form_factor
            ),
            (1, 3, 2)
        );
        assert!(spinning.vbuls && !spinning.fuab);
    }

    #[test]
    fn logical_block_provisioning() {
        let p = LogicalBlockProvisioning::parse(&vpd(0xb2, &[0x00, 0xe6, 0x02, 0x00])).unwrap();
        assert_eq!(p.threshold_exponent, 0);
        assert!(p.lbpu && p.lbpws && p.lbpws10 && p.anc_sup && !p.dp);
        assert_eq!(p.lbprz, 1);
        assert_eq!(p.provisioning_type, 2);
        let p = LogicalBlockProvisioning::parse(&vpd(0xb2, &[0x14, 0x09, 0xf9])).unwrap();
        assert_eq!(
            (p.threshold_exponent, p.lbprz, p.provisioning_type),
            (0x14, 2, 1)
        );
        assert!(p.dp && !p.lbpu);
    }

    #[test]
    fn vpd_page_dispatch() {
        let cases = [
            (vpd(0x00, &[0x00, 0x80]), 0x00),
            (vpd(0x80, b"S1"), 0x80),
            (sample_device_identification(), 0x83),
            (vpd(0x86, &[0; 60]), 0x86),
            (sample_block_limits(), 0xb0),
            (vpd(0xb1, &[0; 60]), 0xb1),
            (vpd(0xb2, &[0; 4]), 0xb2),
            (vpd(0xc0, &[1, 2, 3]), 0xc0),
        ];
        for (data, code) in cases {
            let page = VpdPage::parse(&data).unwrap();
            assert_eq!(page.page_code(), code);
        }
        assert!(matches!(
            VpdPage::parse(&vpd(0x80, b"S1")).unwrap(),
            VpdPage::UnitSerialNumber(UnitSerialNumber { ref serial }) if serial == "S1"
        ));
        assert!(matches!(
            VpdPage::parse(&vpd(0xb0, &[0; 4])).unwrap(),
            VpdPage::BlockLimits(_)
        ));
        match VpdPage::parse(&vpd(0xc0, &[1, 2, 3])).unwrap() {
            VpdPage::Other { page_code, data } => {
                assert_eq!((page_code, data), (0xc0, vec![1, 2, 3]))
            }
            other => panic!("{other:?}"),
        }
        assert!(VpdPage::parse(&[0, 0x83, 0]).is_err());
    }

    #[test]
    fn read_capacity10_data() {
        let rc = ReadCapacity10::parse(&[0x00, 0x1f, 0xff, 0xff, 0, 0, 2, 0]).unwrap();
        assert_eq!((rc.last_lba, rc.block_length), (0x1f_ffff, 512));
        assert_eq!(rc.block_count(), 0x20_0000);
        assert_eq!(rc.capacity_bytes(), 1 << 30);
        assert!(!rc.needs_read_capacity16());
        let big =
            ReadCapacity10::parse(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9]).unwrap();
        assert!(big.needs_read_capacity16());
        assert_eq!(big.capacity_bytes(), (1u64 << 32) * u64::from(u32::MAX));
        assert!(matches!(
            ReadCapacity10::parse(&[0; 7]),
            Err(ParseError::Truncated {
                needed: 8,
                got: 7,
                ..
            })
        ));
    }

    #[test]
    fn read_capacity16_data() {
        let mut d = vec![
            0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x10, 0x00, 0x05, 0x43, 0xc1, 0x02,
        ];
        d.resize(32, 0);
        let rc = ReadCapacity16::parse(&d).unwrap();
        assert_eq!(rc.last_lba, 0x1_ffff_ffff);
        assert_eq!(rc.block_length, 4096);
        assert_eq!(
            (rc.p_type, rc.prot_en, rc.protection_type()),
            (2, true, Some(3))
        );
        assert_eq!((rc.p_i_exponent, rc.lbppbe), (4, 3));
        assert_eq!(rc.logical_blocks_per_physical_block(), 8);
        assert!(rc.lbpme && rc.lbprz);
        assert_eq!(rc.lowest_aligned_lba, 0x0102);
        assert_eq!(rc.block_count(), 0x2_0000_0000);
        assert_eq!(rc.capacity_bytes(), 0x2_0000_0000 * 4096);
        // A 12-byte allocation length: the rest reads as zero.
        let rc = ReadCapacity16::parse(&d[..12]).unwrap();
        assert_eq!(
            (rc.prot_en, rc.protection_type(), rc.lbpme),
            (false, None, false)
        );
        assert!(ReadCapacity16::parse(&d[..11]).is_err());
        let huge = ReadCapacity16::parse(&[0xff; 32]).unwrap();
        assert_eq!(
            (huge.block_count(), huge.capacity_bytes()),
            (u64::MAX, u64::MAX)
        );
    }

    fn sample_report_luns() -> Vec<u8> {
        let mut d = vec![0, 0, 0, 24, 0, 0, 0, 0];
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&[0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
        d
    }

    #[test]
    fn report_luns_data() {
        let r = ReportLuns::parse(&sample_report_luns()).unwrap();
        assert_eq!(r.lun_list_length, 24);
        let idx: Vec<_> = r.luns.iter().map(Lun::index).collect();
        assert_eq!(idx, [Some(0), Some(1), Some(300)]);
        assert!(!r.is_truncated());
        assert_eq!(r.full_length(), 32);
        // Allocation length 16: one LUN came back, three exist.
        let r = ReportLuns::parse(&sample_report_luns()[..16]).unwrap();
        assert_eq!(r.luns.len(), 1);
        assert!(r.is_truncated());
        // A partial entry is ignored.
        assert_eq!(
            ReportLuns::parse(&sample_report_luns()[..20])
                .unwrap()
                .luns
                .len(),
            1
        );
        assert!(ReportLuns::parse(&[0, 0, 0, 8]).is_err());
    }

    #[test]
    fn lun_addressing() {
        for i in [0u16, 1, 255, 256, 300, 0x3fff] {
            let lun = Lun::from_index(i).unwrap();
            assert_eq!(lun.index(), Some(i), "{i}");
        }
        assert_eq!(Lun::from_index(255).unwrap().0, [0, 255, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Lun::from_index(256).unwrap().0, [0x41, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Lun::from_index(0x4000), None);
        // Second level, a bus other than 0, extended and logical unit addressing.
        assert_eq!(Lun([0, 1, 0, 2, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0x01, 0, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0xc1, 0, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0x80, 5, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(
            Lun::from(0x4001_0000_0000_0000).0,
            [0x40, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Lun([0x40, 1, 0, 0, 0, 0, 0, 0]).to_u64(),
            0x4001_0000_0000_0000
        );
    }

    fn sample_mode_sense6() -> Vec<u8> {
        let mut d = vec![0, 0x00, 0x90, 8];
        d.extend_from_slice(&[0x00, 0x20, 0x00, 0x00, 0, 0x00, 0x02, 0x00]);
        let mut caching = vec![0x88, 0x12, 0x04];
        caching.resize(20, 0);
        d.extend(caching);
        d.extend_from_slice(&[0x0a, 0x0a, 0x44, 0x12, 0x08, 0x40, 0, 0, 0xff, 0xff, 0, 0]);
        d[0] = u8::try_from(d.len() - 1).unwrap();
        d
    }

    #[test]
    fn mode_sense6_data() {
        let m = ModeParameters::parse6(&sample_mode_sense6()).unwrap();
        assert_eq!(m.mode_data_length, 43);
        assert_eq!((m.medium_type, m.device_specific), (0, 0x90));
        assert!(m.write_protected() && m.dpofua());
        assert_eq!(m.block_descriptor_length, 8);
        assert_eq!(
            m.block_descriptors,
            [BlockDescriptor {
                blocks: 0x20_0000,
                block_length: 512
            }]
        );
        assert_eq!(m.pages.len(), 2);
        assert!(!m.truncated);
        let caching = &m.pages[0];
        assert_eq!(
            (caching.page_code, caching.subpage, caching.ps, caching.spf),
            (8, 0, true, false)
        );
        assert_eq!(caching.bytes.len(), 20);
        assert_eq!(
            m.caching(),
            Some(CachingPage {
                wce: true,
                rcd: false
            })
        );
        let control = m.control().unwrap();
        assert_eq!(control.tst, 2);
        assert!(!control.tmf_only && control.d_sense && !control.gltsd && !control.rlec);
        assert_eq!((control.queue_algorithm_modifier, control.qerr), (1, 1));
        assert!(control.swp && control.tas);
        assert!(m.page(0x1c, 0).is_none());
        assert!(m.pages[1].caching().is_none());
        assert!(m.pages[0].control().is_none());
    }

    #[test]
    fn mode_sense6_truncated() {
        let full = sample_mode_sense6();
        // Cut inside the Caching page: header and descriptor only.
        let m = ModeParameters::parse6(&full[..30]).unwrap();
        assert!(m.truncated);
        assert_eq!(m.block_descriptors.len(), 1);
        assert!(m.pages.is_empty());
        assert_eq!(m.caching(), None);
        // Cut inside the block descriptor.
        let m = ModeParameters::parse6(&full[..8]).unwrap();
        assert!(m.truncated && m.block_descriptors.is_empty());
        // Header only, DBD: no descriptors, no pages.
        let m = ModeParameters::parse6(&[3, 0, 0, 0]).unwrap();
        assert!(!m.truncated && m.pages.is_empty());
        assert!(ModeParameters::parse6(&[3, 0, 0]).is_err());
        // MODE DATA LENGTH shorter than the data: the length wins.
        let mut short = full;
        short[0] = 31;
        let m = ModeParameters::parse6(&short).unwrap();
        assert_eq!(m.pages.len(), 1);
        assert!(!m.truncated);
    }

    #[test]
    fn mode_sense10_long_lba_and_subpages() {
        let mut d = vec![0, 0, 0x00, 0x10, 0x01, 0, 0, 16];
        d.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        d.extend_from_slice(&[0x4a, 0x01, 0x00, 0x04, 1, 2, 3, 4]);
        d.extend_from_slice(&[0x08, 0x02, 0x05, 0x00]);
        let len = u16::try_from(d.len() - 2).unwrap().to_be_bytes();
        d[..2].copy_from_slice(&len);
        let m = ModeParameters::parse10(&d).unwrap();
        assert!(m.long_lba && !m.write_protected() && m.dpofua());
        assert_eq!(
            m.block_descriptors,
            [BlockDescriptor {
                blocks: 1 << 32,
                block_length: 4096
            }]
        );
        assert_eq!(m.pages.len(), 2);
        let ext = m.page(0x0a, 1).unwrap();
        assert!(ext.spf && !ext.ps);
        assert_eq!(ext.bytes, [0x4a, 0x01, 0x00, 0x04, 1, 2, 3, 4]);
        assert_eq!(ext.control(), None);
        assert_eq!(m.control(), None);
        assert_eq!(
            m.caching(),
            Some(CachingPage {
                wce: true,
                rcd: true
            })
        );
        // A sub_page header cut short.
        let m = ModeParameters::parse10(&d[..8 + 16 + 3]).unwrap();
        assert!(m.truncated && m.pages.is_empty());
        assert!(ModeParameters::parse10(&d[..7]).is_err());
    }

    fn sample_rsoc() -> Vec<u8> {
        let mut d = vec![0, 0, 0, 36];
        d.extend_from_slice(&[0x28, 0, 0, 0, 0, 0x00, 0, 10]);
        d.extend_from_slice(&[0x9e, 0, 0, 0x10, 0, 0x03, 0, 16]);
        d.extend_from_slice(&[0, 0x0a, 0, 0, 0, 0, 0, 30, 0, 0, 0, 60]);
        d.extend_from_slice(&[0xa3, 0, 0, 0x0c, 0, 0x01, 0, 12]);
        d
    }

    #[test]
    fn supported_operation_codes() {
        let s = SupportedOperationCodes::parse(&sample_rsoc()).unwrap();
        assert_eq!(s.command_data_length, 36);
        assert_eq!(s.commands.len(), 3);
        assert_eq!(
            s.commands[0],
            CommandDescriptor {
                opcode: 0x28,
                service_action: 0,
                servactv: false,
                cdb_length: 10,
                timeouts: None
            }
        );
        let rc16 = s.commands[1];
        assert_eq!(
            (
                rc16.opcode,
                rc16.service_action,
                rc16.servactv,
                rc16.cdb_length
            ),
            (0x9e, 0x10, true, 16)
        );
        assert_eq!(
            rc16.timeouts,
            Some(CommandTimeouts {
                nominal: 30,
                recommended: 60
            })
        );
        assert!(s.supports(0x28, None));
        assert!(s.supports(0x9e, Some(0x10)));
        assert!(!s.supports(0x9e, Some(0x12)));
        assert!(!s.supports(0x9e, None));
        assert!(s.supports(0xa3, Some(0x0c)));
        assert!(!s.supports(0x2a, None));
        // Cut inside the timeouts descriptor: only the first command.
        assert_eq!(
            SupportedOperationCodes::parse(&sample_rsoc()[..20])
                .unwrap()
                .commands
                .len(),
            1
        );
        assert!(SupportedOperationCodes::parse(&[0, 0, 0]).is_err());
    }

    #[test]
    fn pr_read_keys() {
        let mut d = vec![0, 0, 0, 7, 0, 0, 0, 16];
        d.extend_from_slice(&0xaau64.to_be_bytes());
        d.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
        let k = PrReadKeys::parse(&d).unwrap();
        assert_eq!((k.generation, k.additional_length), (7, 16));
        assert_eq!(k.keys, [0xaa, 0x0123_4567_89ab_cdef]);
        assert_eq!(PrReadKeys::parse(&d[..20]).unwrap().keys, [0xaa]);
        assert!(
            PrReadKeys::parse(&[0, 0, 0, 7, 0, 0, 0, 0])
                .unwrap()
                .keys
                .is_empty()
        );
        assert!(PrReadKeys::parse(&d[..7]).is_err());
    }

    #[test]
    fn pr_read_reservation() {
        let none = PrReadReservation::parse(&[0, 0, 0, 3, 0, 0, 0, 0]).unwrap();
        assert_eq!((none.generation, none.reservation), (3, None));
        let mut d = vec![0, 0, 0, 4, 0, 0, 0, 16];
        d.extend_from_slice(&0xabcdu64.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, 0, 0, 0x05, 0, 0]);
        let r = PrReadReservation::parse(&d).unwrap();
        assert_eq!(r.generation, 4);
        let res = r.reservation.unwrap();
        assert_eq!((res.key, res.scope, res.pr_type), (0xabcd, 0, 5));
        assert_eq!(
            res.reservation_type(),
            Some(PrType::WriteExclusiveRegistrantsOnly)
        );
        assert!(matches!(
            PrReadReservation::parse(&d[..12]),
            Err(ParseError::Truncated {
                needed: 24,
                got: 12,
                ..
            })
        ));
        assert!(PrReadReservation::parse(&d[..4]).is_err());
    }

    #[test]
    fn lba_status() {
        let mut d = vec![0, 0, 0, 36, 0, 0, 0, 0];
        d.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x00, 0, 0, 0]);
        d.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x01, 0, 0, 0]);
        let s = LbaStatus::parse(&d).unwrap();
        assert_eq!(s.parameter_data_length, 36);
        assert_eq!(
            s.descriptors,
            [
                LbaStatusDescriptor {
                    lba: 0,
                    blocks: 0x100,
                    status: ProvisioningStatus::Mapped
                },
                LbaStatusDescriptor {
                    lba: 0x100,
                    blocks: 0x80,
                    status: ProvisioningStatus::Deallocated
                },
            ]
        );
        assert_eq!(LbaStatus::parse(&d[..30]).unwrap().descriptors.len(), 1);
        assert!(LbaStatus::parse(&d[..7]).is_err());
        assert_eq!(
            ProvisioningStatus::from_code(2),
            ProvisioningStatus::Anchored
        );
        assert_eq!(
            ProvisioningStatus::from_code(7),
            ProvisioningStatus::Reserved(7)
        );
    }

    // -- Robustness ----------------------------------------------------------

    /// Runs every parser over `data`; only panics matter.
    fn parse_all(data: &[u8]) {
        let _ = StandardInquiry::parse(data);
        let _ = VpdPage::parse(data);
        for page in [0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2] {
            let mut d = data.to_vec();
            if let Some(code) = d.get_mut(1) {
                *code = page;
            }
            if let Ok(VpdPage::DeviceIdentification(id)) = VpdPage::parse(&d) {
                for des in id.designators {
                    let _ = des.to_string();
                }
            }
        }
        let _ = ReadCapacity10::parse(data).map(|r| r.capacity_bytes());
        let _ = ReadCapacity16::parse(data).map(|r| {
            (
                r.capacity_bytes(),
                r.logical_blocks_per_physical_block(),
                r.protection_type(),
            )
        });
        let _ = ReportLuns::parse(data).map(|r| r.luns.iter().map(Lun::index).count());
        let _ = ModeParameters::parse6(data).map(|m| (m.caching(), m.control()));
        let _ = ModeParameters::parse10(data).map(|m| (m.caching(), m.control()));
        let _ = SupportedOperationCodes::parse(data);
        let _ = PrReadKeys::parse(data);
        let _ = PrReadReservation::parse(data);
        let _ = LbaStatus::parse(data);
        let _ = PrOutParameterList::parse(data);
    }

    #[test]
    fn every_prefix_of_valid_data_parses_without_panic() {
        let samples = [
            sample_inquiry(),
            sample_device_identification(),
            sample_block_limits(),
            sample_report_luns(),
            sample_mode_sense6(),
            sample_rsoc(),
        ];
        for sample in &samples {
            for n in 0..=sample.len() {
                parse_all(&sample[..n]);
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        // A small xorshift generator: deterministic, no dependencies.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let len = usize::try_from(next() % 300).unwrap();
            let mut data: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            if round % 3 == 0 {
                // Huge length fields are the classic overflow trap.
                for b in data.iter_mut().take(8) {
                    *b = 0xff;
                }
            }
            parse_all(&data);
        }
        for fill in [0x00, 0xff, 0x40, 0x80] {
            for len in 0..80 {
                parse_all(&vec![fill; len]);
            }
        }
    }
}
