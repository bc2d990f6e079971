//! The 48-byte Basic Header Segment of every PDU (RFC 7143 §11.2.1) and one
//! `Copy` struct per opcode with every field under its RFC name.
//!
//! Reserved fields are written as zero and ignored on receipt, as RFC 7143
//! §11 asks of every sender and receiver; the combinations of flags the RFC
//! forbids (both T and C on a Login, both F and C on a Text PDU, S without F
//! on Data-In, both O and U, ...) are refused by [`Bhs::validate`], which
//! parsing runs. Parsing followed by encoding therefore reproduces the
//! received bytes except for reserved bits that were not zero.

#![allow(
    clippy::exhaustive_structs,
    reason = "each struct is the fixed RFC 7143 layout of one BHS; new fields would be a new protocol"
)]

use nom::bytes::complete::take;
use nom::{IResult, Parser};

use crate::codes::{
    AsyncEvent, LoginStage, LoginStatus, LogoutReason, LogoutResponseCode, Opcode, RejectReason,
    ScsiResponseCode, ScsiStatus, SnackType, TaskAttribute, TmfFunction, TmfResponseCode,
};
use crate::error::PduError;
use crate::ids::{Cid, CmdSn, DataSn, Isid, Itt, Lun, R2tSn, StatSn, Tsih, Ttt};

mod headers;
pub use headers::*;

/// Length of a BHS in bytes.
pub const BHS_LEN: usize = 48;

const F: u8 = 0x80;
const I: u8 = 0x40;

/// The BHS as raw fields: bytes 0–3, the two length fields, bytes 8–15,
/// the ITT and the seven words of bytes 20–47. Every opcode maps to and
/// from this shape; nom parses it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct RawBhs {
    pub(crate) b0: u8,
    pub(crate) b1: u8,
    pub(crate) b2: u8,
    pub(crate) b3: u8,
    pub(crate) total_ahs_length: u8,
    pub(crate) data_segment_length: u32,
    pub(crate) b8: [u8; 8],
    pub(crate) itt: u32,
    /// Words at bytes 20, 24, 28, 32, 36, 40, 44.
    pub(crate) w: [u32; 7],
}

/// Big-endian u32 at a constant offset of a fixed-size array (the indices
/// are constants, so they are checked at compile time).
macro_rules! be32 {
    ($b:ident, $at:expr) => {
        u32::from_be_bytes([$b[$at], $b[$at + 1], $b[$at + 2], $b[$at + 3]])
    };
}

/// Big-endian u16 at a constant offset of a fixed-size array.
macro_rules! be16 {
    ($b:ident, $at:expr) => {
        u16::from_be_bytes([$b[$at], $b[$at + 1]])
    };
}

/// Takes the 48 BHS bytes off the front of `input`.
pub(crate) fn bhs_bytes(input: &[u8]) -> IResult<&[u8], [u8; BHS_LEN]> {
    nom::combinator::map_res(take(BHS_LEN), <[u8; BHS_LEN]>::try_from).parse(input)
}

impl RawBhs {
    /// Parses the first 48 bytes; `None` when fewer are given.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        bhs_bytes(bytes).ok().map(|(_, b)| Self::from_bytes(&b))
    }

    /// The fields of a BHS: fixed offsets into a fixed-size array, so no
    /// index can fail.
    #[inline]
    pub(crate) fn from_bytes(b: &[u8; BHS_LEN]) -> Self {
        Self {
            b0: b[0],
            b1: b[1],
            b2: b[2],
            b3: b[3],
            total_ahs_length: b[4],
            data_segment_length: u32::from_be_bytes([0, b[5], b[6], b[7]]),
            b8: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
            itt: be32!(b, 16),
            w: [
                be32!(b, 20),
                be32!(b, 24),
                be32!(b, 28),
                be32!(b, 32),
                be32!(b, 36),
                be32!(b, 40),
                be32!(b, 44),
            ],
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; BHS_LEN] {
        let mut out = [0u8; BHS_LEN];
        let dsl = self.data_segment_length.to_be_bytes();
        let head = [
            self.b0,
            self.b1,
            self.b2,
            self.b3,
            self.total_ahs_length,
            dsl[1],
            dsl[2],
            dsl[3],
        ];
        let mut words = [0u8; 28];
        for (chunk, w) in words.chunks_exact_mut(4).zip(self.w) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        let (a, rest) = out.split_at_mut(8);
        a.copy_from_slice(&head);
        let (b, rest) = rest.split_at_mut(8);
        b.copy_from_slice(&self.b8);
        let (c, rest) = rest.split_at_mut(4);
        c.copy_from_slice(&self.itt.to_be_bytes());
        rest.copy_from_slice(&words);
        out
    }

    pub(crate) fn opcode(&self) -> Opcode {
        Opcode::from_wire(self.b0)
    }

    fn op(opcode: Opcode, immediate: bool) -> u8 {
        opcode.get() | if immediate { I } else { 0 }
    }
}

