//! SCSI data structures, one type per wire structure, each with `encode`
//! and `parse`: the logical unit fills a struct and encodes it to answer a
//! command, the initiator parses what a target returned into the same
//! struct.
//!
//! | Module | Structures | Standard |
//! |---|---|---|
//! | [`inquiry`] | standard INQUIRY data | SPC-4 §6.6.2 |
//! | [`vpd`] | VPD pages 00h, 80h, 83h, 86h, B0h, B1h, B2h (8Fh is in [`copy`]) | SPC-4 §7.8, SBC-3 §6.6 |
//! | [`alua`] | REPORT TARGET PORT GROUPS data, SET TARGET PORT GROUPS parameter list | SPC-4 §6.36, §6.44 |
//! | [`copy`] | EXTENDED COPY (LID1) parameter list, RECEIVE COPY RESULTS data, VPD page 8Fh | SPC-4 §6.4, §6.18, §7.8.17 |
//! | [`capacity`] | READ CAPACITY(10) and (16) data | SBC-3 §5.15, §5.16 |
//! | [`luns`] | the SAM LUN, REPORT LUNS data | SAM-5 §4.7, SPC-4 §6.33 |
//! | [`mode`] | mode parameter headers, block descriptors, mode pages | SPC-4 §7.5, SBC-3 §6.4–6.5 |
//! | [`reservations`] | PERSISTENT RESERVE IN data, PERSISTENT RESERVE OUT parameter list | SPC-4 §6.15, §6.16 |
//! | [`lba_status`] | GET LBA STATUS data | SBC-3 §5.4 |
//! | [`opcodes`] | REPORT SUPPORTED OPERATION CODES data | SPC-4 §6.35 |
//!
//! Sense data has its own module, [`crate::sense`] ([`crate::Sense::encode`],
//! [`crate::Sense::parse`]).
//!
//! # Parsing
//! The parsers take whatever a target returned: data cut short by a small
//! allocation length (SPC-4 §4.2.5.6) parses as far as it goes, fields past
//! the end read as zero or `false`, and only a missing fixed header is an
//! error ([`ParseError`]). No input, however malformed, panics: every read
//! goes through [`Reader`].
//!
//! # Encoding
//! `encode` returns the whole structure as the standard lays it out; the
//! device server then cuts it to the ALLOCATION LENGTH of the CDB. Length
//! fields (ADDITIONAL LENGTH, PAGE LENGTH, LUN LIST LENGTH, …) are computed
//! from the content, never taken from the caller, except where a length
//! selects the layout (standard INQUIRY's ADDITIONAL LENGTH). For each type,
//! `parse(&x.encode()) == Ok(x)` when `x` was built by its constructor or
//! by `parse`.
//!
//! Multi-byte fields are big-endian (most significant byte first)
//! throughout. Lengths are in bytes and transfer lengths in logical blocks
//! unless a name says otherwise.

use core::fmt;

pub mod alua;
pub mod capacity;
pub mod copy;
pub mod inquiry;
pub mod lba_status;
pub mod luns;
pub mod mode;
pub mod opcodes;
pub mod reservations;
pub mod vpd;

pub use alua::*;
pub use capacity::*;
pub use copy::*;
pub use inquiry::*;
pub use lba_status::*;
pub use luns::*;
pub use mode::*;
pub use opcodes::*;
pub use reservations::*;
pub use vpd::*;

/// Data that cannot be parsed. Data merely cut short by the ALLOCATION
/// LENGTH (SPC-4 §4.2.5.6) is not an error where the standard allows it:
/// only a missing fixed header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the fixed part of the structure needs.
    #[error("{what}: {got} bytes, at least {needed} needed")]
    #[non_exhaustive]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A VPD page other than the one asked for (SPC-4 §7.8.1, PAGE CODE).
    #[error("expected VPD page {expected:#04x}, got page {got:#04x}")]
    #[non_exhaustive]
    WrongPage {
        /// The page code the parser handles.
        expected: u8,
        /// The PAGE CODE byte of the data.
        got: u8,
    },
}

/// `Ok` when `data` holds at least `needed` bytes, else
/// [`ParseError::Truncated`] naming `what`.
pub(crate) fn need(what: &'static str, data: &[u8], needed: usize) -> Result<(), ParseError> {
    if data.len() < needed {
        Err(ParseError::Truncated {
            what,
            needed,
            got: data.len(),
        })
    } else {
        Ok(())
    }
}

