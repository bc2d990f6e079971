//! Vital product data pages (SPC-4 §7.8, SBC-3 §6.6).

use super::{
    LogicalUnit, MAX_COMPARE_AND_WRITE_BLOCKS, MAX_TRANSFER_BLOCKS, MAX_UNMAP_BLOCKS,
    MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BLOCKS, Nexus,
};

/// The pages this unit supports, in ascending order (VPD 0x00).
pub(crate) const SUPPORTED_PAGES: [u8; 7] = [0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2];

fn with_header(page: u8, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(0x00); // connected direct-access block device
    out.push(page);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend(body);
    out
}

/// One designation descriptor (SPC-4 §7.8.6.1).
fn designator(
    protocol: Option<u8>,
    code_set: u8,
    association: u8,
    kind: u8,
    value: &[u8],
) -> Vec<u8> {
    let mut d = Vec::with_capacity(4 + value.len());
    d.push((protocol.unwrap_or(0) << 4) | code_set);
    let piv = if protocol.is_some() { 0x80 } else { 0 };
    d.push(piv | (association << 4) | kind);
    d.push(0);
    d.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    d.extend_from_slice(value);
    d
}

/// A SCSI name string padded with NULs to a multiple of 4 bytes (SPC-4 §7.8.6.11).
fn name_string(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

const ISCSI: u8 = 0x5;
const BINARY: u8 = 0x1;
const ASCII: u8 = 0x2;
const UTF8: u8 = 0x3;
const LU: u8 = 0x0;
const PORT: u8 = 0x1;
const TARGET_DEVICE: u8 = 0x2;

/// The page `page` for `nexus`, or `None` when the unit does not have it.
pub(crate) fn page(lu: &LogicalUnit, nexus: &Nexus, page: u8) -> Option<Vec<u8>> {
    let config = lu.config();
    let body = match page {
        0x00 => SUPPORTED_PAGES.to_vec(),
        0x80 => config.serial.as_bytes().to_vec(),
        0x83 => {
            let mut body = Vec::new();
            // NAA IEEE Registered Extended (Windows and VMware key on it).
            body.extend(designator(None, BINARY, LU, 0x3, &config.naa));
            // T10 vendor ID based: vendor (8) + serial.
            let mut t10 = format!("{:<8}", config.vendor).into_bytes();
            t10.truncate(8);
            t10.extend_from_slice(config.serial.as_bytes());
            body.extend(designator(None, ASCII, LU, 0x1, &t10));
            // Relative target port identifier and target port group.
            let port = u32::from(nexus.target_port).to_be_bytes();
            body.extend(designator(Some(ISCSI), BINARY, PORT, 0x4, &port));
            body.extend(designator(Some(ISCSI), BINARY, PORT, 0x5, &port));
            // SCSI name strings of the target port and the target device.
            let port_name = format!("{},t,0x{:04x}", config.target_name, nexus.target_port);
            body.extend(designator(
                Some(ISCSI),
                UTF8,
                PORT,
                0x8,
                &name_string(&port_name),
            ));
            body.extend(designator(
                Some(ISCSI),
                UTF8,
                TARGET_DEVICE,
                0x8,
                &name_string(&config.target_name),
            ));
            body
        }
        0x86 => {
            let mut b = [0u8; 60];
            // byte 5: HEADSUP, ORDSUP, SIMPSUP
            b[1] = 0x07;
            // byte 6: V_SUP (volatile cache)
            b[2] = 0x01;
            // byte 7: LUICLR
            b[3] = 0x01;
            // MAXIMUM SUPPORTED SENSE DATA LENGTH
            b[9] = 252;
            b.to_vec()
        }
        0xb0 => {
            let mut b = [0u8; 60];
            let put32 = |b: &mut [u8; 60], at: usize, v: u32| {
                if let Some(dst) = b.get_mut(at..at + 4) {
                    dst.copy_from_slice(&v.to_be_bytes());
                }
            };
            // byte 4: WSNZ = 0; byte 5: MAXIMUM COMPARE AND WRITE LENGTH
            b[1] = MAX_COMPARE_AND_WRITE_BLOCKS;
            // bytes 6-7: OPTIMAL TRANSFER LENGTH GRANULARITY (blocks)
            let granularity = u16::try_from(4096 / lu.block_size()).unwrap_or(1).max(1);
            b[2..4].copy_from_slice(&granularity.to_be_bytes());
            put32(&mut b, 4, MAX_TRANSFER_BLOCKS);
            put32(&mut b, 8, MAX_TRANSFER_BLOCKS / 8);
            put32(&mut b, 12, MAX_TRANSFER_BLOCKS);
            if lu.backend().thin() {
                put32(&mut b, 16, MAX_UNMAP_BLOCKS);
                put32(&mut b, 20, MAX_UNMAP_DESCRIPTORS);
                put32(&mut b, 24, u32::from(granularity));
                put32(&mut b, 28, 0x8000_0000); // UGAVALID, alignment 0
            }
            b[32..40].copy_from_slice(&MAX_WRITE_SAME_BLOCKS.to_be_bytes());
            // MAXIMUM ATOMIC TRANSFER LENGTH, ATOMIC ALIGNMENT, ATOMIC
            // TRANSFER LENGTH GRANULARITY (WRITE ATOMIC(16)).
            put32(&mut b, 40, u32::from(u16::MAX).min(MAX_TRANSFER_BLOCKS));
            put32(&mut b, 44, 1);
            put32(&mut b, 48, 1);
            b.to_vec()
        }
        0xb1 => {
            let mut b = [0u8; 60];
            b[1] = 0x01; // MEDIUM ROTATION RATE: non-rotating medium
            b.to_vec()
        }
        0xb2 => {
            let mut b = [0u8; 4];
            if lu.backend().thin() {
                // LBPU, LBPWS, LBPWS10, LBPRZ; provisioning type: thin.
                b[1] = 0x80 | 0x40 | 0x20 | 0x04;
                b[2] = 0x02;
            }
            b.to_vec()
        }
        _ => return None,
    };
    Some(with_header(page, body))
}
