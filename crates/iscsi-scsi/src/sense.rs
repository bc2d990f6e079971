//! Status and sense data (SAM-5 §5.3, SPC-4 §4.5): sense keys, additional
//! sense codes with their T10 descriptions, and the fixed (0x70) and
//! descriptor (0x72) sense data formats in both directions.

use core::fmt;

use bytes::Bytes;

/// SCSI status byte (SAM-5 §5.3.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(
    clippy::exhaustive_structs,
    reason = "an open newtype over the status byte"
)]
pub struct Status(pub u8);

impl Status {
    /// GOOD.
    pub const GOOD: Self = Self(0x00);
    /// CHECK CONDITION: sense data follows.
    pub const CHECK_CONDITION: Self = Self(0x02);
    /// CONDITION MET (PRE-FETCH with IMMED=0 when the data fits the cache).
    pub const CONDITION_MET: Self = Self(0x04);
    /// BUSY.
    pub const BUSY: Self = Self(0x08);
    /// RESERVATION CONFLICT.
    pub const RESERVATION_CONFLICT: Self = Self(0x18);
    /// TASK SET FULL.
    pub const TASK_SET_FULL: Self = Self(0x28);
    /// ACA ACTIVE.
    pub const ACA_ACTIVE: Self = Self(0x30);
    /// TASK ABORTED.
    pub const TASK_ABORTED: Self = Self(0x40);

    /// The T10 name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "GOOD",
            0x02 => "CHECK CONDITION",
            0x04 => "CONDITION MET",
            0x08 => "BUSY",
            0x18 => "RESERVATION CONFLICT",
            0x28 => "TASK SET FULL",
            0x30 => "ACA ACTIVE",
            0x40 => "TASK ABORTED",
            _ => "reserved status",
        }
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({:#04x} {})", self.0, self.name())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sense key (SPC-4 §4.5.6, table 48).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(
    clippy::exhaustive_structs,
    reason = "an open newtype over the 4-bit sense key"
)]
pub struct SenseKey(pub u8);

impl SenseKey {
    /// NO SENSE.
    pub const NO_SENSE: Self = Self(0x0);
    /// RECOVERED ERROR.
    pub const RECOVERED_ERROR: Self = Self(0x1);
    /// NOT READY.
    pub const NOT_READY: Self = Self(0x2);
    /// MEDIUM ERROR.
    pub const MEDIUM_ERROR: Self = Self(0x3);
    /// HARDWARE ERROR.
    pub const HARDWARE_ERROR: Self = Self(0x4);
    /// ILLEGAL REQUEST.
    pub const ILLEGAL_REQUEST: Self = Self(0x5);
    /// UNIT ATTENTION.
    pub const UNIT_ATTENTION: Self = Self(0x6);
    /// DATA PROTECT.
    pub const DATA_PROTECT: Self = Self(0x7);
    /// BLANK CHECK.
    pub const BLANK_CHECK: Self = Self(0x8);
    /// VENDOR SPECIFIC.
    pub const VENDOR_SPECIFIC: Self = Self(0x9);
    /// COPY ABORTED.
    pub const COPY_ABORTED: Self = Self(0xa);
    /// ABORTED COMMAND.
    pub const ABORTED_COMMAND: Self = Self(0xb);
    /// VOLUME OVERFLOW.
    pub const VOLUME_OVERFLOW: Self = Self(0xd);
    /// MISCOMPARE.
    pub const MISCOMPARE: Self = Self(0xe);
    /// COMPLETED.
    pub const COMPLETED: Self = Self(0xf);

    /// The T10 name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x0 => "NO SENSE",
            0x1 => "RECOVERED ERROR",
            0x2 => "NOT READY",
            0x3 => "MEDIUM ERROR",
            0x4 => "HARDWARE ERROR",
            0x5 => "ILLEGAL REQUEST",
            0x6 => "UNIT ATTENTION",
            0x7 => "DATA PROTECT",
            0x8 => "BLANK CHECK",
            0x9 => "VENDOR SPECIFIC",
            0xa => "COPY ABORTED",
            0xb => "ABORTED COMMAND",
            0xd => "VOLUME OVERFLOW",
            0xe => "MISCOMPARE",
            0xf => "COMPLETED",
            _ => "RESERVED",
        }
    }
}

