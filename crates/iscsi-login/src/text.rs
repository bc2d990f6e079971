//! Login text across PDUs (RFC 7143 §6.1, §11.12.2): reassembly of text the
//! peer continues with the C bit, and splitting of ours when it is longer
//! than a login PDU may carry.

use bytes::{Bytes, BytesMut};
use iscsi_pdu::text::{TextLimits, TextPairs};

use crate::error::{LoginError, Violation};

/// Data segment limit of Login PDUs: the default MaxRecvDataSegmentLength,
/// which applies throughout login (RFC 7143 §13.12).
pub(crate) const LOGIN_SEGMENT_LIMIT: usize = 8192;

/// Most text one side may accumulate over a login: eight times the 8192
/// bytes every implementation must accept (RFC 7143 §6.1).
pub(crate) const MAX_LOGIN_TEXT: usize = 65_536;

/// Most Login PDUs one login may take before it is treated as hostile.
pub(crate) const MAX_LOGIN_PDUS: u32 = 64;

/// Text the peer is sending, possibly over several PDUs.
#[derive(Debug, Default, Clone)]
pub(crate) struct Incoming {
    buf: Vec<u8>,
}

impl Incoming {
    /// Adds one PDU's data segment. Returns the whole text when `more` is
    /// false (the C bit was clear), else `None`.
    pub(crate) fn push(
        &mut self,
        data: &[u8],
        more: bool,
    ) -> Result<Option<TextPairs>, LoginError> {
        if self.buf.len() + data.len() > MAX_LOGIN_TEXT {
            return Err(Violation::TextTooLong.into());
        }
        self.buf.extend_from_slice(data);
        if more {
            return Ok(None);
        }
        let text = std::mem::take(&mut self.buf);
        Ok(Some(TextPairs::parse_with(&text, TextLimits::default())?))
    }
}

/// Text we are sending, cut into PDU-sized pieces.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outgoing {
    rest: Bytes,
}

impl Outgoing {
    /// Encodes `pairs` and keeps them for [`Outgoing::next_chunk`].
    pub(crate) fn set(&mut self, pairs: &[(String, String)]) {
        let mut buf = BytesMut::new();
        iscsi_pdu::text::encode_text(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &mut buf,
        );
        self.rest = buf.freeze();
    }

    /// True while a piece remains after the current one was sent.
    pub(crate) fn pending(&self) -> bool {
        !self.rest.is_empty()
    }

    /// The next piece (at most `limit` bytes) and whether more follows (the C bit).
    pub(crate) fn next_chunk(&mut self, limit: usize) -> (Bytes, bool) {
        let n = self.rest.len().min(limit);
        let chunk = self.rest.split_to(n);
        (chunk, !self.rest.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_text_is_reassembled_even_mid_pair() {
        let mut incoming = Incoming::default();
        assert!(
            incoming
                .push(b"InitiatorName=iqn.x\0Targ", true)
                .unwrap()
                .is_none()
        );
        let pairs = incoming.push(b"etName=iqn.y\0", false).unwrap().unwrap();
        assert_eq!(pairs.get("TargetName"), Some("iqn.y"));
        assert!(
            incoming
                .push(&vec![b'a'; MAX_LOGIN_TEXT + 1], true)
                .is_err()
        );
    }

    #[test]
    fn outgoing_text_is_split() {
        let mut out = Outgoing::default();
        out.set(&[("K".to_owned(), "v".repeat(10_000))]);
        let (a, more) = out.next_chunk(LOGIN_SEGMENT_LIMIT);
        assert_eq!((a.len(), more), (8192, true));
        let (b, more) = out.next_chunk(LOGIN_SEGMENT_LIMIT);
        assert_eq!((b.len(), more), (10_003 - 8192, false));
        assert!(!out.pending());
    }
}