const fn bit(flags: u8, mask: u8) -> bool {
    flags & mask != 0
}

const fn set(on: bool, mask: u8) -> u8 {
    if on { mask } else { 0 }
}

/// A parsed BHS: one variant per opcode of RFC 7143 §11.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
#[allow(
    clippy::exhaustive_enums,
    reason = "one variant per RFC 7143 opcode; unknown opcodes have their own variant"
)]
pub enum Bhs {
    /// NOP-Out (0x00).
    NopOut(NopOut),
    /// SCSI Command (0x01).
    ScsiCommand(ScsiCommand),
    /// Task Management Function Request (0x02).
    TaskManagementRequest(TaskManagementRequest),
    /// Login Request (0x03).
    LoginRequest(LoginRequest),
    /// Text Request (0x04).
    TextRequest(TextRequest),
    /// SCSI Data-Out (0x05).
    DataOut(DataOut),
    /// Logout Request (0x06).
    LogoutRequest(LogoutRequest),
    /// SNACK Request (0x10).
    SnackRequest(SnackRequest),
    /// NOP-In (0x20).
    NopIn(NopIn),
    /// SCSI Response (0x21).
    ScsiResponse(ScsiResponse),
    /// Task Management Function Response (0x22).
    TaskManagementResponse(TaskManagementResponse),
    /// Login Response (0x23).
    LoginResponse(LoginResponse),
    /// Text Response (0x24).
    TextResponse(TextResponse),
    /// SCSI Data-In (0x25).
    DataIn(DataIn),
    /// Logout Response (0x26).
    LogoutResponse(LogoutResponse),
    /// R2T (0x31).
    R2t(R2t),
    /// Asynchronous Message (0x32).
    AsyncMessage(AsyncMessage),
    /// Reject (0x3f).
    Reject(Reject),
    /// Any other opcode.
    Unknown(UnknownBhs),
}

impl Bhs {
    /// Decodes the 48-byte BHS at the front of `bytes` into its typed
    /// header (AHS and data segment are not looked at) and checks it with
    /// [`Bhs::validate`].
    ///
    /// # Errors
    /// [`PduError::Incomplete`] for fewer than 48 bytes, else as
    /// [`Bhs::validate`].
    pub fn parse(bytes: &[u8]) -> Result<Self, PduError> {
        let (_, b) = bhs_bytes(bytes).map_err(|_| PduError::Incomplete {
            needed: BHS_LEN,
            available: bytes.len(),
        })?;
        let bhs = Self::from_bytes(&b);
        bhs.validate()?;
        Ok(bhs)
    }

