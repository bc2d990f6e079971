//! Vital product data pages (SPC-4 §7.8, SBC-3 §6.6).
//!
//! Every page starts with the same 4-byte header (SPC-4 §7.8.1): PERIPHERAL
//! QUALIFIER and PERIPHERAL DEVICE TYPE in byte 0, PAGE CODE in byte 1,
//! PAGE LENGTH (bytes that follow) in bytes 2–3. The parsers check the page
//! code and ignore byte 0; `encode` writes byte 0 as 00h (a connected
//! direct-access block device, what the logical unit is) and computes PAGE
//! LENGTH.

use super::{ParseError, Reader, len_field, need, put};

mod identification;

pub use identification::*;

/// Byte 0 of every page this crate encodes: PERIPHERAL QUALIFIER 000b
/// (connected), PERIPHERAL DEVICE TYPE 00h (direct-access block device).
const PERIPHERAL: u8 = 0x00;

/// The page clamped to its PAGE LENGTH (SPC-4 §7.8.1: a 4-byte
/// header with a 16-bit PAGE LENGTH in bytes 2–3).
pub(crate) fn vpd_page<'a>(
    data: &'a [u8],
    page: u8,
    what: &'static str,
) -> Result<Reader<'a>, ParseError> {
    need(what, data, 4)?;
    let d = Reader(data);
    if d.u8(1) != page {
        return Err(ParseError::WrongPage {
            expected: page,
            got: d.u8(1),
        });
    }
    Ok(d.take(4 + usize::from(d.u16(2))))
}

/// Writes VPD pages: the 4-byte header, then the page body.
pub(crate) struct VpdHeader;

impl VpdHeader {
    /// The page `page` with `body` after the header; PAGE LENGTH is the
    /// body's length (a body over 65 535 bytes is cut to it).
    pub(crate) fn wrap(page: u8, body: &[u8]) -> Vec<u8> {
        let body = body.get(..usize::from(u16::MAX)).unwrap_or(body);
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&[PERIPHERAL, page]);
        out.extend_from_slice(&len_field::<u16>(body.len()).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// A page of `N` bytes (PAGE LENGTH `N − 4`), header filled in, body
    /// zero.
    fn fixed<const N: usize>(page: u8) -> [u8; N] {
        let mut out = [0u8; N];
        put(&mut out, 0, &[PERIPHERAL, page]);
        put(
            &mut out,
            2,
            &len_field::<u16>(N.saturating_sub(4)).to_be_bytes(),
        );
        out
    }
}

/// Supported VPD Pages (SPC-4 §7.8.16): VPD page 00h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SupportedVpdPages {
    /// The page codes the logical unit supports, in ascending order.
    pub pages: Vec<u8>,
}

impl SupportedVpdPages {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x00;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Supported VPD Pages page")?;
        Ok(Self {
            pages: page.rest(4).to_vec(),
        })
    }

    /// The page listing `pages` (which should be in ascending order).
    #[must_use]
    pub fn new(pages: &[u8]) -> Self {
        Self {
            pages: pages.to_vec(),
        }
    }

    /// The page (SPC-4 §7.8.16): the header, then one byte per supported
    /// page code.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        VpdHeader::wrap(Self::PAGE_CODE, &self.pages)
    }
}

/// Unit Serial Number (SPC-4 §7.8.18): VPD page 80h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UnitSerialNumber {
    /// PRODUCT SERIAL NUMBER (bytes 4..), trimmed of spaces and NULs.
    pub serial: String,
}

impl UnitSerialNumber {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x80;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Unit Serial Number page")?;
        Ok(Self {
            serial: page.text(4, page.len()),
        })
    }

    /// The page for `serial`.
    #[must_use]
    pub fn new(serial: &str) -> Self {
        Self {
            serial: serial.to_owned(),
        }
    }

    /// The page (SPC-4 §7.8.18): the header, then the PRODUCT SERIAL NUMBER
    /// bytes as they are (no padding).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        VpdHeader::wrap(Self::PAGE_CODE, self.serial.as_bytes())
    }
}