impl fmt::Debug for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SenseKey({:#x} {})", self.0, self.name())
    }
}

impl fmt::Display for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Additional sense code and qualifier as one `ASC << 8 | ASCQ` value
/// (SPC-4 §4.5.6, table 49 / T10 asc-num.txt).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(clippy::exhaustive_structs, reason = "an open newtype over ASC/ASCQ")]
pub struct Asc(pub u16);

macro_rules! asc_table {
    ($( $(#[$m:meta])* $name:ident = $code:literal => $text:literal, )*) => {
        impl Asc {
            $( $(#[$m])* pub const $name: Self = Self($code); )*
        }
        /// The descriptions of the codes this table names.
        const ASC_TEXT: &[(u16, &str)] = &[ $( ($code, $text), )* ];
    };
}

asc_table! {
    /// 00/00
    NO_ADDITIONAL_SENSE = 0x0000 => "NO ADDITIONAL SENSE INFORMATION",
    /// 00/16
    OPERATION_IN_PROGRESS = 0x0016 => "OPERATION IN PROGRESS",
    /// 04/00
    NOT_READY_CAUSE_NOT_REPORTABLE = 0x0400 => "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE",
    /// 04/02
    NOT_READY_INITIALIZING_COMMAND_REQUIRED = 0x0402 => "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED",
    /// 04/0A
    NOT_READY_ASYMMETRIC_ACCESS_STATE_TRANSITION = 0x040a => "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION",
    /// 04/0B
    NOT_READY_TARGET_PORT_STANDBY = 0x040b => "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE",
    /// 04/0C
    NOT_READY_TARGET_PORT_UNAVAILABLE = 0x040c => "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE",
    /// 04/1B
    NOT_READY_SANITIZE_IN_PROGRESS = 0x041b => "LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS",
    /// 0D/02
    COPY_TARGET_DEVICE_NOT_REACHABLE = 0x0d02 => "COPY TARGET DEVICE NOT REACHABLE",
    /// 0C/00
    WRITE_ERROR = 0x0c00 => "WRITE ERROR",
    /// 10/01
    GUARD_CHECK_FAILED = 0x1001 => "LOGICAL BLOCK GUARD CHECK FAILED",
    /// 11/00
    UNRECOVERED_READ_ERROR = 0x1100 => "UNRECOVERED READ ERROR",
    /// 1A/00
    PARAMETER_LIST_LENGTH_ERROR = 0x1a00 => "PARAMETER LIST LENGTH ERROR",
    /// 1D/00
    MISCOMPARE_DURING_VERIFY = 0x1d00 => "MISCOMPARE DURING VERIFY OPERATION",
    /// 20/00
    INVALID_COMMAND_OPERATION_CODE = 0x2000 => "INVALID COMMAND OPERATION CODE",
    /// 21/00
    LBA_OUT_OF_RANGE = 0x2100 => "LOGICAL BLOCK ADDRESS OUT OF RANGE",
    /// 24/00
    INVALID_FIELD_IN_CDB = 0x2400 => "INVALID FIELD IN CDB",
    /// 25/00
    LOGICAL_UNIT_NOT_SUPPORTED = 0x2500 => "LOGICAL UNIT NOT SUPPORTED",
    /// 26/00
    INVALID_FIELD_IN_PARAMETER_LIST = 0x2600 => "INVALID FIELD IN PARAMETER LIST",
    /// 26/01
    PARAMETER_NOT_SUPPORTED = 0x2601 => "PARAMETER NOT SUPPORTED",
    /// 26/02
    PARAMETER_VALUE_INVALID = 0x2602 => "PARAMETER VALUE INVALID",
    /// 26/04
    INVALID_RELEASE_OF_PERSISTENT_RESERVATION = 0x2604 => "INVALID RELEASE OF PERSISTENT RESERVATION",
    /// 26/06
    TOO_MANY_TARGET_DESCRIPTORS = 0x2606 => "TOO MANY TARGET DESCRIPTORS",
    /// 26/07
    UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE = 0x2607 => "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE",
    /// 26/08
    TOO_MANY_SEGMENT_DESCRIPTORS = 0x2608 => "TOO MANY SEGMENT DESCRIPTORS",
    /// 26/09
    UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE = 0x2609 => "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE",
    /// 27/00
    WRITE_PROTECTED = 0x2700 => "WRITE PROTECTED",
    /// 27/01
    HARDWARE_WRITE_PROTECTED = 0x2701 => "HARDWARE WRITE PROTECTED",
    /// 27/02
    SOFTWARE_WRITE_PROTECTED = 0x2702 => "LOGICAL UNIT SOFTWARE WRITE PROTECTED",
    /// 28/00
    NOT_READY_TO_READY_CHANGE = 0x2800 => "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED",
    /// 29/00
    POWER_ON_RESET = 0x2900 => "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED",
    /// 29/01
    POWER_ON_OCCURRED = 0x2901 => "POWER ON OCCURRED",
    /// 29/02
    SCSI_BUS_RESET_OCCURRED = 0x2902 => "SCSI BUS RESET OCCURRED",
    /// 29/03
    BUS_DEVICE_RESET_OCCURRED = 0x2903 => "BUS DEVICE RESET FUNCTION OCCURRED",
    /// 29/07
    I_T_NEXUS_LOSS_OCCURRED = 0x2907 => "I_T NEXUS LOSS OCCURRED",
    /// 2A/01
    MODE_PARAMETERS_CHANGED = 0x2a01 => "MODE PARAMETERS CHANGED",
    /// 2A/03
    RESERVATIONS_PREEMPTED = 0x2a03 => "RESERVATIONS PREEMPTED",
    /// 2A/04
    RESERVATIONS_RELEASED = 0x2a04 => "RESERVATIONS RELEASED",
    /// 2A/05
    REGISTRATIONS_PREEMPTED = 0x2a05 => "REGISTRATIONS PREEMPTED",
    /// 2A/06
    ASYMMETRIC_ACCESS_STATE_CHANGED = 0x2a06 => "ASYMMETRIC ACCESS STATE CHANGED",
    /// 2A/09
    CAPACITY_DATA_HAS_CHANGED = 0x2a09 => "CAPACITY DATA HAS CHANGED",
    /// 2C/00
    COMMAND_SEQUENCE_ERROR = 0x2c00 => "COMMAND SEQUENCE ERROR",
    /// 2F/00
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR = 0x2f00 => "COMMANDS CLEARED BY ANOTHER INITIATOR",
    /// 31/00
    MEDIUM_FORMAT_CORRUPTED = 0x3100 => "MEDIUM FORMAT CORRUPTED",
    /// 31/03
    SANITIZE_COMMAND_FAILED = 0x3103 => "SANITIZE COMMAND FAILED",
    /// 3A/00
    MEDIUM_NOT_PRESENT = 0x3a00 => "MEDIUM NOT PRESENT",
    /// 3F/0E
    REPORTED_LUNS_DATA_HAS_CHANGED = 0x3f0e => "REPORTED LUNS DATA HAS CHANGED",
    /// 44/00
    INTERNAL_TARGET_FAILURE = 0x4400 => "INTERNAL TARGET FAILURE",
    /// 47/00
    SCSI_PARITY_ERROR = 0x4700 => "SCSI PARITY ERROR",
    /// 47/05
    PROTOCOL_SERVICE_CRC_ERROR = 0x4705 => "PROTOCOL SERVICE CRC ERROR",
    /// 49/00
    INVALID_MESSAGE_ERROR = 0x4900 => "INVALID MESSAGE ERROR",
    /// 4B/00
    DATA_PHASE_ERROR = 0x4b00 => "DATA PHASE ERROR",
    /// 4B/04
    NAK_RECEIVED = 0x4b04 => "NAK RECEIVED",
    /// 53/02
    MEDIUM_REMOVAL_PREVENTED = 0x5302 => "MEDIUM REMOVAL PREVENTED",
    /// 55/03
    INSUFFICIENT_RESOURCES = 0x5503 => "INSUFFICIENT RESOURCES",
    /// 55/04
    INSUFFICIENT_REGISTRATION_RESOURCES = 0x5504 => "INSUFFICIENT REGISTRATION RESOURCES",
    /// 5D/00
    FAILURE_PREDICTION_THRESHOLD_EXCEEDED = 0x5d00 => "FAILURE PREDICTION THRESHOLD EXCEEDED",
    /// 3E/03
    LOGICAL_UNIT_FAILED_SELF_TEST = 0x3e03 => "LOGICAL UNIT FAILED SELF-TEST",
}

impl Asc {
    /// A code from its ASC and ASCQ bytes.
    #[must_use]
    pub const fn new(asc: u8, ascq: u8) -> Self {
        Self(((asc as u16) << 8) | ascq as u16)
    }

    /// The ASC byte.
    #[must_use]
    pub const fn asc(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// The ASCQ byte.
    #[must_use]
    pub const fn ascq(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// The T10 description, when the table knows the code (the common
    /// ASC/ASCQ assignments of T10's asc-num.txt).
    #[must_use]
    pub fn description(self) -> Option<&'static str> {
        ASC_TEXT
            .iter()
            .find(|(c, _)| *c == self.0)
            .map(|(_, t)| *t)
            .or_else(|| crate::asc_text::describe(self.0))
    }
}

impl fmt::Debug for Asc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Asc({:02x}/{:02x})", self.asc(), self.ascq())
    }
}

impl fmt::Display for Asc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(text) => write!(f, "{text} ({:02x}/{:02x})", self.asc(), self.ascq()),
            None => write!(f, "ASC/ASCQ {:02x}/{:02x}", self.asc(), self.ascq()),
        }
    }
}

