//! Wire codes as open newtypes: every value the field can carry is
//! representable, the ones RFC 7143 names have constants, and `Debug` prints
//! the RFC name (or the hex value of a code the RFC does not define).

use core::fmt;

/// Declares an open newtype over an integer wire field.
///
/// `mask` is the width of the field on the wire: `from_wire` keeps only those
/// bits, so every value of the type encodes and parses back to itself.
macro_rules! wire_code {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($ty:ty, mask = $mask:expr) {
            $(
                $(#[$cmeta:meta])*
                $const:ident = $val:literal => $text:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name($ty);

        impl $name {
            $(
                $(#[$cmeta])*
                pub const $const: Self = Self($val);
            )*

            /// Bits of the wire field this code occupies.
            pub const MASK: $ty = $mask;

            /// The code carried by a wire field; bits outside the field are dropped.
            #[must_use]
            pub const fn from_wire(value: $ty) -> Self {
                Self(value & $mask)
            }

            /// The value as it goes on the wire.
            #[must_use]
            pub const fn get(self) -> $ty {
                self.0
            }

            /// The RFC name of this code, or `None` when the RFC does not define it.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{}({:#x} {})", stringify!($name), self.0, name),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{name} ({:#04x})", self.0),
                    None => write!(f, "unassigned ({:#04x})", self.0),
                }
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl<'a> arbitrary::Arbitrary<'a> for $name {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                Ok(Self::from_wire(<$ty as arbitrary::Arbitrary<'a>>::arbitrary(u)?))
            }
        }
    };
}

wire_code! {
    /// The 6-bit opcode in byte 0 of every BHS (RFC 7143 §11.2.1.2).
    pub struct Opcode(u8, mask = 0x3f) {
        /// NOP-Out (§11.18).
        NOP_OUT = 0x00 => "NOP-Out",
        /// SCSI Command (§11.3).
        SCSI_COMMAND = 0x01 => "SCSI Command",
        /// SCSI Task Management Function Request (§11.5).
        TASK_MANAGEMENT_REQUEST = 0x02 => "Task Management Function Request",
        /// Login Request (§11.12).
        LOGIN_REQUEST = 0x03 => "Login Request",
        /// Text Request (§11.10).
        TEXT_REQUEST = 0x04 => "Text Request",
        /// SCSI Data-Out (§11.7).
        SCSI_DATA_OUT = 0x05 => "SCSI Data-Out",
        /// Logout Request (§11.14).
        LOGOUT_REQUEST = 0x06 => "Logout Request",
        /// SNACK Request (§11.16).
        SNACK_REQUEST = 0x10 => "SNACK Request",
        /// NOP-In (§11.19).
        NOP_IN = 0x20 => "NOP-In",
        /// SCSI Response (§11.4).
        SCSI_RESPONSE = 0x21 => "SCSI Response",
        /// SCSI Task Management Function Response (§11.6).
        TASK_MANAGEMENT_RESPONSE = 0x22 => "Task Management Function Response",
        /// Login Response (§11.13).
        LOGIN_RESPONSE = 0x23 => "Login Response",
        /// Text Response (§11.11).
        TEXT_RESPONSE = 0x24 => "Text Response",
        /// SCSI Data-In (§11.7).
        SCSI_DATA_IN = 0x25 => "SCSI Data-In",
        /// Logout Response (§11.15).
        LOGOUT_RESPONSE = 0x26 => "Logout Response",
        /// Ready To Transfer (§11.8).
        R2T = 0x31 => "R2T",
        /// Asynchronous Message (§11.9).
        ASYNC_MESSAGE = 0x32 => "Asynchronous Message",
        /// Reject (§11.17).
        REJECT = 0x3f => "Reject",
    }
}

impl Opcode {
    /// True for opcodes an initiator sends (0x00–0x1f); false for target opcodes.
    #[must_use]
    pub const fn is_initiator(self) -> bool {
        self.0 < 0x20
    }
}

wire_code! {
    /// Reject reason (RFC 7143 §11.17.1), byte 2 of a Reject PDU.
    pub struct RejectReason(u8, mask = 0xff) {
        /// 0x02: the data segment failed its CRC32C.
        DATA_DIGEST_ERROR = 0x02 => "Data (payload) digest error",
        /// 0x03: a SNACK the target cannot honour.
        SNACK_REJECT = 0x03 => "SNACK Reject",
        /// 0x04: the PDU breaks a rule of the protocol.
        PROTOCOL_ERROR = 0x04 => "Protocol Error",
        /// 0x05: the command is not supported.
        COMMAND_NOT_SUPPORTED = 0x05 => "Command not supported",
        /// 0x06: an immediate command arrived while too many were outstanding.
        IMMEDIATE_COMMAND_REJECT = 0x06 => "Immediate command reject - too many immediate commands",
        /// 0x07: a task with this Initiator Task Tag is already in progress.
        TASK_IN_PROGRESS = 0x07 => "Task in progress",
        /// 0x08: a Data-Out or ACK carried an invalid data acknowledgement.
        INVALID_DATA_ACK = 0x08 => "Invalid data ack",
        /// 0x09: a field of the PDU holds a value that is not allowed.
        INVALID_PDU_FIELD = 0x09 => "Invalid PDU field",
        /// 0x0a: the target is out of resources for a long operation.
        LONG_OPERATION_REJECT = 0x0a => "Long op reject - can't generate Target Transfer Tag - out of resources",
        /// 0x0b: deprecated (Negotiation Reset in RFC 3720).
        DEPRECATED = 0x0b => "Deprecated; MUST NOT be used",
        /// 0x0c: the target is waiting for a Logout.
        WAITING_FOR_LOGOUT = 0x0c => "Waiting for Logout",
    }
}

impl RejectReason {
    /// One line on what the reason means and what usually causes it.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match self.0 {
            0x02 => "the data segment's CRC32C did not match; the PDU was discarded",
            0x03 => "the SNACK asked for something the target cannot resend",
            0x04 => "the PDU broke a rule of RFC 7143 (sequence, state or size)",
            0x05 => "the target does not support this request",
            0x06 => "too many immediate commands are outstanding",
            0x07 => "a task with the same Initiator Task Tag is still active",
            0x08 => "the data acknowledgement did not match what was sent",
            0x09 => "a field holds a value that is not allowed here",
            0x0a => "the target has no Target Transfer Tag left for a long operation",
            0x0c => "the target asked for a logout and accepts nothing else",
            _ => "a reason RFC 7143 does not define",
        }
    }
}

wire_code! {
    /// Task management function (RFC 7143 §11.5.1), the low 7 bits of byte 1.
    pub struct TmfFunction(u8, mask = 0x7f) {
        /// Abort the task named by Referenced Task Tag.
        ABORT_TASK = 1 => "ABORT TASK",
        /// Abort every task of this I_T nexus on the LU.
        ABORT_TASK_SET = 2 => "ABORT TASK SET",
        /// Clear ACA.
        CLEAR_ACA = 3 => "CLEAR ACA",
        /// Abort every task on the LU, from every initiator.
        CLEAR_TASK_SET = 4 => "CLEAR TASK SET",
        /// Reset the logical unit.
        LOGICAL_UNIT_RESET = 5 => "LOGICAL UNIT RESET",
        /// Reset the target (sessions stay).
        TARGET_WARM_RESET = 6 => "TARGET WARM RESET",
        /// Reset the target and drop every session.
        TARGET_COLD_RESET = 7 => "TARGET COLD RESET",
        /// Reassign a task to this connection (ERL 2).
        TASK_REASSIGN = 8 => "TASK REASSIGN",
    }
}

wire_code! {
    /// Task management function response (RFC 7143 §11.6.1), byte 2.
    pub struct TmfResponseCode(u8, mask = 0xff) {
        /// The function completed.
        FUNCTION_COMPLETE = 0 => "Function complete",
        /// The referenced task does not exist.
        TASK_DOES_NOT_EXIST = 1 => "Task does not exist",
        /// The LUN does not exist.
        LUN_DOES_NOT_EXIST = 2 => "LUN does not exist",
        /// The task is still allegiant.
        TASK_STILL_ALLEGIANT = 3 => "Task still allegiant",
        /// Task allegiance reassignment is not supported.
        TASK_REASSIGNMENT_NOT_SUPPORTED = 4 => "Task allegiance reassignment not supported",
        /// The function is not supported.
        FUNCTION_NOT_SUPPORTED = 5 => "Task management function not supported",
        /// Authorization failed.
        FUNCTION_AUTHORIZATION_FAILED = 6 => "Function authorization failed",
        /// The function was rejected.
        FUNCTION_REJECTED = 255 => "Function rejected",
    }
}

wire_code! {
    /// Asynchronous event code (RFC 7143 §11.9.1), byte 36 of an Asynchronous Message.
    pub struct AsyncEvent(u8, mask = 0xff) {
        /// A SCSI asynchronous event; sense data is in the data segment.
        SCSI_EVENT = 0 => "SCSI asynchronous event",
        /// The target asks for a Logout within Parameter3 seconds.
        LOGOUT_REQUESTED = 1 => "Target requests Logout",
        /// The target will drop the connection named by Parameter1.
        CONNECTION_DROPPED = 2 => "Target will drop the connection",
        /// The target will drop all connections of the session.
        SESSION_DROPPED = 3 => "Target will drop all connections",
        /// The target asks for parameter renegotiation.
        NEGOTIATION_REQUESTED = 4 => "Target requests parameter negotiation",
        /// The target indicates it will enter a state where it can accept only a Logout.
        TASK_TERMINATION = 5 => "All active tasks terminated",
        /// Vendor specific event (AsyncVCode holds the code).
        VENDOR_SPECIFIC = 255 => "Vendor-specific iSCSI event",
    }
}

wire_code! {
    /// Logout reason (RFC 7143 §11.14.1), the low 7 bits of byte 1.
    pub struct LogoutReason(u8, mask = 0x7f) {
        /// Close the whole session.
        CLOSE_SESSION = 0 => "close the session",
        /// Close the connection named by CID.
        CLOSE_CONNECTION = 1 => "close the connection",
        /// Remove the connection for recovery.
        REMOVE_CONNECTION_FOR_RECOVERY = 2 => "remove the connection for recovery",
    }
}

wire_code! {
    /// Logout response (RFC 7143 §11.15.1), byte 2.
    pub struct LogoutResponseCode(u8, mask = 0xff) {
        /// Connection or session closed.
        CLOSED_SUCCESSFULLY = 0 => "connection or session closed successfully",
        /// The CID was not found.
        CID_NOT_FOUND = 1 => "CID not found",
        /// Connection recovery is not supported.
        RECOVERY_NOT_SUPPORTED = 2 => "connection recovery is not supported",
        /// Cleanup failed.
        CLEANUP_FAILED = 3 => "cleanup failed for various reasons",
    }
}

wire_code! {
    /// iSCSI service response (RFC 7143 §11.4.3), byte 2 of a SCSI Response.
    pub struct ScsiResponseCode(u8, mask = 0xff) {
        /// The command completed at the target (the Status byte tells how).
        COMMAND_COMPLETED = 0x00 => "Command Completed at Target",
        /// The target failed to deliver the command.
        TARGET_FAILURE = 0x01 => "Target Failure",
    }
}

wire_code! {
    /// SCSI status byte (SAM-5 §5.3), byte 3 of a SCSI Response / Data-In.
    pub struct ScsiStatus(u8, mask = 0xff) {
        /// The command succeeded.
        GOOD = 0x00 => "GOOD",
        /// Sense data describes an error.
        CHECK_CONDITION = 0x02 => "CHECK CONDITION",
        /// A condition was met (PRE-FETCH).
        CONDITION_MET = 0x04 => "CONDITION MET",
        /// The logical unit is busy.
        BUSY = 0x08 => "BUSY",
        /// Another I_T nexus holds a reservation.
        RESERVATION_CONFLICT = 0x18 => "RESERVATION CONFLICT",
        /// The task set is full.
        TASK_SET_FULL = 0x28 => "TASK SET FULL",
        /// ACA is active.
        ACA_ACTIVE = 0x30 => "ACA ACTIVE",
        /// The task was aborted.
        TASK_ABORTED = 0x40 => "TASK ABORTED",
    }
}

wire_code! {
    /// SNACK type (RFC 7143 §11.16.1), the low 4 bits of byte 1.
    pub struct SnackType(u8, mask = 0x0f) {
        /// Data/R2T SNACK: resend Data-In or R2T PDUs.
        DATA_R2T = 0 => "Data/R2T SNACK",
        /// Status SNACK: resend responses.
        STATUS = 1 => "Status SNACK",
        /// DataACK: positive acknowledgement of Data-In.
        DATA_ACK = 2 => "DataACK",
        /// R-Data SNACK: resegment and resend Data-In.
        RDATA = 3 => "R-Data SNACK",
    }
}

wire_code! {
    /// SCSI task attribute (RFC 7143 §11.3.1, SAM-5), the low 3 bits of byte 1.
    pub struct TaskAttribute(u8, mask = 0x07) {
        /// Untagged.
        UNTAGGED = 0 => "Untagged",
        /// Simple.
        SIMPLE = 1 => "Simple",
        /// Ordered.
        ORDERED = 2 => "Ordered",
        /// Head of queue.
        HEAD_OF_QUEUE = 3 => "Head of Queue",
        /// ACA.
        ACA = 4 => "ACA",
    }
}

wire_code! {
    /// Login stage (RFC 7143 §11.12.3), the 2-bit CSG and NSG fields.
    pub struct LoginStage(u8, mask = 0x03) {
        /// Security negotiation (authentication).
        SECURITY_NEGOTIATION = 0 => "SecurityNegotiation",
        /// Login operational parameter negotiation.
        OPERATIONAL_NEGOTIATION = 1 => "LoginOperationalNegotiation",
        /// Full feature phase.
        FULL_FEATURE_PHASE = 3 => "FullFeaturePhase",
    }
}

wire_code! {
    /// AHS type (RFC 7143 §11.2.2.3).
    pub struct AhsType(u8, mask = 0xff) {
        /// Extended CDB: the bytes of a CDB beyond its first 16.
        EXTENDED_CDB = 1 => "Extended CDB",
        /// Bidirectional Read Expected Data Length.
        BIDI_READ_EXPECTED_DATA_LENGTH = 2 => "Bidirectional Read Expected Data Length",
    }
}

/// The class of a login status (RFC 7143 §11.13.5): byte 36 of a Login Response.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum StatusClass {
    /// 0: the login succeeded (so far).
    Success,
    /// 1: the target moved; TargetAddress says where.
    Redirection,
    /// 2: the initiator made a mistake; do not retry unchanged.
    InitiatorError,
    /// 3: the target could not serve the request; a retry may work.
    TargetError,
    /// Any other class value.
    Other(u8),
}

/// Login status: Status-Class and Status-Detail (RFC 7143 §11.13.5), as one
/// 16-bit code `class << 8 | detail` in the way the RFC's table writes them.
///
/// `Display` gives the code, its RFC name and what usually causes it, e.g.
/// `0x0201 authentication failure: the target rejected the CHAP credentials`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct LoginStatus(u16);

/// One row of the RFC 7143 §11.13.5 table: code, RFC name, meaning.
struct StatusRow(u16, &'static str, &'static str);

const LOGIN_STATUS_TABLE: [StatusRow; 18] = [
    StatusRow(0x0000, "success", "login is proceeding or complete"),
    StatusRow(
        0x0101,
        "target moved temporarily",
        "the target is reachable at another address for now; TargetAddress in the response says where",
    ),
    StatusRow(
        0x0102,
        "target moved permanently",
        "the target has moved for good; update the configured portal to the TargetAddress in the response",
    ),
    StatusRow(
        0x0200,
        "initiator error",
        "the target refused the request for an unspecified initiator-side reason; check the login parameters",
    ),
    StatusRow(
        0x0201,
        "authentication failure",
        "the target rejected the CHAP credentials (user name, secret or algorithm) or required authentication that was not offered",
    ),
    StatusRow(
        0x0202,
        "authorization failure",
        "this initiator name is not allowed to log into the target; check the target's ACL",
    ),
    StatusRow(
        0x0203,
        "target not found",
        "no target with this TargetName exists at this portal; check the IQN (discovery lists the names)",
    ),
    StatusRow(
        0x0204,
        "target removed",
        "the target existed but has been removed from service",
    ),
    StatusRow(
        0x0205,
        "unsupported version",
        "the target does not support any iSCSI version in Version-min..Version-max",
    ),
    StatusRow(
        0x0206,
        "too many connections",
        "the session or target has reached its connection limit; close idle sessions or raise the limit",
    ),
    StatusRow(
        0x0207,
        "missing parameter",
        "a required key (InitiatorName, or TargetName for a Normal session) was not sent",
    ),
    StatusRow(
        0x0208,
        "can't include in session",
        "the target cannot add this connection to the session (multiple connections unsupported or not allowed)",
    ),
    StatusRow(
        0x0209,
        "session type not supported",
        "the target does not support the requested SessionType (Discovery or Normal)",
    ),
    StatusRow(
        0x020a,
        "session does not exist",
        "the TSIH names a session the target does not have; log in with TSIH 0 to start a new one",
    ),
    StatusRow(
        0x020b,
        "invalid request during login",
        "the PDU or stage transition is not allowed during login (a non-login PDU, or illegal CSG/NSG/T bits)",
    ),
    StatusRow(
        0x0300,
        "target error",
        "the target failed for an unspecified reason; its logs should say why",
    ),
    StatusRow(
        0x0301,
        "service unavailable",
        "the target is not accepting logins now (shutting down or starting up); retry later",
    ),
    StatusRow(
        0x0302,
        "out of resources",
        "the target has no resources left for this session (session or memory limit); retry later",
    ),
];

impl LoginStatus {
    /// 0x0000 Success.
    pub const SUCCESS: Self = Self(0x0000);
    /// 0x0101 Target moved temporarily.
    pub const TARGET_MOVED_TEMPORARILY: Self = Self(0x0101);
    /// 0x0102 Target moved permanently.
    pub const TARGET_MOVED_PERMANENTLY: Self = Self(0x0102);
    /// 0x0200 Initiator error (miscellaneous).
    pub const INITIATOR_ERROR: Self = Self(0x0200);
    /// 0x0201 Authentication failure.
    pub const AUTHENTICATION_FAILURE: Self = Self(0x0201);
    /// 0x0202 Authorization failure.
    pub const AUTHORIZATION_FAILURE: Self = Self(0x0202);
    /// 0x0203 Not found.
    pub const NOT_FOUND: Self = Self(0x0203);
    /// 0x0204 Target removed.
    pub const TARGET_REMOVED: Self = Self(0x0204);
    /// 0x0205 Unsupported version.
    pub const UNSUPPORTED_VERSION: Self = Self(0x0205);
    /// 0x0206 Too many connections.
    pub const TOO_MANY_CONNECTIONS: Self = Self(0x0206);
    /// 0x0207 Missing parameter.
    pub const MISSING_PARAMETER: Self = Self(0x0207);
    /// 0x0208 Can't include in session.
    pub const CANT_INCLUDE_IN_SESSION: Self = Self(0x0208);
    /// 0x0209 Session type not supported.
    pub const SESSION_TYPE_NOT_SUPPORTED: Self = Self(0x0209);
    /// 0x020A Session does not exist.
    pub const SESSION_DOES_NOT_EXIST: Self = Self(0x020a);
    /// 0x020B Invalid request during login.
    pub const INVALID_DURING_LOGIN: Self = Self(0x020b);
    /// 0x0300 Target error (miscellaneous).
    pub const TARGET_ERROR: Self = Self(0x0300);
    /// 0x0301 Service unavailable.
    pub const SERVICE_UNAVAILABLE: Self = Self(0x0301);
    /// 0x0302 Out of resources.
    pub const OUT_OF_RESOURCES: Self = Self(0x0302);

    /// Every status RFC 7143 §11.13.5 defines, in table order.
    pub const ALL: [Self; 18] = [
        Self::SUCCESS,
        Self::TARGET_MOVED_TEMPORARILY,
        Self::TARGET_MOVED_PERMANENTLY,
        Self::INITIATOR_ERROR,
        Self::AUTHENTICATION_FAILURE,
        Self::AUTHORIZATION_FAILURE,
        Self::NOT_FOUND,
        Self::TARGET_REMOVED,
        Self::UNSUPPORTED_VERSION,
        Self::TOO_MANY_CONNECTIONS,
        Self::MISSING_PARAMETER,
        Self::CANT_INCLUDE_IN_SESSION,
        Self::SESSION_TYPE_NOT_SUPPORTED,
        Self::SESSION_DOES_NOT_EXIST,
        Self::INVALID_DURING_LOGIN,
        Self::TARGET_ERROR,
        Self::SERVICE_UNAVAILABLE,
        Self::OUT_OF_RESOURCES,
    ];

    /// The status with this Status-Class (byte 36) and Status-Detail (byte 37).
    #[must_use]
    pub const fn new(class: u8, detail: u8) -> Self {
        Self(((class as u16) << 8) | detail as u16)
    }

    /// The status from its 16-bit `class << 8 | detail` code.
    #[must_use]
    pub const fn from_code(code: u16) -> Self {
        Self(code)
    }

    /// The 16-bit `class << 8 | detail` code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self.0
    }

    /// Status-Class, byte 36.
    #[must_use]
    pub const fn class_code(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Status-Detail, byte 37.
    #[must_use]
    pub const fn detail(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// The class as an enum.
    #[must_use]
    pub const fn class(self) -> StatusClass {
        match self.class_code() {
            0 => StatusClass::Success,
            1 => StatusClass::Redirection,
            2 => StatusClass::InitiatorError,
            3 => StatusClass::TargetError,
            other => StatusClass::Other(other),
        }
    }

    /// True for class 0.
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.class_code() == 0
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "i < LOGIN_STATUS_TABLE.len() is the loop condition; slice::get is not const"
    )]
    const fn row(self) -> Option<&'static StatusRow> {
        let mut i = 0;
        while i < LOGIN_STATUS_TABLE.len() {
            if LOGIN_STATUS_TABLE[i].0 == self.0 {
                return Some(&LOGIN_STATUS_TABLE[i]);
            }
            i += 1;
        }
        None
    }

    /// The RFC 7143 name, e.g. `"authentication failure"`; for codes the RFC
    /// does not define, the name of the class.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.row() {
            Some(row) => row.1,
            None => match self.class() {
                StatusClass::Success => "success (unassigned detail)",
                StatusClass::Redirection => "redirection (unassigned detail)",
                StatusClass::InitiatorError => "initiator error (unassigned detail)",
                StatusClass::TargetError => "target error (unassigned detail)",
                StatusClass::Other(_) => "unassigned status class",
            },
        }
    }

    /// One line on what usually causes this status and what to check.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match self.row() {
            Some(row) => row.2,
            None => "a status RFC 7143 does not define; see the target's documentation",
        }
    }

    /// True when RFC 7143 §11.13.5 defines this exact code.
    #[must_use]
    pub const fn is_defined(self) -> bool {
        self.row().is_some()
    }
}

