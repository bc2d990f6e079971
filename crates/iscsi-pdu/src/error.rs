//! Errors of the wire layer. Each carries what the receiver needs to answer
//! the peer (opcode, ITT, the rejected header) and maps to the Reject reason
//! RFC 7143 §11.17.1 prescribes, or to `None` where the only answer is to
//! drop the connection (§7.8: a header digest error leaves the PDU boundary
//! unknown).

use bytes::Bytes;

use crate::codes::{Opcode, RejectReason};
use crate::ids::Itt;

/// A PDU whose bytes are complete but whose fields are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    /// Fewer bytes than the header's lengths announce (only when parsing from
    /// a plain slice; the [`Framer`](crate::Framer) never hands out a partial PDU).
    #[error("incomplete PDU: {needed} bytes needed, {available} available")]
    #[non_exhaustive]
    Incomplete {
        /// Bytes the whole PDU occupies.
        needed: usize,
        /// Bytes that were given.
        available: usize,
    },
    /// A field holds a value RFC 7143 does not allow (Reject reason 0x09).
    #[error("{opcode:?} with ITT {itt}: invalid {field}: {reason}")]
    #[non_exhaustive]
    InvalidField {
        /// Opcode of the offending PDU.
        opcode: Opcode,
        /// Its Initiator Task Tag.
        itt: Itt,
        /// The RFC name of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The AHS area does not hold a well-formed list of AHS (RFC 7143 §11.2.2).
    #[error("{opcode:?} with ITT {itt}: malformed AHS: {reason}")]
    #[non_exhaustive]
    MalformedAhs {
        /// Opcode of the offending PDU.
        opcode: Opcode,
        /// Its Initiator Task Tag.
        itt: Itt,
        /// What is wrong.
        reason: &'static str,
    },
    /// The header digest did not match (RFC 7143 §7.8).
    #[error("header digest mismatch: received {received:#010x}, computed {computed:#010x}")]
    #[non_exhaustive]
    HeaderDigest {
        /// The digest on the wire.
        received: u32,
        /// The digest of the bytes received.
        computed: u32,
    },
    /// The data digest did not match (RFC 7143 §7.8).
    #[error(
        "{opcode:?} with ITT {itt}: data digest mismatch: received {received:#010x}, computed {computed:#010x}"
    )]
    #[non_exhaustive]
    DataDigest {
        /// Opcode of the offending PDU.
        opcode: Opcode,
        /// Its Initiator Task Tag.
        itt: Itt,
        /// The digest on the wire.
        received: u32,
        /// The digest of the bytes received.
        computed: u32,
    },
    /// DataSegmentLength above the negotiated MaxRecvDataSegmentLength.
    #[error(
        "{opcode:?} with ITT {itt}: data segment of {length} bytes exceeds MaxRecvDataSegmentLength {limit}"
    )]
    #[non_exhaustive]
    DataSegmentTooLong {
        /// Opcode of the offending PDU.
        opcode: Opcode,
        /// Its Initiator Task Tag.
        itt: Itt,
        /// DataSegmentLength of the PDU, bytes.
        length: usize,
        /// The negotiated limit, bytes.
        limit: usize,
    },
}

impl PduError {
    /// The Reject reason to send for this error (RFC 7143 §11.17.1), or
    /// `None` when the connection must be dropped instead (§7.8).
    #[must_use]
    pub const fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::InvalidField { .. } | Self::MalformedAhs { .. } => {
                Some(RejectReason::INVALID_PDU_FIELD)
            }
            Self::DataDigest { .. } => Some(RejectReason::DATA_DIGEST_ERROR),
            Self::DataSegmentTooLong { .. } => Some(RejectReason::PROTOCOL_ERROR),
            Self::Incomplete { .. } | Self::HeaderDigest { .. } => None,
        }
    }

    /// True for a format error (RFC 7143 §7.13: fields that contradict each
    /// other or the bytes sent, here an AHS area that does not match
    /// TotalAHSLength): after it the receiver cannot trust where the next
    /// PDU starts, so the connection is closed (after a Reject, when
    /// [`reject_reason`](Self::reject_reason) gives one).
    ///
    /// A PDU that is well framed but unacceptable (forbidden flag
    /// combinations, a data digest error) is answered and the connection
    /// carries on.
    #[must_use]
    pub const fn is_format_error(&self) -> bool {
        match self {
            Self::MalformedAhs { .. } | Self::Incomplete { .. } | Self::HeaderDigest { .. } => true,
            Self::InvalidField { .. }
            | Self::DataDigest { .. }
            | Self::DataSegmentTooLong { .. } => false,
        }
    }

    /// Opcode of the PDU the error is about, when known.
    #[must_use]
    pub const fn opcode(&self) -> Option<Opcode> {
        match self {
            Self::InvalidField { opcode, .. }
            | Self::MalformedAhs { opcode, .. }
            | Self::DataDigest { opcode, .. }
            | Self::DataSegmentTooLong { opcode, .. } => Some(*opcode),
            Self::Incomplete { .. } | Self::HeaderDigest { .. } => None,
        }
    }
}