/// Which field of the CDB or parameter list is wrong (SPC-4 §4.5.2.4.2,
/// the sense-key-specific bytes of ILLEGAL REQUEST).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[allow(clippy::exhaustive_structs, reason = "the SPC-4 field pointer layout")]
pub struct FieldPointer {
    /// True for a CDB field (C/D bit), false for the parameter list.
    pub in_cdb: bool,
    /// Byte number.
    pub byte: u16,
    /// Bit number (BPV), when one bit is meant.
    pub bit: Option<u8>,
}

/// Which sense data format a logical unit returns: the D_SENSE bit of the
/// Control mode page (SPC-4 §7.5.8).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum SenseFormat {
    /// Fixed format, response code 0x70.
    #[default]
    Fixed,
    /// Descriptor format, response code 0x72.
    Descriptor,
}

/// Sense data: what went wrong with a command.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Sense {
    /// Sense key.
    pub key: SenseKey,
    /// Additional sense code and qualifier.
    pub asc: Asc,
    /// The INFORMATION field (e.g. the first failing LBA or a MISCOMPARE offset).
    pub information: Option<u64>,
    /// The field pointer of ILLEGAL REQUEST.
    pub field: Option<FieldPointer>,
    /// True for deferred errors (response codes 0x71/0x73).
    pub deferred: bool,
}

