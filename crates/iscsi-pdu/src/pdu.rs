//! A whole PDU: BHS, AHS and data segment, generic over how the bytes are
//! held, with parsing and encoding.

use core::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};
use nom::{IResult, Parser};

use crate::bhs::{BHS_LEN, Bhs, RawBhs};
use crate::codes::{AhsType, Opcode};
use crate::digest::{self, DIGEST_LEN, Digests};
use crate::error::{EncodeError, PduError};
use crate::ids::Itt;

/// Bytes a PDU's data segment and AHS can be held in: a borrowed slice
/// (tests, fuzzing: [`PduRef`]), a reference-counted [`Bytes`] slice of the
/// receive buffer (the runtime: [`PduBuf`]) or a `Vec<u8>` (arbitrary values).
pub trait PduBytes: AsRef<[u8]> + Sized {
    /// The sub-range `range` of these bytes, without copying where the
    /// container allows it. `range` lies within `self`.
    #[must_use]
    fn slice_range(&self, range: Range<usize>) -> Self;
}

impl PduBytes for &[u8] {
    fn slice_range(&self, range: Range<usize>) -> Self {
        self.get(range).unwrap_or(&[])
    }
}

impl PduBytes for Bytes {
    fn slice_range(&self, range: Range<usize>) -> Self {
        if range.start <= range.end && range.end <= self.len() {
            self.slice(range)
        } else {
            Self::new()
        }
    }
}

impl PduBytes for Vec<u8> {
    fn slice_range(&self, range: Range<usize>) -> Self {
        self.get(range).map(<[u8]>::to_vec).unwrap_or_default()
    }
}

/// An Additional Header Segment (RFC 7143 §11.2.2).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Ahs<B> {
    /// Extended CDB (type 1): the bytes of the CDB beyond the 16 in the BHS.
    ExtendedCdb(B),
    /// Bidirectional Read Expected Data Length (type 2), bytes.
    BidiReadExpectedDataLength(u32),
    /// Any other type, preserved as received.
    Other {
        /// AHSType.
        ahs_type: AhsType,
        /// The AHS-specific byte (byte 3).
        specific: u8,
        /// The rest of the AHS, without padding.
        data: B,
    },
}

impl<B: AsRef<[u8]>> Ahs<B> {
    /// AHSLength: the bytes after AHSType, without padding.
    fn ahs_length(&self) -> usize {
        match self {
            Self::ExtendedCdb(tail) => tail.as_ref().len() + 1,
            Self::BidiReadExpectedDataLength(_) => 5,
            Self::Other { data, .. } => data.as_ref().len() + 1,
        }
    }

    /// Bytes this AHS occupies on the wire, padding included.
    fn wire_len(&self) -> usize {
        digest::padded(3 + self.ahs_length())
    }

    fn write(&self, out: &mut impl BufMut) {
        let len = self.ahs_length();
        // `wire_len` was checked against u16 by the caller.
        out.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        match self {
            Self::ExtendedCdb(tail) => {
                out.put_u8(AhsType::EXTENDED_CDB.get());
                out.put_u8(0);
                out.put_slice(tail.as_ref());
            }
            Self::BidiReadExpectedDataLength(n) => {
                out.put_u8(AhsType::BIDI_READ_EXPECTED_DATA_LENGTH.get());
                out.put_u8(0);
                out.put_u32(*n);
            }
            Self::Other {
                ahs_type,
                specific,
                data,
            } => {
                out.put_u8(ahs_type.get());
                out.put_u8(*specific);
                out.put_slice(data.as_ref());
            }
        }
        out.put_bytes(0, digest::padding(3 + len));
    }

    fn to_owned_bytes(&self) -> Ahs<Bytes> {
        match self {
            Self::ExtendedCdb(tail) => Ahs::ExtendedCdb(Bytes::copy_from_slice(tail.as_ref())),
            Self::BidiReadExpectedDataLength(n) => Ahs::BidiReadExpectedDataLength(*n),
            Self::Other {
                ahs_type,
                specific,
                data,
            } => Ahs::Other {
                ahs_type: *ahs_type,
                specific: *specific,
                data: Bytes::copy_from_slice(data.as_ref()),
            },
        }
    }
}