    /// The opcode.
    #[must_use]
    pub const fn opcode(&self) -> Opcode {
        match self {
            Self::NopOut(_) => Opcode::NOP_OUT,
            Self::ScsiCommand(_) => Opcode::SCSI_COMMAND,
            Self::TaskManagementRequest(_) => Opcode::TASK_MANAGEMENT_REQUEST,
            Self::LoginRequest(_) => Opcode::LOGIN_REQUEST,
            Self::TextRequest(_) => Opcode::TEXT_REQUEST,
            Self::DataOut(_) => Opcode::SCSI_DATA_OUT,
            Self::LogoutRequest(_) => Opcode::LOGOUT_REQUEST,
            Self::SnackRequest(_) => Opcode::SNACK_REQUEST,
            Self::NopIn(_) => Opcode::NOP_IN,
            Self::ScsiResponse(_) => Opcode::SCSI_RESPONSE,
            Self::TaskManagementResponse(_) => Opcode::TASK_MANAGEMENT_RESPONSE,
            Self::LoginResponse(_) => Opcode::LOGIN_RESPONSE,
            Self::TextResponse(_) => Opcode::TEXT_RESPONSE,
            Self::DataIn(_) => Opcode::SCSI_DATA_IN,
            Self::LogoutResponse(_) => Opcode::LOGOUT_RESPONSE,
            Self::R2t(_) => Opcode::R2T,
            Self::AsyncMessage(_) => Opcode::ASYNC_MESSAGE,
            Self::Reject(_) => Opcode::REJECT,
            Self::Unknown(u) => u.opcode(),
        }
    }

    /// The Initiator Task Tag (0xffffffff for Reject and Asynchronous Message).
    #[must_use]
    pub const fn itt(&self) -> Itt {
        match self {
            Self::NopOut(h) => h.itt,
            Self::ScsiCommand(h) => h.itt,
            Self::TaskManagementRequest(h) => h.itt,
            Self::LoginRequest(h) => h.itt,
            Self::TextRequest(h) => h.itt,
            Self::DataOut(h) => h.itt,
            Self::LogoutRequest(h) => h.itt,
            Self::SnackRequest(h) => h.itt,
            Self::NopIn(h) => h.itt,
            Self::ScsiResponse(h) => h.itt,
            Self::TaskManagementResponse(h) => h.itt,
            Self::LoginResponse(h) => h.itt,
            Self::TextResponse(h) => h.itt,
            Self::DataIn(h) => h.itt,
            Self::LogoutResponse(h) => h.itt,
            Self::R2t(h) => h.itt,
            Self::AsyncMessage(_) | Self::Reject(_) => Itt::RESERVED,
            Self::Unknown(u) => {
                let r = u.raw;
                Itt(u32::from_be_bytes([r[16], r[17], r[18], r[19]]))
            }
        }
    }

    /// The I (immediate) bit for initiator PDUs that have one.
    #[must_use]
    pub const fn is_immediate(&self) -> bool {
        match self {
            Self::NopOut(h) => h.immediate,
            Self::ScsiCommand(h) => h.immediate,
            Self::TaskManagementRequest(h) => h.immediate,
            Self::LoginRequest(_) => true,
            Self::TextRequest(h) => h.immediate,
            Self::LogoutRequest(h) => h.immediate,
            _ => false,
        }
    }