impl Sense {
    /// Sense with a key and code.
    #[must_use]
    pub const fn new(key: SenseKey, asc: Asc) -> Self {
        Self {
            key,
            asc,
            information: None,
            field: None,
            deferred: false,
        }
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at `byte` (and `bit`).
    #[must_use]
    pub const fn invalid_cdb_field(byte: u16, bit: Option<u8>) -> Self {
        Self {
            field: Some(FieldPointer {
                in_cdb: true,
                byte,
                bit,
            }),
            ..Self::new(SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB)
        }
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST pointing at `byte`.
    #[must_use]
    pub const fn invalid_parameter_field(byte: u16, bit: Option<u8>) -> Self {
        Self {
            field: Some(FieldPointer {
                in_cdb: false,
                byte,
                bit,
            }),
            ..Self::new(
                SenseKey::ILLEGAL_REQUEST,
                Asc::INVALID_FIELD_IN_PARAMETER_LIST,
            )
        }
    }

    /// This sense with the INFORMATION field set.
    #[must_use]
    pub const fn with_information(mut self, information: u64) -> Self {
        self.information = Some(information);
        self
    }

    /// Encodes the sense data in `format` (SPC-4 §4.5.2 descriptor format,
    /// §4.5.3 fixed format).
    #[must_use]
    pub fn encode(&self, format: SenseFormat) -> Bytes {
        let sks = self.field.map(|f| {
            let mut b0 = 0x80 | if f.in_cdb { 0x40 } else { 0 };
            if let Some(bit) = f.bit {
                b0 |= 0x08 | (bit & 0x07);
            }
            let [hi, lo] = f.byte.to_be_bytes();
            [b0, hi, lo]
        });
        match format {
            SenseFormat::Fixed => {
                let mut out = [0u8; 18];
                out[0] = if self.deferred { 0x71 } else { 0x70 };
                out[2] = self.key.0 & 0x0f;
                if let Some(info) = self.information {
                    out[0] |= 0x80;
                    // Fixed format holds 32 bits of INFORMATION.
                    out[3..7].copy_from_slice(&(info as u32).to_be_bytes());
                }
                out[7] = 10;
                out[12] = self.asc.asc();
                out[13] = self.asc.ascq();
                if let Some(sks) = sks {
                    out[15..18].copy_from_slice(&sks);
                }
                Bytes::copy_from_slice(&out)
            }
            SenseFormat::Descriptor => {
                let mut out = vec![
                    if self.deferred { 0x73 } else { 0x72 },
                    self.key.0 & 0x0f,
                    self.asc.asc(),
                    self.asc.ascq(),
                    0,
                    0,
                    0,
                    0,
                ];
                if let Some(info) = self.information {
                    out.extend_from_slice(&[0x00, 0x0a, 0x80, 0x00]);
                    out.extend_from_slice(&info.to_be_bytes());
                }
                if let Some(sks) = sks {
                    out.extend_from_slice(&[0x02, 0x06, 0x00, 0x00]);
                    out.extend_from_slice(&sks);
                    out.push(0);
                }
                let additional = u8::try_from(out.len() - 8).unwrap_or(u8::MAX);
                if let Some(len) = out.get_mut(7) {
                    *len = additional;
                }
                Bytes::from(out)
            }
        }
    }

    /// Parses sense data in either format.
    ///
    /// # Errors
    /// [`SenseError`] for short data or an unknown response code.
    pub fn parse(data: &[u8]) -> Result<Self, SenseError> {
        let code = *data.first().ok_or(SenseError::Empty)? & 0x7f;
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        match code {
            0x70 | 0x71 => {
                if data.len() < 8 {
                    return Err(SenseError::Short(data.len()));
                }
                let valid = byte(0) & 0x80 != 0;
                let information = valid
                    .then(|| u64::from(u32::from_be_bytes([byte(3), byte(4), byte(5), byte(6)])));
                let field =
                    (byte(15) & 0x80 != 0).then(|| field_pointer([byte(15), byte(16), byte(17)]));
                Ok(Self {
                    key: SenseKey(byte(2) & 0x0f),
                    asc: Asc::new(byte(12), byte(13)),
                    information,
                    field: if byte(2) & 0x0f == SenseKey::ILLEGAL_REQUEST.0 {
                        field
                    } else {
                        None
                    },
                    deferred: code == 0x71,
                })
            }
            0x72 | 0x73 => {
                if data.len() < 8 {
                    return Err(SenseError::Short(data.len()));
                }
                let mut sense = Self {
                    key: SenseKey(byte(1) & 0x0f),
                    asc: Asc::new(byte(2), byte(3)),
                    information: None,
                    field: None,
                    deferred: code == 0x73,
                };
                let end = (8 + usize::from(byte(7))).min(data.len());
                let mut at = 8;
                while at + 2 <= end {
                    let kind = byte(at);
                    let len = usize::from(byte(at + 1));
                    match kind {
                        0x00 if len >= 0x0a && byte(at + 2) & 0x80 != 0 => {
                            let mut info = [0u8; 8];
                            for (i, b) in info.iter_mut().enumerate() {
                                *b = byte(at + 4 + i);
                            }
                            sense.information = Some(u64::from_be_bytes(info));
                        }
                        0x02 if len >= 6 && byte(at + 4) & 0x80 != 0 => {
                            sense.field =
                                Some(field_pointer([byte(at + 4), byte(at + 5), byte(at + 6)]));
                        }
                        _ => {}
                    }
                    at += 2 + len;
                }
                Ok(sense)
            }
            other => Err(SenseError::ResponseCode(other)),
        }
    }
}

fn field_pointer(sks: [u8; 3]) -> FieldPointer {
    FieldPointer {
        in_cdb: sks[0] & 0x40 != 0,
        byte: u16::from_be_bytes([sks[1], sks[2]]),
        bit: (sks[0] & 0x08 != 0).then_some(sks[0] & 0x07),
    }
}

impl fmt::Debug for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sense({self})")
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.asc)?;
        if let Some(info) = self.information {
            write!(f, ", information {info:#x}")?;
        }
        if let Some(field) = self.field {
            let place = if field.in_cdb {
                "CDB"
            } else {
                "parameter list"
            };
            write!(f, ", {place} byte {}", field.byte)?;
            if let Some(bit) = field.bit {
                write!(f, " bit {bit}")?;
            }
        }
        Ok(())
    }
}

