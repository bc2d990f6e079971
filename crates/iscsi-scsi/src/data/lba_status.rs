//! GET LBA STATUS parameter data (SBC-3 §5.4).

use super::{ParseError, Reader, len_field, need};

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

    /// The 4-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Mapped => 0,
            Self::Deallocated => 1,
            Self::Anchored => 2,
            Self::Reserved(code) => code & 0x0f,
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

impl LbaStatusDescriptor {
    /// A descriptor for `blocks` blocks from `lba` with `status`.
    #[must_use]
    pub const fn new(lba: u64, blocks: u32, status: ProvisioningStatus) -> Self {
        Self {
            lba,
            blocks,
            status,
        }
    }

    /// The 16 bytes of the descriptor (SBC-3 §5.4); bytes 13–15
    /// reserved.
    #[must_use]
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        super::put(&mut out, 0, &self.lba.to_be_bytes());
        super::put(&mut out, 8, &self.blocks.to_be_bytes());
        super::put(&mut out, 12, &[self.status.code()]);
        out
    }
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
        let d = Reader(data);
        let parameter_data_length = d.u32(0);
        let end = usize::try_from(parameter_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        Ok(Self {
            parameter_data_length,
            descriptors: d
                .span(8, end)
                .chunks_exact(16)
                .map(|c| {
                    let c = Reader(c);
                    LbaStatusDescriptor {
                        lba: c.u64(0),
                        blocks: c.u32(8),
                        status: ProvisioningStatus::from_code(c.u8(12)),
                    }
                })
                .collect(),
        })
    }

    /// The data with `descriptors`, PARAMETER DATA LENGTH 4 + 16 × their
    /// number.
    #[must_use]
    pub fn new(descriptors: Vec<LbaStatusDescriptor>) -> Self {
        Self {
            parameter_data_length: len_field(
                descriptors.len().saturating_mul(16).saturating_add(4),
            ),
            descriptors,
        }
    }

    /// GET LBA STATUS parameter data (SBC-3 §5.4): PARAMETER DATA
    /// LENGTH (computed from `descriptors`), 4 reserved bytes, then the
    /// 16-byte descriptors.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 16 * self.descriptors.len());
        let len = self.descriptors.len().saturating_mul(16).saturating_add(4);
        out.extend_from_slice(&len_field::<u32>(len).to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        for d in &self.descriptors {
            out.extend_from_slice(&d.encode());
        }
        out
    }
}
