//! A CDB decoded once into a typed [`Command`] (SPC-4 §4.2, SBC-4 §5):
//! every field a device server reads, under its T10 name. The logical unit
//! executes the typed command, and the Data-Out Buffer Size (SAM-5 §5.1)
//! the transport solicits follows from it and the command table's rule.
//!
//! Decoding checks only what identifies the command: the CDB length for
//! its group code, the operation code and, for MAINTENANCE IN and SERVICE
//! ACTION IN(16), the service action. Field values (reserved bits, BYTCHK
//! 10b, an LBA past the medium) are the logical unit's to judge, in the
//! order SPC-4 gives, after unit attentions and reservations.

use crate::cdb::{Handler, check_len, handler, op};
use crate::data::Reader;
use crate::sense::{Asc, FieldPointer, Sense, SenseKey};

/// The fields of a READ- or WRITE-style CDB of any length (SBC-4 §5.7,
/// §5.38 and the commands that share their layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockAccess {
    /// LOGICAL BLOCK ADDRESS (21 bits in 6-byte CDBs).
    pub lba: u64,
    /// TRANSFER LENGTH (or NUMBER OF LOGICAL BLOCKS), blocks; 0 in
    /// READ(6)/WRITE(6) is already 256.
    pub transfer_length: u32,
    /// RDPROTECT / WRPROTECT / VRPROTECT (byte 1 bits 7–5); 0 for 6-byte CDBs.
    pub protect: u8,
    /// DPO (byte 1 bit 4); false for 6-byte CDBs.
    pub dpo: bool,
    /// FUA (byte 1 bit 3); false for 6-byte CDBs.
    pub fua: bool,
}

impl BlockAccess {
    /// LBA, TRANSFER LENGTH and flags at the places the group code puts
    /// them (SBC-4 §5: 6-byte CDBs carry a 21-bit LBA and no flags).
    fn parse(f: Reader<'_>) -> Self {
        let flags = f.u8(1);
        let (lba, transfer_length) = match f.u8(0) >> 5 {
            0 => {
                let lba = u64::from(f.u24(1) & 0x1f_ffff);
                let len = u32::from(f.u8(4));
                let len = if len == 0 && matches!(f.u8(0), op::READ_6 | op::WRITE_6) {
                    256
                } else {
                    len
                };
                return Self {
                    lba,
                    transfer_length: len,
                    protect: 0,
                    dpo: false,
                    fua: false,
                };
            }
            1 | 2 => (u64::from(f.u32(2)), u32::from(f.u16(7))),
            5 => (u64::from(f.u32(2)), f.u32(6)),
            _ => (f.u64(2), f.u32(10)),
        };
        Self {
            lba,
            transfer_length,
            protect: flags >> 5,
            dpo: flags & 0x10 != 0,
            fua: flags & 0x08 != 0,
        }
    }
}

/// The fields of MODE SENSE(6) and MODE SENSE(10) (SPC-4 §6.13, §6.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModeSense {
    /// The 10-byte form.
    pub ten: bool,
    /// DBD: no block descriptors.
    pub dbd: bool,
    /// LLBAA: long LBA block descriptors (10-byte form only).
    pub llbaa: bool,
    /// PC: current, changeable, default or saved values (0–3).
    pub page_control: u8,
    /// PAGE CODE (6 bits).
    pub page_code: u8,
    /// SUBPAGE CODE.
    pub subpage_code: u8,
    /// ALLOCATION LENGTH, bytes.
    pub allocation_length: u16,
}

/// The fields of REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportSupportedOperationCodes {
    /// RCTD: return command timeouts descriptors.
    pub rctd: bool,
    /// REPORTING OPTIONS (3 bits).
    pub reporting_options: u8,
    /// REQUESTED OPERATION CODE.
    pub requested_operation_code: u8,
    /// REQUESTED SERVICE ACTION.
    pub requested_service_action: u16,
    /// ALLOCATION LENGTH, bytes.
    pub allocation_length: u32,
}

