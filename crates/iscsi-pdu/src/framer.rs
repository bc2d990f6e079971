//! Framing: cutting whole PDUs out of a growing receive buffer.

use bytes::{Bytes, BytesMut};

use crate::bhs::{BHS_LEN, RawBhs};
use crate::codes::Opcode;
use crate::digest::Digests;
use crate::error::{FrameError, PduError};
use crate::ids::Itt;
use crate::pdu::{PduBuf, WireLayout, check_data_digest, check_header_digest, parse_header};

/// What the framer enforces: the negotiated digests and the largest data
/// segment this side declared it can receive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct FrameLimits {
    /// Negotiated digests.
    pub digests: Digests,
    /// MaxRecvDataSegmentLength this side declared, bytes (RFC 7143 §13.12).
    /// During login the RFC's default, 8192, applies.
    pub max_recv_data_segment_length: usize,
}

impl Default for FrameLimits {
    /// No digests and a 8192-byte limit: the state of a new connection.
    fn default() -> Self {
        Self {
            digests: Digests::NONE,
            max_recv_data_segment_length: 8192,
        }
    }
}

impl FrameLimits {
    /// These limits with other digests.
    #[must_use]
    pub const fn with_digests(mut self, digests: Digests) -> Self {
        self.digests = digests;
        self
    }

    /// These limits with another MaxRecvDataSegmentLength (bytes).
    #[must_use]
    pub const fn with_max_recv_data_segment_length(mut self, bytes: usize) -> Self {
        self.max_recv_data_segment_length = bytes;
        self
    }
}

/// One whole PDU cut from the receive buffer, digests verified and
/// stripped; parsing it only slices the shared buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    header: Bytes,
    data: Bytes,
}

impl Frame {
    /// BHS + AHS bytes.
    #[must_use]
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The 48-byte BHS (what a Reject carries back).
    #[must_use]
    pub fn bhs_bytes(&self) -> Bytes {
        self.header.slice(..BHS_LEN.min(self.header.len()))
    }

    /// The data segment without padding.
    #[must_use]
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The opcode in byte 0.
    #[must_use]
    pub fn opcode(&self) -> Opcode {
        Opcode::from_wire(self.header.first().copied().unwrap_or(0))
    }

    /// The Initiator Task Tag in bytes 16–19.
    #[must_use]
    pub fn itt(&self) -> Itt {
        self.header
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(Itt::RESERVED, |b| Itt(u32::from_be_bytes(b)))
    }

    /// Parses the frame into a typed PDU whose AHS and data are slices of
    /// this frame's buffer (no copy).
    ///
    /// # Errors
    /// [`PduError::InvalidField`] / [`PduError::MalformedAhs`]: answer with a
    /// Reject carrying [`Frame::bhs_bytes`].
    pub fn parse(&self) -> Result<PduBuf, PduError> {
        let (bhs, ahs) = parse_header(&self.header)?;
        Ok(PduBuf {
            bhs,
            ahs,
            data: self.data.clone(),
        })
    }
}

/// Result of one [`Framer::decode`] call.
#[derive(Debug)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a framer either has a whole PDU or needs more bytes; callers match both"
)]
pub enum Decoded {
    /// A whole PDU, split off the front of the buffer.
    Frame(Frame),
    /// The buffer holds only part of the next PDU: at least `needed` more
    /// bytes must arrive before the next call can return a frame.
    Incomplete {
        /// Bytes still missing, at least 1.
        needed: usize,
    },
}

/// Cuts whole PDUs out of a growing receive buffer.
///
/// The framer peeks at the BHS, works out the size of the whole PDU from
/// TotalAHSLength, DataSegmentLength, padding and the negotiated digests,
/// refuses oversize PDUs before buffering them, checks the digests and splits
/// exactly one PDU off the front of the buffer. Bytes after it stay in the
/// buffer for the next call: nothing that belongs to the next PDU is ever
/// dropped.
///
/// ```
/// use bytes::BytesMut;
/// use iscsi_pdu::{Decoded, FrameLimits, Framer};
///
/// let mut framer = Framer::new(FrameLimits::default());
/// let mut buf = BytesMut::new();
/// // The runtime appends whatever the socket returned...
/// buf.extend_from_slice(&[0x3f; 20]);
/// // ...and drains frames until the framer asks for more.
/// loop {
///     match framer.decode(&mut buf).expect("framing error") {
///         Decoded::Frame(frame) => { let _pdu = frame.parse(); }
///         Decoded::Incomplete { needed } => { assert_eq!(needed, 28); break; }
///     }
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Framer {
    limits: FrameLimits,
}

impl Framer {
    /// A framer enforcing `limits`.
    #[must_use]
    pub const fn new(limits: FrameLimits) -> Self {
        Self { limits }
    }

    /// The limits in force.
    #[must_use]
    pub const fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// Changes the limits, e.g. after login negotiated digests and
    /// MaxRecvDataSegmentLength. Applies from the next PDU.
    pub fn set_limits(&mut self, limits: FrameLimits) {
        self.limits = limits;
    }