impl fmt::Debug for LoginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoginStatus({:#06x} {})", self.0, self.name())
    }
}

impl fmt::Display for LoginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x} {}: {}", self.0, self.name(), self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_login_status_has_a_distinct_name_and_meaning() {
        let mut names = std::collections::HashSet::new();
        for status in LoginStatus::ALL {
            assert!(status.is_defined(), "{status:?}");
            assert!(
                names.insert(status.name()),
                "duplicate name {}",
                status.name()
            );
            assert!(status.meaning().len() > 20);
        }
        assert_eq!(names.len(), 18);
    }

    #[test]
    fn login_status_display_reads_like_the_rfc() {
        assert_eq!(
            LoginStatus::AUTHENTICATION_FAILURE.to_string(),
            "0x0201 authentication failure: the target rejected the CHAP credentials \
             (user name, secret or algorithm) or required authentication that was not offered"
        );
        assert_eq!(LoginStatus::new(2, 1), LoginStatus::AUTHENTICATION_FAILURE);
        assert_eq!(LoginStatus::NOT_FOUND.class(), StatusClass::InitiatorError);
        assert_eq!(LoginStatus::NOT_FOUND.detail(), 3);
        assert_eq!(LoginStatus::SERVICE_UNAVAILABLE.class_code(), 3);
        assert_eq!(
            LoginStatus::new(2, 0x40).name(),
            "initiator error (unassigned detail)"
        );
        assert!(!LoginStatus::new(2, 0x40).is_defined());
    }

    #[test]
    fn codes_debug_with_names_and_mask_their_fields() {
        assert_eq!(
            format!("{:?}", Opcode::LOGIN_REQUEST),
            "Opcode(0x3 Login Request)"
        );
        assert_eq!(format!("{:?}", Opcode::from_wire(0x3e)), "Opcode(0x3e)");
        assert_eq!(Opcode::from_wire(0x43), Opcode::LOGIN_REQUEST);
        assert_eq!(TmfFunction::from_wire(0x81), TmfFunction::ABORT_TASK);
        assert_eq!(LoginStage::from_wire(0xff), LoginStage::FULL_FEATURE_PHASE);
        assert_eq!(
            RejectReason::DATA_DIGEST_ERROR.to_string(),
            "Data (payload) digest error (0x02)"
        );
        assert!(Opcode::SNACK_REQUEST.is_initiator());
        assert!(!Opcode::NOP_IN.is_initiator());
    }
}
