//! MODE SENSE parameter data: headers, block descriptors and pages (SPC-4 §7.5, SBC-3 §6.4–6.5).

use super::*;

/// A mode parameter block descriptor for a direct-access device (SBC-3
/// §6.4.2): short (8 bytes: 32-bit block count, 24-bit block length) or
/// long (16 bytes, LONGLBA: 64-bit count, 32-bit length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockDescriptor {
    /// NUMBER OF LOGICAL BLOCKS.
    pub blocks: u64,
    /// LOGICAL BLOCK LENGTH, in bytes.
    pub block_length: u32,
}

/// One mode page (SPC-4 §7.5.7): page_0 or sub_page format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModePage {
    /// PAGE CODE (byte 0 bits 5–0).
    pub page_code: u8,
    /// SUBPAGE CODE (byte 1 of the sub_page format; 0 for page_0 format).
    pub subpage: u8,
    /// PS (byte 0 bit 7): the page can be saved.
    pub ps: bool,
    /// SPF (byte 0 bit 6): the page is in sub_page format.
    pub spf: bool,
    /// The whole page, header included, so that byte numbers match the
    /// standard's tables.
    pub bytes: Vec<u8>,
}

/// The Caching mode page (SBC-3 §6.4.5, page 08h), as far as the initiator
/// usually cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CachingPage {
    /// WCE (byte 2 bit 2): write cache enabled.
    pub wce: bool,
    /// RCD (byte 2 bit 0): read cache disabled.
    pub rcd: bool,
}

/// The Control mode page (SPC-4 §7.5.8, page 0Ah).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ControlPage {
    /// TST (byte 2 bits 7–5): task set type.
    pub tst: u8,
    /// TMF_ONLY (byte 2 bit 4).
    pub tmf_only: bool,
    /// D_SENSE (byte 2 bit 2): descriptor-format sense data.
    pub d_sense: bool,
    /// GLTSD (byte 2 bit 1).
    pub gltsd: bool,
    /// RLEC (byte 2 bit 0).
    pub rlec: bool,
    /// QUEUE ALGORITHM MODIFIER (byte 3 bits 7–4): 0 restricted, 1
    /// unrestricted reordering.
    pub queue_algorithm_modifier: u8,
    /// QERR (byte 3 bits 2–1).
    pub qerr: u8,
    /// SWP (byte 4 bit 3): software write protect.
    pub swp: bool,
    /// TAS (byte 5 bit 6): task aborted status.
    pub tas: bool,
}

impl ModePage {
    /// The Caching page fields, when this is page 08h subpage 0 and long
    /// enough.
    #[must_use]
    pub fn caching(&self) -> Option<CachingPage> {
        if self.page_code != 0x08 || self.subpage != 0 || self.bytes.len() < 3 {
            return None;
        }
        Some(CachingPage {
            wce: bit(&self.bytes, 2, 0x04),
            rcd: bit(&self.bytes, 2, 0x01),
        })
    }

    /// The Control page fields, when this is page 0Ah subpage 0 and long
    /// enough (6 bytes).
    #[must_use]
    pub fn control(&self) -> Option<ControlPage> {
        let b = &self.bytes;
        if self.page_code != 0x0a || self.subpage != 0 || b.len() < 6 {
            return None;
        }
        Some(ControlPage {
            tst: byte(b, 2) >> 5,
            tmf_only: bit(b, 2, 0x10),
            d_sense: bit(b, 2, 0x04),
            gltsd: bit(b, 2, 0x02),
            rlec: bit(b, 2, 0x01),
            queue_algorithm_modifier: byte(b, 3) >> 4,
            qerr: (byte(b, 3) >> 1) & 0x03,
            swp: bit(b, 4, 0x08),
            tas: bit(b, 5, 0x40),
        })
    }
}

/// MODE SENSE(6)/(10) data (SPC-4 §7.5.4–§7.5.6): mode parameter header,
/// block descriptors and mode pages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModeParameters {
    /// MODE DATA LENGTH: bytes that follow the length field itself.
    pub mode_data_length: u16,
    /// MEDIUM TYPE (00h for block devices).
    pub medium_type: u8,
    /// DEVICE-SPECIFIC PARAMETER (SBC-3 §6.4.1: WP 80h, DPOFUA 10h).
    pub device_specific: u8,
    /// LONGLBA (MODE SENSE(10) header byte 4 bit 0): 16-byte descriptors.
    pub long_lba: bool,
    /// BLOCK DESCRIPTOR LENGTH, in bytes.
    pub block_descriptor_length: u16,
    /// The block descriptors that were returned whole.
    pub block_descriptors: Vec<BlockDescriptor>,
    /// The mode pages that were returned whole.
    pub pages: Vec<ModePage>,
    /// True when MODE DATA LENGTH announces more than was returned (the last
    /// page or descriptor was cut short and left out).
    pub truncated: bool,
}

