//! Vital product data pages (SPC-4 §7.8, SBC-3 §6.6).

use super::*;

/// The page clamped to its PAGE LENGTH (SPC-4 §7.8.1: a 4-byte
/// header with a 16-bit PAGE LENGTH in bytes 2–3).
fn vpd_page<'a>(data: &'a [u8], page: u8, what: &'static str) -> Result<&'a [u8], ParseError> {
    need(what, data, 4)?;
    if byte(data, 1) != page {
        return Err(ParseError::WrongPage {
            expected: page,
            got: byte(data, 1),
        });
    }
    Ok(span(data, 0, 4 + usize::from(be16(data, 2))))
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
            pages: span(page, 4, page.len()).to_vec(),
        })
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
            serial: text(page, 4, page.len()),
        })
    }
}

/// CODE SET of a designation descriptor (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeSet {
    /// 1h: binary values.
    Binary,
    /// 2h: printable ASCII.
    Ascii,
    /// 3h: UTF-8.
    Utf8,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl CodeSet {
    /// The code set with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            1 => Self::Binary,
            2 => Self::Ascii,
            3 => Self::Utf8,
            other => Self::Reserved(other),
        }
    }
}

/// ASSOCIATION of a designation descriptor (SPC-4 §7.8.6.1):
/// what the designator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Association {
    /// 00b: the logical unit.
    LogicalUnit,
    /// 01b: the target port the command came through.
    TargetPort,
    /// 10b: the SCSI target device.
    TargetDevice,
    /// 11b: reserved.
    Reserved,
}

impl Association {
    /// The association with 2-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x03 {
            0 => Self::LogicalUnit,
            1 => Self::TargetPort,
            2 => Self::TargetDevice,
            _ => Self::Reserved,
        }
    }
}

/// DESIGNATOR TYPE of a designation descriptor (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DesignatorType {
    /// 0h: vendor specific.
    VendorSpecific,
    /// 1h: T10 vendor ID based (8-byte vendor ID, then vendor-specific data).
    T10VendorId,
    /// 2h: EUI-64 based.
    Eui64,
    /// 3h: NAA (IEEE Name Address Authority).
    Naa,
    /// 4h: relative target port identifier.
    RelativeTargetPort,
    /// 5h: target port group.
    TargetPortGroup,
    /// 6h: logical unit group.
    LogicalUnitGroup,
    /// 7h: MD5 logical unit identifier.
    Md5LogicalUnit,
    /// 8h: SCSI name string (for iSCSI, the iqn./eui./naa. name).
    ScsiNameString,
    /// 9h: protocol specific port identifier.
    ProtocolSpecificPort,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl DesignatorType {
    /// The designator type with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0x0 => Self::VendorSpecific,
            0x1 => Self::T10VendorId,
            0x2 => Self::Eui64,
            0x3 => Self::Naa,
            0x4 => Self::RelativeTargetPort,
            0x5 => Self::TargetPortGroup,
            0x6 => Self::LogicalUnitGroup,
            0x7 => Self::Md5LogicalUnit,
            0x8 => Self::ScsiNameString,
            0x9 => Self::ProtocolSpecificPort,
            other => Self::Reserved(other),
        }
    }
}

/// One designation descriptor of the Device Identification page
/// (SPC-4 §7.8.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Designator {
    /// PROTOCOL IDENTIFIER (byte 0 bits 7–4; 5h iSCSI), meaningful when
    /// `piv` is set.
    pub protocol_identifier: u8,
    /// CODE SET (byte 0 bits 3–0).
    pub code_set: CodeSet,
    /// PIV (byte 1 bit 7): `protocol_identifier` is valid.
    pub piv: bool,
    /// ASSOCIATION (byte 1 bits 5–4).
    pub association: Association,
    /// DESIGNATOR TYPE (byte 1 bits 3–0).
    pub designator_type: DesignatorType,
    /// The DESIGNATOR bytes.
    pub value: Vec<u8>,
}

impl fmt::Display for Designator {
    /// NAA and EUI-64 as `naa.`/`eui.` and upper-case hex, T10 vendor IDs as
    /// `t10.` and text, SCSI name strings as their text, port and group
    /// numbers in decimal, anything else as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.value;
        let as_text = || text(v, 0, v.len());
        match self.designator_type {
            DesignatorType::Naa => write!(f, "naa.{}", hex_upper(v)),
            DesignatorType::Eui64 => write!(f, "eui.{}", hex_upper(v)),
            DesignatorType::T10VendorId => write!(f, "t10.{}", as_text()),
            DesignatorType::ScsiNameString => f.write_str(&as_text()),
            DesignatorType::RelativeTargetPort => write!(f, "relative target port {}", be16(v, 2)),
            DesignatorType::TargetPortGroup => write!(f, "target port group {}", be16(v, 2)),
            DesignatorType::LogicalUnitGroup => write!(f, "logical unit group {}", be16(v, 2)),
            _ if matches!(self.code_set, CodeSet::Ascii | CodeSet::Utf8) => f.write_str(&as_text()),
            _ => write!(f, "0x{}", hex_upper(v)),
        }
    }
}

