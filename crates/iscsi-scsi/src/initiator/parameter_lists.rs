//! The UNMAP parameter list an initiator sends as Data-Out (SBC-3 §5.27.2).
//! The PERSISTENT RESERVE OUT parameter list is
//! [`crate::data::PrOutParameterList`].

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
/// DESCRIPTOR COUNT, [`crate::data::BlockLimits`]).
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
