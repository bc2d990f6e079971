//! CDB decoding helpers and the command table: every operation code this
//! crate implements (SPC-4 §4.2, SBC-3 §5) with its handler, reservation
//! class, Data-Out rule, unit-attention behaviour and the usage bitmap
//! REPORT SUPPORTED OPERATION CODES reports (SPC-4 §6.35). The logical
//! unit, the reservation check and the Data-Out sizing all read it.

use crate::command::Command;
use crate::data::Reader;
use crate::sense::Sense;

/// Operation codes (T10 op-num.txt).
#[allow(missing_docs, reason = "each constant is the T10 command name")]
pub mod op {
    pub const TEST_UNIT_READY: u8 = 0x00;
    pub const REQUEST_SENSE: u8 = 0x03;
    pub const READ_6: u8 = 0x08;
    pub const WRITE_6: u8 = 0x0a;
    pub const INQUIRY: u8 = 0x12;
    pub const MODE_SELECT_6: u8 = 0x15;
    pub const RESERVE_6: u8 = 0x16;
    pub const RELEASE_6: u8 = 0x17;
    pub const MODE_SENSE_6: u8 = 0x1a;
    pub const START_STOP_UNIT: u8 = 0x1b;
    pub const SEND_DIAGNOSTIC: u8 = 0x1d;
    pub const PREVENT_ALLOW_MEDIUM_REMOVAL: u8 = 0x1e;
    pub const READ_CAPACITY_10: u8 = 0x25;
    pub const READ_10: u8 = 0x28;
    pub const WRITE_10: u8 = 0x2a;
    pub const WRITE_AND_VERIFY_10: u8 = 0x2e;
    pub const VERIFY_10: u8 = 0x2f;
    pub const PRE_FETCH_10: u8 = 0x34;
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    pub const READ_DEFECT_DATA_10: u8 = 0x37;
    pub const WRITE_SAME_10: u8 = 0x41;
    pub const SANITIZE: u8 = 0x48;
    pub const UNMAP: u8 = 0x42;
    pub const MODE_SELECT_10: u8 = 0x55;
    pub const RESERVE_10: u8 = 0x56;
    pub const RELEASE_10: u8 = 0x57;
    pub const MODE_SENSE_10: u8 = 0x5a;
    pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
    pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
    pub const READ_16: u8 = 0x88;
    pub const COMPARE_AND_WRITE: u8 = 0x89;
    pub const WRITE_16: u8 = 0x8a;
    pub const ORWRITE_16: u8 = 0x8b;
    pub const WRITE_AND_VERIFY_16: u8 = 0x8e;
    pub const VERIFY_16: u8 = 0x8f;
    pub const PRE_FETCH_16: u8 = 0x90;
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    pub const EXTENDED_COPY: u8 = 0x83;
    pub const RECEIVE_COPY_RESULTS: u8 = 0x84;
    pub const WRITE_SAME_16: u8 = 0x93;
    pub const WRITE_ATOMIC_16: u8 = 0x9c;
    pub const SERVICE_ACTION_IN_16: u8 = 0x9e;
    pub const REPORT_LUNS: u8 = 0xa0;
    pub const MAINTENANCE_IN: u8 = 0xa3;
    pub const MAINTENANCE_OUT: u8 = 0xa4;
    pub const READ_12: u8 = 0xa8;
    pub const WRITE_12: u8 = 0xaa;
    pub const WRITE_AND_VERIFY_12: u8 = 0xae;
    pub const VERIFY_12: u8 = 0xaf;
    pub const READ_DEFECT_DATA_12: u8 = 0xb7;

    /// SERVICE ACTION IN(16) service actions.
    pub const SAI_READ_CAPACITY_16: u16 = 0x10;
    pub const SAI_GET_LBA_STATUS: u16 = 0x12;
    /// MAINTENANCE IN service actions.
    pub const MI_REPORT_TARGET_PORT_GROUPS: u16 = 0x0a;
    pub const MI_REPORT_SUPPORTED_OPERATION_CODES: u16 = 0x0c;
    /// MAINTENANCE OUT service action.
    pub const MO_SET_TARGET_PORT_GROUPS: u16 = 0x0a;
    /// EXTENDED COPY service action (SPC-4 §6.4: LID1).
    pub const XCOPY_LID1: u8 = 0x00;
    /// RECEIVE COPY RESULTS service actions (SPC-4 §6.18).
    pub const RCR_COPY_STATUS: u8 = 0x00;
    pub const RCR_OPERATING_PARAMETERS: u8 = 0x03;
    pub const RCR_FAILED_SEGMENT_DETAILS: u8 = 0x04;
    /// SANITIZE service actions (SBC-4 §5.30).
    pub const SANITIZE_OVERWRITE: u8 = 0x01;
    pub const SANITIZE_BLOCK_ERASE: u8 = 0x02;
    pub const SANITIZE_EXIT_FAILURE_MODE: u8 = 0x1f;
}