/// Extended INQUIRY Data (SPC-4 §7.8.7): VPD page 86h. Fields
/// past the end of short data read as zero.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtendedInquiry {
    /// ACTIVATE MICROCODE (byte 4 bits 7–6).
    pub activate_microcode: u8,
    /// SPT (byte 4 bits 5–3): supported protection types.
    pub spt: u8,
    /// GRD_CHK (byte 4 bit 2).
    pub grd_chk: bool,
    /// APP_CHK (byte 4 bit 1).
    pub app_chk: bool,
    /// REF_CHK (byte 4 bit 0).
    pub ref_chk: bool,
    /// UASK_SUP (byte 5 bit 5).
    pub uask_sup: bool,
    /// GROUP_SUP (byte 5 bit 4).
    pub group_sup: bool,
    /// PRIOR_SUP (byte 5 bit 3).
    pub prior_sup: bool,
    /// HEADSUP (byte 5 bit 2): HEAD OF QUEUE task attribute.
    pub headsup: bool,
    /// ORDSUP (byte 5 bit 1): ORDERED task attribute.
    pub ordsup: bool,
    /// SIMPSUP (byte 5 bit 0): SIMPLE task attribute.
    pub simpsup: bool,
    /// WU_SUP (byte 6 bit 3).
    pub wu_sup: bool,
    /// CRD_SUP (byte 6 bit 2).
    pub crd_sup: bool,
    /// NV_SUP (byte 6 bit 1): non-volatile cache.
    pub nv_sup: bool,
    /// V_SUP (byte 6 bit 0): volatile cache.
    pub v_sup: bool,
    /// P_I_I_SUP (byte 7 bit 4).
    pub p_i_i_sup: bool,
    /// LUICLR (byte 7 bit 0).
    pub luiclr: bool,
    /// R_SUP (byte 8 bit 4): referrals.
    pub r_sup: bool,
    /// CBCS (byte 8 bit 0).
    pub cbcs: bool,
    /// MULTI I_T NEXUS MICROCODE DOWNLOAD (byte 9 bits 3–0).
    pub multi_it_nexus_microcode_download: u8,
    /// EXTENDED SELF-TEST COMPLETION MINUTES (bytes 10–11), in minutes.
    pub extended_self_test_minutes: u16,
    /// POA_SUP (byte 12 bit 7).
    pub poa_sup: bool,
    /// HRA_SUP (byte 12 bit 6).
    pub hra_sup: bool,
    /// VSA_SUP (byte 12 bit 5).
    pub vsa_sup: bool,
    /// MAXIMUM SUPPORTED SENSE DATA LENGTH (byte 13), in bytes; 0 means not
    /// reported.
    pub max_sense_data_length: u8,
}

