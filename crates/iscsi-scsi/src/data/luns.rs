//! LUNs as SAM-5 writes them and REPORT LUNS parameter data (SPC-4 §6.33).

use super::{ParseError, Reader, len_field, need};

/// An 8-byte LOGICAL UNIT NUMBER (SAM-5 §4.7), as REPORT LUNS lists it and
/// the iSCSI LUN field carries it: the one SAM LUN type of this crate.
///
/// [`Lun::from_index`] and [`Lun::index`] convert to and from the small
/// numbers people use, single level: peripheral device addressing
/// (method 00b, bus 0) for 0–255 and flat space addressing (method 01b) for
/// 256–16 383 (SAM-5 §4.7.7.2, §4.7.7.3). Other addressing methods and
/// multi-level LUNs are kept as their 8 bytes.
///
/// The transport's LUN field (iSCSI: bytes 8–15 of the BHS) carries the same
/// 8 bytes, so a transport converts with `Lun(bytes)` and `lun.0`.
///
/// ```
/// use iscsi_scsi::data::Lun;
///
/// assert_eq!(Lun::from_index(5), Some(Lun([0, 5, 0, 0, 0, 0, 0, 0])));
/// assert_eq!(Lun::from_index(300).map(|l| l.0[..2].to_vec()), Some(vec![0x41, 0x2c]));
/// assert_eq!(Lun([0x41, 0x2c, 0, 0, 0, 0, 0, 0]).index(), Some(300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a plain newtype over the 8 LUN bytes"
)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// The highest index [`Lun::from_index`] accepts (flat space
    /// addressing has 14 bits).
    pub const MAX_INDEX: u16 = 0x3fff;

    /// The LUN for index `index` in single-level form (SAM-5 §4.7):
    /// peripheral device addressing (00b) below 256, flat space addressing
    /// (01b) below 16 384, `None` above.
    #[must_use]
    pub const fn from_index(index: u16) -> Option<Self> {
        let [hi, lo] = index.to_be_bytes();
        if index < 0x100 {
            Some(Self([0, lo, 0, 0, 0, 0, 0, 0]))
        } else if index <= Self::MAX_INDEX {
            Some(Self([0x40 | hi, lo, 0, 0, 0, 0, 0, 0]))
        } else {
            None
        }
    }

    /// The single-level index of this LUN: peripheral device addressing with
    /// bus 0 (byte 0 = 00h, index in byte 1) or flat space addressing
    /// (14 bits in bytes 0–1), with bytes 2–7 zero. `None` for any other
    /// (multi-level, extended or logical unit) addressing.
    #[must_use]
    pub const fn index(&self) -> Option<u16> {
        let [b0, b1, b2, b3, b4, b5, b6, b7] = self.0;
        if b2 | b3 | b4 | b5 | b6 | b7 != 0 {
            return None;
        }
        match b0 >> 6 {
            0b00 if b0 == 0 => Some(b1 as u16),
            0b01 => Some((((b0 & 0x3f) as u16) << 8) | b1 as u16),
            _ => None,
        }
    }

    /// The 8 bytes as one big-endian number.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The LUN whose 8 bytes are `raw` as a big-endian number.
    #[must_use]
    pub const fn from_u64(raw: u64) -> Self {
        Self(raw.to_be_bytes())
    }

    /// The 8 bytes, as REPORT LUNS and the transport carry them.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

impl From<u64> for Lun {
    fn from(value: u64) -> Self {
        Self::from_u64(value)
    }
}

impl From<[u8; 8]> for Lun {
    fn from(bytes: [u8; 8]) -> Self {
        Self(bytes)
    }
}

impl From<Lun> for [u8; 8] {
    fn from(lun: Lun) -> Self {
        lun.0
    }
}

impl TryFrom<u16> for Lun {
    type Error = u16;

    /// [`Lun::from_index`]; the index back as the error above
    /// [`Lun::MAX_INDEX`].
    fn try_from(index: u16) -> Result<Self, u16> {
        Self::from_index(index).ok_or(index)
    }
}

/// REPORT LUNS parameter data (SPC-4 §6.33).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReportLuns {
    /// LUN LIST LENGTH (bytes 0–3), in bytes: 8 × the number of LUNs the
    /// target has, which may exceed what the allocation length let through.
    pub lun_list_length: u32,
    /// The LUNs that were returned.
    pub luns: Vec<Lun>,
}

impl ReportLuns {
    /// Parses the data: the 8-byte header, then whole 8-byte LUN entries up
    /// to LUN LIST LENGTH or the end of the data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT LUNS data", data, 8)?;
        let d = Reader(data);
        let lun_list_length = d.u32(0);
        let end = usize::try_from(lun_list_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        let luns = d
            .span(8, end)
            .chunks_exact(8)
            .map(|c| Lun(Reader(c).array(0)))
            .collect();
        Ok(Self {
            lun_list_length,
            luns,
        })
    }

    /// The data listing `luns`, with LUN LIST LENGTH 8 × their number.
    #[must_use]
    pub fn new(luns: Vec<Lun>) -> Self {
        Self {
            lun_list_length: len_field(luns.len().saturating_mul(8)),
            luns,
        }
    }

    /// REPORT LUNS parameter data (SPC-4 §6.33): LUN LIST LENGTH
    /// (computed from `luns`, not taken from `lun_list_length`), 4 reserved
    /// bytes, then 8 bytes per LUN. The device server cuts it to the
    /// ALLOCATION LENGTH.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 * self.luns.len());
        out.extend_from_slice(&len_field::<u32>(self.luns.len().saturating_mul(8)).to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        for lun in &self.luns {
            out.extend_from_slice(&lun.0);
        }
        out
    }

    /// The allocation length in bytes that returns every LUN.
    #[must_use]
    pub fn full_length(&self) -> u64 {
        u64::from(self.lun_list_length) + 8
    }

    /// True when the target has more LUNs than were returned.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        (self.luns.len() as u64) * 8 < u64::from(self.lun_list_length)
    }
}
