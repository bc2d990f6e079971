//! Parameter lists an initiator sends as Data-Out: UNMAP (SBC-3 §5.27.2) and PERSISTENT RESERVE OUT (SPC-4 §6.16.3).

use super::*;

/// The most block descriptors one UNMAP parameter list holds: its 16-bit
/// UNMAP DATA LENGTH limits it to (65 535 − 6) / 16 descriptors
/// (SBC-3 §5.27.2).
pub const UNMAP_MAX_DESCRIPTORS: usize = 4095;

/// The UNMAP parameter list (SBC-3 §5.27.2): an 8-byte header with UNMAP
/// DATA LENGTH and UNMAP BLOCK DESCRIPTOR DATA LENGTH, then one 16-byte
/// descriptor (LBA, number of blocks) per `(lba, blocks)` range.
///
/// At most [`UNMAP_MAX_DESCRIPTORS`] ranges fit; later ones are left out,
/// so split longer lists (and respect the target's MAXIMUM UNMAP BLOCK
/// DESCRIPTOR COUNT, [`BlockLimits`]).
#[must_use]
pub fn unmap_parameter_list(ranges: &[(u64, u32)]) -> Vec<u8> {
    let ranges = ranges.get(..UNMAP_MAX_DESCRIPTORS).unwrap_or(ranges);
    let descriptors = ranges.len() * 16;
    let mut out = Vec::with_capacity(8 + descriptors);
    let data_len = u16::try_from(descriptors + 6).unwrap_or(u16::MAX);
    let desc_len = u16::try_from(descriptors).unwrap_or(u16::MAX);
    out.extend_from_slice(&data_len.to_be_bytes());
    out.extend_from_slice(&desc_len.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for &(lba, blocks) in ranges {
        out.extend_from_slice(&lba.to_be_bytes());
        out.extend_from_slice(&blocks.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
    }
    out
}

/// The basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3): 24 bytes. Transport IDs (SPEC_I_PT) and REGISTER AND MOVE
/// lists are not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrOutParameterList {
    /// RESERVATION KEY (bytes 0–7): the key this I_T nexus registered.
    pub reservation_key: u64,
    /// SERVICE ACTION RESERVATION KEY (bytes 8–15): the new key for
    /// REGISTER, the key to preempt for PREEMPT.
    pub service_action_reservation_key: u64,
    /// SPEC_I_PT (byte 20 bit 3).
    pub spec_i_pt: bool,
    /// ALL_TG_PT (byte 20 bit 2): register on all target ports.
    pub all_tg_pt: bool,
    /// APTPL (byte 20 bit 0): keep the registrations across power loss.
    pub aptpl: bool,
}

impl PrOutParameterList {
    /// Length of the basic parameter list in bytes.
    pub const LEN: usize = 24;

    /// A list with the two keys and every flag clear.
    #[must_use]
    pub const fn new(reservation_key: u64, service_action_reservation_key: u64) -> Self {
        Self {
            reservation_key,
            service_action_reservation_key,
            spec_i_pt: false,
            all_tg_pt: false,
            aptpl: false,
        }
    }

    /// The 24 bytes of the list.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for (dst, src) in out.iter_mut().zip(
            self.reservation_key
                .to_be_bytes()
                .into_iter()
                .chain(self.service_action_reservation_key.to_be_bytes()),
        ) {
            *dst = src;
        }
        out[20] = (u8::from(self.spec_i_pt) << 3)
            | (u8::from(self.all_tg_pt) << 2)
            | u8::from(self.aptpl);
        out
    }

    /// Parses the first 24 bytes of a PERSISTENT RESERVE OUT parameter list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 24 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("PERSISTENT RESERVE OUT parameter list", data, Self::LEN)?;
        Ok(Self {
            reservation_key: be64(data, 0),
            service_action_reservation_key: be64(data, 8),
            spec_i_pt: bit(data, 20, 0x08),
            all_tg_pt: bit(data, 20, 0x04),
            aptpl: bit(data, 20, 0x01),
        })
    }
}