impl ExtendedInquiry {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x86;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Extended INQUIRY Data page")?;
        Ok(Self {
            activate_microcode: p.u8(4) >> 6,
            spt: (p.u8(4) >> 3) & 0x07,
            grd_chk: p.bit(4, 0x04),
            app_chk: p.bit(4, 0x02),
            ref_chk: p.bit(4, 0x01),
            uask_sup: p.bit(5, 0x20),
            group_sup: p.bit(5, 0x10),
            prior_sup: p.bit(5, 0x08),
            headsup: p.bit(5, 0x04),
            ordsup: p.bit(5, 0x02),
            simpsup: p.bit(5, 0x01),
            wu_sup: p.bit(6, 0x08),
            crd_sup: p.bit(6, 0x04),
            nv_sup: p.bit(6, 0x02),
            v_sup: p.bit(6, 0x01),
            p_i_i_sup: p.bit(7, 0x10),
            luiclr: p.bit(7, 0x01),
            r_sup: p.bit(8, 0x10),
            cbcs: p.bit(8, 0x01),
            multi_it_nexus_microcode_download: p.u8(9) & 0x0f,
            extended_self_test_minutes: p.u16(10),
            poa_sup: p.bit(12, 0x80),
            hra_sup: p.bit(12, 0x40),
            vsa_sup: p.bit(12, 0x20),
            max_sense_data_length: p.u8(13),
        })
    }

    /// The 64-byte page (SPC-4 §7.8.7, PAGE LENGTH 003Ch); bytes 14–63
    /// reserved. Fields wider than theirs are cut to their bits.
    #[must_use]
    pub fn encode(&self) -> [u8; 64] {
        let b = u8::from;
        let mut p = VpdHeader::fixed::<64>(Self::PAGE_CODE);
        put(
            &mut p,
            4,
            &[
                (self.activate_microcode << 6)
                    | ((self.spt & 0x07) << 3)
                    | (b(self.grd_chk) << 2)
                    | (b(self.app_chk) << 1)
                    | b(self.ref_chk),
                (b(self.uask_sup) << 5)
                    | (b(self.group_sup) << 4)
                    | (b(self.prior_sup) << 3)
                    | (b(self.headsup) << 2)
                    | (b(self.ordsup) << 1)
                    | b(self.simpsup),
                (b(self.wu_sup) << 3)
                    | (b(self.crd_sup) << 2)
                    | (b(self.nv_sup) << 1)
                    | b(self.v_sup),
                (b(self.p_i_i_sup) << 4) | b(self.luiclr),
                (b(self.r_sup) << 4) | b(self.cbcs),
                self.multi_it_nexus_microcode_download & 0x0f,
            ],
        );
        put(&mut p, 10, &self.extended_self_test_minutes.to_be_bytes());
        put(
            &mut p,
            12,
            &[
                (b(self.poa_sup) << 7) | (b(self.hra_sup) << 6) | (b(self.vsa_sup) << 5),
                self.max_sense_data_length,
            ],
        );
        p
    }
}

/// Block Limits (SBC-3 §6.6.3): VPD page B0h. Lengths are in
/// logical blocks; 0 means "not reported" (or "no limit") for every field,
/// and fields past the end of a short page (older devices return 16 bytes
/// of page) read as 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockLimits {
    /// WSNZ (byte 4 bit 0): WRITE SAME with 0 blocks is refused.
    pub wsnz: bool,
    /// MAXIMUM COMPARE AND WRITE LENGTH (byte 5), in blocks.
    pub max_compare_and_write_length: u8,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6–7), in blocks.
    pub optimal_transfer_length_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH (bytes 8–11), in blocks.
    pub max_transfer_length: u32,
    /// OPTIMAL TRANSFER LENGTH (bytes 12–15), in blocks.
    pub optimal_transfer_length: u32,
    /// MAXIMUM PREFETCH LENGTH (bytes 16–19), in blocks.
    pub max_prefetch_length: u32,
    /// MAXIMUM UNMAP LBA COUNT (bytes 20–23), in blocks.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (bytes 24–27).
    pub max_unmap_block_descriptor_count: u32,
    /// OPTIMAL UNMAP GRANULARITY (bytes 28–31), in blocks.
    pub optimal_unmap_granularity: u32,
    /// UGAVALID (byte 32 bit 7): `unmap_granularity_alignment` is valid.
    pub ugavalid: bool,
    /// UNMAP GRANULARITY ALIGNMENT (bytes 32–35, 31 bits): LBA of the first
    /// aligned block.
    pub unmap_granularity_alignment: u32,
    /// MAXIMUM WRITE SAME LENGTH (bytes 36–43), in blocks.
    pub max_write_same_length: u64,
    /// MAXIMUM ATOMIC TRANSFER LENGTH (bytes 44–47), in blocks.
    pub max_atomic_transfer_length: u32,
    /// ATOMIC ALIGNMENT (bytes 48–51), in blocks.
    pub atomic_alignment: u32,
    /// ATOMIC TRANSFER LENGTH GRANULARITY (bytes 52–55), in blocks.
    pub atomic_transfer_length_granularity: u32,
    /// MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY (bytes 56–59,
    /// SBC-4), in blocks.
    pub max_atomic_transfer_length_with_boundary: u32,
    /// MAXIMUM ATOMIC BOUNDARY SIZE (bytes 60–63, SBC-4), in blocks.
    pub max_atomic_boundary_size: u32,
}