/// Device Identification (SPC-4 §7.8.6): VPD page 83h.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeviceIdentification {
    /// The designation descriptors, in page order. A descriptor cut short
    /// by the allocation length is left out.
    pub designators: Vec<Designator>,
}

impl DeviceIdentification {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x83;

    /// Parses the page.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = vpd_page(data, Self::PAGE_CODE, "Device Identification page")?;
        let mut designators = Vec::new();
        let mut rest = span(page, 4, page.len());
        while let [b0, b1, _, len, tail @ ..] = rest {
            let Some(value) = tail.get(..usize::from(*len)) else {
                break;
            };
            designators.push(Designator {
                protocol_identifier: b0 >> 4,
                code_set: CodeSet::from_code(*b0),
                piv: b1 & 0x80 != 0,
                association: Association::from_code(b1 >> 4),
                designator_type: DesignatorType::from_code(*b1),
                value: value.to_vec(),
            });
            rest = tail.get(usize::from(*len)..).unwrap_or(&[]);
        }
        Ok(Self { designators })
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
            activate_microcode: byte(p, 4) >> 6,
            spt: (byte(p, 4) >> 3) & 0x07,
            grd_chk: bit(p, 4, 0x04),
            app_chk: bit(p, 4, 0x02),
            ref_chk: bit(p, 4, 0x01),
            uask_sup: bit(p, 5, 0x20),
            group_sup: bit(p, 5, 0x10),
            prior_sup: bit(p, 5, 0x08),
            headsup: bit(p, 5, 0x04),
            ordsup: bit(p, 5, 0x02),
            simpsup: bit(p, 5, 0x01),
            wu_sup: bit(p, 6, 0x08),
            crd_sup: bit(p, 6, 0x04),
            nv_sup: bit(p, 6, 0x02),
            v_sup: bit(p, 6, 0x01),
            p_i_i_sup: bit(p, 7, 0x10),
            luiclr: bit(p, 7, 0x01),
            r_sup: bit(p, 8, 0x10),
            cbcs: bit(p, 8, 0x01),
            multi_it_nexus_microcode_download: byte(p, 9) & 0x0f,
            extended_self_test_minutes: be16(p, 10),
            poa_sup: bit(p, 12, 0x80),
            hra_sup: bit(p, 12, 0x40),
            vsa_sup: bit(p, 12, 0x20),
            max_sense_data_length: byte(p, 13),
        })
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
            wsnz: bit(p, 4, 0x01),
            max_compare_and_write_length: byte(p, 5),
            optimal_transfer_length_granularity: be16(p, 6),
            max_transfer_length: be32(p, 8),
            optimal_transfer_length: be32(p, 12),
            max_prefetch_length: be32(p, 16),
            max_unmap_lba_count: be32(p, 20),
            max_unmap_block_descriptor_count: be32(p, 24),
            optimal_unmap_granularity: be32(p, 28),
            ugavalid: bit(p, 32, 0x80),
            unmap_granularity_alignment: be32(p, 32) & 0x7fff_ffff,
            max_write_same_length: be64(p, 36),
            max_atomic_transfer_length: be32(p, 44),
            atomic_alignment: be32(p, 48),
            atomic_transfer_length_granularity: be32(p, 52),
            max_atomic_transfer_length_with_boundary: be32(p, 56),
            max_atomic_boundary_size: be32(p, 60),
        })
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
            medium_rotation_rate: be16(p, 4),
            product_type: byte(p, 6),
            wabereq: byte(p, 7) >> 6,
            wacereq: (byte(p, 7) >> 4) & 0x03,
            nominal_form_factor: byte(p, 7) & 0x0f,
            fuab: bit(p, 8, 0x02),
            vbuls: bit(p, 8, 0x01),
        })
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
            threshold_exponent: byte(p, 4),
            lbpu: bit(p, 5, 0x80),
            lbpws: bit(p, 5, 0x40),
            lbpws10: bit(p, 5, 0x20),
            lbprz: (byte(p, 5) >> 2) & 0x07,
            anc_sup: bit(p, 5, 0x02),
            dp: bit(p, 5, 0x01),
            provisioning_type: byte(p, 6) & 0x07,
        })
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
        Ok(match byte(data, 1) {
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
            page_code => Self::Other {
                page_code,
                data: span(data, 4, 4 + usize::from(be16(data, 2))).to_vec(),
            },
        })
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
            Self::Other { page_code, .. } => *page_code,
        }
    }
}
