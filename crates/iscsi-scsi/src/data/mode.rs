//! MODE SENSE parameter data: headers, block descriptors and pages (SPC-4 §7.5, SBC-3 §6.4–6.5).

use super::{ParseError, Reader, len_field, need, put};

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

impl BlockDescriptor {
    /// A descriptor for `blocks` blocks of `block_length` bytes.
    #[must_use]
    pub const fn new(blocks: u64, block_length: u32) -> Self {
        Self {
            blocks,
            block_length,
        }
    }

    /// The short (8-byte) form (SBC-3 §6.4.2.2): NUMBER OF LOGICAL BLOCKS
    /// saturated at FFFF_FFFFh (SBC-3: "the capacity does not fit"), a
    /// reserved byte, the 24-bit LOGICAL BLOCK LENGTH (higher bits cut).
    #[must_use]
    pub fn encode_short(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        let blocks = u32::try_from(self.blocks).unwrap_or(u32::MAX);
        put(&mut out, 0, &blocks.to_be_bytes());
        let [_, a, b, c] = self.block_length.to_be_bytes();
        put(&mut out, 5, &[a, b, c]);
        out
    }

    /// The long (16-byte, LONGLBA) form (SBC-3 §6.4.2.3): 64-bit NUMBER OF
    /// LOGICAL BLOCKS, 4 reserved bytes, 32-bit LOGICAL BLOCK LENGTH.
    #[must_use]
    pub fn encode_long(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        put(&mut out, 0, &self.blocks.to_be_bytes());
        put(&mut out, 12, &self.block_length.to_be_bytes());
        out
    }

    fn parse_short(d: Reader<'_>) -> Self {
        Self {
            blocks: d.u32(0).into(),
            block_length: d.u24(5),
        }
    }

    fn parse_long(d: Reader<'_>) -> Self {
        Self {
            blocks: d.u64(0),
            block_length: d.u32(12),
        }
    }
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

impl ModePage {
    /// The page whose bytes (header included) are `bytes`: PS, SPF, PAGE
    /// CODE and SUBPAGE CODE are read from them.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let d = Reader(&bytes);
        let spf = d.bit(0, 0x40);
        Self {
            page_code: d.u8(0) & 0x3f,
            subpage: if spf { d.u8(1) } else { 0 },
            ps: d.bit(0, 0x80),
            spf,
            bytes,
        }
    }

    /// The page as sent: its bytes (SPC-4 §7.5.7).
    #[must_use]
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }
}

/// The Caching mode page (SBC-3 §6.4.5, page 08h, PAGE LENGTH 12h), as far
/// as the initiator usually cares; the other fields encode as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CachingPage {
    /// WCE (byte 2 bit 2): write cache enabled.
    pub wce: bool,
    /// RCD (byte 2 bit 0): read cache disabled.
    pub rcd: bool,
}

impl CachingPage {
    /// PAGE CODE.
    pub const PAGE_CODE: u8 = 0x08;
    /// The page's length in bytes, header included.
    pub const LEN: usize = 20;

    /// The 20-byte page (SBC-3 §6.4.5), PS clear.
    #[must_use]
    pub fn encode(&self) -> [u8; 20] {
        let mut p = [0u8; Self::LEN];
        put(
            &mut p,
            0,
            &[
                Self::PAGE_CODE,
                0x12,
                (u8::from(self.wce) << 2) | u8::from(self.rcd),
            ],
        );
        p
    }

    /// The page as a [`ModePage`].
    #[must_use]
    pub fn to_page(&self) -> ModePage {
        ModePage::from_bytes(self.encode().to_vec())
    }
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
    /// BUSY TIMEOUT PERIOD (bytes 8–9), in 100 ms units; FFFFh unlimited.
    pub busy_timeout_period: u16,
    /// EXTENDED SELF-TEST COMPLETION TIME (bytes 10–11), in seconds.
    pub extended_self_test_completion_time: u16,
}

impl ControlPage {
    /// PAGE CODE.
    pub const PAGE_CODE: u8 = 0x0a;
    /// The page's length in bytes, header included.
    pub const LEN: usize = 12;

    /// The 12-byte page (SPC-4 §7.5.8), PS clear; fields without a member
    /// here encode as zero.
    #[must_use]
    pub fn encode(&self) -> [u8; 12] {
        let mut p = [0u8; Self::LEN];
        put(
            &mut p,
            0,
            &[
                Self::PAGE_CODE,
                0x0a,
                ((self.tst & 0x07) << 5)
                    | (u8::from(self.tmf_only) << 4)
                    | (u8::from(self.d_sense) << 2)
                    | (u8::from(self.gltsd) << 1)
                    | u8::from(self.rlec),
                (self.queue_algorithm_modifier << 4) | ((self.qerr & 0x03) << 1),
                u8::from(self.swp) << 3,
                u8::from(self.tas) << 6,
            ],
        );
        put(&mut p, 8, &self.busy_timeout_period.to_be_bytes());
        put(
            &mut p,
            10,
            &self.extended_self_test_completion_time.to_be_bytes(),
        );
        p
    }

