//! # iscsi-pdu: the iSCSI wire format
//!
//! Every PDU of RFC 7143 §11 in both directions, the Basic Header Segment
//! and Additional Header Segments, CRC32C header and data digests, padding,
//! framing of a byte stream into PDUs, the text-segment codec of RFC 7143
//! §6, login status codes, Reject reasons and the other wire codes, and RFC
//! 1982 serial number arithmetic for CmdSN, StatSN and DataSN.
//!
//! What it does not do: sockets, timers, login negotiation (see
//! `iscsi-login`), task bookkeeping or SCSI. It is *sans-IO*: bytes in,
//! typed values out, and back, so the same code runs in the tokio target and
//! initiator, in tests and under the fuzzer.
//!
//! ## Receiving
//!
//! The runtime appends what the socket returns to a [`bytes::BytesMut`] and
//! drains [`Framer::decode`] until it reports [`Decoded::Incomplete`]. Each
//! [`Frame`] parses into a [`PduBuf`] whose data segment is a zero-copy
//! slice of the receive buffer.
//!
//! ```
//! use bytes::BytesMut;
//! use iscsi_pdu::{Bhs, Decoded, Digests, FrameLimits, Framer, NopOut, Pdu, Itt, Ttt};
//!
//! // An initiator's ping with 4 bytes of data, as it arrives on the wire.
//! let ping = Pdu::new(
//!     NopOut { immediate: true, itt: Itt(1), ttt: Ttt::RESERVED, ..NopOut::default() },
//!     &b"ping"[..],
//! );
//! let mut buf = BytesMut::from(&ping.to_vec(Digests::NONE)?[..]);
//!
//! let mut framer = Framer::new(FrameLimits::default());
//! let Decoded::Frame(frame) = framer.decode(&mut buf)? else { unreachable!() };
//! let pdu = frame.parse()?;
//! assert!(matches!(pdu.bhs, Bhs::NopOut(NopOut { itt: Itt(1), .. })));
//! assert_eq!(&pdu.data[..], b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Sending
//!
//! [`Pdu::encode_header`] writes BHS, AHS and header digest (lengths are
//! computed, never passed in); the data segment stays its own buffer and
//! [`Pdu::encode_trailer`] adds padding and data digest, so header, data and
//! trailer go out in one vectored write without copying the data.
//!
//! ## Errors
//!
//! [`FrameError`] and [`PduError`] carry the opcode and ITT of the offending
//! PDU and map to the Reject reason RFC 7143 §11.17.1 prescribes
//! ([`PduError::reject_reason`]), or to `None` when only closing the
//! connection is right (a header digest error, §7.8).

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod bhs;
mod codes;
mod digest;
mod encoded;
mod error;
mod framer;
mod ids;
mod pdu;
pub mod text;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use bhs::{
    AsyncMessage, BHS_LEN, Bhs, DataIn, DataOut, LoginRequest, LoginResponse, LogoutRequest,
    LogoutResponse, NopIn, NopOut, R2t, Reject, ScsiCommand, ScsiResponse, SnackRequest,
    TaskManagementRequest, TaskManagementResponse, TextRequest, TextResponse, UnknownBhs,
};
pub use codes::{
    AhsType, AsyncEvent, LoginStage, LoginStatus, LogoutReason, LogoutResponseCode, Opcode,
    RejectReason, ScsiResponseCode, ScsiStatus, SnackType, StatusClass, TaskAttribute, TmfFunction,
    TmfResponseCode,
};
pub use digest::{DIGEST_LEN, Digests, crc32c, crc32c_append, data_digest, padded, padding};
pub use encoded::{EncodedPdus, Transmitter};
pub use error::{EncodeError, FrameError, PduError};
pub use framer::{Decoded, Frame, FrameLimits, Framer};
pub use ids::{
    Cid, CmdSn, DataSn, ExpCmdSn, ExpStatSn, Isid, Itt, Lun, MaxCmdSn, R2tSn, StatSn, Tsih, Ttt,
    serial_cmp,
};
pub use pdu::{
    Ahs, MAX_AHS_LENGTH, MAX_DATA_SEGMENT_LENGTH, Pdu, PduBuf, PduBytes, PduRef, encode_vectored,
};

/// The iSCSI version RFC 7143 defines (Version-max / Version-min 0x00).
pub const ISCSI_VERSION: u8 = 0x00;