/// What the logical unit does for a command: which of its handlers runs
/// it. Every service action of an opcode has the same handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handler {
    TestUnitReady,
    RequestSense,
    Inquiry,
    ReportLuns,
    ModeSense,
    ModeSelect,
    MaintenanceIn,
    MaintenanceOut,
    PreventAllow,
    StartStopUnit,
    Reserve,
    Release,
    PersistentReserveIn,
    PersistentReserveOut,
    ReadCapacity10,
    ServiceActionIn,
    Read,
    Write,
    WriteAndVerify,
    OrWrite,
    Verify,
    SynchronizeCache,
    PreFetch,
    WriteSame,
    Unmap,
    Sanitize,
    CompareAndWrite,
    ExtendedCopy,
    ReceiveCopyResults,
    ReadDefectData,
}

/// How a command is treated under a reservation (SPC-4 tables 53–54,
/// SBC-3 table 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Allowed under every reservation (INQUIRY, REPORT LUNS, PR IN/OUT...).
    Always,
    /// Reads the medium or state.
    Read,
    /// Changes the medium or state.
    Write,
    /// SPC-2 RESERVE.
    Spc2,
}

/// How a command's Data-Out Buffer Size (SAM-5 §5.1), in bytes, follows
/// from its decoded [`Command`] and the logical block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataOut {
    /// No Data-Out.
    None,
    /// TRANSFER LENGTH (or NUMBER OF LOGICAL BLOCKS) logical blocks.
    TransferLength,
    /// VERIFY: BYTCHK 01b sends TRANSFER LENGTH blocks, 11b one block,
    /// otherwise none (SBC-4 §5.33).
    Verify,
    /// One logical block (WRITE SAME(10)).
    OneBlock,
    /// One logical block unless NDOB is set (WRITE SAME(16), SBC-4 §5.50).
    OneBlockUnlessNdob,
    /// Twice NUMBER OF LOGICAL BLOCKS: verify data, then write data
    /// (COMPARE AND WRITE, SBC-4 §5.3).
    CompareAndWrite,
    /// PARAMETER LIST LENGTH bytes.
    ParameterList,
}

impl DataOut {
    /// Bytes of Data-Out `command` transfers with logical blocks of
    /// `block_size` bytes (saturating at `usize::MAX`).
    pub(crate) fn bytes(self, command: &Command, block_size: u32) -> usize {
        let blocks =
            |n: u64| usize::try_from(n.saturating_mul(u64::from(block_size))).unwrap_or(usize::MAX);
        let transfer_length = command
            .block_access()
            .map_or(0, |a| u64::from(a.transfer_length));
        match (self, *command) {
            (Self::None, _) => 0,
            (Self::TransferLength, _) => blocks(transfer_length),
            (Self::Verify, Command::Verify { bytchk: 1, .. }) => blocks(transfer_length),
            (Self::Verify, Command::Verify { bytchk: 3, .. }) => blocks(1),
            (Self::Verify, _) => 0,
            (Self::OneBlock, _) => blocks(1),
            (Self::OneBlockUnlessNdob, Command::WriteSame { ndob: true, .. }) => 0,
            (Self::OneBlockUnlessNdob, _) => blocks(1),
            (Self::CompareAndWrite, _) => blocks(2 * transfer_length),
            (Self::ParameterList, _) => {
                usize::try_from(command.parameter_list_length()).unwrap_or(usize::MAX)
            }
        }
    }
}