    /// The page as a [`ModePage`].
    #[must_use]
    pub fn to_page(&self) -> ModePage {
        ModePage::from_bytes(self.encode().to_vec())
    }
}

/// The Informational Exceptions Control mode page (SPC-4 §7.5.11, page
/// 1Ch, PAGE LENGTH 0Ah).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct InformationalExceptionsPage {
    /// PERF (byte 2 bit 7).
    pub perf: bool,
    /// EBF (byte 2 bit 5).
    pub ebf: bool,
    /// EWASC (byte 2 bit 4).
    pub ewasc: bool,
    /// DEXCPT (byte 2 bit 3): informational exception operations disabled.
    pub dexcpt: bool,
    /// TEST (byte 2 bit 2).
    pub test: bool,
    /// LOGERR (byte 2 bit 0).
    pub logerr: bool,
    /// METHOD OF REPORTING INFORMATIONAL EXCEPTIONS (byte 3 bits 3–0).
    pub mrie: u8,
    /// INTERVAL TIMER (bytes 4–7), in 100 ms units.
    pub interval_timer: u32,
    /// REPORT COUNT (bytes 8–11).
    pub report_count: u32,
}

impl InformationalExceptionsPage {
    /// PAGE CODE.
    pub const PAGE_CODE: u8 = 0x1c;
    /// The page's length in bytes, header included.
    pub const LEN: usize = 12;

    /// Reads the fields of a page's bytes (header included); zeros past the
    /// end.
    #[must_use]
    pub fn parse(page: &[u8]) -> Self {
        let d = Reader(page);
        Self {
            perf: d.bit(2, 0x80),
            ebf: d.bit(2, 0x20),
            ewasc: d.bit(2, 0x10),
            dexcpt: d.bit(2, 0x08),
            test: d.bit(2, 0x04),
            logerr: d.bit(2, 0x01),
            mrie: d.u8(3) & 0x0f,
            interval_timer: d.u32(4),
            report_count: d.u32(8),
        }
    }

    /// The 12-byte page (SPC-4 §7.5.11), PS clear.
    #[must_use]
    pub fn encode(&self) -> [u8; 12] {
        let mut p = [0u8; Self::LEN];
        put(
            &mut p,
            0,
            &[
                Self::PAGE_CODE,
                0x0a,
                (u8::from(self.perf) << 7)
                    | (u8::from(self.ebf) << 5)
                    | (u8::from(self.ewasc) << 4)
                    | (u8::from(self.dexcpt) << 3)
                    | (u8::from(self.test) << 2)
                    | u8::from(self.logerr),
                self.mrie & 0x0f,
            ],
        );
        put(&mut p, 4, &self.interval_timer.to_be_bytes());
        put(&mut p, 8, &self.report_count.to_be_bytes());
        p
    }

    /// The page as a [`ModePage`].
    #[must_use]
    pub fn to_page(&self) -> ModePage {
        ModePage::from_bytes(self.encode().to_vec())
    }
}

impl ModePage {
    /// The Caching page fields, when this is page 08h subpage 0 and long
    /// enough.
    #[must_use]
    pub fn caching(&self) -> Option<CachingPage> {
        if self.page_code != 0x08 || self.subpage != 0 || self.bytes.len() < 3 {
            return None;
        }
        let d = Reader(&self.bytes);
        Some(CachingPage {
            wce: d.bit(2, 0x04),
            rcd: d.bit(2, 0x01),
        })
    }

