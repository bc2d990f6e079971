//! Standard INQUIRY data (SPC-4 §6.6.2).

use super::*;

/// Standard INQUIRY data (SPC-4 §6.6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StandardInquiry {
    /// PERIPHERAL QUALIFIER (byte 0 bits 7–5): 0 connected, 1 not connected,
    /// 3 no logical unit.
    pub peripheral_qualifier: u8,
    /// PERIPHERAL DEVICE TYPE (byte 0 bits 4–0): 00h block device.
    pub device_type: u8,
    /// RMB (byte 1 bit 7): removable medium.
    pub rmb: bool,
    /// VERSION (byte 2): 06h for SPC-4.
    pub version: u8,
    /// NORMACA (byte 3 bit 5).
    pub normaca: bool,
    /// HISUP (byte 3 bit 4): hierarchical LUN addressing.
    pub hisup: bool,
    /// RESPONSE DATA FORMAT (byte 3 bits 3–0): 2.
    pub response_data_format: u8,
    /// ADDITIONAL LENGTH (byte 4): bytes that follow byte 4.
    pub additional_length: u8,
    /// SCCS (byte 5 bit 7): embedded storage array controller.
    pub sccs: bool,
    /// ACC (byte 5 bit 6): access controls coordinator.
    pub acc: bool,
    /// TPGS (byte 5 bits 5–4): asymmetric logical unit access support.
    pub tpgs: u8,
    /// 3PC (byte 5 bit 3): third-party copy.
    pub three_pc: bool,
    /// PROTECT (byte 5 bit 0): protection information.
    pub protect: bool,
    /// ENCSERV (byte 6 bit 6): embedded enclosure services.
    pub encserv: bool,
    /// MULTIP (byte 6 bit 4): multiple ports.
    pub multip: bool,
    /// CMDQUE (byte 7 bit 1): command queuing.
    pub cmdque: bool,
    /// T10 VENDOR IDENTIFICATION (bytes 8–15), trimmed.
    pub vendor: String,
    /// PRODUCT IDENTIFICATION (bytes 16–31), trimmed.
    pub product: String,
    /// PRODUCT REVISION LEVEL (bytes 32–35), trimmed.
    pub revision: String,
    /// VERSION DESCRIPTORs 1–8 (bytes 58–73, two bytes each), zeros left out.
    pub version_descriptors: Vec<u16>,
}

impl StandardInquiry {
    /// Parses standard INQUIRY data, as far as the data and its ADDITIONAL
    /// LENGTH go (at least the 5-byte header).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 5 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("standard INQUIRY data", data, 5)?;
        let d = span(data, 0, 5 + usize::from(byte(data, 4)));
        let version_descriptors = span(d, 58, 74)
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([byte(c, 0), byte(c, 1)]))
            .filter(|&v| v != 0)
            .collect();
        Ok(Self {
            peripheral_qualifier: byte(d, 0) >> 5,
            device_type: byte(d, 0) & 0x1f,
            rmb: bit(d, 1, 0x80),
            version: byte(d, 2),
            normaca: bit(d, 3, 0x20),
            hisup: bit(d, 3, 0x10),
            response_data_format: byte(d, 3) & 0x0f,
            additional_length: byte(d, 4),
            sccs: bit(d, 5, 0x80),
            acc: bit(d, 5, 0x40),
            tpgs: (byte(d, 5) >> 4) & 0x03,
            three_pc: bit(d, 5, 0x08),
            protect: bit(d, 5, 0x01),
            encserv: bit(d, 6, 0x40),
            multip: bit(d, 6, 0x10),
            cmdque: bit(d, 7, 0x02),
            vendor: text(d, 8, 16),
            product: text(d, 16, 32),
            revision: text(d, 32, 36),
            version_descriptors,
        })
    }
}