impl ModeParameters {
    /// Parses MODE SENSE(6) data (4-byte header, SPC-4 §7.5.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse6(data: &[u8]) -> Result<Self, ParseError> {
        need("MODE SENSE(6) data", data, 4)?;
        let mode_data_length = u16::from(byte(data, 0));
        Ok(Self::parse_body(
            data,
            4,
            usize::from(mode_data_length) + 1,
            Self {
                mode_data_length,
                medium_type: byte(data, 1),
                device_specific: byte(data, 2),
                long_lba: false,
                block_descriptor_length: u16::from(byte(data, 3)),
                ..Self::default()
            },
        ))
    }

    /// Parses MODE SENSE(10) data (8-byte header, SPC-4 §7.5.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 8 header bytes.
    pub fn parse10(data: &[u8]) -> Result<Self, ParseError> {
        need("MODE SENSE(10) data", data, 8)?;
        let mode_data_length = be16(data, 0);
        Ok(Self::parse_body(
            data,
            8,
            usize::from(mode_data_length) + 2,
            Self {
                mode_data_length,
                medium_type: byte(data, 2),
                device_specific: byte(data, 3),
                long_lba: bit(data, 4, 0x01),
                block_descriptor_length: be16(data, 6),
                ..Self::default()
            },
        ))
    }

    fn parse_body(data: &[u8], header: usize, total: usize, mut out: Self) -> Self {
        out.truncated = total > data.len();
        let data = span(data, 0, total);
        let bd_end = header + usize::from(out.block_descriptor_length);
        if bd_end > data.len() {
            out.truncated = true;
        }
        let (size, long) = if out.long_lba { (16, true) } else { (8, false) };
        out.block_descriptors = span(data, header, bd_end)
            .chunks_exact(size)
            .map(|d| {
                if long {
                    BlockDescriptor {
                        blocks: be64(d, 0),
                        block_length: be32(d, 12),
                    }
                } else {
                    BlockDescriptor {
                        blocks: be32(d, 0).into(),
                        block_length: be24(d, 5),
                    }
                }
            })
            .collect();
        let mut rest = span(data, bd_end, data.len());
        while let [b0, b1, ..] = rest {
            let spf = b0 & 0x40 != 0;
            let (subpage, len) = if spf {
                if rest.len() < 4 {
                    out.truncated = true;
                    break;
                }
                (*b1, 4 + usize::from(be16(rest, 2)))
            } else {
                (0, 2 + usize::from(*b1))
            };
            let Some(bytes) = rest.get(..len) else {
                out.truncated = true;
                break;
            };
            out.pages.push(ModePage {
                page_code: b0 & 0x3f,
                subpage,
                ps: b0 & 0x80 != 0,
                spf,
                bytes: bytes.to_vec(),
            });
            rest = rest.get(len..).unwrap_or(&[]);
        }
        out
    }

    /// WP (DEVICE-SPECIFIC PARAMETER bit 7, SBC-3 §6.4.1): write protected.
    #[must_use]
    pub const fn write_protected(&self) -> bool {
        self.device_specific & 0x80 != 0
    }

    /// DPOFUA (DEVICE-SPECIFIC PARAMETER bit 4, SBC-3 §6.4.1): DPO and FUA
    /// are supported.
    #[must_use]
    pub const fn dpofua(&self) -> bool {
        self.device_specific & 0x10 != 0
    }

    /// The page with this page code and subpage code, if returned.
    #[must_use]
    pub fn page(&self, page_code: u8, subpage: u8) -> Option<&ModePage> {
        self.pages
            .iter()
            .find(|p| p.page_code == page_code && p.subpage == subpage)
    }

    /// The Caching page (08h) fields, if returned.
    #[must_use]
    pub fn caching(&self) -> Option<CachingPage> {
        self.page(0x08, 0).and_then(ModePage::caching)
    }

    /// The Control page (0Ah) fields, if returned.
    #[must_use]
    pub fn control(&self) -> Option<ControlPage> {
        self.page(0x0a, 0).and_then(ModePage::control)
    }
}