    /// The Control page fields, when this is page 0Ah subpage 0 and long
    /// enough (6 bytes).
    #[must_use]
    pub fn control(&self) -> Option<ControlPage> {
        let b = Reader(&self.bytes);
        if self.page_code != 0x0a || self.subpage != 0 || b.len() < 6 {
            return None;
        }
        Some(ControlPage {
            tst: b.u8(2) >> 5,
            tmf_only: b.bit(2, 0x10),
            d_sense: b.bit(2, 0x04),
            gltsd: b.bit(2, 0x02),
            rlec: b.bit(2, 0x01),
            queue_algorithm_modifier: b.u8(3) >> 4,
            qerr: (b.u8(3) >> 1) & 0x03,
            swp: b.bit(4, 0x08),
            tas: b.bit(5, 0x40),
            busy_timeout_period: b.u16(8),
            extended_self_test_completion_time: b.u16(10),
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
    /// Parameters with these block descriptors and pages, MEDIUM TYPE 0,
    /// the length fields computed as [`ModeParameters::encode6`] and
    /// [`ModeParameters::encode10`] write them for MODE SENSE(10) (for
    /// MODE SENSE(6) data set `long_lba` false and use
    /// [`ModeParameters::for_sense6`]).
    #[must_use]
    pub fn new(
        device_specific: u8,
        long_lba: bool,
        block_descriptors: Vec<BlockDescriptor>,
        pages: Vec<ModePage>,
    ) -> Self {
        let mut out = Self {
            device_specific,
            long_lba,
            block_descriptors,
            pages,
            ..Self::default()
        };
        let (bd, pages) = (out.block_descriptors_len(), out.pages_len());
        out.block_descriptor_length = len_field(bd);
        out.mode_data_length = len_field((6 + bd).saturating_add(pages));
        out
    }

    /// These parameters with the length fields MODE SENSE(6) data has
    /// (LONGLBA clear, the lengths of its 4-byte header).
    #[must_use]
    pub fn for_sense6(mut self) -> Self {
        self.long_lba = false;
        let (bd, pages) = (self.block_descriptors_len(), self.pages_len());
        self.block_descriptor_length = u16::from(len_field::<u8>(bd));
        self.mode_data_length = u16::from(len_field::<u8>((3 + bd).saturating_add(pages)));
        self
    }

    fn block_descriptors_len(&self) -> usize {
        let size = if self.long_lba { 16 } else { 8 };
        self.block_descriptors.len().saturating_mul(size)
    }

    fn pages_len(&self) -> usize {
        self.pages.iter().map(|p| p.bytes.len()).sum()
    }

    fn encode_body(&self, long: bool, out: &mut Vec<u8>) {
        for d in &self.block_descriptors {
            if long {
                out.extend_from_slice(&d.encode_long());
            } else {
                out.extend_from_slice(&d.encode_short());
            }
        }
        for p in &self.pages {
            out.extend_from_slice(&p.bytes);
        }
    }

    /// MODE SENSE(6) parameter data (SPC-4 §7.5.5, 4-byte header): MODE
    /// DATA LENGTH and BLOCK DESCRIPTOR LENGTH computed (saturating at FFh),
    /// MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER, then short block descriptors
    /// (the 6-byte header has no LONGLBA) and the pages.
    #[must_use]
    pub fn encode6(&self) -> Vec<u8> {
        let bd = self.block_descriptors.len().saturating_mul(8);
        let mut out = Vec::with_capacity(4 + bd + self.pages_len());
        out.push(len_field((3 + bd).saturating_add(self.pages_len())));
        out.push(self.medium_type);
        out.push(self.device_specific);
        out.push(len_field(bd));
        self.encode_body(false, &mut out);
        out
    }

    /// MODE SENSE(10) parameter data (SPC-4 §7.5.5, 8-byte header): MODE
    /// DATA LENGTH and BLOCK DESCRIPTOR LENGTH computed (saturating at
    /// FFFFh), MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER, LONGLBA, then the
    /// block descriptors (16 bytes each with LONGLBA, else 8) and the
    /// pages.
    #[must_use]
    pub fn encode10(&self) -> Vec<u8> {
        let bd = self.block_descriptors_len();
        let mut out = Vec::with_capacity(8 + bd + self.pages_len());
        let len: u16 = len_field((6 + bd).saturating_add(self.pages_len()));
        out.extend_from_slice(&len.to_be_bytes());
        out.push(self.medium_type);
        out.push(self.device_specific);
        out.push(u8::from(self.long_lba));
        out.push(0);
        out.extend_from_slice(&len_field::<u16>(bd).to_be_bytes());
        self.encode_body(self.long_lba, &mut out);
        out
    }

    /// Parses MODE SENSE(6) data (4-byte header, SPC-4 §7.5.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse6(data: &[u8]) -> Result<Self, ParseError> {
        need("MODE SENSE(6) data", data, 4)?;
        let d = Reader(data);
        let mode_data_length = u16::from(d.u8(0));
        Ok(Self::parse_body(
            data,
            4,
            usize::from(mode_data_length) + 1,
            Self {
                mode_data_length,
                medium_type: d.u8(1),
                device_specific: d.u8(2),
                long_lba: false,
                block_descriptor_length: u16::from(d.u8(3)),
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
        let d = Reader(data);
        let mode_data_length = d.u16(0);
        Ok(Self::parse_body(
            data,
            8,
            usize::from(mode_data_length) + 2,
            Self {
                mode_data_length,
                medium_type: d.u8(2),
                device_specific: d.u8(3),
                long_lba: d.bit(4, 0x01),
                block_descriptor_length: d.u16(6),
                ..Self::default()
            },
        ))
    }

    fn parse_body(data: &[u8], header: usize, total: usize, mut out: Self) -> Self {
        out.truncated = total > data.len();
        let data = Reader(data).take(total);
        let bd_end = header + usize::from(out.block_descriptor_length);
        if bd_end > data.len() {
            out.truncated = true;
        }
        let size = if out.long_lba { 16 } else { 8 };
        out.block_descriptors = data
            .span(header, bd_end)
            .chunks_exact(size)
            .map(|d| {
                if out.long_lba {
                    BlockDescriptor::parse_long(Reader(d))
                } else {
                    BlockDescriptor::parse_short(Reader(d))
                }
            })
            .collect();
        let mut rest = Reader(data.rest(bd_end));
        while rest.len() >= 2 {
            let spf = rest.bit(0, 0x40);
            let len = if spf {
                if rest.len() < 4 {
                    out.truncated = true;
                    break;
                }
                4 + usize::from(rest.u16(2))
            } else {
                2 + usize::from(rest.u8(1))
            };
            let Some(bytes) = rest.0.get(..len) else {
                out.truncated = true;
                break;
            };
            out.pages.push(ModePage::from_bytes(bytes.to_vec()));
            rest = Reader(rest.rest(len));
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