    /// Checks the flag combinations RFC 7143 forbids. Parsing calls this; an
    /// encoder of a hand-built header may call it too.
    ///
    /// # Errors
    /// [`PduError::InvalidField`] naming the field.
    #[inline]
    pub fn validate(&self) -> Result<(), PduError> {
        let invalid = |field, reason| {
            Err(PduError::InvalidField {
                opcode: self.opcode(),
                itt: self.itt(),
                field,
                reason,
            })
        };
        match self {
            // A failed Login Response's T, CSG and NSG are to be ignored
            // (RFC 7143 §11.13.5), so only successful ones are checked.
            Self::LoginResponse(LoginResponse { status, .. }) if !status.is_success() => Ok(()),
            Self::LoginRequest(LoginRequest {
                transit,
                continue_bit,
                csg,
                nsg,
                ..
            })
            | Self::LoginResponse(LoginResponse {
                transit,
                continue_bit,
                csg,
                nsg,
                ..
            }) => {
                if *transit && *continue_bit {
                    return invalid("T/C bits", "T and C are both set (RFC 7143 §11.12.2)");
                }
                if *csg == LoginStage::from_wire(2) || *csg == LoginStage::FULL_FEATURE_PHASE {
                    return invalid("CSG", "CSG must be 0 or 1 (RFC 7143 §11.12.3)");
                }
                if *transit && (*nsg == LoginStage::from_wire(2) || nsg.get() <= csg.get()) {
                    return invalid("NSG", "NSG must be a later stage than CSG when T is set");
                }
                Ok(())
            }
            Self::TextRequest(TextRequest {
                final_bit,
                continue_bit,
                ..
            })
            | Self::TextResponse(TextResponse {
                final_bit,
                continue_bit,
                ..
            }) if *final_bit && *continue_bit => {
                invalid("F/C bits", "F and C are both set (RFC 7143 §11.10.2)")
            }
            Self::ScsiResponse(h) if h.residual_overflow && h.residual_underflow => {
                invalid("O/U bits", "both Residual Overflow and Underflow are set")
            }
            Self::ScsiResponse(h)
                if h.bidi_read_residual_overflow && h.bidi_read_residual_underflow =>
            {
                invalid(
                    "o/u bits",
                    "both Bidirectional Read Residual Overflow and Underflow are set",
                )
            }
            Self::DataIn(h) if h.residual_overflow && h.residual_underflow => {
                invalid("O/U bits", "both Residual Overflow and Underflow are set")
            }
            Self::DataIn(h) if h.status.is_some() && !h.final_bit => invalid(
                "S bit",
                "status is carried (S) without the F bit (RFC 7143 §11.7.2)",
            ),
            Self::DataIn(h)
                if h.status.is_none() && (h.residual_overflow || h.residual_underflow) =>
            {
                invalid("O/U bits", "residual bits are set without the S bit")
            }
            _ => Ok(()),
        }
    }

