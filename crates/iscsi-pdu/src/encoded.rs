//! PDUs encoded for the wire, as a [`bytes::Buf`] that any runtime can
//! write with one vectored write per batch.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::digest::Digests;
use crate::error::EncodeError;
use crate::pdu::{PduBuf, encode_vectored};

/// Encoded PDUs waiting to be written: headers, data segments (shared with
/// the PDUs, not copied) and trailers, in wire order.
///
/// It implements [`Buf`]: [`Buf::chunks_vectored`] hands a vectored write
/// every part at once and [`Buf::advance`] drops what was written, so a
/// short write resumes where it stopped.
#[derive(Clone, Debug, Default)]
pub struct EncodedPdus {
    parts: VecDeque<Bytes>,
    remaining: usize,
    pdus: usize,
}

impl EncodedPdus {
    /// Nothing to send.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `pdus` with `digests` and appends them. Headers and trailers
    /// are written into `scratch`, which is split off and can be reused.
    ///
    /// # Errors
    /// A PDU that cannot be encoded ([`EncodeError`]); nothing is appended then.
    pub fn push<'a>(
        &mut self,
        pdus: impl IntoIterator<Item = &'a PduBuf>,
        digests: Digests,
        scratch: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let pdus: Vec<&PduBuf> = pdus.into_iter().collect();
        let parts = encode_vectored(pdus.iter().copied(), digests, scratch)?;
        self.pdus += pdus.len();
        for part in parts {
            self.remaining += part.len();
            self.parts.push_back(part);
        }
        Ok(())
    }

    /// Moves every part of `other` to the end of this one.
    pub fn append(&mut self, mut other: Self) {
        self.remaining += other.remaining;
        self.pdus += other.pdus;
        self.parts.append(&mut other.parts);
    }

    /// True when every byte was written (or nothing was pushed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// PDUs pushed so far (whether written or not).
    #[must_use]
    pub const fn pdu_count(&self) -> usize {
        self.pdus
    }

    /// The bytes still to write, copied into one vector (tests, captures).
    #[must_use]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.remaining);
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        out
    }
}

/// The transmit side of a connection: PDUs queued since the last poll,
/// encoded together under the digests in force when polled, so that one
/// vectored write carries every PDU queued in between. Both roles'
/// connection machines use it.
///
/// A digest change ([`set_digests`](Self::set_digests), at the end of login)
/// first encodes what is queued under the old digests: the last Login
/// PDU goes out without the digests it negotiated (RFC 7143 §13.1).
#[derive(Debug)]
pub struct Transmitter {
    digests: Digests,
    scratch: BytesMut,
    queued: Vec<PduBuf>,
    out: EncodedPdus,
}

impl Default for Transmitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Transmitter {
    /// Nothing queued, no digests (the login phase).
    #[must_use]
    pub fn new() -> Self {
        Self {
            digests: Digests::NONE,
            scratch: BytesMut::with_capacity(16 * 1024),
            queued: Vec::new(),
            out: EncodedPdus::new(),
        }
    }

    /// The digests PDUs are encoded with now.
    #[must_use]
    pub const fn digests(&self) -> Digests {
        self.digests
    }

    /// Queues `pdu` for the next poll.
    pub fn queue(&mut self, pdu: PduBuf) {
        self.queued.push(pdu);
    }

    /// Encodes what is queued under the current digests, then switches to
    /// `digests` for what is queued later.
    ///
    /// # Errors
    /// A queued PDU that cannot be encoded ([`EncodeError`]): the stream
    /// cannot go on, and the queued PDUs are dropped.
    pub fn set_digests(&mut self, digests: Digests) -> Result<(), EncodeError> {
        let result = self.encode_queued();
        self.digests = digests;
        result
    }

    /// Every PDU queued so far, encoded; `Ok(None)` when nothing is queued
    /// or waiting.
    ///
    /// # Errors
    /// A queued PDU that cannot be encoded ([`EncodeError`]); the queued
    /// PDUs are dropped (what was encoded before is kept for the next poll).
    pub fn poll(&mut self) -> Result<Option<EncodedPdus>, EncodeError> {
        self.encode_queued()?;
        Ok((!self.out.is_empty()).then(|| std::mem::take(&mut self.out)))
    }

    fn encode_queued(&mut self) -> Result<(), EncodeError> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let result = self
            .out
            .push(self.queued.iter(), self.digests, &mut self.scratch);
        self.queued.clear();
        result
    }
}

impl Buf for EncodedPdus {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.parts.front().map_or(&[], |b| b.as_ref())
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, part) in dst.iter_mut().zip(&self.parts) {
            *slot = std::io::IoSlice::new(part);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            if cnt >= front.len() {
                cnt -= front.len();
                self.remaining -= front.len();
                self.parts.pop_front();
            } else {
                front.advance(cnt);
                self.remaining -= cnt;
                cnt = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NopIn, Pdu};

    fn nop(data: &'static [u8]) -> PduBuf {
        Pdu::new(NopIn::default(), Bytes::from_static(data))
    }

    #[test]
    fn same_bytes_as_to_vec_and_short_writes_resume() {
        let pdus = [nop(b"hello"), nop(b""), nop(b"0123456789abcdef")];
        let mut scratch = BytesMut::new();
        let mut enc = EncodedPdus::new();
        enc.push(&pdus[..2], Digests::BOTH, &mut scratch).unwrap();
        let mut more = EncodedPdus::new();
        more.push(&pdus[2..], Digests::BOTH, &mut scratch).unwrap();
        enc.append(more);
        let expected: Vec<u8> = pdus
            .iter()
            .flat_map(|p| p.to_vec(Digests::BOTH).unwrap())
            .collect();
        assert_eq!(enc.to_vec(), expected);
        assert_eq!(enc.remaining(), expected.len());
        assert_eq!(enc.pdu_count(), 3);
        // Writes of 7 bytes at a time, as a slow socket would take them.
        let mut written = Vec::new();
        while enc.has_remaining() {
            let mut slices = [std::io::IoSlice::new(&[]); 4];
            let n = enc.chunks_vectored(&mut slices);
            let mut take = 7;
            for s in slices.iter().take(n) {
                let k = take.min(s.len());
                written.extend_from_slice(&s[..k]);
                take -= k;
                if take == 0 {
                    break;
                }
            }
            let step = 7.min(enc.remaining());
            enc.advance(step);
        }
        assert_eq!(written, expected);
        assert!(enc.is_empty());
    }

    #[test]
    fn transmitter_encodes_each_pdu_under_the_digests_it_was_queued_with() {
        let mut tx = Transmitter::new();
        assert_eq!(tx.poll().unwrap().map(|e| e.pdu_count()), None);
        tx.queue(nop(b"login"));
        tx.set_digests(Digests::BOTH).unwrap();
        tx.queue(nop(b"full feature"));
        tx.queue(nop(b""));
        let out = tx.poll().unwrap().unwrap();
        let mut expected = nop(b"login").to_vec(Digests::NONE).unwrap();
        expected.extend(nop(b"full feature").to_vec(Digests::BOTH).unwrap());
        expected.extend(nop(b"").to_vec(Digests::BOTH).unwrap());
        assert_eq!(out.to_vec(), expected);
        assert_eq!(out.pdu_count(), 3);
        assert!(tx.poll().unwrap().is_none());
    }
}