/// Reads big-endian fields at byte offsets of a borrowed buffer, never
/// panicking: a byte past the end reads as zero, a span past the end is
/// clamped (and empty when it starts past the end).
///
/// This is the one byte reader of the crate's data parsers; offsets are the
/// byte numbers of the standard's tables.
///
/// ```
/// use iscsi_scsi::data::Reader;
///
/// let r = Reader::new(&[0x12, 0x34, 0x56]);
/// assert_eq!(r.u16(0), 0x1234);
/// assert_eq!(r.u24(1), 0x34_5600); // the missing byte reads as zero
/// assert!(r.bit(0, 0x10));
/// assert_eq!(r.span(1, 10), &[0x34, 0x56]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a plain view over borrowed bytes"
)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `data`.
    #[must_use]
    pub const fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// The number of bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The reader cut to its first `len` bytes (all of it when shorter).
    #[must_use]
    pub fn take(&self, len: usize) -> Self {
        Self(self.span(0, len))
    }

    /// Byte `at`, or 0 past the end.
    #[must_use]
    pub fn u8(&self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }

    /// True when any bit of `mask` is set in byte `at`.
    #[must_use]
    pub fn bit(&self, at: usize, mask: u8) -> bool {
        self.u8(at) & mask != 0
    }

    /// `N` bytes from `at`, zero past the end.
    #[must_use]
    pub fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        for (k, b) in out.iter_mut().enumerate() {
            *b = self.u8(at.saturating_add(k));
        }
        out
    }

    /// The 16-bit big-endian field at bytes `at..at + 2`.
    #[must_use]
    pub fn u16(&self, at: usize) -> u16 {
        u16::from_be_bytes(self.array(at))
    }

    /// The 24-bit big-endian field at bytes `at..at + 3`.
    #[must_use]
    pub fn u24(&self, at: usize) -> u32 {
        let [a, b, c] = self.array(at);
        u32::from_be_bytes([0, a, b, c])
    }

    /// The 32-bit big-endian field at bytes `at..at + 4`.
    #[must_use]
    pub fn u32(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.array(at))
    }

    /// The 64-bit big-endian field at bytes `at..at + 8`.
    #[must_use]
    pub fn u64(&self, at: usize) -> u64 {
        u64::from_be_bytes(self.array(at))
    }

    /// Bytes `start..end`, clamped to the data; empty when `start` is past
    /// the end (or past `end`).
    #[must_use]
    pub fn span(&self, start: usize, end: usize) -> &'a [u8] {
        let end = end.min(self.0.len());
        self.0.get(start..end).unwrap_or(&[])
    }

    /// Bytes from `start` to the end, empty when `start` is past it.
    #[must_use]
    pub fn rest(&self, start: usize) -> &'a [u8] {
        self.0.get(start..).unwrap_or(&[])
    }

    /// ASCII text of bytes `start..end` with leading and trailing spaces and
    /// NULs removed (SPC-4 §4.3.1: ASCII fields are padded with spaces);
    /// bytes that are not UTF-8 become U+FFFD.
    #[must_use]
    pub fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(self.span(start, end))
            .trim_matches(|c: char| c == ' ' || c == '\0')
            .to_owned()
    }
}

/// Writes `src` at `at` in `out`, leaving out what does not fit.
pub(crate) fn put(out: &mut [u8], at: usize, src: &[u8]) {
    for (dst, b) in out.iter_mut().skip(at).zip(src) {
        *dst = *b;
    }
}

/// Byte `at` of `out` ORed with `bits` (nothing when past the end).
pub(crate) fn set(out: &mut [u8], at: usize, bits: u8) {
    if let Some(b) = out.get_mut(at) {
        *b |= bits;
    }
}

/// `text` as an ASCII field of `len` bytes (SPC-4 §4.3.1): printable
/// ASCII kept, any other byte replaced by `_`, cut to `len` and padded
/// with spaces.
#[must_use]
pub(crate) fn ascii_field(text: &str, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = text
        .bytes()
        .map(|b| {
            if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b'_'
            }
        })
        .take(len)
        .collect();
    out.resize(len, b' ');
    out
}

/// A count as a length field of type `T`, saturating at its maximum.
pub(crate) fn len_field<T: TryFrom<usize> + Bounded>(n: usize) -> T {
    T::try_from(n).unwrap_or(T::MAX)
}

/// The largest value of a length field type.
pub(crate) trait Bounded {
    /// The maximum.
    const MAX: Self;
}

impl Bounded for u8 {
    const MAX: Self = Self::MAX;
}
impl Bounded for u16 {
    const MAX: Self = Self::MAX;
}
impl Bounded for u32 {
    const MAX: Self = Self::MAX;
}

/// Upper-case hex of `bytes`, no separators.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests;