/// An error of the [`Framer`](crate::Framer). Every variant but `Pdu` with a
/// header digest error leaves the framer positioned at the next PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The PDU is over the size limit; its bytes were not consumed, because a
    /// peer that sends it is either broken or hostile. The usual answer is a
    /// Reject (Protocol Error) and closing the connection.
    #[error(transparent)]
    TooLong(PduError),
    /// The header digest failed: the length fields cannot be trusted, so the
    /// connection must be closed (RFC 7143 §7.8). Nothing was consumed.
    #[error(transparent)]
    HeaderDigest(PduError),
    /// The data digest failed. The PDU's bytes were consumed; `header` holds
    /// its BHS so that the receiver can send a Reject (Data digest error)
    /// carrying it, as RFC 7143 §11.17 asks.
    #[error("{error}")]
    #[non_exhaustive]
    DataDigest {
        /// What failed.
        error: PduError,
        /// The 48-byte BHS of the discarded PDU.
        header: Bytes,
    },
}

impl FrameError {
    /// The Reject reason to send, or `None` when the connection must close.
    #[must_use]
    pub const fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::TooLong(e) => e.reject_reason(),
            Self::HeaderDigest(_) => None,
            Self::DataDigest { error, .. } => error.reject_reason(),
        }
    }

    /// True when the connection must close after this error (with a Reject
    /// first when [`reject_reason`](Self::reject_reason) gives one): an
    /// oversized PDU was not consumed and a failed header digest leaves the
    /// next PDU's start unknown. A data digest error is answered and the
    /// connection carries on (RFC 7143 §7.8).
    #[must_use]
    pub const fn closes_connection(&self) -> bool {
        match self {
            Self::TooLong(_) | Self::HeaderDigest(_) => true,
            Self::DataDigest { .. } => false,
        }
    }

    /// The underlying PDU error.
    #[must_use]
    pub const fn pdu_error(&self) -> &PduError {
        match self {
            Self::TooLong(e) | Self::HeaderDigest(e) | Self::DataDigest { error: e, .. } => e,
        }
    }
}

/// A PDU that cannot be put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The data segment is over 2^24 − 1 bytes (the DataSegmentLength field
    /// is 24 bits).
    #[error("data segment of {0} bytes exceeds the 16777215-byte DataSegmentLength field")]
    DataSegmentTooLong(usize),
    /// The AHS area is over 1020 bytes (TotalAHSLength counts 4-byte words in
    /// one byte), or one AHS is over 65535 bytes.
    #[error("AHS of {0} bytes exceeds the TotalAHSLength / AHSLength fields")]
    AhsTooLong(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_errors_close_and_well_framed_errors_are_answered() {
        let opcode = Opcode::SCSI_COMMAND;
        let itt = Itt(7);
        let ahs = PduError::MalformedAhs {
            opcode,
            itt,
            reason: "AHSLength is 0",
        };
        assert!(ahs.is_format_error());
        assert_eq!(ahs.reject_reason(), Some(RejectReason::INVALID_PDU_FIELD));
        let flags = PduError::InvalidField {
            opcode,
            itt,
            field: "F/C bits",
            reason: "F and C are both set",
        };
        assert!(!flags.is_format_error());
        let too_long = PduError::DataSegmentTooLong {
            opcode,
            itt,
            length: 9000,
            limit: 8192,
        };
        assert!(FrameError::TooLong(too_long).closes_connection());
        let digest = PduError::HeaderDigest {
            received: 1,
            computed: 2,
        };
        assert!(FrameError::HeaderDigest(digest).closes_connection());
        let data = FrameError::DataDigest {
            error: PduError::DataDigest {
                opcode,
                itt,
                received: 1,
                computed: 2,
            },
            header: Bytes::new(),
        };
        assert!(!data.closes_connection());
        assert_eq!(data.reject_reason(), Some(RejectReason::DATA_DIGEST_ERROR));
    }
}
