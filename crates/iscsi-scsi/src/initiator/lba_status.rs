//! GET LBA STATUS parameter data (SBC-3 §5.4).

use super::*;

/// PROVISIONING STATUS of an LBA status descriptor (SBC-3 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProvisioningStatus {
    /// 0h: mapped (or status unknown).
    Mapped,
    /// 1h: deallocated.
    Deallocated,
    /// 2h: anchored.
    Anchored,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl ProvisioningStatus {
    /// The status with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0 => Self::Mapped,
            1 => Self::Deallocated,
            2 => Self::Anchored,
            other => Self::Reserved(other),
        }
    }
}

/// An LBA status descriptor (SBC-3 §5.4): 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LbaStatusDescriptor {
    /// LBA STATUS LOGICAL BLOCK ADDRESS (bytes 0–7): first block of the
    /// extent.
    pub lba: u64,
    /// NUMBER OF LOGICAL BLOCKS (bytes 8–11) in the extent.
    pub blocks: u32,
    /// PROVISIONING STATUS (byte 12 bits 3–0).
    pub status: ProvisioningStatus,
}

/// GET LBA STATUS parameter data (SBC-3 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LbaStatus {
    /// PARAMETER DATA LENGTH (bytes 0–3): bytes that follow the field.
    pub parameter_data_length: u32,
    /// The descriptors returned whole.
    pub descriptors: Vec<LbaStatusDescriptor>,
}

impl LbaStatus {
    /// Parses GET LBA STATUS data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 8 header bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("GET LBA STATUS data", data, 8)?;
        let parameter_data_length = be32(data, 0);
        let end = usize::try_from(parameter_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        Ok(Self {
            parameter_data_length,
            descriptors: span(data, 8, end)
                .chunks_exact(16)
                .map(|d| LbaStatusDescriptor {
                    lba: be64(d, 0),
                    blocks: be32(d, 8),
                    status: ProvisioningStatus::from_code(byte(d, 12)),
                })
                .collect(),
        })
    }
}
