//! Command descriptor blocks built byte for byte (SPC-4 §4.2, SBC-3 §5).

use super::*;
use crate::cdb::op;

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

const DPO: u8 = 0x10;
pub(super) const FUA: u8 = 0x08;
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
        Self::with_opcode(op::TEST_UNIT_READY, 6)
    }

    /// INQUIRY (SPC-4 §6.6): opcode 12h, 6 bytes. `evpd` asks for the VPD
    /// page `page_code` (SPC-4 §7.8) instead of the standard data (then
    /// `page_code` must be 0); `alloc` is the allocation length in bytes.
    #[must_use]
    pub fn inquiry(evpd: bool, page_code: u8, alloc: u16) -> Self {
        let mut c = Self::with_opcode(op::INQUIRY, 6);
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
        let mut c = Self::with_opcode(op::REQUEST_SENSE, 6);
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
        let mut c = Self::with_opcode(op::REPORT_LUNS, 12);
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
        let mut c = Self::with_opcode(op::MODE_SENSE_6, 6);
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
        let mut c = Self::with_opcode(op::MODE_SENSE_10, 10);
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
        let mut c = Self::with_opcode(op::MODE_SELECT_6, 6);
        c.bytes[1] = (if pf { 0x10 } else { 0 }) | sp as u8;
        c.bytes[4] = param_len;
        c
    }

    /// MODE SELECT(10) (SPC-4 §6.12): opcode 55h, 10 bytes, as
    /// [`Cdb::mode_select6`] with a 16-bit parameter list length in bytes.
    #[must_use]
    pub fn mode_select10(pf: bool, sp: bool, param_len: u16) -> Self {
        let mut c = Self::with_opcode(op::MODE_SELECT_10, 10);
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
        let mut c = Self::with_opcode(op::MAINTENANCE_IN, 12);
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
        let mut c = Self::with_opcode(op::PREVENT_ALLOW_MEDIUM_REMOVAL, 6);
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
        let mut c = Self::with_opcode(op::START_STOP_UNIT, 6);
        c.bytes[1] = u8::from(immed);
        c.bytes[4] = (power_condition << 4) | (u8::from(loej) << 1) | u8::from(start);
        Ok(c)
    }

    /// RESERVE(6) (SPC-2 §7.25, obsolete in SPC-4): opcode 16h, 6 bytes,
    /// reserving the whole logical unit.
    #[must_use]
    pub const fn reserve6() -> Self {
        Self::with_opcode(op::RESERVE_6, 6)
    }

    /// RELEASE(6) (SPC-2 §7.20, obsolete in SPC-4): opcode 17h, 6 bytes.
    #[must_use]
    pub const fn release6() -> Self {
        Self::with_opcode(op::RELEASE_6, 6)
    }

    /// RESERVE(10) (SPC-2 §7.24, obsolete in SPC-4): opcode 56h, 10 bytes,
    /// no third-party reservation, no parameter list.
    #[must_use]
    pub const fn reserve10() -> Self {
        Self::with_opcode(op::RESERVE_10, 10)
    }

    /// RELEASE(10) (SPC-2 §7.19, obsolete in SPC-4): opcode 57h, 10 bytes,
    /// no third-party release.
    #[must_use]
    pub const fn release10() -> Self {
        Self::with_opcode(op::RELEASE_10, 10)
    }

    /// PERSISTENT RESERVE IN (SPC-4 §6.15): opcode 5Eh, 10 bytes; `alloc` is
    /// the allocation length in bytes.
    #[must_use]
    pub fn persistent_reserve_in(action: PrInAction, alloc: u16) -> Self {
        let mut c = Self::with_opcode(op::PERSISTENT_RESERVE_IN, 10);
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
        let mut c = Self::with_opcode(op::PERSISTENT_RESERVE_OUT, 10);
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
        Self::rw6(op::READ_6, lba, blocks)
    }

    /// READ(10) (SBC-3 §5.11): opcode 28h, 10 bytes; 32-bit LBA, up to 65 535
    /// blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn read10(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba10(
            op::READ_10,
            rw_flags(dpo, fua),
            lba,
            blocks,
            TRANSFER_LENGTH,
        )
    }

    /// READ(12) (SBC-3 §5.12): opcode A8h, 12 bytes; 32-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA does not fit 32 bits.
    pub fn read12(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba12(op::READ_12, rw_flags(dpo, fua), lba, blocks)
    }

    /// READ(16) (SBC-3 §5.13): opcode 88h, 16 bytes; 64-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    #[must_use]
    pub fn read16(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::lba16(op::READ_16, rw_flags(dpo, fua), lba, blocks)
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
        Self::rw6(op::WRITE_6, lba, blocks)
    }

    /// WRITE(10) (SBC-3 §5.32): opcode 2Ah, 10 bytes; 32-bit LBA, up to
    /// 65 535 blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn write10(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba10(
            op::WRITE_10,
            rw_flags(dpo, fua),
            lba,
            blocks,
            TRANSFER_LENGTH,
        )
    }

    /// WRITE(12) (SBC-3 §5.33): opcode AAh, 12 bytes; 32-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA does not fit 32 bits.
    pub fn write12(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Result<Self, CdbError> {
        Self::lba12(op::WRITE_12, rw_flags(dpo, fua), lba, blocks)
    }

    /// WRITE(16) (SBC-3 §5.34): opcode 8Ah, 16 bytes; 64-bit LBA, 32-bit
    /// length in blocks, DPO and FUA.
    #[must_use]
    pub fn write16(lba: u64, blocks: u32, dpo: bool, fua: bool) -> Self {
        Self::lba16(op::WRITE_16, rw_flags(dpo, fua), lba, blocks)
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
        Self::lba10(op::WRITE_AND_VERIFY_10, flags, lba, blocks, TRANSFER_LENGTH)
    }

    /// WRITE AND VERIFY(16) (SBC-3 §5.38): opcode 8Eh, 16 bytes; fields as
    /// in [`Cdb::write_and_verify10`].
    #[must_use]
    pub fn write_and_verify16(lba: u64, blocks: u32, dpo: bool, bytchk: bool) -> Self {
        let flags = (if dpo { DPO } else { 0 }) | (u8::from(bytchk) << 1);
        Self::lba16(op::WRITE_AND_VERIFY_16, flags, lba, blocks)
    }

    /// VERIFY(10) (SBC-3 §5.28): opcode 2Fh, 10 bytes; `blocks` is the
    /// VERIFICATION LENGTH in blocks, `bytchk` the 2-bit BYTCHK field.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn verify10(lba: u64, blocks: u32, dpo: bool, bytchk: ByteCheck) -> Result<Self, CdbError> {
        let flags = (if dpo { DPO } else { 0 }) | (bytchk.code() << 1);
        Self::lba10(op::VERIFY_10, flags, lba, blocks, "VERIFICATION LENGTH")
    }

    /// VERIFY(16) (SBC-3 §5.30): opcode 8Fh, 16 bytes; fields as in
    /// [`Cdb::verify10`].
    #[must_use]
    pub fn verify16(lba: u64, blocks: u32, dpo: bool, bytchk: ByteCheck) -> Self {
        let flags = (if dpo { DPO } else { 0 }) | (bytchk.code() << 1);
        Self::lba16(op::VERIFY_16, flags, lba, blocks)
    }

    /// SYNCHRONIZE CACHE(10) (SBC-3 §5.25): opcode 35h, 10 bytes; `blocks`
    /// 0 means from `lba` to the end of the medium.
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn synchronize_cache10(immed: bool, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::lba10(
            op::SYNCHRONIZE_CACHE_10,
            u8::from(immed) << 1,
            lba,
            blocks,
            NUMBER_OF_BLOCKS,
        )
    }

    /// SYNCHRONIZE CACHE(16) (SBC-3 §5.26): opcode 91h, 16 bytes; fields as
    /// in [`Cdb::synchronize_cache10`].
    #[must_use]
    pub fn synchronize_cache16(immed: bool, lba: u64, blocks: u32) -> Self {
        Self::lba16(op::SYNCHRONIZE_CACHE_16, u8::from(immed) << 1, lba, blocks)
    }

    /// PRE-FETCH(10) (SBC-3 §5.8): opcode 34h, 10 bytes; `blocks` is the
    /// PREFETCH LENGTH (0: to the end of the medium).
    ///
    /// # Errors
    /// [`CdbError::OutOfRange`] when the LBA or the length does not fit.
    pub fn pre_fetch10(immed: bool, lba: u64, blocks: u32) -> Result<Self, CdbError> {
        Self::lba10(
            op::PRE_FETCH_10,
            u8::from(immed) << 1,
            lba,
            blocks,
            "PREFETCH LENGTH",
        )
    }

    /// PRE-FETCH(16) (SBC-3 §5.9): opcode 90h, 16 bytes; fields as in
    /// [`Cdb::pre_fetch10`].
    #[must_use]
    pub fn pre_fetch16(immed: bool, lba: u64, blocks: u32) -> Self {
        Self::lba16(op::PRE_FETCH_16, u8::from(immed) << 1, lba, blocks)
    }

    /// READ CAPACITY(10) (SBC-3 §5.15): opcode 25h, 10 bytes, 8 bytes of
    /// data in ([`ReadCapacity10`]).
    #[must_use]
    pub const fn read_capacity10() -> Self {
        Self::with_opcode(op::READ_CAPACITY_10, 10)
    }

    /// READ CAPACITY(16) (SBC-3 §5.16): SERVICE ACTION IN(16) (9Eh) service
    /// action 10h, 16 bytes; `alloc` is the allocation length in bytes (32
    /// for the whole [`ReadCapacity16`]).
    #[must_use]
    pub fn read_capacity16(alloc: u32) -> Self {
        let mut c = Self::with_opcode(op::SERVICE_ACTION_IN_16, 16);
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
        Self::lba10(op::WRITE_SAME_10, flags, lba, blocks, NUMBER_OF_BLOCKS)
    }

    /// WRITE SAME(16) (SBC-3 §5.43): opcode 93h, 16 bytes; fields as in
    /// [`Cdb::write_same10`], plus `ndob` (no Data-Out: write zeros).
    #[must_use]
    pub fn write_same16(lba: u64, blocks: u32, unmap: bool, anchor: bool, ndob: bool) -> Self {
        let flags =
            (if anchor { 0x10 } else { 0 }) | (if unmap { 0x08 } else { 0 }) | u8::from(ndob);
        Self::lba16(op::WRITE_SAME_16, flags, lba, blocks)
    }

    /// UNMAP (SBC-3 §5.27): opcode 42h, 10 bytes; `param_len` is the length
    /// in bytes of the list from [`unmap_parameter_list`].
    #[must_use]
    pub fn unmap(anchor: bool, param_len: u16) -> Self {
        let mut c = Self::with_opcode(op::UNMAP, 10);
        c.bytes[1] = u8::from(anchor);
        c.put(7, &param_len.to_be_bytes());
        c
    }

    /// COMPARE AND WRITE (SBC-3 §5.2): opcode 89h, 16 bytes; LBA in bytes
    /// 2–9 and NUMBER OF LOGICAL BLOCKS in byte 13. The Data-Out holds
    /// `2 × blocks` blocks: the compare data, then the write data.
    #[must_use]
    pub fn compare_and_write(lba: u64, blocks: u8, dpo: bool, fua: bool) -> Self {
        let mut c = Self::with_opcode(op::COMPARE_AND_WRITE, 16);
        c.bytes[1] = rw_flags(dpo, fua);
        c.put(2, &lba.to_be_bytes());
        c.bytes[13] = blocks;
        c
    }

    /// GET LBA STATUS (SBC-3 §5.4): SERVICE ACTION IN(16) (9Eh) service
    /// action 12h, 16 bytes; `alloc` is the allocation length in bytes.
    #[must_use]
    pub fn get_lba_status(lba: u64, alloc: u32) -> Self {
        let mut c = Self::with_opcode(op::SERVICE_ACTION_IN_16, 16);
        c.bytes[1] = 0x12;
        c.put(2, &lba.to_be_bytes());
        c.put(10, &alloc.to_be_bytes());
        c
    }
}
