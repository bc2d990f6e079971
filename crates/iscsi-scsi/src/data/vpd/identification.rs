//! Device Identification (SPC-4 §7.8.6): VPD page 83h and its designation
//! descriptors.

use core::fmt;

use super::{VpdHeader, vpd_page};
use crate::data::{ParseError, Reader, hex_upper, len_field};

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

    /// The 4-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Binary => 1,
            Self::Ascii => 2,
            Self::Utf8 => 3,
            Self::Reserved(code) => code & 0x0f,
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

    /// The 2-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::LogicalUnit => 0,
            Self::TargetPort => 1,
            Self::TargetDevice => 2,
            Self::Reserved => 3,
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

    /// The 4-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::VendorSpecific => 0x0,
            Self::T10VendorId => 0x1,
            Self::Eui64 => 0x2,
            Self::Naa => 0x3,
            Self::RelativeTargetPort => 0x4,
            Self::TargetPortGroup => 0x5,
            Self::LogicalUnitGroup => 0x6,
            Self::Md5LogicalUnit => 0x7,
            Self::ScsiNameString => 0x8,
            Self::ProtocolSpecificPort => 0x9,
            Self::Reserved(code) => code & 0x0f,
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
    /// The DESIGNATOR bytes (at most 255: DESIGNATOR LENGTH is one byte).
    pub value: Vec<u8>,
}

impl Designator {
    /// PROTOCOL IDENTIFIER of iSCSI (SPC-4 §7.6.1).
    pub const PROTOCOL_ISCSI: u8 = 0x5;

    /// A designator without a protocol identifier (PIV clear).
    #[must_use]
    pub fn new(
        code_set: CodeSet,
        association: Association,
        designator_type: DesignatorType,
        value: Vec<u8>,
    ) -> Self {
        Self {
            protocol_identifier: 0,
            code_set,
            piv: false,
            association,
            designator_type,
            value,
        }
    }

    /// This designator with PROTOCOL IDENTIFIER `protocol` and PIV set.
    #[must_use]
    pub fn with_protocol(mut self, protocol: u8) -> Self {
        self.protocol_identifier = protocol;
        self.piv = true;
        self
    }

    /// An NAA designator of the logical unit (SPC-4 §7.8.6.6), binary: the
    /// 8 or 16 bytes of the NAA identifier.
    #[must_use]
    pub fn naa(naa: &[u8]) -> Self {
        Self::new(
            CodeSet::Binary,
            Association::LogicalUnit,
            DesignatorType::Naa,
            naa.to_vec(),
        )
    }

    /// A T10 vendor ID based designator of the logical unit (SPC-4
    /// §7.8.6.4), ASCII: `vendor` padded with spaces or cut to 8 bytes, then
    /// `vendor_specific` (for example the unit serial number).
    #[must_use]
    pub fn t10_vendor_id(vendor: &str, vendor_specific: &str) -> Self {
        let mut value = format!("{vendor:<8}").into_bytes();
        value.truncate(8);
        value.extend_from_slice(vendor_specific.as_bytes());
        Self::new(
            CodeSet::Ascii,
            Association::LogicalUnit,
            DesignatorType::T10VendorId,
            value,
        )
    }

    /// A relative target port designator (SPC-4 §7.8.6.7), binary, target
    /// port association: 2 reserved bytes and the 16-bit RELATIVE TARGET
    /// PORT IDENTIFIER.
    #[must_use]
    pub fn relative_target_port(port: u16) -> Self {
        Self::new(
            CodeSet::Binary,
            Association::TargetPort,
            DesignatorType::RelativeTargetPort,
            u32::from(port).to_be_bytes().to_vec(),
        )
    }

    /// A target port group designator (SPC-4 §7.8.6.8), binary, target port
    /// association: 2 reserved bytes and the 16-bit TARGET PORT GROUP.
    #[must_use]
    pub fn target_port_group(group: u16) -> Self {
        Self::new(
            CodeSet::Binary,
            Association::TargetPort,
            DesignatorType::TargetPortGroup,
            u32::from(group).to_be_bytes().to_vec(),
        )
    }

    /// A SCSI name string designator (SPC-4 §7.8.6.11), UTF-8: `name`, a
    /// NUL, NULs to a multiple of 4 bytes (names over 251 bytes are cut to
    /// fit DESIGNATOR LENGTH).
    #[must_use]
    pub fn scsi_name_string(association: Association, name: &str) -> Self {
        let name = name.as_bytes().get(..251).unwrap_or(name.as_bytes());
        let mut value = name.to_vec();
        value.resize((name.len() + 1).next_multiple_of(4), 0);
        Self::new(
            CodeSet::Utf8,
            association,
            DesignatorType::ScsiNameString,
            value,
        )
    }

    /// The designation descriptor (SPC-4 §7.8.6.1): PROTOCOL IDENTIFIER and
    /// CODE SET, PIV, ASSOCIATION and DESIGNATOR TYPE, a reserved byte,
    /// DESIGNATOR LENGTH, the designator (cut to 255 bytes).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let value = self.value.get(..255).unwrap_or(&self.value);
        let mut d = Vec::with_capacity(4 + value.len());
        d.push((self.protocol_identifier << 4) | self.code_set.code());
        d.push(
            (u8::from(self.piv) << 7)
                | (self.association.code() << 4)
                | self.designator_type.code(),
        );
        d.push(0);
        d.push(len_field(value.len()));
        d.extend_from_slice(value);
        d
    }
}

impl fmt::Display for Designator {
    /// NAA and EUI-64 as `naa.`/`eui.` and upper-case hex, T10 vendor IDs as
    /// `t10.` and text, SCSI name strings as their text, port and group
    /// numbers in decimal, anything else as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = Reader(&self.value);
        let as_text = || v.text(0, v.len());
        match self.designator_type {
            DesignatorType::Naa => write!(f, "naa.{}", hex_upper(v.0)),
            DesignatorType::Eui64 => write!(f, "eui.{}", hex_upper(v.0)),
            DesignatorType::T10VendorId => write!(f, "t10.{}", as_text()),
            DesignatorType::ScsiNameString => f.write_str(&as_text()),
            DesignatorType::RelativeTargetPort => write!(f, "relative target port {}", v.u16(2)),
            DesignatorType::TargetPortGroup => write!(f, "target port group {}", v.u16(2)),
            DesignatorType::LogicalUnitGroup => write!(f, "logical unit group {}", v.u16(2)),
            _ if matches!(self.code_set, CodeSet::Ascii | CodeSet::Utf8) => f.write_str(&as_text()),
            _ => write!(f, "0x{}", hex_upper(v.0)),
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
        let mut rest = page.rest(4);
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

    /// The page with these designators.
    #[must_use]
    pub const fn new(designators: Vec<Designator>) -> Self {
        Self { designators }
    }

    /// The page (SPC-4 §7.8.6): the header, then the designation
    /// descriptors in order.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let body: Vec<u8> = self
            .designators
            .iter()
            .flat_map(Designator::encode)
            .collect();
        VpdHeader::wrap(Self::PAGE_CODE, &body)
    }
}