    #[inline]
    pub(crate) fn from_bytes(b: &[u8; BHS_LEN]) -> Self {
        // Fixed indices into a fixed-size array: none can fail.
        let b1 = b[1];
        let b8 = [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]];
        let lun = Lun(b8);
        let itt = Itt(be32!(b, 16));
        let imm = b[0] & I != 0;
        match Opcode::from_wire(b[0]) {
            Opcode::NOP_OUT => Self::NopOut(NopOut {
                immediate: imm,
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                cmd_sn: CmdSn(be32!(b, 24)),
                exp_stat_sn: StatSn(be32!(b, 28)),
            }),
            Opcode::SCSI_COMMAND => {
                let cdb = b.last_chunk::<16>().copied().unwrap_or_default();
                Self::ScsiCommand(ScsiCommand {
                    immediate: imm,
                    final_bit: bit(b1, F),
                    read: bit(b1, 0x40),
                    write: bit(b1, 0x20),
                    attr: TaskAttribute::from_wire(b1),
                    lun,
                    itt,
                    expected_data_transfer_length: be32!(b, 20),
                    cmd_sn: CmdSn(be32!(b, 24)),
                    exp_stat_sn: StatSn(be32!(b, 28)),
                    cdb,
                })
            }
            Opcode::TASK_MANAGEMENT_REQUEST => Self::TaskManagementRequest(TaskManagementRequest {
                immediate: imm,
                function: TmfFunction::from_wire(b1),
                lun,
                itt,
                referenced_task_tag: Itt(be32!(b, 20)),
                cmd_sn: CmdSn(be32!(b, 24)),
                exp_stat_sn: StatSn(be32!(b, 28)),
                ref_cmd_sn: CmdSn(be32!(b, 32)),
                exp_data_sn: DataSn(be32!(b, 36)),
            }),
            Opcode::LOGIN_REQUEST => Self::LoginRequest(LoginRequest {
                transit: bit(b1, F),
                continue_bit: bit(b1, 0x40),
                csg: LoginStage::from_wire(b1 >> 2),
                nsg: LoginStage::from_wire(b1),
                version_max: b[2],
                version_min: b[3],
                isid: Isid([b8[0], b8[1], b8[2], b8[3], b8[4], b8[5]]),
                tsih: Tsih(u16::from_be_bytes([b8[6], b8[7]])),
                itt,
                cid: Cid(be16!(b, 20)),
                cmd_sn: CmdSn(be32!(b, 24)),
                exp_stat_sn: StatSn(be32!(b, 28)),
            }),
            Opcode::TEXT_REQUEST => Self::TextRequest(TextRequest {
                immediate: imm,
                final_bit: bit(b1, F),
                continue_bit: bit(b1, 0x40),
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                cmd_sn: CmdSn(be32!(b, 24)),
                exp_stat_sn: StatSn(be32!(b, 28)),
            }),
            Opcode::SCSI_DATA_OUT => Self::DataOut(DataOut {
                final_bit: bit(b1, F),
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                exp_stat_sn: StatSn(be32!(b, 28)),
                data_sn: DataSn(be32!(b, 36)),
                buffer_offset: be32!(b, 40),
            }),
            Opcode::LOGOUT_REQUEST => Self::LogoutRequest(LogoutRequest {
                immediate: imm,
                reason: LogoutReason::from_wire(b1),
                itt,
                cid: Cid(be16!(b, 20)),
                cmd_sn: CmdSn(be32!(b, 24)),
                exp_stat_sn: StatSn(be32!(b, 28)),
            }),
            Opcode::SNACK_REQUEST => Self::SnackRequest(SnackRequest {
                snack_type: SnackType::from_wire(b1),
                lun,
                itt,
                ttt_or_snack_tag: be32!(b, 20),
                exp_stat_sn: StatSn(be32!(b, 28)),
                beg_run: be32!(b, 40),
                run_length: be32!(b, 44),
            }),
            Opcode::NOP_IN => Self::NopIn(NopIn {
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
            }),
            Opcode::SCSI_RESPONSE => Self::ScsiResponse(ScsiResponse {
                bidi_read_residual_overflow: bit(b1, 0x10),
                bidi_read_residual_underflow: bit(b1, 0x08),
                residual_overflow: bit(b1, 0x04),
                residual_underflow: bit(b1, 0x02),
                response: ScsiResponseCode::from_wire(b[2]),
                status: ScsiStatus::from_wire(b[3]),
                itt,
                snack_tag: be32!(b, 20),
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                exp_data_sn: DataSn(be32!(b, 36)),
                bidi_read_residual_count: be32!(b, 40),
                residual_count: be32!(b, 44),
            }),
            Opcode::TASK_MANAGEMENT_RESPONSE => {
                Self::TaskManagementResponse(TaskManagementResponse {
                    response: TmfResponseCode::from_wire(b[2]),
                    itt,
                    stat_sn: StatSn(be32!(b, 24)),
                    exp_cmd_sn: CmdSn(be32!(b, 28)),
                    max_cmd_sn: CmdSn(be32!(b, 32)),
                })
            }
            Opcode::LOGIN_RESPONSE => Self::LoginResponse(LoginResponse {
                transit: bit(b1, F),
                continue_bit: bit(b1, 0x40),
                csg: LoginStage::from_wire(b1 >> 2),
                nsg: LoginStage::from_wire(b1),
                version_max: b[2],
                version_active: b[3],
                isid: Isid([b8[0], b8[1], b8[2], b8[3], b8[4], b8[5]]),
                tsih: Tsih(u16::from_be_bytes([b8[6], b8[7]])),
                itt,
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                status: LoginStatus::from_code(be16!(b, 36)),
            }),
            Opcode::TEXT_RESPONSE => Self::TextResponse(TextResponse {
                final_bit: bit(b1, F),
                continue_bit: bit(b1, 0x40),
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
            }),
            Opcode::SCSI_DATA_IN => {
                let has_status = bit(b1, 0x01);
                Self::DataIn(DataIn {
                    final_bit: bit(b1, F),
                    acknowledge: bit(b1, 0x40),
                    residual_overflow: bit(b1, 0x04),
                    residual_underflow: bit(b1, 0x02),
                    status: has_status.then_some(ScsiStatus::from_wire(b[3])),
                    lun,
                    itt,
                    ttt: Ttt(be32!(b, 20)),
                    stat_sn: StatSn(be32!(b, 24)),
                    exp_cmd_sn: CmdSn(be32!(b, 28)),
                    max_cmd_sn: CmdSn(be32!(b, 32)),
                    data_sn: DataSn(be32!(b, 36)),
                    buffer_offset: be32!(b, 40),
                    residual_count: be32!(b, 44),
                })
            }
            Opcode::LOGOUT_RESPONSE => Self::LogoutResponse(LogoutResponse {
                response: LogoutResponseCode::from_wire(b[2]),
                itt,
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                time2wait: be16!(b, 40),
                time2retain: be16!(b, 42),
            }),
            Opcode::R2T => Self::R2t(R2t {
                lun,
                itt,
                ttt: Ttt(be32!(b, 20)),
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                r2t_sn: R2tSn(be32!(b, 36)),
                buffer_offset: be32!(b, 40),
                desired_data_transfer_length: be32!(b, 44),
            }),
            Opcode::ASYNC_MESSAGE => Self::AsyncMessage(AsyncMessage {
                lun,
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                async_event: AsyncEvent::from_wire((be32!(b, 36) >> 24) as u8),
                async_vcode: (be32!(b, 36) >> 16) as u8,
                parameter1: be16!(b, 38),
                parameter2: be16!(b, 40),
                parameter3: be16!(b, 42),
            }),
            Opcode::REJECT => Self::Reject(Reject {
                reason: RejectReason::from_wire(b[2]),
                stat_sn: StatSn(be32!(b, 24)),
                exp_cmd_sn: CmdSn(be32!(b, 28)),
                max_cmd_sn: CmdSn(be32!(b, 32)),
                data_sn_or_r2t_sn: be32!(b, 36),
            }),
            _ => {
                let mut raw = *b;
                raw[4..8].fill(0);
                Self::Unknown(UnknownBhs { raw })
            }
        }
    }

    /// The raw fields, lengths left at zero for the encoder to fill in.
    pub(crate) fn to_raw(self) -> RawBhs {
        let mut r = RawBhs::default();
        match self {
            Self::NopOut(h) => {
                r.b0 = RawBhs::op(Opcode::NOP_OUT, h.immediate);
                r.b1 = F;
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt.0;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
            }
            Self::ScsiCommand(h) => {
                r.b0 = RawBhs::op(Opcode::SCSI_COMMAND, h.immediate);
                r.b1 = set(h.final_bit, F) | set(h.read, 0x40) | set(h.write, 0x20) | h.attr.get();
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.expected_data_transfer_length;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
                for (word, chunk) in r.w.iter_mut().skip(3).zip(h.cdb.chunks_exact(4)) {
                    *word = u32::from_be_bytes(chunk.try_into().unwrap_or_default());
                }
            }
            Self::TaskManagementRequest(h) => {
                r.b0 = RawBhs::op(Opcode::TASK_MANAGEMENT_REQUEST, h.immediate);
                r.b1 = F | h.function.get();
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.referenced_task_tag.0;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
                r.w[3] = h.ref_cmd_sn.0;
                r.w[4] = h.exp_data_sn.0;
            }
            Self::LoginRequest(h) => {
                r.b0 = RawBhs::op(Opcode::LOGIN_REQUEST, true);
                r.b1 = set(h.transit, F)
                    | set(h.continue_bit, 0x40)
                    | (h.csg.get() << 2)
                    | h.nsg.get();
                r.b2 = h.version_max;
                r.b3 = h.version_min;
                r.b8 = isid_tsih(h.isid, h.tsih);
                r.itt = h.itt.0;
                r.w[0] = u32::from(h.cid.0) << 16;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
            }
            Self::TextRequest(h) => {
                r.b0 = RawBhs::op(Opcode::TEXT_REQUEST, h.immediate);
                r.b1 = set(h.final_bit, F) | set(h.continue_bit, 0x40);
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt.0;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
            }
            Self::DataOut(h) => {
                r.b0 = Opcode::SCSI_DATA_OUT.get();
                r.b1 = set(h.final_bit, F);
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt.0;
                r.w[2] = h.exp_stat_sn.0;
                r.w[4] = h.data_sn.0;
                r.w[5] = h.buffer_offset;
            }
            Self::LogoutRequest(h) => {
                r.b0 = RawBhs::op(Opcode::LOGOUT_REQUEST, h.immediate);
                r.b1 = F | h.reason.get();
                r.itt = h.itt.0;
                r.w[0] = u32::from(h.cid.0) << 16;
                r.w[1] = h.cmd_sn.0;
                r.w[2] = h.exp_stat_sn.0;
            }
            Self::SnackRequest(h) => {
                r.b0 = Opcode::SNACK_REQUEST.get();
                r.b1 = F | h.snack_type.get();
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt_or_snack_tag;
                r.w[2] = h.exp_stat_sn.0;
                r.w[5] = h.beg_run;
                r.w[6] = h.run_length;
            }
            Self::NopIn(h) => {
                r.b0 = Opcode::NOP_IN.get();
                r.b1 = F;
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
            }
            Self::ScsiResponse(h) => {
                r.b0 = Opcode::SCSI_RESPONSE.get();
                r.b1 = F
                    | set(h.bidi_read_residual_overflow, 0x10)
                    | set(h.bidi_read_residual_underflow, 0x08)
                    | set(h.residual_overflow, 0x04)
                    | set(h.residual_underflow, 0x02);
                r.b2 = h.response.get();
                r.b3 = h.status.get();
                r.itt = h.itt.0;
                r.w = [
                    h.snack_tag,
                    h.stat_sn.0,
                    h.exp_cmd_sn.0,
                    h.max_cmd_sn.0,
                    h.exp_data_sn.0,
                    h.bidi_read_residual_count,
                    h.residual_count,
                ];
            }
            Self::TaskManagementResponse(h) => {
                r.b0 = Opcode::TASK_MANAGEMENT_RESPONSE.get();
                r.b1 = F;
                r.b2 = h.response.get();
                r.itt = h.itt.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
            }
            Self::LoginResponse(h) => {
                r.b0 = Opcode::LOGIN_RESPONSE.get();
                r.b1 = set(h.transit, F)
                    | set(h.continue_bit, 0x40)
                    | (h.csg.get() << 2)
                    | h.nsg.get();
                r.b2 = h.version_max;
                r.b3 = h.version_active;
                r.b8 = isid_tsih(h.isid, h.tsih);
                r.itt = h.itt.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
                r.w[4] = u32::from(h.status.code()) << 16;
            }
            Self::TextResponse(h) => {
                r.b0 = Opcode::TEXT_RESPONSE.get();
                r.b1 = set(h.final_bit, F) | set(h.continue_bit, 0x40);
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w[0] = h.ttt.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
            }
            Self::DataIn(h) => {
                r.b0 = Opcode::SCSI_DATA_IN.get();
                r.b1 = set(h.final_bit, F)
                    | set(h.acknowledge, 0x40)
                    | set(h.residual_overflow, 0x04)
                    | set(h.residual_underflow, 0x02)
                    | set(h.status.is_some(), 0x01);
                r.b3 = h.status.map_or(0, ScsiStatus::get);
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w = [
                    h.ttt.0,
                    h.stat_sn.0,
                    h.exp_cmd_sn.0,
                    h.max_cmd_sn.0,
                    h.data_sn.0,
                    h.buffer_offset,
                    h.residual_count,
                ];
            }
            Self::LogoutResponse(h) => {
                r.b0 = Opcode::LOGOUT_RESPONSE.get();
                r.b1 = F;
                r.b2 = h.response.get();
                r.itt = h.itt.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
                r.w[5] = (u32::from(h.time2wait) << 16) | u32::from(h.time2retain);
            }
            Self::R2t(h) => {
                r.b0 = Opcode::R2T.get();
                r.b1 = F;
                r.b8 = h.lun.0;
                r.itt = h.itt.0;
                r.w = [
                    h.ttt.0,
                    h.stat_sn.0,
                    h.exp_cmd_sn.0,
                    h.max_cmd_sn.0,
                    h.r2t_sn.0,
                    h.buffer_offset,
                    h.desired_data_transfer_length,
                ];
            }
            Self::AsyncMessage(h) => {
                r.b0 = Opcode::ASYNC_MESSAGE.get();
                r.b1 = F;
                r.b8 = h.lun.0;
                r.itt = Itt::RESERVED.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
                r.w[4] = (u32::from(h.async_event.get()) << 24)
                    | (u32::from(h.async_vcode) << 16)
                    | u32::from(h.parameter1);
                r.w[5] = (u32::from(h.parameter2) << 16) | u32::from(h.parameter3);
            }
            Self::Reject(h) => {
                r.b0 = Opcode::REJECT.get();
                r.b1 = F;
                r.b2 = h.reason.get();
                r.itt = Itt::RESERVED.0;
                r.w[1] = h.stat_sn.0;
                r.w[2] = h.exp_cmd_sn.0;
                r.w[3] = h.max_cmd_sn.0;
                r.w[4] = h.data_sn_or_r2t_sn;
            }
            Self::Unknown(u) => {
                if let Some(raw) = RawBhs::parse(&u.raw) {
                    r = raw;
                }
                r.total_ahs_length = 0;
                r.data_segment_length = 0;
            }
        }
        r
    }
}