    /// Bytes the next PDU in `buf` occupies, once its BHS is there.
    ///
    /// # Errors
    /// [`FrameError::TooLong`] when it is over the limit.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(raw) = RawBhs::parse(buf) else {
            return Ok(None);
        };
        Ok(Some(self.layout(&raw)?.total_len()))
    }

    fn layout(&self, raw: &RawBhs) -> Result<WireLayout, FrameError> {
        let layout = WireLayout::of(raw, self.limits.digests);
        if layout.data_len > self.limits.max_recv_data_segment_length {
            return Err(FrameError::TooLong(PduError::DataSegmentTooLong {
                opcode: raw.opcode(),
                itt: Itt(raw.itt),
                length: layout.data_len,
                limit: self.limits.max_recv_data_segment_length,
            }));
        }
        Ok(layout)
    }

    /// Splits the next whole PDU off the front of `buf`, or says how many
    /// bytes are missing. Bytes after the PDU stay in `buf`.
    ///
    /// # Errors
    /// - [`FrameError::TooLong`]: DataSegmentLength is over
    ///   MaxRecvDataSegmentLength; nothing consumed.
    /// - [`FrameError::HeaderDigest`]: nothing consumed; close the connection.
    /// - [`FrameError::DataDigest`]: the PDU was consumed; Reject it.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, FrameError> {
        let Some(raw) = RawBhs::parse(buf) else {
            return Ok(Decoded::Incomplete {
                needed: BHS_LEN - buf.len(),
            });
        };
        let layout = self.layout(&raw)?;
        let total = layout.total_len();
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(Decoded::Incomplete {
                needed: total - buf.len(),
            });
        }
        check_header_digest(buf, &layout).map_err(FrameError::HeaderDigest)?;
        let pdu = buf.split_to(total).freeze();
        if let Err(error) = check_data_digest(&pdu, &layout, &raw) {
            return Err(FrameError::DataDigest {
                error,
                header: pdu.slice(..BHS_LEN),
            });
        }
        let header = pdu.slice(..layout.header_len());
        let data_start = layout.data_offset();
        let data = pdu.slice(data_start..data_start + layout.data_len);
        Ok(Decoded::Frame(Frame { header, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bhs::{DataOut, NopIn};
    use crate::ids::{DataSn, Lun, Ttt};
    use crate::pdu::Pdu;

    fn data_out(len: usize) -> Vec<u8> {
        let data = vec![0x5a; len];
        Pdu::new(
            DataOut {
                final_bit: true,
                lun: Lun::default(),
                itt: Itt(9),
                ttt: Ttt(3),
                data_sn: DataSn(0),
                buffer_offset: 0,
                ..DataOut::default()
            },
            data.as_slice(),
        )
        .to_vec(Digests::NONE)
        .unwrap()
    }

    #[test]
    fn keeps_bytes_of_the_next_pdu() {
        let mut wire = data_out(5);
        wire.extend_from_slice(&data_out(0)[..10]);
        let mut buf = BytesMut::from(&wire[..]);
        let mut framer = Framer::default();
        let Decoded::Frame(frame) = framer.decode(&mut buf).unwrap() else {
            panic!("expected a frame")
        };
        assert_eq!(frame.data().as_ref(), &[0x5a; 5]);
        assert_eq!(buf.len(), 10, "the next PDU's bytes stay");
        assert!(matches!(
            framer.decode(&mut buf).unwrap(),
            Decoded::Incomplete { needed: 38 }
        ));
    }

    #[test]
    fn oversize_is_refused_before_buffering_and_names_both_numbers() {
        let wire = data_out(9000);
        let mut buf = BytesMut::from(&wire[..48]);
        let err = Framer::default().decode(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Opcode(0x5 SCSI Data-Out) with ITT 0x00000009: data segment of 9000 bytes exceeds \
             MaxRecvDataSegmentLength 8192"
        );
        assert_eq!(buf.len(), 48, "nothing consumed");
    }

    #[test]
    fn data_digest_error_consumes_the_pdu_and_keeps_its_header() {
        let pdu = Pdu::new(NopIn::default(), &b"ping"[..]);
        let mut wire = pdu.to_vec(Digests::BOTH).unwrap();
        let n = wire.len();
        wire[n - 1] ^= 0xff;
        wire.extend(pdu.to_vec(Digests::BOTH).unwrap());
        let mut buf = BytesMut::from(&wire[..]);
        let mut framer = Framer::new(FrameLimits::default().with_digests(Digests::BOTH));
        let err = framer.decode(&mut buf).unwrap_err();
        let FrameError::DataDigest { header, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(header.len(), 48);
        assert_eq!(
            err.reject_reason(),
            Some(crate::RejectReason::DATA_DIGEST_ERROR)
        );
        assert!(matches!(
            framer.decode(&mut buf).unwrap(),
            Decoded::Frame(_)
        ));
        assert!(buf.is_empty());
    }
}
