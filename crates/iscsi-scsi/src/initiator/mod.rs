//! The initiator half of the SCSI layer: command descriptor blocks built
//! byte for byte per SPC-4 and SBC-3, the parameter lists some of them send,
//! and parsers for the data targets return.
//!
//! Nothing here does I/O. A [`Cdb`] goes into a SCSI Command PDU, the
//! parameter lists (UNMAP, PERSISTENT RESERVE OUT) into its Data-Out, and
//! the Data-In that comes back goes to the matching `parse` function. The
//! parsers take whatever the target returned: data cut short by a small
//! allocation length parses as far as it goes (absent fields read as zero
//! or `false`), and no input, however malformed, panics.
//!
//! Multi-byte fields are big-endian (most significant byte first)
//! throughout. Lengths are in bytes and transfer lengths in logical blocks
//! unless a name says otherwise.

use core::fmt;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A CDB field value that the chosen CDB form cannot hold (SPC-4 §4.2: the
/// 6-, 10-, 12- and 16-byte CDB layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdbError {
    /// The value does not fit the field (for example an LBA above
    /// 0xFFFF_FFFF in a 10-byte CDB): use a longer CDB form.
    #[error("{field} {value:#x} does not fit its CDB field (maximum {max:#x})")]
    #[non_exhaustive]
    OutOfRange {
        /// The T10 name of the field.
        field: &'static str,
        /// The value that was asked for.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
    /// A CDB of this many bytes cannot be built (1 to 16 are allowed).
    #[error("a CDB holds 1 to 16 bytes, not {0}")]
    Length(usize),
}

/// Data-In returned by a target that cannot be parsed. Data merely cut short
/// by the ALLOCATION LENGTH (SPC-4 §4.2.5.6) is not an error where the
/// standard allows it: only a missing fixed header is.
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

fn need(what: &'static str, data: &[u8], needed: usize) -> Result<(), ParseError> {
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

/// `value` as a `T`, or [`CdbError::OutOfRange`] naming `field`.
fn fit<T>(field: &'static str, value: impl Into<u64>, max: T) -> Result<T, CdbError>
where
    T: TryFrom<u64> + Into<u64>,
{
    let value = value.into();
    T::try_from(value).map_err(|_| CdbError::OutOfRange {
        field,
        value,
        max: max.into(),
    })
}

// ---------------------------------------------------------------------------
// Byte access that never panics
// ---------------------------------------------------------------------------

/// Byte `i` of `d`, or 0 past the end.
fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

fn be_bytes<const N: usize>(d: &[u8], i: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (k, b) in out.iter_mut().enumerate() {
        *b = byte(d, i.saturating_add(k));
    }
    out
}

fn be16(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes(be_bytes(d, i))
}

fn be24(d: &[u8], i: usize) -> u32 {
    let [a, b, c] = be_bytes(d, i);
    u32::from_be_bytes([0, a, b, c])
}

fn be32(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(be_bytes(d, i))
}

fn be64(d: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(be_bytes(d, i))
}

fn bit(d: &[u8], i: usize, mask: u8) -> bool {
    byte(d, i) & mask != 0
}

/// `d[start..end]` clamped to the data, empty when `start` is past the end.
fn span(d: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(d.len());
    d.get(start..end).unwrap_or(&[])
}

/// ASCII text of `d[start..end]` with leading and trailing spaces and NULs
/// removed (SPC-4 §4.3.1: ASCII fields are padded with spaces).
fn text(d: &[u8], start: usize, end: usize) -> String {
    String::from_utf8_lossy(span(d, start, end))
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_owned()
}

fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

mod builders;
mod capacity;
mod inquiry;
mod lba_status;
mod luns;
mod mode;
mod opcodes;
mod parameter_lists;
mod reservations;
mod vpd;

pub use builders::*;
pub use capacity::*;
pub use inquiry::*;
pub use lba_status::*;
pub use luns::*;
pub use mode::*;
pub use opcodes::*;
pub use parameter_lists::*;
pub use reservations::*;
pub use vpd::*;

#[cfg(test)]
mod tests;