fn isid_tsih(isid: Isid, tsih: Tsih) -> [u8; 8] {
    let i = isid.0;
    let t = tsih.0.to_be_bytes();
    [i[0], i[1], i[2], i[3], i[4], i[5], t[0], t[1]]
}

macro_rules! from_header {
    ($($ty:ident),*) => {
        $(
            impl From<$ty> for Bhs {
                fn from(h: $ty) -> Self {
                    Self::$ty(h)
                }
            }
        )*
    };
}

from_header!(
    NopOut,
    ScsiCommand,
    TaskManagementRequest,
    LoginRequest,
    TextRequest,
    DataOut,
    LogoutRequest,
    SnackRequest,
    NopIn,
    ScsiResponse,
    TaskManagementResponse,
    LoginResponse,
    TextResponse,
    DataIn,
    LogoutResponse,
    R2t,
    AsyncMessage,
    Reject
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bhs_round_trips_every_byte() {
        let bytes: [u8; BHS_LEN] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let raw = RawBhs::parse(&bytes).unwrap();
        assert_eq!(raw.to_bytes(), bytes);
        assert!(RawBhs::parse(&bytes[..47]).is_none());
    }

    #[test]
    fn validate_refuses_forbidden_flag_combinations() {
        let login = LoginRequest {
            transit: true,
            continue_bit: true,
            nsg: LoginStage::FULL_FEATURE_PHASE,
            ..LoginRequest::default()
        };
        assert!(Bhs::LoginRequest(login).validate().is_err());
        let login = LoginRequest {
            transit: true,
            csg: LoginStage::OPERATIONAL_NEGOTIATION,
            nsg: LoginStage::SECURITY_NEGOTIATION,
            ..LoginRequest::default()
        };
        assert!(Bhs::LoginRequest(login).validate().is_err());
        let text = TextRequest {
            final_bit: true,
            continue_bit: true,
            ..TextRequest::default()
        };
        assert!(Bhs::TextRequest(text).validate().is_err());
        let data_in = DataIn {
            status: Some(ScsiStatus::GOOD),
            final_bit: false,
            ..DataIn::default()
        };
        assert!(Bhs::DataIn(data_in).validate().is_err());
        let resp = ScsiResponse {
            residual_overflow: true,
            residual_underflow: true,
            ..ScsiResponse::default()
        };
        let err = Bhs::ScsiResponse(resp).validate().unwrap_err();
        assert_eq!(err.reject_reason(), Some(RejectReason::INVALID_PDU_FIELD));
        assert!(Bhs::NopOut(NopOut::default()).validate().is_ok());
    }
}