impl BlockLimits {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb0;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Block Limits page")?;
        Ok(Self {
            wsnz: p.bit(4, 0x01),
            max_compare_and_write_length: p.u8(5),
            optimal_transfer_length_granularity: p.u16(6),
            max_transfer_length: p.u32(8),
            optimal_transfer_length: p.u32(12),
            max_prefetch_length: p.u32(16),
            max_unmap_lba_count: p.u32(20),
            max_unmap_block_descriptor_count: p.u32(24),
            optimal_unmap_granularity: p.u32(28),
            ugavalid: p.bit(32, 0x80),
            unmap_granularity_alignment: p.u32(32) & 0x7fff_ffff,
            max_write_same_length: p.u64(36),
            max_atomic_transfer_length: p.u32(44),
            atomic_alignment: p.u32(48),
            atomic_transfer_length_granularity: p.u32(52),
            max_atomic_transfer_length_with_boundary: p.u32(56),
            max_atomic_boundary_size: p.u32(60),
        })
    }

    /// The 64-byte page (SBC-3 §6.6.3 with the SBC-4 atomic fields, PAGE
    /// LENGTH 003Ch). UNMAP GRANULARITY ALIGNMENT is cut to 31 bits.
    #[must_use]
    pub fn encode(&self) -> [u8; 64] {
        let mut p = VpdHeader::fixed::<64>(Self::PAGE_CODE);
        put(
            &mut p,
            4,
            &[u8::from(self.wsnz), self.max_compare_and_write_length],
        );
        put(
            &mut p,
            6,
            &self.optimal_transfer_length_granularity.to_be_bytes(),
        );
        let alignment =
            (u32::from(self.ugavalid) << 31) | (self.unmap_granularity_alignment & 0x7fff_ffff);
        for (at, v) in [
            (8, self.max_transfer_length),
            (12, self.optimal_transfer_length),
            (16, self.max_prefetch_length),
            (20, self.max_unmap_lba_count),
            (24, self.max_unmap_block_descriptor_count),
            (28, self.optimal_unmap_granularity),
            (32, alignment),
            (44, self.max_atomic_transfer_length),
            (48, self.atomic_alignment),
            (52, self.atomic_transfer_length_granularity),
            (56, self.max_atomic_transfer_length_with_boundary),
            (60, self.max_atomic_boundary_size),
        ] {
            put(&mut p, at, &v.to_be_bytes());
        }
        put(&mut p, 36, &self.max_write_same_length.to_be_bytes());
        p
    }
}

/// Block Device Characteristics (SBC-3 §6.6.2): VPD page B1h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockDeviceCharacteristics {
    /// MEDIUM ROTATION RATE (bytes 4–5): 0 not reported, 1 non-rotating
    /// (solid state), otherwise revolutions per minute.
    pub medium_rotation_rate: u16,
    /// PRODUCT TYPE (byte 6): 0 not indicated, 1 CFast, 2 CompactFlash, …
    pub product_type: u8,
    /// WABEREQ (byte 7 bits 7–6).
    pub wabereq: u8,
    /// WACEREQ (byte 7 bits 5–4).
    pub wacereq: u8,
    /// NOMINAL FORM FACTOR (byte 7 bits 3–0): 1 5.25", 2 3.5", 3 2.5",
    /// 4 1.8", 5 under 1.8".
    pub nominal_form_factor: u8,
    /// FUAB (byte 8 bit 1).
    pub fuab: bool,
    /// VBULS (byte 8 bit 0).
    pub vbuls: bool,
}

