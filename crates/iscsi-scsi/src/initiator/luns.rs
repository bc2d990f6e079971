//! LUNs as SAM-5 writes them and REPORT LUNS parameter data (SPC-4 §6.33).

use super::*;

/// An 8-byte LOGICAL UNIT NUMBER (SAM-5 §4.7), as REPORT LUNS lists it and
/// the iSCSI LUN field carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a plain newtype over the 8 LUN bytes"
)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// The LUN for index `index` in single-level form (SAM-5 §4.7):
    /// peripheral device addressing (00b) below 256, flat space addressing
    /// (01b) below 16 384, `None` above.
    #[must_use]
    pub const fn from_index(index: u16) -> Option<Self> {
        let [hi, lo] = index.to_be_bytes();
        if index < 0x100 {
            Some(Self([0, lo, 0, 0, 0, 0, 0, 0]))
        } else if index < 0x4000 {
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
}

impl From<u64> for Lun {
    fn from(value: u64) -> Self {
        Self(value.to_be_bytes())
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
        let lun_list_length = be32(data, 0);
        let end = usize::try_from(lun_list_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        let luns = span(data, 8, end)
            .chunks_exact(8)
            .map(|c| Lun(be_bytes(c, 0)))
            .collect();
        Ok(Self {
            lun_list_length,
            luns,
        })
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
