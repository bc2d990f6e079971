//! The vital product data pages this unit answers INQUIRY with (SPC-4
//! §7.8, SBC-3 §6.6), built from the [`crate::data`] page types.

use super::{
    LogicalUnit, MAX_COMPARE_AND_WRITE_BLOCKS, MAX_TRANSFER_BLOCKS, MAX_UNMAP_BLOCKS,
    MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BLOCKS, Nexus,
};
use crate::data::{
    Association, BlockDeviceCharacteristics, BlockLimits, Designator, DeviceIdentification,
    ExtendedInquiry, LogicalBlockProvisioning, SupportedVpdPages, UnitSerialNumber,
};

/// The pages this unit supports, in ascending order (VPD 0x00).
pub(crate) const SUPPORTED_PAGES: [u8; 8] = [0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2];

/// The page `page` for `nexus`, or `None` when the unit does not have it.
pub(crate) fn page(lu: &LogicalUnit, nexus: &Nexus, page: u8) -> Option<Vec<u8>> {
    let config = lu.config();
    let thin = lu.backend().thin();
    Some(match page {
        0x00 => SupportedVpdPages::new(&SUPPORTED_PAGES).encode(),
        0x80 => UnitSerialNumber::new(&config.serial).encode(),
        0x83 => {
            let iscsi = Designator::PROTOCOL_ISCSI;
            let port = nexus.target_port;
            let port_name = format!("{},t,0x{port:04x}", config.target_name);
            DeviceIdentification::new(vec![
                // NAA IEEE Registered Extended (Windows and VMware key on it).
                Designator::naa(&config.naa),
                // T10 vendor ID based: vendor (8) + serial.
                Designator::t10_vendor_id(&config.vendor, &config.serial),
                // Relative target port identifier and target port group.
                Designator::relative_target_port(port).with_protocol(iscsi),
                Designator::target_port_group(port).with_protocol(iscsi),
                // SCSI name strings of the target port and the target device.
                Designator::scsi_name_string(Association::TargetPort, &port_name)
                    .with_protocol(iscsi),
                Designator::scsi_name_string(Association::TargetDevice, &config.target_name)
                    .with_protocol(iscsi),
            ])
            .encode()
        }
        0x86 => ExtendedInquiry {
            headsup: true,
            ordsup: true,
            simpsup: true,
            v_sup: true,
            luiclr: true,
            max_sense_data_length: 252,
            ..ExtendedInquiry::default()
        }
        .encode()
        .to_vec(),
        0x8f => lu.third_party_copy_page().encode(),
        0xb0 => {
            // OPTIMAL TRANSFER LENGTH GRANULARITY: a physical block, at
            // least 4 KiB, in logical blocks (SBC-3 §6.5.3).
            let physical = lu.block_size() << config.lbppbe.min(15);
            let granularity = u16::try_from(physical.max(4096) / lu.block_size())
                .unwrap_or(u16::MAX)
                .max(1);
            BlockLimits {
                max_compare_and_write_length: MAX_COMPARE_AND_WRITE_BLOCKS,
                optimal_transfer_length_granularity: granularity,
                max_transfer_length: MAX_TRANSFER_BLOCKS,
                optimal_transfer_length: MAX_TRANSFER_BLOCKS / 8,
                max_prefetch_length: MAX_TRANSFER_BLOCKS,
                max_write_same_length: MAX_WRITE_SAME_BLOCKS,
                // WRITE ATOMIC(16).
                max_atomic_transfer_length: u32::from(u16::MAX).min(MAX_TRANSFER_BLOCKS),
                atomic_alignment: 1,
                atomic_transfer_length_granularity: 1,
                max_unmap_lba_count: if thin { MAX_UNMAP_BLOCKS } else { 0 },
                max_unmap_block_descriptor_count: if thin { MAX_UNMAP_DESCRIPTORS } else { 0 },
                optimal_unmap_granularity: if thin { u32::from(granularity) } else { 0 },
                ugavalid: thin,
                ..BlockLimits::default()
            }
            .encode()
            .to_vec()
        }
        // MEDIUM ROTATION RATE 1: non-rotating medium.
        0xb1 => BlockDeviceCharacteristics {
            medium_rotation_rate: 1,
            // WABEREQ 01b: a read of a block erased by SANITIZE BLOCK
            // ERASE succeeds (zeros); no CRYPTOGRAPHIC ERASE, WACEREQ 00b.
            wabereq: 1,
            ..BlockDeviceCharacteristics::default()
        }
        .encode()
        .to_vec(),
        0xb2 if thin => LogicalBlockProvisioning {
            lbpu: true,
            lbpws: true,
            lbpws10: true,
            lbprz: 1,
            provisioning_type: 2,
            ..LogicalBlockProvisioning::default()
        }
        .encode()
        .to_vec(),
        0xb2 => LogicalBlockProvisioning::default().encode().to_vec(),
        _ => return None,
    })
}