impl BlockDeviceCharacteristics {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb1;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Block Device Characteristics page")?;
        Ok(Self {
            medium_rotation_rate: p.u16(4),
            product_type: p.u8(6),
            wabereq: p.u8(7) >> 6,
            wacereq: (p.u8(7) >> 4) & 0x03,
            nominal_form_factor: p.u8(7) & 0x0f,
            fuab: p.bit(8, 0x02),
            vbuls: p.bit(8, 0x01),
        })
    }

    /// The 64-byte page (SBC-3 §6.6.2, PAGE LENGTH 003Ch); bytes 9–63
    /// reserved.
    #[must_use]
    pub fn encode(&self) -> [u8; 64] {
        let mut p = VpdHeader::fixed::<64>(Self::PAGE_CODE);
        put(&mut p, 4, &self.medium_rotation_rate.to_be_bytes());
        put(
            &mut p,
            6,
            &[
                self.product_type,
                (self.wabereq << 6)
                    | ((self.wacereq & 0x03) << 4)
                    | (self.nominal_form_factor & 0x0f),
                (u8::from(self.fuab) << 1) | u8::from(self.vbuls),
            ],
        );
        p
    }

    /// True when MEDIUM ROTATION RATE says non-rotating medium (0001h).
    #[must_use]
    pub const fn is_non_rotating(&self) -> bool {
        self.medium_rotation_rate == 1
    }
}

/// Logical Block Provisioning (SBC-3 §6.6.4): VPD page B2h.
/// The provisioning group descriptor that may follow is not parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LogicalBlockProvisioning {
    /// THRESHOLD EXPONENT (byte 4).
    pub threshold_exponent: u8,
    /// LBPU (byte 5 bit 7): UNMAP supported.
    pub lbpu: bool,
    /// LBPWS (byte 5 bit 6): WRITE SAME(16) with UNMAP supported.
    pub lbpws: bool,
    /// LBPWS10 (byte 5 bit 5): WRITE SAME(10) with UNMAP supported.
    pub lbpws10: bool,
    /// LBPRZ (byte 5 bits 4–2; SBC-3 defines only bit 2): nonzero when
    /// unmapped blocks read back as zeros.
    pub lbprz: u8,
    /// ANC_SUP (byte 5 bit 1): ANCHOR supported.
    pub anc_sup: bool,
    /// DP (byte 5 bit 0): a provisioning group descriptor follows.
    pub dp: bool,
    /// PROVISIONING TYPE (byte 6 bits 2–0): 0 fully provisioned (or not
    /// reported), 1 resource provisioned, 2 thin provisioned.
    pub provisioning_type: u8,
}

impl LogicalBlockProvisioning {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0xb2;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let p = vpd_page(data, Self::PAGE_CODE, "Logical Block Provisioning page")?;
        Ok(Self {
            threshold_exponent: p.u8(4),
            lbpu: p.bit(5, 0x80),
            lbpws: p.bit(5, 0x40),
            lbpws10: p.bit(5, 0x20),
            lbprz: (p.u8(5) >> 2) & 0x07,
            anc_sup: p.bit(5, 0x02),
            dp: p.bit(5, 0x01),
            provisioning_type: p.u8(6) & 0x07,
        })
    }

    /// The 8-byte page (SBC-3 §6.6.4, PAGE LENGTH 0004h) without a
    /// provisioning group descriptor; byte 7 reserved.
    #[must_use]
    pub fn encode(&self) -> [u8; 8] {
        let b = u8::from;
        let mut p = VpdHeader::fixed::<8>(Self::PAGE_CODE);
        put(
            &mut p,
            4,
            &[
                self.threshold_exponent,
                (b(self.lbpu) << 7)
                    | (b(self.lbpws) << 6)
                    | (b(self.lbpws10) << 5)
                    | ((self.lbprz & 0x07) << 2)
                    | (b(self.anc_sup) << 1)
                    | b(self.dp),
                self.provisioning_type & 0x07,
            ],
        );
        p
    }
}