/// One SCSI command, decoded from its CDB. Lengths are bytes and transfer
/// lengths blocks unless the name says otherwise; "ten" marks the 10-byte
/// form of a command that also has a 6-byte one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs, reason = "the fields carry the T10 field names")]
pub enum Command {
    /// TEST UNIT READY (SPC-4 §6.47).
    TestUnitReady,
    /// REQUEST SENSE (SPC-4 §6.39): DESC asks for descriptor format.
    RequestSense { desc: bool, allocation_length: u8 },
    /// INQUIRY (SPC-4 §6.6). `cmddt_or_reserved`: CMDDT (obsolete) or a
    /// reserved bit of byte 1 is set.
    Inquiry {
        evpd: bool,
        cmddt_or_reserved: bool,
        page_code: u8,
        allocation_length: u16,
    },
    /// REPORT LUNS (SPC-4 §6.33).
    ReportLuns {
        select_report: u8,
        allocation_length: u32,
    },
    /// MODE SENSE(6)/(10) (SPC-4 §6.13, §6.14).
    ModeSense(ModeSense),
    /// MODE SELECT(6)/(10) (SPC-4 §6.11, §6.12).
    ModeSelect {
        ten: bool,
        pf: bool,
        sp: bool,
        parameter_list_length: u16,
    },
    /// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35), the one MAINTENANCE
    /// IN service action implemented.
    ReportSupportedOperationCodes(ReportSupportedOperationCodes),
    /// REPORT TARGET PORT GROUPS (SPC-4 §6.36): `extended` asks for the
    /// extended header (PARAMETER DATA FORMAT 001b).
    ReportTargetPortGroups {
        extended: bool,
        allocation_length: u32,
    },
    /// SET TARGET PORT GROUPS (SPC-4 §6.44).
    SetTargetPortGroups { parameter_list_length: u32 },
    /// PREVENT ALLOW MEDIUM REMOVAL (SPC-4 §6.13 of SBC): PREVENT field.
    PreventAllowMediumRemoval { prevent: u8 },
    /// START STOP UNIT (SBC-4 §5.25).
    StartStopUnit {
        immed: bool,
        power_condition: u8,
        loej: bool,
        start: bool,
    },
    /// RESERVE(6)/(10) (SPC-2 §7.21). `third_party_or_extents`: a field
    /// this unit does not support (extents, 3RDPTY, a parameter list) is set.
    Reserve { third_party_or_extents: bool },
    /// RELEASE(6)/(10) (SPC-2 §7.17).
    Release,
    /// PERSISTENT RESERVE IN (SPC-4 §6.15).
    PersistentReserveIn {
        service_action: u8,
        allocation_length: u16,
    },
    /// PERSISTENT RESERVE OUT (SPC-4 §6.16): `scope_type` is byte 2
    /// (SCOPE in bits 7–4, TYPE in bits 3–0).
    PersistentReserveOut {
        service_action: u8,
        scope_type: u8,
        parameter_list_length: u32,
    },
    /// READ CAPACITY(10) (SBC-4 §5.20).
    ReadCapacity10 { lba: u32, pmi: bool },
    /// READ CAPACITY(16) (SBC-4 §5.21).
    ReadCapacity16 { allocation_length: u32 },
    /// GET LBA STATUS (SBC-4 §5.8).
    GetLbaStatus { lba: u64, allocation_length: u32 },
    /// READ(6)/(10)/(12)/(16) (SBC-4 §5.12–§5.16).
    Read(BlockAccess),
    /// WRITE(6)/(10)/(12)/(16) and WRITE ATOMIC(16) (SBC-4 §5.39–§5.43,
    /// §5.48), whose NUMBER OF LOGICAL BLOCKS is the transfer length.
    Write { access: BlockAccess, atomic: bool },
    /// WRITE AND VERIFY(10)/(12)/(16) (SBC-4 §5.44–§5.46).
    WriteAndVerify { access: BlockAccess, bytchk: u8 },
    /// ORWRITE(16) (SBC-4 §5.11).
    OrWrite(BlockAccess),
    /// VERIFY(10)/(12)/(16) (SBC-4 §5.33–§5.35).
    Verify { access: BlockAccess, bytchk: u8 },
    /// SYNCHRONIZE CACHE(10)/(16) (SBC-4 §5.27, §5.28): the range is
    /// LBA and NUMBER OF LOGICAL BLOCKS.
    SynchronizeCache { immed: bool, access: BlockAccess },
    /// PRE-FETCH(10)/(16) (SBC-4 §5.9, §5.10).
    PreFetch { immed: bool, access: BlockAccess },
    /// WRITE SAME(10)/(16) (SBC-4 §5.49, §5.50); `ndob` is false in the
    /// 10-byte form.
    WriteSame {
        sixteen: bool,
        access: BlockAccess,
        unmap: bool,
        anchor: bool,
        ndob: bool,
    },
    /// UNMAP (SBC-4 §5.32).
    Unmap {
        anchor: bool,
        parameter_list_length: u16,
    },
    /// SANITIZE (SBC-4 §5.30): `reserved` is set when byte 1 bit 6 or any
    /// of bytes 2–6 is.
    Sanitize {
        immed: bool,
        reserved: bool,
        ause: bool,
        service_action: u8,
        parameter_list_length: u16,
    },
    /// COMPARE AND WRITE (SBC-4 §5.3): NUMBER OF LOGICAL BLOCKS is the
    /// transfer length (one byte).
    CompareAndWrite(BlockAccess),
    /// EXTENDED COPY (LID1) (SPC-4 §6.4): the parameter list describes
    /// the copy.
    ExtendedCopy { parameter_list_length: u32 },
    /// RECEIVE COPY RESULTS (SPC-4 §6.18): COPY STATUS (00h), OPERATING
    /// PARAMETERS (03h) or FAILED SEGMENT DETAILS (04h) of the copy
    /// `list_identifier`.
    ReceiveCopyResults {
        service_action: u8,
        list_identifier: u8,
        allocation_length: u32,
    },
    /// READ DEFECT DATA(10)/(12) (SBC-4 §5.17, §5.18): `list_format` is
    /// REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT as sent.
    ReadDefectData {
        ten: bool,
        list_format: u8,
        allocation_length: u32,
    },
}

