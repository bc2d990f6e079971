//! The header of each PDU of RFC 7143 §11 as a typed struct: one per
//! opcode, fields named as the RFC names them.

use super::*;

/// NOP-Out (RFC 7143 §11.18): a ping from the initiator, or the answer to a
/// NOP-In that carried a Target Transfer Tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct NopOut {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// LUN (with a TTT, the LUN of the NOP-In being answered).
    pub lun: Lun,
    /// Initiator Task Tag; 0xffffffff when answering a NOP-In.
    pub itt: Itt,
    /// Target Transfer Tag; 0xffffffff for an initiator ping.
    pub ttt: Ttt,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
}

/// SCSI Command (RFC 7143 §11.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct ScsiCommand {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// F bit: no unsolicited Data-Out PDUs follow.
    pub final_bit: bool,
    /// R bit: data is expected from the target (Data-In).
    pub read: bool,
    /// W bit: data is expected from the initiator (Data-Out).
    pub write: bool,
    /// ATTR: task attribute.
    pub attr: TaskAttribute,
    /// LUN.
    pub lun: Lun,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// Expected Data Transfer Length, bytes.
    pub expected_data_transfer_length: u32,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
    /// SCSI Command Descriptor Block (first 16 bytes; longer CDBs continue in
    /// an Extended CDB AHS).
    pub cdb: [u8; 16],
}

/// SCSI Response (RFC 7143 §11.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct ScsiResponse {
    /// o bit: Bidirectional Read Residual Overflow.
    pub bidi_read_residual_overflow: bool,
    /// u bit: Bidirectional Read Residual Underflow.
    pub bidi_read_residual_underflow: bool,
    /// O bit: Residual Overflow.
    pub residual_overflow: bool,
    /// U bit: Residual Underflow.
    pub residual_underflow: bool,
    /// Response: iSCSI service response.
    pub response: ScsiResponseCode,
    /// Status: SCSI status.
    pub status: ScsiStatus,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// SNACK Tag.
    pub snack_tag: u32,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// ExpDataSN: number of Data-In (and R2T) PDUs sent for the task.
    pub exp_data_sn: DataSn,
    /// Bidirectional Read Residual Count, bytes.
    pub bidi_read_residual_count: u32,
    /// Residual Count, bytes.
    pub residual_count: u32,
}

/// SCSI Task Management Function Request (RFC 7143 §11.5).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct TaskManagementRequest {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// Function.
    pub function: TmfFunction,
    /// LUN.
    pub lun: Lun,
    /// Initiator Task Tag of this request.
    pub itt: Itt,
    /// Referenced Task Tag (ABORT TASK), else 0xffffffff.
    pub referenced_task_tag: Itt,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
    /// RefCmdSN: CmdSN of the referenced task.
    pub ref_cmd_sn: CmdSn,
    /// ExpDataSN (task reassignment).
    pub exp_data_sn: DataSn,
}

/// SCSI Task Management Function Response (RFC 7143 §11.6).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct TaskManagementResponse {
    /// Response.
    pub response: TmfResponseCode,
    /// Initiator Task Tag of the request.
    pub itt: Itt,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
}

/// SCSI Data-Out (RFC 7143 §11.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct DataOut {
    /// F bit: last PDU of the sequence (unsolicited burst or R2T).
    pub final_bit: bool,
    /// LUN (with a TTT: the LUN of the R2T; targets must not rely on it).
    pub lun: Lun,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// Target Transfer Tag from the R2T; 0xffffffff for unsolicited data.
    pub ttt: Ttt,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
    /// DataSN within the sequence.
    pub data_sn: DataSn,
    /// Buffer Offset, bytes.
    pub buffer_offset: u32,
}

/// SCSI Data-In (RFC 7143 §11.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct DataIn {
    /// F bit: last PDU of the sequence.
    pub final_bit: bool,
    /// A bit: the target asks for a DataACK SNACK (ERL > 0).
    pub acknowledge: bool,
    /// O bit: Residual Overflow (with S).
    pub residual_overflow: bool,
    /// U bit: Residual Underflow (with S).
    pub residual_underflow: bool,
    /// S bit and Status: `Some` when the PDU carries the task's status
    /// (phase collapse; RFC 7143 §11.7.3).
    pub status: Option<ScsiStatus>,
    /// LUN (with the A bit) or reserved.
    pub lun: Lun,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// Target Transfer Tag (with the A bit) or 0xffffffff.
    pub ttt: Ttt,
    /// StatSN (valid with the S bit).
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// DataSN.
    pub data_sn: DataSn,
    /// Buffer Offset, bytes.
    pub buffer_offset: u32,
    /// Residual Count, bytes (with the S bit).
    pub residual_count: u32,
}

/// Ready To Transfer (RFC 7143 §11.8).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct R2t {
    /// LUN.
    pub lun: Lun,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// Target Transfer Tag the Data-Out PDUs must echo.
    pub ttt: Ttt,
    /// StatSN (the next StatSN, not advanced by the R2T).
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// R2TSN.
    pub r2t_sn: R2tSn,
    /// Buffer Offset, bytes.
    pub buffer_offset: u32,
    /// Desired Data Transfer Length, bytes.
    pub desired_data_transfer_length: u32,
}

/// Asynchronous Message (RFC 7143 §11.9). The ITT is always 0xffffffff.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct AsyncMessage {
    /// LUN (SCSI events) or reserved.
    pub lun: Lun,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// AsyncEvent.
    pub async_event: AsyncEvent,
    /// AsyncVCode (vendor code).
    pub async_vcode: u8,
    /// Parameter1 (CID for event 2, ...).
    pub parameter1: u16,
    /// Parameter2 (Time2Wait, seconds).
    pub parameter2: u16,
    /// Parameter3 (Time2Retain or logout deadline, seconds).
    pub parameter3: u16,
}