/// A VPD page (SPC-4 §7.8, SBC-3 §6.6), by the PAGE CODE in byte 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VpdPage {
    /// 00h Supported VPD Pages.
    SupportedPages(SupportedVpdPages),
    /// 80h Unit Serial Number.
    UnitSerialNumber(UnitSerialNumber),
    /// 83h Device Identification.
    DeviceIdentification(DeviceIdentification),
    /// 86h Extended INQUIRY Data.
    ExtendedInquiry(ExtendedInquiry),
    /// B0h Block Limits.
    BlockLimits(BlockLimits),
    /// B1h Block Device Characteristics.
    BlockDeviceCharacteristics(BlockDeviceCharacteristics),
    /// B2h Logical Block Provisioning.
    LogicalBlockProvisioning(LogicalBlockProvisioning),
    /// 8Fh Third Party Copy.
    ThirdPartyCopy(super::ThirdPartyCopy),
    /// Any other page.
    #[non_exhaustive]
    Other {
        /// PAGE CODE (byte 1).
        page_code: u8,
        /// The bytes after the 4-byte header, up to PAGE LENGTH.
        data: Vec<u8>,
    },
}

impl VpdPage {
    /// Parses a VPD page of any kind.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("VPD page", data, 4)?;
        let d = Reader(data);
        Ok(match d.u8(1) {
            SupportedVpdPages::PAGE_CODE => Self::SupportedPages(SupportedVpdPages::parse(data)?),
            UnitSerialNumber::PAGE_CODE => Self::UnitSerialNumber(UnitSerialNumber::parse(data)?),
            DeviceIdentification::PAGE_CODE => {
                Self::DeviceIdentification(DeviceIdentification::parse(data)?)
            }
            ExtendedInquiry::PAGE_CODE => Self::ExtendedInquiry(ExtendedInquiry::parse(data)?),
            BlockLimits::PAGE_CODE => Self::BlockLimits(BlockLimits::parse(data)?),
            BlockDeviceCharacteristics::PAGE_CODE => {
                Self::BlockDeviceCharacteristics(BlockDeviceCharacteristics::parse(data)?)
            }
            LogicalBlockProvisioning::PAGE_CODE => {
                Self::LogicalBlockProvisioning(LogicalBlockProvisioning::parse(data)?)
            }
            super::ThirdPartyCopy::PAGE_CODE => {
                Self::ThirdPartyCopy(super::ThirdPartyCopy::parse(data)?)
            }
            page_code => Self::Other {
                page_code,
                data: d.span(4, 4 + usize::from(d.u16(2))).to_vec(),
            },
        })
    }

    /// The page as sent: the `encode` of the page type, or for
    /// [`VpdPage::Other`] the header and its data.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::SupportedPages(p) => p.encode(),
            Self::UnitSerialNumber(p) => p.encode(),
            Self::DeviceIdentification(p) => p.encode(),
            Self::ExtendedInquiry(p) => p.encode().to_vec(),
            Self::BlockLimits(p) => p.encode().to_vec(),
            Self::BlockDeviceCharacteristics(p) => p.encode().to_vec(),
            Self::LogicalBlockProvisioning(p) => p.encode().to_vec(),
            Self::ThirdPartyCopy(p) => p.encode(),
            Self::Other { page_code, data } => VpdHeader::wrap(*page_code, data),
        }
    }

    /// The PAGE CODE.
    #[must_use]
    pub const fn page_code(&self) -> u8 {
        match self {
            Self::SupportedPages(_) => SupportedVpdPages::PAGE_CODE,
            Self::UnitSerialNumber(_) => UnitSerialNumber::PAGE_CODE,
            Self::DeviceIdentification(_) => DeviceIdentification::PAGE_CODE,
            Self::ExtendedInquiry(_) => ExtendedInquiry::PAGE_CODE,
            Self::BlockLimits(_) => BlockLimits::PAGE_CODE,
            Self::BlockDeviceCharacteristics(_) => BlockDeviceCharacteristics::PAGE_CODE,
            Self::LogicalBlockProvisioning(_) => LogicalBlockProvisioning::PAGE_CODE,
            Self::ThirdPartyCopy(_) => super::ThirdPartyCopy::PAGE_CODE,
            Self::Other { page_code, .. } => *page_code,
        }
    }
}
