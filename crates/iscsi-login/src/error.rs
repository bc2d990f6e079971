//! Login errors and the login status each one is answered with.

use iscsi_pdu::text::TextError;
use iscsi_pdu::{LoginStatus, PduError};

/// A rule of the login phase the peer broke (RFC 7143 §6, §11.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A PDU other than a Login Request/Response arrived during login.
    #[error("a non-login PDU arrived during login")]
    NotALoginPdu,
    /// CSG does not match the stage the login is in.
    #[error("CSG does not match the current login stage")]
    StageMismatch,
    /// NSG names a stage that cannot follow CSG, or a reserved stage.
    #[error("illegal stage transition")]
    IllegalTransition,
    /// ISID, TSIH or CID changed between Login Requests of one login.
    #[error("ISID, TSIH or CID changed during the login")]
    IdentityChanged,
    /// The login took more PDUs than any real negotiation needs.
    #[error("too many login PDUs")]
    TooManyPdus,
    /// The negotiation text grew over the limit.
    #[error("login text too long")]
    TextTooLong,
    /// A key was sent again after it had been negotiated (RFC 7143 §6.2).
    #[error("a key was negotiated twice")]
    Renegotiation,
    /// A key was sent in a stage where it is not allowed.
    #[error("a key was sent in a stage where it is not allowed")]
    KeyInWrongStage,
    /// A key only the other side may send.
    #[error("a key only the other side may send")]
    WrongSender,
    /// The target answered with T=1 although the initiator sent T=0, or
    /// with a different NSG.
    #[error("the target's T bit or NSG does not follow the initiator's")]
    UnrequestedTransit,
    /// Version-active outside the initiator's range.
    #[error("Version-active is not in the offered range")]
    Version,
    /// The login already ended; nothing more is accepted.
    #[error("the login has already ended")]
    AfterEnd,
}

/// What went wrong in CHAP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The target requires authentication the initiator did not offer or skipped.
    #[error("the target requires CHAP authentication")]
    Required,
    /// No AuthMethod both sides accept.
    #[error("no common AuthMethod (offered {offered:?})")]
    NoCommonMethod {
        /// What was offered.
        offered: String,
    },
    /// No CHAP algorithm both sides accept.
    #[error("no common CHAP algorithm (offered CHAP_A={offered:?})")]
    NoCommonAlgorithm {
        /// What was offered.
        offered: String,
    },
    /// A CHAP key is missing.
    #[error("{0} is missing")]
    MissingKey(&'static str),
    /// A CHAP key is malformed.
    #[error("{0} is malformed")]
    Malformed(&'static str),
    /// A CHAP key arrived when it was not expected.
    #[error("{0} arrived out of order")]
    Unexpected(&'static str),
    /// The user name or response did not match.
    #[error("wrong CHAP user name or secret")]
    WrongCredentials,
    /// The initiator's mutual challenge equals the target's (a reflection attack).
    #[error("the mutual CHAP challenge repeats the target's challenge (reflection)")]
    Reflection,
    /// A challenge longer than 1024 bytes or shorter than 1.
    #[error("the CHAP challenge has an unacceptable length ({0} bytes)")]
    ChallengeLength(usize),
    /// The initiator asked for mutual CHAP but the target has no credentials for it.
    #[error("mutual CHAP requested but the target has no credentials for it")]
    MutualNotConfigured,
    /// The target did not answer the initiator's mutual challenge.
    #[error("the target skipped mutual authentication")]
    TargetSkippedMutual,
    /// The target's mutual response was wrong.
    #[error("the target's mutual CHAP response is wrong")]
    TargetResponseWrong,
}

/// A failed login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// A Login PDU could not be parsed.
    #[error(transparent)]
    Pdu(#[from] PduError),
    /// A text segment was malformed.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A key could not be negotiated.
    #[error("negotiation of {key} failed: {reason}")]
    #[non_exhaustive]
    Negotiation {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Authentication failed.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The peer broke a rule of the login phase.
    #[error("login protocol violation: {0}")]
    Violation(#[from] Violation),
    /// The login was refused with this status: by the target's policy (target
    /// side), or by the target (initiator side).
    #[error("login refused: {status}{}", detail(reason))]
    #[non_exhaustive]
    Refused {
        /// The Login Response status.
        status: LoginStatus,
        /// More about why, when known.
        reason: String,
    },
    /// The target is served elsewhere: status 0x0101 (moved temporarily)
    /// or 0x0102 (moved permanently) with `TargetAddress=address` (RFC 7143
    /// §11.13.5, §13.8). An initiator may log in there instead.
    #[error("target moved {}: log in at {address}", if *permanent { "permanently" } else { "temporarily" })]
    #[non_exhaustive]
    Redirected {
        /// The TargetAddress value, `host:port,tpgt` (IPv6 hosts in brackets).
        address: String,
        /// True for 0x0102: use the new address from now on.
        permanent: bool,
    },
    /// The caller used the API out of order.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

fn detail(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

impl LoginError {
    /// A refusal with a status and reason.
    pub fn refused(status: LoginStatus, reason: impl Into<String>) -> Self {
        Self::Refused {
            status,
            reason: reason.into(),
        }
    }

    /// A redirection to `address` (0x0102 when `permanent`, else 0x0101).
    pub fn redirected(address: impl Into<String>, permanent: bool) -> Self {
        Self::Redirected {
            address: address.into(),
            permanent,
        }
    }

    /// A negotiation failure of `key`.
    pub fn negotiation(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Negotiation {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The login status this error is answered with (RFC 7143 §11.13.5).
    #[must_use]
    pub const fn status(&self) -> LoginStatus {
        match self {
            Self::Refused { status, .. } => *status,
            Self::Redirected {
                permanent: true, ..
            } => LoginStatus::TARGET_MOVED_PERMANENTLY,
            Self::Redirected { .. } => LoginStatus::TARGET_MOVED_TEMPORARILY,
            Self::Auth(_) => LoginStatus::AUTHENTICATION_FAILURE,
            Self::Violation(
                Violation::NotALoginPdu
                | Violation::StageMismatch
                | Violation::IllegalTransition
                | Violation::AfterEnd,
            )
            | Self::Pdu(_) => LoginStatus::INVALID_DURING_LOGIN,
            Self::Violation(Violation::Version) => LoginStatus::UNSUPPORTED_VERSION,
            Self::Violation(_) | Self::Negotiation { .. } | Self::Text(_) => {
                LoginStatus::INITIATOR_ERROR
            }
            Self::ApiMisuse(_) => LoginStatus::TARGET_ERROR,
        }
    }
}