impl Command {
    /// Decodes `cdb` (with any extended CDB bytes appended).
    ///
    /// # Errors
    /// The sense data to return: ILLEGAL REQUEST with INVALID FIELD IN CDB
    /// for a CDB shorter than its group code says (SPC-4 §4.2.5.1),
    /// INVALID COMMAND OPERATION CODE for an opcode this crate does not
    /// implement, and INVALID FIELD IN CDB (byte 1, bit 4) for a MAINTENANCE
    /// IN, SERVICE ACTION IN(16), EXTENDED COPY or RECEIVE COPY RESULTS
    /// service action it does not.
    pub fn parse(cdb: &[u8]) -> Result<Self, Sense> {
        check_len(cdb)?;
        let f = Reader(cdb);
        let opcode = f.u8(0);
        let service_action = f.u8(1) & 0x1f;
        let ten = opcode >> 5 != 0;
        let access = || BlockAccess::parse(f);
        let Some(handler) = handler(opcode) else {
            return Err(Sense {
                field: Some(FieldPointer {
                    in_cdb: true,
                    byte: 0,
                    bit: None,
                }),
                ..Sense::new(
                    SenseKey::ILLEGAL_REQUEST,
                    Asc::INVALID_COMMAND_OPERATION_CODE,
                )
            });
        };
        let bad_service_action = || Sense::invalid_cdb_field(1, Some(4));
        Ok(match handler {
            Handler::TestUnitReady => Self::TestUnitReady,
            Handler::RequestSense => Self::RequestSense {
                desc: f.bit(1, 0x01),
                allocation_length: f.u8(4),
            },
            Handler::Inquiry => Self::Inquiry {
                evpd: f.bit(1, 0x01),
                cmddt_or_reserved: f.u8(1) & 0xfe != 0,
                page_code: f.u8(2),
                allocation_length: f.u16(3),
            },
            Handler::ReportLuns => Self::ReportLuns {
                select_report: f.u8(2),
                allocation_length: f.u32(6),
            },
            Handler::ModeSense => Self::ModeSense(ModeSense {
                ten,
                dbd: f.bit(1, 0x08),
                llbaa: ten && f.bit(1, 0x10),
                page_control: f.u8(2) >> 6,
                page_code: f.u8(2) & 0x3f,
                subpage_code: f.u8(3),
                allocation_length: if ten { f.u16(7) } else { u16::from(f.u8(4)) },
            }),
            Handler::ModeSelect => Self::ModeSelect {
                ten,
                pf: f.bit(1, 0x10),
                sp: f.bit(1, 0x01),
                parameter_list_length: if ten { f.u16(7) } else { u16::from(f.u8(4)) },
            },
            Handler::MaintenanceIn
                if u16::from(service_action) == op::MI_REPORT_TARGET_PORT_GROUPS =>
            {
                Self::ReportTargetPortGroups {
                    extended: (f.u8(1) >> 5) == 1,
                    allocation_length: f.u32(6),
                }
            }
            Handler::MaintenanceOut => {
                if u16::from(service_action) != op::MO_SET_TARGET_PORT_GROUPS {
                    return Err(bad_service_action());
                }
                Self::SetTargetPortGroups {
                    parameter_list_length: f.u32(6),
                }
            }
            Handler::MaintenanceIn => {
                if u16::from(service_action) != op::MI_REPORT_SUPPORTED_OPERATION_CODES {
                    return Err(bad_service_action());
                }
                Self::ReportSupportedOperationCodes(ReportSupportedOperationCodes {
                    rctd: f.bit(2, 0x80),
                    reporting_options: f.u8(2) & 0x07,
                    requested_operation_code: f.u8(3),
                    requested_service_action: f.u16(4),
                    allocation_length: f.u32(6),
                })
            }
            Handler::PreventAllow => Self::PreventAllowMediumRemoval {
                prevent: f.u8(4) & 0x03,
            },
            Handler::StartStopUnit => Self::StartStopUnit {
                immed: f.bit(1, 0x01),
                power_condition: f.u8(4) >> 4,
                loej: f.bit(4, 0x02),
                start: f.bit(4, 0x01),
            },
            Handler::Reserve => Self::Reserve {
                third_party_or_extents: if ten {
                    f.bit(1, 0x03) || f.u16(7) != 0
                } else {
                    f.bit(1, 0x01) || f.u16(3) != 0
                },
            },
            Handler::Release => Self::Release,
            Handler::PersistentReserveIn => Self::PersistentReserveIn {
                service_action,
                allocation_length: f.u16(7),
            },
            Handler::PersistentReserveOut => Self::PersistentReserveOut {
                service_action,
                scope_type: f.u8(2),
                parameter_list_length: f.u32(5),
            },
            Handler::ReadCapacity10 => Self::ReadCapacity10 {
                lba: f.u32(2),
                pmi: f.bit(8, 0x01),
            },
            Handler::ServiceActionIn => match u16::from(service_action) {
                op::SAI_READ_CAPACITY_16 => Self::ReadCapacity16 {
                    allocation_length: f.u32(10),
                },
                op::SAI_GET_LBA_STATUS => Self::GetLbaStatus {
                    lba: f.u64(2),
                    allocation_length: f.u32(10),
                },
                _ => return Err(bad_service_action()),
            },
            Handler::Read => Self::Read(access()),
            Handler::Write if opcode == op::WRITE_ATOMIC_16 => Self::Write {
                access: BlockAccess {
                    transfer_length: u32::from(f.u16(12)),
                    ..access()
                },
                atomic: true,
            },
            Handler::Write => Self::Write {
                access: access(),
                atomic: false,
            },
            Handler::WriteAndVerify => Self::WriteAndVerify {
                access: access(),
                bytchk: (f.u8(1) >> 1) & 0x03,
            },
            Handler::OrWrite => Self::OrWrite(access()),
            Handler::Verify => Self::Verify {
                access: access(),
                bytchk: (f.u8(1) >> 1) & 0x03,
            },
            Handler::SynchronizeCache => Self::SynchronizeCache {
                immed: f.bit(1, 0x02),
                access: access(),
            },
            Handler::PreFetch => Self::PreFetch {
                immed: f.bit(1, 0x02),
                access: access(),
            },
            Handler::WriteSame => Self::WriteSame {
                sixteen: opcode == op::WRITE_SAME_16,
                access: access(),
                unmap: f.bit(1, 0x08),
                anchor: f.bit(1, 0x10),
                ndob: opcode == op::WRITE_SAME_16 && f.bit(1, 0x01),
            },
            Handler::Unmap => Self::Unmap {
                anchor: f.bit(1, 0x01),
                parameter_list_length: f.u16(7),
            },
            Handler::CompareAndWrite => Self::CompareAndWrite(BlockAccess {
                lba: f.u64(2),
                transfer_length: u32::from(f.u8(13)),
                ..access()
            }),
            Handler::Sanitize => {
                if !matches!(
                    service_action,
                    op::SANITIZE_OVERWRITE
                        | op::SANITIZE_BLOCK_ERASE
                        | op::SANITIZE_EXIT_FAILURE_MODE
                ) {
                    return Err(bad_service_action());
                }
                Self::Sanitize {
                    immed: f.bit(1, 0x80),
                    reserved: f.bit(1, 0x40) || f.span(2, 7).iter().any(|b| *b != 0),
                    ause: f.bit(1, 0x20),
                    service_action,
                    parameter_list_length: f.u16(7),
                }
            }
            Handler::ExtendedCopy => {
                if service_action != op::XCOPY_LID1 {
                    return Err(bad_service_action());
                }
                Self::ExtendedCopy {
                    parameter_list_length: f.u32(10),
                }
            }
            Handler::ReceiveCopyResults => {
                if !matches!(
                    service_action,
                    op::RCR_COPY_STATUS
                        | op::RCR_OPERATING_PARAMETERS
                        | op::RCR_FAILED_SEGMENT_DETAILS
                ) {
                    return Err(bad_service_action());
                }
                Self::ReceiveCopyResults {
                    service_action,
                    list_identifier: f.u8(2),
                    allocation_length: f.u32(10),
                }
            }
            Handler::ReadDefectData if opcode == op::READ_DEFECT_DATA_10 => Self::ReadDefectData {
                ten: true,
                list_format: f.u8(2),
                allocation_length: u32::from(f.u16(7)),
            },
            Handler::ReadDefectData => Self::ReadDefectData {
                ten: false,
                list_format: f.u8(1),
                allocation_length: f.u32(6),
            },
        })
    }

