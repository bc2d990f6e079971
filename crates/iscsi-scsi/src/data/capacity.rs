//! READ CAPACITY(10) and (16) parameter data (SBC-3 §5.15, §5.16).

use super::{ParseError, Reader, need, put};

/// READ CAPACITY(10) parameter data (SBC-3 §5.15.2): 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReadCapacity10 {
    /// RETURNED LOGICAL BLOCK ADDRESS (bytes 0–3): the last LBA;
    /// FFFF_FFFFh when the capacity needs READ CAPACITY(16).
    pub last_lba: u32,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 4–7).
    pub block_length: u32,
}

impl ReadCapacity10 {
    /// Parses the 8 bytes.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ CAPACITY(10) data", data, 8)?;
        let d = Reader(data);
        Ok(Self {
            last_lba: d.u32(0),
            block_length: d.u32(4),
        })
    }

    /// The data for a medium of `blocks` logical blocks (at least one) of
    /// `block_length` bytes: RETURNED LOGICAL BLOCK ADDRESS is `blocks − 1`,
    /// or FFFF_FFFFh when that does not fit 32 bits (SBC-3 §5.15.2).
    #[must_use]
    pub fn new(blocks: u64, block_length: u32) -> Self {
        Self {
            last_lba: u32::try_from(blocks.saturating_sub(1)).unwrap_or(u32::MAX),
            block_length,
        }
    }

    /// The 8 bytes of READ CAPACITY(10) parameter data (SBC-3 §5.15.2).
    #[must_use]
    pub fn encode(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        put(&mut out, 0, &self.last_lba.to_be_bytes());
        put(&mut out, 4, &self.block_length.to_be_bytes());
        out
    }

    /// The number of logical blocks (last LBA + 1).
    #[must_use]
    pub const fn block_count(&self) -> u64 {
        self.last_lba as u64 + 1
    }

    /// The capacity in bytes.
    #[must_use]
    pub const fn capacity_bytes(&self) -> u64 {
        // At most 2^32 × (2^32 − 1): always fits.
        self.block_count().saturating_mul(self.block_length as u64)
    }

    /// True when the LBA field is saturated and READ CAPACITY(16) must be
    /// used (SBC-3 §5.15.2).
    #[must_use]
    pub const fn needs_read_capacity16(&self) -> bool {
        self.last_lba == u32::MAX
    }
}

/// READ CAPACITY(16) parameter data (SBC-3 §5.16.2): 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReadCapacity16 {
    /// RETURNED LOGICAL BLOCK ADDRESS (bytes 0–7): the last LBA.
    pub last_lba: u64,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 8–11).
    pub block_length: u32,
    /// P_TYPE (byte 12 bits 3–1): protection type − 1 when `prot_en`.
    pub p_type: u8,
    /// PROT_EN (byte 12 bit 0): protection information enabled.
    pub prot_en: bool,
    /// P_I_EXPONENT (byte 13 bits 7–4).
    pub p_i_exponent: u8,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (byte 13 bits 3–0).
    pub lbppbe: u8,
    /// LBPME (byte 14 bit 7): logical block provisioning (thin) enabled.
    pub lbpme: bool,
    /// LBPRZ (byte 14 bit 6): unmapped blocks read as zeros.
    pub lbprz: bool,
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS (bytes 14–15, 14 bits).
    pub lowest_aligned_lba: u16,
}

impl ReadCapacity16 {
    /// Parses the data, at least the 12 bytes of LBA and block length
    /// (fields past a short allocation length read as zero).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 12 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ CAPACITY(16) data", data, 12)?;
        let d = Reader(data);
        Ok(Self {
            last_lba: d.u64(0),
            block_length: d.u32(8),
            p_type: (d.u8(12) >> 1) & 0x07,
            prot_en: d.bit(12, 0x01),
            p_i_exponent: d.u8(13) >> 4,
            lbppbe: d.u8(13) & 0x0f,
            lbpme: d.bit(14, 0x80),
            lbprz: d.bit(14, 0x40),
            lowest_aligned_lba: d.u16(14) & 0x3fff,
        })
    }

    /// The data for a medium of `blocks` logical blocks (at least one) of
    /// `block_length` bytes, every other field zero.
    #[must_use]
    pub const fn new(blocks: u64, block_length: u32) -> Self {
        Self {
            last_lba: blocks.saturating_sub(1),
            block_length,
            p_type: 0,
            prot_en: false,
            p_i_exponent: 0,
            lbppbe: 0,
            lbpme: false,
            lbprz: false,
            lowest_aligned_lba: 0,
        }
    }

    /// The 32 bytes of READ CAPACITY(16) parameter data (SBC-3 §5.16.2); bytes 16–31 are reserved (zero). Fields wider than theirs
    /// are cut to their bits.
    #[must_use]
    pub fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        put(&mut out, 0, &self.last_lba.to_be_bytes());
        put(&mut out, 8, &self.block_length.to_be_bytes());
        let [aligned_hi, aligned_lo] = (self.lowest_aligned_lba & 0x3fff).to_be_bytes();
        put(
            &mut out,
            12,
            &[
                ((self.p_type & 0x07) << 1) | u8::from(self.prot_en),
                (self.p_i_exponent << 4) | (self.lbppbe & 0x0f),
                (u8::from(self.lbpme) << 7) | (u8::from(self.lbprz) << 6) | aligned_hi,
                aligned_lo,
            ],
        );
        out
    }

    /// The number of logical blocks (last LBA + 1, saturating).
    #[must_use]
    pub const fn block_count(&self) -> u64 {
        self.last_lba.saturating_add(1)
    }

    /// The capacity in bytes (saturating at `u64::MAX`).
    #[must_use]
    pub const fn capacity_bytes(&self) -> u64 {
        self.block_count().saturating_mul(self.block_length as u64)
    }

    /// Logical blocks per physical block (2^LBPPBE).
    #[must_use]
    pub const fn logical_blocks_per_physical_block(&self) -> u32 {
        1 << (self.lbppbe & 0x0f)
    }

    /// The protection type (1–3) when protection is enabled (SBC-3 §5.16.2,
    /// P_TYPE).
    #[must_use]
    pub const fn protection_type(&self) -> Option<u8> {
        if self.prot_en {
            Some(self.p_type + 1)
        } else {
            None
        }
    }
}