/// One PDU: the typed BHS, its AHS and its data segment (without padding or
/// digest).
///
/// `B` holds the bytes: [`PduRef`] borrows them, [`PduBuf`] shares the
/// receive buffer (`Send + 'static`, zero-copy slices of a
/// [`Frame`](crate::Frame)).
#[derive(Clone, PartialEq, Eq, Debug)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a PDU is exactly BHS + AHS + data segment (RFC 7143 §11.1)"
)]
pub struct Pdu<B> {
    /// The Basic Header Segment.
    pub bhs: Bhs,
    /// Additional Header Segments, in wire order.
    pub ahs: Vec<Ahs<B>>,
    /// The data segment, without padding.
    pub data: B,
}

/// A PDU borrowing its bytes.
pub type PduRef<'a> = Pdu<&'a [u8]>;
/// A PDU over shared `Bytes`, cheap to clone and pass between tasks.
pub type PduBuf = Pdu<Bytes>;

impl<B> Pdu<B> {
    /// A PDU with this header and data segment and no AHS.
    pub fn new(bhs: impl Into<Bhs>, data: B) -> Self {
        Self {
            bhs: bhs.into(),
            ahs: Vec::new(),
            data,
        }
    }

    /// The opcode.
    #[must_use]
    pub fn opcode(&self) -> Opcode {
        self.bhs.opcode()
    }

    /// The Initiator Task Tag.
    #[must_use]
    pub fn itt(&self) -> Itt {
        self.bhs.itt()
    }
}

impl PduBuf {
    /// A header-only PDU (empty data segment).
    pub fn header_only(bhs: impl Into<Bhs>) -> Self {
        Self::new(bhs, Bytes::new())
    }
}

/// The lengths a BHS announces, and the whole PDU's size on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireLayout {
    pub(crate) ahs_len: usize,
    pub(crate) data_len: usize,
    pub(crate) header_digest: usize,
    pub(crate) data_digest: usize,
}

impl WireLayout {
    pub(crate) fn of(raw: &RawBhs, digests: Digests) -> Self {
        let data_len = raw.data_segment_length as usize;
        Self {
            ahs_len: usize::from(raw.total_ahs_length) * 4,
            data_len,
            header_digest: digests.header_len(),
            data_digest: digests.data_len(data_len),
        }
    }

    /// BHS + AHS, bytes.
    pub(crate) fn header_len(&self) -> usize {
        BHS_LEN + self.ahs_len
    }

    /// Offset of the data segment.
    pub(crate) fn data_offset(&self) -> usize {
        self.header_len() + self.header_digest
    }

    /// Whole PDU on the wire, bytes.
    pub(crate) fn total_len(&self) -> usize {
        self.data_offset() + digest::padded(self.data_len) + self.data_digest
    }
}

fn ahs_entry(input: &[u8]) -> IResult<&[u8], (u16, u8, u8)> {
    (be_u16, be_u8, be_u8).parse(input)
}

/// Parses BHS + AHS from `header` (exactly those bytes, digest excluded).
/// Returns the BHS, the AHS list and the DataSegmentLength.
pub(crate) fn parse_header<B: PduBytes>(header: &B) -> Result<(Bhs, Vec<Ahs<B>>), PduError> {
    let bytes = header.as_ref();
    let raw = RawBhs::parse(bytes).ok_or(PduError::Incomplete {
        needed: BHS_LEN,
        available: bytes.len(),
    })?;
    parse_header_fields(&raw, header)
}