    /// The blocks a command moves or names, for commands that have a
    /// TRANSFER LENGTH or NUMBER OF LOGICAL BLOCKS.
    #[must_use]
    pub const fn block_access(&self) -> Option<BlockAccess> {
        match *self {
            Self::Read(a)
            | Self::OrWrite(a)
            | Self::CompareAndWrite(a)
            | Self::Write { access: a, .. }
            | Self::WriteAndVerify { access: a, .. }
            | Self::Verify { access: a, .. }
            | Self::SynchronizeCache { access: a, .. }
            | Self::PreFetch { access: a, .. }
            | Self::WriteSame { access: a, .. } => Some(a),
            _ => None,
        }
    }

    /// PARAMETER LIST LENGTH, bytes, for commands that send a parameter
    /// list; 0 for the others.
    #[must_use]
    pub fn parameter_list_length(&self) -> u32 {
        match *self {
            Self::ModeSelect {
                parameter_list_length,
                ..
            }
            | Self::Unmap {
                parameter_list_length,
                ..
            }
            | Self::Sanitize {
                parameter_list_length,
                ..
            } => u32::from(parameter_list_length),
            Self::PersistentReserveOut {
                parameter_list_length,
                ..
            }
            | Self::ExtendedCopy {
                parameter_list_length,
            }
            | Self::SetTargetPortGroups {
                parameter_list_length,
            } => parameter_list_length,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_fields_by_group_code() {
        // READ(6): 21-bit LBA, length 0 means 256.
        let c = Command::parse(&[op::READ_6, 0xff, 0x12, 0x34, 0, 0]).unwrap();
        let a = c.block_access().unwrap();
        assert_eq!((a.lba, a.transfer_length, a.fua), (0x1f_1234, 256, false));
        // WRITE(10) with FUA and WRPROTECT 1.
        let c = Command::parse(&[op::WRITE_10, 0x28, 0, 0, 1, 0, 0, 0, 8, 0]).unwrap();
        assert_eq!(
            c,
            Command::Write {
                access: BlockAccess {
                    lba: 256,
                    transfer_length: 8,
                    protect: 1,
                    dpo: false,
                    fua: true
                },
                atomic: false
            }
        );
        // WRITE ATOMIC(16): NUMBER OF LOGICAL BLOCKS in bytes 12-13.
        let mut cdb = [0u8; 16];
        cdb[0] = op::WRITE_ATOMIC_16;
        cdb[9] = 5;
        cdb[13] = 3;
        let a = Command::parse(&cdb).unwrap().block_access().unwrap();
        assert_eq!((a.lba, a.transfer_length), (5, 3));
        // COMPARE AND WRITE: one byte of blocks at byte 13.
        let mut cdb = [0u8; 16];
        cdb[0] = op::COMPARE_AND_WRITE;
        cdb[13] = 2;
        cdb[10] = 0xff;
        let a = Command::parse(&cdb).unwrap().block_access().unwrap();
        assert_eq!(a.transfer_length, 2);
    }

    #[test]
    fn unknown_opcodes_service_actions_and_short_cdbs_are_refused() {
        let opcode = Command::parse(&[0xc0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(opcode.asc, Asc::INVALID_COMMAND_OPERATION_CODE);
        let short = Command::parse(&[op::READ_10, 0, 0]).unwrap_err();
        assert_eq!(short.asc, Asc::INVALID_FIELD_IN_CDB);
        let mut sai = [0u8; 16];
        sai[0] = op::SERVICE_ACTION_IN_16;
        sai[1] = 0x11;
        let bad = Command::parse(&sai).unwrap_err();
        assert_eq!(bad, Sense::invalid_cdb_field(1, Some(4)));
        // PERSISTENT RESERVE IN keeps its service action for the unit to judge.
        let pr = Command::parse(&[op::PERSISTENT_RESERVE_IN, 0x09, 0, 0, 0, 0, 0, 0, 8, 0]);
        assert_eq!(
            pr,
            Ok(Command::PersistentReserveIn {
                service_action: 9,
                allocation_length: 8
            })
        );
    }

    #[test]
    fn parameter_lists_by_form() {
        let sel6 = Command::parse(&[op::MODE_SELECT_6, 0x10, 0, 0, 28, 0]).unwrap();
        let sel10 = Command::parse(&[op::MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 1, 2, 0]).unwrap();
        assert_eq!(sel6.parameter_list_length(), 28);
        assert_eq!(sel10.parameter_list_length(), 0x102);
        assert_eq!(Command::TestUnitReady.parameter_list_length(), 0);
    }
}