/// Sense data that cannot be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenseError {
    /// No bytes.
    #[error("empty sense data")]
    Empty,
    /// Fewer than 8 bytes.
    #[error("sense data of {0} bytes is too short")]
    Short(usize),
    /// A response code other than 0x70–0x73.
    #[error("unknown sense response code {0:#04x}")]
    ResponseCode(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_descriptor_round_trip() {
        let sense = Sense::invalid_cdb_field(2, Some(1)).with_information(0x1234);
        for format in [SenseFormat::Fixed, SenseFormat::Descriptor] {
            let bytes = sense.encode(format);
            assert_eq!(Sense::parse(&bytes), Ok(sense), "{format:?}");
        }
        let fixed = sense.encode(SenseFormat::Fixed);
        assert_eq!(fixed.len(), 18);
        assert_eq!(fixed[0], 0xf0);
        assert_eq!(fixed[2], 0x05);
        assert_eq!((fixed[12], fixed[13]), (0x24, 0x00));
        assert_eq!(&fixed[15..18], &[0xc9, 0x00, 0x02]);
        let desc = sense.encode(SenseFormat::Descriptor);
        assert_eq!(desc[0], 0x72);
        assert_eq!(usize::from(desc[7]) + 8, desc.len());
    }

    #[test]
    fn display_names_key_and_code() {
        let s = Sense::new(SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
        assert_eq!(
            s.to_string(),
            "ILLEGAL REQUEST: LOGICAL BLOCK ADDRESS OUT OF RANGE (21/00)"
        );
        assert_eq!(Asc::new(0x99, 0x01).to_string(), "ASC/ASCQ 99/01");
        assert_eq!(
            Status::RESERVATION_CONFLICT.to_string(),
            "RESERVATION CONFLICT"
        );
    }

    #[test]
    fn parse_refuses_garbage() {
        assert_eq!(Sense::parse(&[]), Err(SenseError::Empty));
        assert_eq!(Sense::parse(&[0x70, 0]), Err(SenseError::Short(2)));
        assert_eq!(Sense::parse(&[0x01; 18]), Err(SenseError::ResponseCode(1)));
        // Truncated descriptors do not panic.
        assert!(Sense::parse(&[0x72, 5, 0x24, 0, 0, 0, 0, 200, 0, 10]).is_ok());
    }
}