/// As [`parse_header`], for a BHS whose fields are already decoded.
pub(crate) fn parse_header_fields<B: PduBytes>(
    raw: &RawBhs,
    header: &B,
) -> Result<(Bhs, Vec<Ahs<B>>), PduError> {
    let bytes = header.as_ref();
    let bhs = match bytes.first_chunk::<BHS_LEN>() {
        Some(b) => Bhs::from_bytes(b),
        None => {
            return Err(PduError::Incomplete {
                needed: BHS_LEN,
                available: bytes.len(),
            });
        }
    };
    let ahs_len = usize::from(raw.total_ahs_length) * 4;
    if bytes.len() != BHS_LEN + ahs_len {
        return Err(PduError::Incomplete {
            needed: BHS_LEN + ahs_len,
            available: bytes.len(),
        });
    }
    let mut ahs = Vec::new();
    let mut offset = BHS_LEN;
    let end = BHS_LEN + ahs_len;
    let malformed = |reason| PduError::MalformedAhs {
        opcode: bhs.opcode(),
        itt: bhs.itt(),
        reason,
    };
    while offset < end {
        let rest = bytes.get(offset..end).unwrap_or(&[]);
        let (body, (length, ahs_type, specific)) =
            ahs_entry(rest).map_err(|_| malformed("fewer than 4 bytes left for an AHS header"))?;
        let length = usize::from(length);
        if length == 0 {
            return Err(malformed("AHSLength is 0"));
        }
        let content = length - 1;
        let (_, _) = take::<usize, &[u8], nom::error::Error<&[u8]>>(content)
            .parse(body)
            .map_err(|_| malformed("AHSLength runs past TotalAHSLength"))?;
        let content_range = offset + 4..offset + 4 + content;
        let ahs_type = AhsType::from_wire(ahs_type);
        let entry = match ahs_type {
            AhsType::EXTENDED_CDB => Ahs::ExtendedCdb(header.slice_range(content_range)),
            AhsType::BIDI_READ_EXPECTED_DATA_LENGTH => {
                let value = bytes
                    .get(content_range)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .ok_or_else(|| {
                        malformed(
                            "Bidirectional Read Expected Data Length AHS must have AHSLength 5",
                        )
                    })?;
                Ahs::BidiReadExpectedDataLength(u32::from_be_bytes(value))
            }
            _ => Ahs::Other {
                ahs_type,
                specific,
                data: header.slice_range(content_range),
            },
        };
        ahs.push(entry);
        offset += digest::padded(3 + length);
    }
    bhs.validate()?;
    Ok((bhs, ahs))
}

impl<'a> PduRef<'a> {
    /// Parses one whole PDU from the front of `buf`, checking digests when
    /// negotiated. Returns the PDU and the bytes it occupied.
    ///
    /// No length limit is applied; the [`Framer`](crate::Framer) does that
    /// for data from the network.
    ///
    /// # Errors
    /// [`PduError::Incomplete`] when `buf` ends early, a digest error, or a
    /// field error from [`Bhs::validate`].
    pub fn parse(buf: &'a [u8], digests: Digests) -> Result<(Self, usize), PduError> {
        let raw = RawBhs::parse(buf).ok_or(PduError::Incomplete {
            needed: BHS_LEN,
            available: buf.len(),
        })?;
        let layout = WireLayout::of(&raw, digests);
        let total = layout.total_len();
        let pdu_bytes = buf.get(..total).ok_or(PduError::Incomplete {
            needed: total,
            available: buf.len(),
        })?;
        let header = pdu_bytes.get(..layout.header_len()).unwrap_or(&[]);
        check_header_digest(pdu_bytes, &layout)?;
        let data = pdu_bytes
            .get(layout.data_offset()..layout.data_offset() + layout.data_len)
            .unwrap_or(&[]);
        check_data_digest(pdu_bytes, &layout, &raw)?;
        let (bhs, ahs) = parse_header_fields(&raw, &header)?;
        Ok((Self { bhs, ahs, data }, total))
    }
}

/// Verifies the header digest of a whole PDU laid out as `layout`.
pub(crate) fn check_header_digest(pdu: &[u8], layout: &WireLayout) -> Result<(), PduError> {
    if layout.header_digest == 0 {
        return Ok(());
    }
    let header = pdu.get(..layout.header_len()).unwrap_or(&[]);
    let received = read_digest(pdu, layout.header_len());
    let computed = digest::crc32c(header);
    if received == computed {
        Ok(())
    } else {
        Err(PduError::HeaderDigest { received, computed })
    }
}

/// Verifies the data digest of a whole PDU laid out as `layout`.
pub(crate) fn check_data_digest(
    pdu: &[u8],
    layout: &WireLayout,
    raw: &RawBhs,
) -> Result<(), PduError> {
    if layout.data_digest == 0 {
        return Ok(());
    }
    let start = layout.data_offset();
    let padded_end = start + digest::padded(layout.data_len);
    let padded_data = pdu.get(start..padded_end).unwrap_or(&[]);
    let received = read_digest(pdu, padded_end);
    let computed = digest::crc32c(padded_data);
    if received == computed {
        Ok(())
    } else {
        Err(PduError::DataDigest {
            opcode: raw.opcode(),
            itt: Itt(raw.itt),
            received,
            computed,
        })
    }
}