/// One command this crate implements: the only place its properties are
/// written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommandSpec {
    pub(crate) opcode: u8,
    /// The service action (CDB byte 1, bits 4–0) for opcodes that have them.
    pub(crate) service_action: Option<u16>,
    /// The logical unit's handler.
    pub(crate) handler: Handler,
    /// Its class under reservations.
    pub(crate) access: Access,
    /// Its Data-Out Buffer Size; anything else it moves is Data-In.
    pub(crate) data_out: DataOut,
    /// False for the three commands a pending unit attention does not stop
    /// (INQUIRY, REPORT LUNS, REQUEST SENSE; SAM-5 §5.14, SPC-4 §6.29).
    pub(crate) unit_attention: bool,
    /// CDB usage data for REPORT SUPPORTED OPERATION CODES: byte 0 is the
    /// opcode, then a mask of the bits a device server looks at (SPC-4
    /// §6.35.3); its length is the CDB length.
    pub(crate) usage: &'static [u8],
}

macro_rules! commands {
    ($($op:expr, $sa:expr, $handler:ident, $access:ident, $data_out:expr, $ua:literal, [$($b:expr),*];)*) => {
        &[$(CommandSpec {
            opcode: $op,
            service_action: $sa,
            handler: Handler::$handler,
            access: Access::$access,
            data_out: $data_out,
            unit_attention: $ua,
            usage: &[$($b),*],
        },)*]
    };
}

