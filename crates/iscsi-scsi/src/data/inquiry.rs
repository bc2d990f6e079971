//! Standard INQUIRY data (SPC-4 §6.6.2).

use super::{ParseError, Reader, ascii_field, need, put, set};

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
    /// ADDITIONAL LENGTH (byte 4): bytes that follow byte 4. [`encode`]
    /// writes `5 + additional_length` bytes: 31 for the 36-byte minimum,
    /// [`StandardInquiry::FULL_ADDITIONAL_LENGTH`] to include the version
    /// descriptors.
    ///
    /// [`encode`]: StandardInquiry::encode
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
    /// VERSION DESCRIPTORs 1–8 (bytes 58–73, two bytes each; SPC-4
    /// §6.6.2 lists the codes), zeros left out.
    pub version_descriptors: Vec<u16>,
}

impl StandardInquiry {
    /// ADDITIONAL LENGTH of the 96-byte layout, through the eight VERSION
    /// DESCRIPTOR fields and the reserved bytes after them (SPC-4 §6.6.2).
    pub const FULL_ADDITIONAL_LENGTH: u8 = 96 - 5;

    /// ADDITIONAL LENGTH of the 36-byte minimum (SPC-4 §6.6.2: a device
    /// server returns at least 36 bytes), through PRODUCT REVISION LEVEL.
    pub const MIN_ADDITIONAL_LENGTH: u8 = 36 - 5;

    /// Parses standard INQUIRY data, as far as the data and its ADDITIONAL
    /// LENGTH go (at least the 5-byte header).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 5 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("standard INQUIRY data", data, 5)?;
        let d = Reader(data);
        let d = d.take(5 + usize::from(d.u8(4)));
        let version_descriptors = d
            .span(58, 74)
            .chunks_exact(2)
            .map(|c| Reader(c).u16(0))
            .filter(|&v| v != 0)
            .collect();
        Ok(Self {
            peripheral_qualifier: d.u8(0) >> 5,
            device_type: d.u8(0) & 0x1f,
            rmb: d.bit(1, 0x80),
            version: d.u8(2),
            normaca: d.bit(3, 0x20),
            hisup: d.bit(3, 0x10),
            response_data_format: d.u8(3) & 0x0f,
            additional_length: d.u8(4),
            sccs: d.bit(5, 0x80),
            acc: d.bit(5, 0x40),
            tpgs: (d.u8(5) >> 4) & 0x03,
            three_pc: d.bit(5, 0x08),
            protect: d.bit(5, 0x01),
            encserv: d.bit(6, 0x40),
            multip: d.bit(6, 0x10),
            cmdque: d.bit(7, 0x02),
            vendor: d.text(8, 16),
            product: d.text(16, 32),
            revision: d.text(32, 36),
            version_descriptors,
        })
    }

    /// Standard INQUIRY data (SPC-4 §6.6.2): `5 + additional_length` bytes.
    /// The text fields are written as SPC-4 §4.3.1 ASCII fields (cut to the
    /// field, padded with spaces, bytes other than printable ASCII as `_`);
    /// an empty text field stays all zero bytes, as in the answer for a
    /// logical unit that is not there (PERIPHERAL QUALIFIER 011b). At most
    /// eight version descriptors are written; fields that do not fit the
    /// length are left out, bytes without a field here are zero.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut d = vec![0u8; 5 + usize::from(self.additional_length)];
        put(
            &mut d,
            0,
            &[
                (self.peripheral_qualifier << 5) | (self.device_type & 0x1f),
                u8::from(self.rmb) << 7,
                self.version,
                (u8::from(self.normaca) << 5)
                    | (u8::from(self.hisup) << 4)
                    | (self.response_data_format & 0x0f),
                self.additional_length,
                (u8::from(self.sccs) << 7)
                    | (u8::from(self.acc) << 6)
                    | ((self.tpgs & 0x03) << 4)
                    | (u8::from(self.three_pc) << 3)
                    | u8::from(self.protect),
                (u8::from(self.encserv) << 6) | (u8::from(self.multip) << 4),
            ],
        );
        set(&mut d, 7, u8::from(self.cmdque) << 1);
        for (at, len, text) in [
            (8, 8, &self.vendor),
            (16, 16, &self.product),
            (32, 4, &self.revision),
        ] {
            if !text.is_empty() {
                put(&mut d, at, &ascii_field(text, len));
            }
        }
        for (i, v) in self.version_descriptors.iter().take(8).enumerate() {
            put(&mut d, 58 + 2 * i, &v.to_be_bytes());
        }
        d
    }
}