fn read_digest(pdu: &[u8], at: usize) -> u32 {
    pdu.get(at..at + DIGEST_LEN)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Largest DataSegmentLength the 24-bit field can carry.
pub const MAX_DATA_SEGMENT_LENGTH: usize = (1 << 24) - 1;
/// Largest AHS area TotalAHSLength can describe, bytes.
pub const MAX_AHS_LENGTH: usize = 255 * 4;

impl<B: AsRef<[u8]>> Pdu<B> {
    fn ahs_wire_len(&self) -> usize {
        self.ahs.iter().map(Ahs::wire_len).sum()
    }

    fn check_encodable(&self) -> Result<(), EncodeError> {
        let data_len = self.data.as_ref().len();
        if data_len > MAX_DATA_SEGMENT_LENGTH {
            return Err(EncodeError::DataSegmentTooLong(data_len));
        }
        let ahs_len = self.ahs_wire_len();
        if ahs_len > MAX_AHS_LENGTH
            || self
                .ahs
                .iter()
                .any(|a| a.ahs_length() > usize::from(u16::MAX))
        {
            return Err(EncodeError::AhsTooLong(ahs_len));
        }
        Ok(())
    }

    /// Bytes of BHS + AHS + header digest.
    #[must_use]
    pub fn header_len(&self, digests: Digests) -> usize {
        BHS_LEN + self.ahs_wire_len() + digests.header_len()
    }

    /// Bytes of padding + data digest after the data segment.
    #[must_use]
    pub fn trailer_len(&self, digests: Digests) -> usize {
        let data_len = self.data.as_ref().len();
        digest::padding(data_len) + digests.data_len(data_len)
    }

    /// The whole PDU's size on the wire.
    #[must_use]
    pub fn encoded_len(&self, digests: Digests) -> usize {
        self.header_len(digests) + self.data.as_ref().len() + self.trailer_len(digests)
    }

    /// Writes BHS, AHS and header digest (the first part of a vectored
    /// write; the data segment goes out as it is, then
    /// [`encode_trailer`](Self::encode_trailer)). TotalAHSLength and
    /// DataSegmentLength are computed here.
    ///
    /// # Errors
    /// [`EncodeError`] when the data segment or AHS do not fit their length
    /// fields.
    pub fn encode_header(
        &self,
        digests: Digests,
        out: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        self.check_encodable()?;
        let mut raw = self.bhs.to_raw();
        // Both fit: checked above (1020 / 4 = 255; data < 2^24).
        raw.total_ahs_length = u8::try_from(self.ahs_wire_len() / 4).unwrap_or(u8::MAX);
        raw.data_segment_length = u32::try_from(self.data.as_ref().len()).unwrap_or(0);
        let mut bhs = raw.to_bytes();
        if let Bhs::Unknown(u) = &self.bhs {
            bhs[0] = u.raw[0];
        }
        out.put_slice(&bhs);
        if self.ahs.is_empty() {
            if digests.header {
                out.put_u32_le(digest::crc32c(&bhs));
            }
            return Ok(());
        }
        let mut ahs_bytes = Vec::with_capacity(self.ahs_wire_len());
        for ahs in &self.ahs {
            ahs.write(&mut ahs_bytes);
        }
        out.put_slice(&ahs_bytes);
        if digests.header {
            out.put_u32_le(digest::crc32c_append(digest::crc32c(&bhs), &ahs_bytes));
        }
        Ok(())
    }

    /// Writes the padding and data digest that follow the data segment.
    pub fn encode_trailer(&self, digests: Digests, out: &mut impl BufMut) {
        let data = self.data.as_ref();
        out.put_bytes(0, digest::padding(data.len()));
        if digests.data_len(data.len()) > 0 {
            out.put_u32_le(digest::data_digest(data));
        }
    }

    /// Writes the whole PDU into `out` (copies the data segment; the runtime
    /// sends header, data and trailer as separate buffers instead).
    ///
    /// # Errors
    /// As [`encode_header`](Self::encode_header).
    pub fn encode(&self, digests: Digests, out: &mut BytesMut) -> Result<(), EncodeError> {
        out.reserve(self.encoded_len(digests));
        self.encode_header(digests, out)?;
        out.put_slice(self.data.as_ref());
        self.encode_trailer(digests, out);
        Ok(())
    }

    /// The whole PDU as a new `Vec` (tests and fuzzing).
    ///
    /// # Errors
    /// As [`encode_header`](Self::encode_header).
    pub fn to_vec(&self, digests: Digests) -> Result<Vec<u8>, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(digests, &mut out)?;
        Ok(out.to_vec())
    }

    /// A copy that owns its bytes.
    #[must_use]
    pub fn to_owned_pdu(&self) -> PduBuf {
        PduBuf {
            bhs: self.bhs,
            ahs: self.ahs.iter().map(Ahs::to_owned_bytes).collect(),
            data: Bytes::copy_from_slice(self.data.as_ref()),
        }
    }
}