/// Every command this crate implements: opcode, service action, handler,
/// reservation class, Data-Out rule, whether a unit attention stops it,
/// and its CDB usage bitmap — in REPORT SUPPORTED OPERATION CODES order.
#[rustfmt::skip]
pub(crate) const COMMANDS: &[CommandSpec] = commands! {
    op::TEST_UNIT_READY, None, TestUnitReady, Always, DataOut::None, true, [0x00, 0, 0, 0, 0, 0x07];
    op::REQUEST_SENSE, None, RequestSense, Always, DataOut::None, false, [0x03, 0x01, 0, 0, 0xff, 0x07];
    op::READ_6, None, Read, Read, DataOut::None, true, [0x08, 0x1f, 0xff, 0xff, 0xff, 0x07];
    op::WRITE_6, None, Write, Write, DataOut::TransferLength, true, [0x0a, 0x1f, 0xff, 0xff, 0xff, 0x07];
    op::INQUIRY, None, Inquiry, Always, DataOut::None, false, [0x12, 0x01, 0xff, 0xff, 0xff, 0x07];
    op::MODE_SELECT_6, None, ModeSelect, Write, DataOut::ParameterList, true, [0x15, 0x11, 0, 0, 0xff, 0x07];
    op::RESERVE_6, None, Reserve, Spc2, DataOut::None, true, [0x16, 0, 0, 0, 0, 0x07];
    op::RELEASE_6, None, Release, Always, DataOut::None, true, [0x17, 0, 0, 0, 0, 0x07];
    op::MODE_SENSE_6, None, ModeSense, Read, DataOut::None, true, [0x1a, 0x08, 0xff, 0xff, 0xff, 0x07];
    op::START_STOP_UNIT, None, StartStopUnit, Write, DataOut::None, true, [0x1b, 0x01, 0, 0x0f, 0xf7, 0x07];
    op::PREVENT_ALLOW_MEDIUM_REMOVAL, None, PreventAllow, Write, DataOut::None, true, [0x1e, 0, 0, 0, 0x03, 0x07];
    op::READ_CAPACITY_10, None, ReadCapacity10, Always, DataOut::None, true, [0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07];
    op::READ_10, None, Read, Read, DataOut::None, true, [0x28, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::WRITE_10, None, Write, Write, DataOut::TransferLength, true, [0x2a, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::WRITE_AND_VERIFY_10, None, WriteAndVerify, Write, DataOut::TransferLength, true, [0x2e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::VERIFY_10, None, Verify, Read, DataOut::Verify, true, [0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::PRE_FETCH_10, None, PreFetch, Read, DataOut::None, true, [0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::SYNCHRONIZE_CACHE_10, None, SynchronizeCache, Write, DataOut::None, true, [0x35, 0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::READ_DEFECT_DATA_10, None, ReadDefectData, Read, DataOut::None, true, [0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::WRITE_SAME_10, None, WriteSame, Write, DataOut::OneBlock, true, [0x41, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x07];
    op::UNMAP, None, Unmap, Write, DataOut::ParameterList, true, [0x42, 0x01, 0, 0, 0, 0, 0x3f, 0xff, 0xff, 0x07];
    op::SANITIZE, Some(op::SANITIZE_OVERWRITE as u16), Sanitize, Write, DataOut::ParameterList, true, [0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::SANITIZE, Some(op::SANITIZE_BLOCK_ERASE as u16), Sanitize, Write, DataOut::ParameterList, true, [0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::SANITIZE, Some(op::SANITIZE_EXIT_FAILURE_MODE as u16), Sanitize, Write, DataOut::ParameterList, true, [0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::MODE_SELECT_10, None, ModeSelect, Write, DataOut::ParameterList, true, [0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::RESERVE_10, None, Reserve, Spc2, DataOut::None, true, [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0x07];
    op::RELEASE_10, None, Release, Always, DataOut::None, true, [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0x07];
    op::MODE_SENSE_10, None, ModeSense, Read, DataOut::None, true, [0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_IN, Some(0x00), PersistentReserveIn, Always, DataOut::None, true, [0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_IN, Some(0x01), PersistentReserveIn, Always, DataOut::None, true, [0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_IN, Some(0x02), PersistentReserveIn, Always, DataOut::None, true, [0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_IN, Some(0x03), PersistentReserveIn, Always, DataOut::None, true, [0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x00), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x01), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x02), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x03), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x04), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x05), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x06), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::PERSISTENT_RESERVE_OUT, Some(0x07), PersistentReserveOut, Always, DataOut::ParameterList, true, [0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07];
    op::EXTENDED_COPY, Some(op::XCOPY_LID1 as u16), ExtendedCopy, Write, DataOut::ParameterList, true, [0x83, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::RECEIVE_COPY_RESULTS, Some(op::RCR_COPY_STATUS as u16), ReceiveCopyResults, Read, DataOut::None, true, [0x84, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::RECEIVE_COPY_RESULTS, Some(op::RCR_OPERATING_PARAMETERS as u16), ReceiveCopyResults, Read, DataOut::None, true, [0x84, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::RECEIVE_COPY_RESULTS, Some(op::RCR_FAILED_SEGMENT_DETAILS as u16), ReceiveCopyResults, Read, DataOut::None, true, [0x84, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::READ_16, None, Read, Read, DataOut::None, true, [0x88, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::COMPARE_AND_WRITE, None, CompareAndWrite, Write, DataOut::CompareAndWrite, true, [0x89, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x3f, 0x07];
    op::WRITE_16, None, Write, Write, DataOut::TransferLength, true, [0x8a, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::ORWRITE_16, None, OrWrite, Write, DataOut::TransferLength, true, [0x8b, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::WRITE_AND_VERIFY_16, None, WriteAndVerify, Write, DataOut::TransferLength, true, [0x8e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::VERIFY_16, None, Verify, Read, DataOut::Verify, true, [0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::PRE_FETCH_16, None, PreFetch, Read, DataOut::None, true, [0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::SYNCHRONIZE_CACHE_16, None, SynchronizeCache, Write, DataOut::None, true, [0x91, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::WRITE_SAME_16, None, WriteSame, Write, DataOut::OneBlockUnlessNdob, true, [0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::WRITE_ATOMIC_16, None, Write, Write, DataOut::TransferLength, true, [0x9c, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff, 0x3f, 0x07];
    op::SERVICE_ACTION_IN_16, Some(op::SAI_READ_CAPACITY_16), ServiceActionIn, Always, DataOut::None, true, [0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x07];
    op::SERVICE_ACTION_IN_16, Some(op::SAI_GET_LBA_STATUS), ServiceActionIn, Read, DataOut::None, true, [0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::REPORT_LUNS, None, ReportLuns, Always, DataOut::None, false, [0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::MAINTENANCE_IN, Some(op::MI_REPORT_TARGET_PORT_GROUPS), MaintenanceIn, Always, DataOut::None, true, [0xa3, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::MAINTENANCE_IN, Some(op::MI_REPORT_SUPPORTED_OPERATION_CODES), MaintenanceIn, Always, DataOut::None, true, [0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::MAINTENANCE_OUT, Some(op::MO_SET_TARGET_PORT_GROUPS), MaintenanceOut, Write, DataOut::ParameterList, true, [0xa4, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
    op::READ_12, None, Read, Read, DataOut::None, true, [0xa8, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::WRITE_12, None, Write, Write, DataOut::TransferLength, true, [0xaa, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::WRITE_AND_VERIFY_12, None, WriteAndVerify, Write, DataOut::TransferLength, true, [0xae, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::VERIFY_12, None, Verify, Read, DataOut::Verify, true, [0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x07];
    op::READ_DEFECT_DATA_12, None, ReadDefectData, Read, DataOut::None, true, [0xb7, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07];
};

/// Row of the first [`COMMANDS`] entry of each opcode, `u8::MAX` for none.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const FIRST_ROW: [u8; 256] = {
    assert!(COMMANDS.len() < u8::MAX as usize);
    let mut index = [u8::MAX; 256];
    let mut i = COMMANDS.len();
    while i > 0 {
        i -= 1;
        index[COMMANDS[i].opcode as usize] = i as u8;
    }
    index
};

/// Every row of `opcode` (one, or one per service action).
fn rows(opcode: u8) -> impl Iterator<Item = &'static CommandSpec> {
    let first = usize::from(
        FIRST_ROW
            .get(usize::from(opcode))
            .copied()
            .unwrap_or(u8::MAX),
    );
    COMMANDS
        .get(first..)
        .unwrap_or(&[])
        .iter()
        .take_while(move |c| c.opcode == opcode)
}

/// The command of a CDB: by opcode, and by service action where the
/// opcode has them. `None` for a command this crate does not implement.
pub(crate) fn lookup(cdb: &[u8]) -> Option<&'static CommandSpec> {
    let opcode = *cdb.first()?;
    let sa = u16::from(Reader(cdb).u8(1) & 0x1f);
    rows(opcode).find(|c| c.service_action.is_none_or(|s| s == sa))
}

/// The handler of an opcode (all its service actions share one).
pub(crate) fn handler(opcode: u8) -> Option<Handler> {
    rows(opcode).next().map(|c| c.handler)
}

/// The reservation class of a CDB. A service action we do not implement
/// takes the class of the opcode's last row (SERVICE ACTION IN(16): read;
/// MAINTENANCE IN, PERSISTENT RESERVE IN/OUT: always allowed); an unknown
/// opcode counts as a write.
pub(crate) fn access(cdb: &[u8]) -> Access {
    lookup(cdb)
        .or_else(|| rows(cdb.first().copied().unwrap_or(0xff)).last())
        .map_or(Access::Write, |c| c.access)
}

/// Bytes of Data-Out the CDB transfers with logical blocks of
/// `block_size` bytes; 0 for a command we do not implement.
pub(crate) fn data_out_len(cdb: &[u8], block_size: u32) -> usize {
    Command::parse(cdb).map_or(0, |command| {
        data_out_buffer_size(cdb.first().copied().unwrap_or(0xff), &command, block_size)
    })
}

/// Bytes of Data-Out `command`, decoded from a CDB with operation code
/// `opcode`, transfers with logical blocks of `block_size` bytes, by the
/// table's Data-Out rule for that opcode.
pub(crate) fn data_out_buffer_size(opcode: u8, command: &Command, block_size: u32) -> usize {
    rows(opcode)
        .next()
        .map_or(0, |spec| spec.data_out.bytes(command, block_size))
}

/// The CDB length of a command by its group code (SPC-4 §4.2.5.1); `None`
/// for the reserved and vendor groups.
#[must_use]
pub const fn cdb_len(opcode: u8) -> Option<usize> {
    match opcode >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        4 => Some(16),
        5 => Some(12),
        _ => None,
    }
}

/// Checks that `cdb` is long enough for its opcode; the sense to return when
/// not (ILLEGAL REQUEST / INVALID FIELD IN CDB, pointing at the opcode).
pub(crate) fn check_len(cdb: &[u8]) -> Result<(), Sense> {
    let opcode = cdb.first().copied().unwrap_or(0xff);
    match cdb_len(opcode) {
        Some(n) if cdb.len() < n => Err(Sense::invalid_cdb_field(0, None)),
        // Vendor-specific groups are reported as unknown opcodes later.
        _ if cdb.is_empty() => Err(Sense::invalid_cdb_field(0, None)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_bitmaps_match_cdb_lengths() {
        for s in COMMANDS {
            assert_eq!(Some(s.usage.len()), cdb_len(s.opcode), "{:#04x}", s.opcode);
            assert_eq!(s.usage[0], s.opcode);
        }
        // Rows of one opcode are adjacent and share a handler.
        for (i, s) in COMMANDS.iter().enumerate() {
            let first = COMMANDS.iter().position(|c| c.opcode == s.opcode).unwrap();
            assert!(COMMANDS[first..=i].iter().all(|c| c.opcode == s.opcode));
            assert_eq!(handler(s.opcode), Some(s.handler));
        }
        assert_eq!(cdb_len(op::READ_10), Some(10));
        assert_eq!(cdb_len(0xe0), None);
    }
}