/// Text Request (RFC 7143 §11.10).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct TextRequest {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// F bit: last PDU of the request.
    pub final_bit: bool,
    /// C bit: the text continues in the next PDU.
    pub continue_bit: bool,
    /// LUN or reserved.
    pub lun: Lun,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// Target Transfer Tag: 0xffffffff to start, else the target's tag.
    pub ttt: Ttt,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
}

/// Text Response (RFC 7143 §11.11).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct TextResponse {
    /// F bit: last PDU of the response.
    pub final_bit: bool,
    /// C bit: the text continues in the next PDU.
    pub continue_bit: bool,
    /// LUN or reserved.
    pub lun: Lun,
    /// Initiator Task Tag of the request.
    pub itt: Itt,
    /// Target Transfer Tag: set when more is to come, else 0xffffffff.
    pub ttt: Ttt,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
}

/// Login Request (RFC 7143 §11.12). The I bit is always 1 on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct LoginRequest {
    /// T bit: the initiator is ready to move to NSG.
    pub transit: bool,
    /// C bit: the text continues in the next PDU.
    pub continue_bit: bool,
    /// CSG: current stage.
    pub csg: LoginStage,
    /// NSG: next stage (meaningful with T).
    pub nsg: LoginStage,
    /// Version-max.
    pub version_max: u8,
    /// Version-min.
    pub version_min: u8,
    /// ISID.
    pub isid: Isid,
    /// TSIH: 0 for a new session.
    pub tsih: Tsih,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// CID.
    pub cid: Cid,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
}

/// Login Response (RFC 7143 §11.13).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct LoginResponse {
    /// T bit: the target agrees to move to NSG.
    pub transit: bool,
    /// C bit: the text continues in the next PDU.
    pub continue_bit: bool,
    /// CSG: current stage.
    pub csg: LoginStage,
    /// NSG: next stage (meaningful with T).
    pub nsg: LoginStage,
    /// Version-max.
    pub version_max: u8,
    /// Version-active.
    pub version_active: u8,
    /// ISID (echoed).
    pub isid: Isid,
    /// TSIH (assigned by the target in the final response).
    pub tsih: Tsih,
    /// Initiator Task Tag (echoed).
    pub itt: Itt,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// Status-Class and Status-Detail.
    pub status: LoginStatus,
}

/// Logout Request (RFC 7143 §11.14).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct LogoutRequest {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// Reason Code.
    pub reason: LogoutReason,
    /// Initiator Task Tag.
    pub itt: Itt,
    /// CID (for closing or recovering a connection).
    pub cid: Cid,
    /// CmdSN.
    pub cmd_sn: CmdSn,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
}

/// Logout Response (RFC 7143 §11.15).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct LogoutResponse {
    /// Response.
    pub response: LogoutResponseCode,
    /// Initiator Task Tag of the request.
    pub itt: Itt,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// Time2Wait, seconds.
    pub time2wait: u16,
    /// Time2Retain, seconds.
    pub time2retain: u16,
}

/// SNACK Request (RFC 7143 §11.16).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct SnackRequest {
    /// Type.
    pub snack_type: SnackType,
    /// LUN or reserved.
    pub lun: Lun,
    /// Initiator Task Tag, or 0xffffffff (status SNACK).
    pub itt: Itt,
    /// Target Transfer Tag (DataACK) or SNACK Tag (R-Data), else 0xffffffff.
    pub ttt_or_snack_tag: u32,
    /// ExpStatSN.
    pub exp_stat_sn: StatSn,
    /// BegRun: first DataSN/R2TSN/StatSN requested.
    pub beg_run: u32,
    /// RunLength: how many (0 = all from BegRun).
    pub run_length: u32,
}

/// Reject (RFC 7143 §11.17). The ITT is always 0xffffffff; the data
/// segment carries the header of the rejected PDU.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Reject {
    /// Reason.
    pub reason: RejectReason,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
    /// DataSN/R2TSN (for a rejected Data/R2T SNACK), else 0.
    pub data_sn_or_r2t_sn: u32,
}

/// NOP-In (RFC 7143 §11.19): the answer to a NOP-Out, or a target ping.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct NopIn {
    /// LUN (with a TTT) or reserved.
    pub lun: Lun,
    /// Initiator Task Tag of the NOP-Out answered, or 0xffffffff.
    pub itt: Itt,
    /// Target Transfer Tag when the target asks for an answer, else 0xffffffff.
    pub ttt: Ttt,
    /// StatSN.
    pub stat_sn: StatSn,
    /// ExpCmdSN.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN.
    pub max_cmd_sn: CmdSn,
}

/// A BHS with an opcode RFC 7143 does not define: kept whole so that the
/// target can Reject it (Command not supported) with the header attached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnknownBhs {
    /// The 48 bytes, with TotalAHSLength and DataSegmentLength (bytes 4–7)
    /// zeroed: the PDU's AHS and data segment carry those lengths.
    pub raw: [u8; BHS_LEN],
}

impl UnknownBhs {
    /// The opcode in byte 0.
    #[must_use]
    pub const fn opcode(&self) -> Opcode {
        Opcode::from_wire(self.raw[0])
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for UnknownBhs {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        const UNUSED: [u8; 8] = [0x07, 0x0f, 0x11, 0x1c, 0x1e, 0x27, 0x30, 0x3e];
        let mut raw: [u8; BHS_LEN] = u.arbitrary()?;
        let opcode = *u.choose(&UNUSED)?;
        raw[0] = (raw[0] & 0xc0) | opcode;
        raw[4..8].fill(0);
        Ok(Self { raw })
    }
}