/// Encodes `pdus` for one vectored write: the buffers to send, in order —
/// each PDU's header (with AHS and header digest), its data segment (a
/// clone of the `Bytes`, not a copy) and its padding and data digest.
/// Headers and trailers are written into `scratch`, which is split off and
/// can be reused.
///
/// # Errors
/// As [`Pdu::encode_header`]; nothing is returned then.
pub fn encode_vectored<'a>(
    pdus: impl IntoIterator<Item = &'a PduBuf>,
    digests: Digests,
    scratch: &mut BytesMut,
) -> Result<Vec<Bytes>, EncodeError> {
    scratch.clear();
    let mut layout = Vec::new();
    for pdu in pdus {
        let start = scratch.len();
        pdu.encode_header(digests, scratch)?;
        let mid = scratch.len();
        pdu.encode_trailer(digests, scratch);
        layout.push((start..mid, pdu.data.clone(), mid..scratch.len()));
    }
    let encoded = scratch.split().freeze();
    let mut parts = Vec::with_capacity(layout.len() * 3);
    for (head, data, tail) in layout {
        parts.push(encoded.slice(head));
        if !data.is_empty() {
            parts.push(data);
        }
        if !tail.is_empty() {
            parts.push(encoded.slice(tail));
        }
    }
    Ok(parts)
}

impl<A: AsRef<[u8]>> Pdu<A> {
    /// True when both PDUs have the same header, AHS and data bytes,
    /// whatever holds them.
    #[must_use]
    pub fn same_as<B: AsRef<[u8]>>(&self, other: &Pdu<B>) -> bool {
        self.bhs == other.bhs
            && self.data.as_ref() == other.data.as_ref()
            && self.ahs.len() == other.ahs.len()
            && self.ahs.iter().zip(&other.ahs).all(|(a, b)| match (a, b) {
                (Ahs::ExtendedCdb(x), Ahs::ExtendedCdb(y)) => x.as_ref() == y.as_ref(),
                (Ahs::BidiReadExpectedDataLength(x), Ahs::BidiReadExpectedDataLength(y)) => x == y,
                (
                    Ahs::Other {
                        ahs_type: t1,
                        specific: s1,
                        data: d1,
                    },
                    Ahs::Other {
                        ahs_type: t2,
                        specific: s2,
                        data: d2,
                    },
                ) => t1 == t2 && s1 == s2 && d1.as_ref() == d2.as_ref(),
                _ => false,
            })
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arbitrary_impls {
    use arbitrary::{Arbitrary, Result, Unstructured};

    use super::{Ahs, Pdu};
    use crate::codes::AhsType;

    impl<'a> Arbitrary<'a> for Ahs<Vec<u8>> {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(match u.int_in_range(0u8..=2)? {
                0 => Self::ExtendedCdb(take_vec(u, 240)?),
                1 => Self::BidiReadExpectedDataLength(u.arbitrary()?),
                _ => {
                    let mut ahs_type: AhsType = u.arbitrary()?;
                    if ahs_type == AhsType::EXTENDED_CDB
                        || ahs_type == AhsType::BIDI_READ_EXPECTED_DATA_LENGTH
                    {
                        ahs_type = AhsType::from_wire(0x40);
                    }
                    Self::Other {
                        ahs_type,
                        specific: u.arbitrary()?,
                        data: take_vec(u, 200)?,
                    }
                }
            })
        }
    }

    fn take_vec(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
        let len = u.int_in_range(0..=max)?;
        Ok(u.bytes(len.min(u.len()))?.to_vec())
    }

    impl<'a> Arbitrary<'a> for Pdu<Vec<u8>> {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let bhs = u.arbitrary()?;
            let mut ahs: Vec<Ahs<Vec<u8>>> = Vec::new();
            let mut ahs_len = 0;
            for _ in 0..u.int_in_range(0u8..=3)? {
                let entry: Ahs<Vec<u8>> = u.arbitrary()?;
                if ahs_len + entry.wire_len() > super::MAX_AHS_LENGTH {
                    break;
                }
                ahs_len += entry.wire_len();
                ahs.push(entry);
            }
            let data = take_vec(u, 1 << 16)?;
            Ok(Self { bhs, ahs, data })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bhs::{NopOut, ScsiCommand};
    use crate::ids::{CmdSn, Lun, StatSn, Ttt};

    fn nop(data: &'static [u8]) -> PduRef<'static> {
        Pdu::new(
            NopOut {
                immediate: true,
                lun: Lun::default(),
                itt: Itt(7),
                ttt: Ttt::RESERVED,
                cmd_sn: CmdSn(1),
                exp_stat_sn: StatSn(2),
            },
            data,
        )
    }

    #[test]
    fn encode_pads_and_digests_and_parses_back() {
        for digests in [Digests::NONE, Digests::BOTH] {
            let pdu = nop(b"hello");
            let wire = pdu.to_vec(digests).unwrap();
            assert_eq!(wire.len(), pdu.encoded_len(digests));
            assert_eq!(wire.len() % 4, 0);
            let (parsed, used) = PduRef::parse(&wire, digests).unwrap();
            assert_eq!(used, wire.len());
            assert!(parsed.same_as(&pdu));
        }
    }

    #[test]
    fn digest_errors_are_reported() {
        let pdu = nop(b"hello");
        let mut wire = pdu.to_vec(Digests::BOTH).unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        assert!(matches!(
            PduRef::parse(&wire, Digests::BOTH),
            Err(PduError::DataDigest { .. })
        ));
        wire[last] ^= 1;
        wire[3] ^= 1;
        assert!(matches!(
            PduRef::parse(&wire, Digests::BOTH),
            Err(PduError::HeaderDigest { .. })
        ));
    }

    #[test]
    fn extended_cdb_and_unknown_ahs_survive() {
        let mut pdu: PduRef<'static> = Pdu::new(ScsiCommand::default(), &[][..]);
        pdu.ahs.push(Ahs::ExtendedCdb(&[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ]));
        pdu.ahs.push(Ahs::BidiReadExpectedDataLength(4096));
        pdu.ahs.push(Ahs::Other {
            ahs_type: AhsType::from_wire(0x3f),
            specific: 9,
            data: &[0xaa, 0xbb],
        });
        let wire = pdu.to_vec(Digests::BOTH).unwrap();
        // 48 + (3+17 → 20) + (3+5 → 8) + (3+3 → 8) + 4
        assert_eq!(wire.len(), 48 + 20 + 8 + 8 + 4);
        assert_eq!(wire[4], 9);
        let (parsed, _) = PduRef::parse(&wire, Digests::BOTH).unwrap();
        assert!(parsed.same_as(&pdu));
    }

    #[test]
    fn malformed_ahs_is_an_error_not_a_panic() {
        let pdu: PduRef<'static> = Pdu::new(ScsiCommand::default(), &[][..]);
        let mut wire = pdu.to_vec(Digests::NONE).unwrap();
        wire[4] = 1;
        wire.extend_from_slice(&[0, 0, 1, 0]); // AHSLength 0
        assert!(matches!(
            PduRef::parse(&wire, Digests::NONE),
            Err(PduError::MalformedAhs { .. })
        ));
        wire[48..52].copy_from_slice(&[0, 9, 1, 0]); // runs past the end
        assert!(matches!(
            PduRef::parse(&wire, Digests::NONE),
            Err(PduError::MalformedAhs { .. })
        ));
        assert!(matches!(
            PduRef::parse(&wire[..50], Digests::NONE),
            Err(PduError::Incomplete { needed: 52, .. })
        ));
    }

    #[test]
    fn vectored_encoding_equals_contiguous_encoding() {
        let a: PduBuf = Pdu::new(NopOut::default(), Bytes::from_static(b"hello"));
        let b: PduBuf = Pdu::new(ScsiCommand::default(), Bytes::new());
        let mut scratch = BytesMut::new();
        for digests in [Digests::NONE, Digests::BOTH] {
            let parts = encode_vectored([&a, &b], digests, &mut scratch).unwrap();
            let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let mut expected = a.to_vec(digests).unwrap();
            expected.extend(b.to_vec(digests).unwrap());
            assert_eq!(joined, expected);
        }
    }

    #[test]
    fn oversized_data_is_refused_at_encoding() {
        static BIG: [u8; MAX_DATA_SEGMENT_LENGTH + 1] = [0; MAX_DATA_SEGMENT_LENGTH + 1];
        let pdu = nop(&BIG);
        assert_eq!(
            pdu.to_vec(Digests::NONE),
            Err(EncodeError::DataSegmentTooLong(MAX_DATA_SEGMENT_LENGTH + 1))
        );
    }
}
