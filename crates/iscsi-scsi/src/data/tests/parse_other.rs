//! Parsers on real targets' data: READ CAPACITY, REPORT LUNS, MODE SENSE, REPORT SUPPORTED OPERATION CODES, PR IN, GET LBA STATUS; and on anything.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]

use super::parse_vpd::{sample_block_limits, sample_device_identification, sample_inquiry};
use crate::data::*;

#[test]
fn read_capacity10_data() {
    let rc = ReadCapacity10::parse(&[0x00, 0x1f, 0xff, 0xff, 0, 0, 2, 0]).unwrap();
    assert_eq!((rc.last_lba, rc.block_length), (0x1f_ffff, 512));
    assert_eq!(rc.block_count(), 0x20_0000);
    assert_eq!(rc.capacity_bytes(), 1 << 30);
    assert!(!rc.needs_read_capacity16());
    let big = ReadCapacity10::parse(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9]).unwrap();
    assert!(big.needs_read_capacity16());
    assert_eq!(big.capacity_bytes(), (1u64 << 32) * u64::from(u32::MAX));
    assert!(matches!(
        ReadCapacity10::parse(&[0; 7]),
        Err(ParseError::Truncated {
            needed: 8,
            got: 7,
            ..
        })
    ));
}

#[test]
fn read_capacity16_data() {
    let mut d = vec![
        0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x10, 0x00, 0x05, 0x43, 0xc1, 0x02,
    ];
    d.resize(32, 0);
    let rc = ReadCapacity16::parse(&d).unwrap();
    assert_eq!(rc.last_lba, 0x1_ffff_ffff);
    assert_eq!(rc.block_length, 4096);
    assert_eq!(
        (rc.p_type, rc.prot_en, rc.protection_type()),
        (2, true, Some(3))
    );
    assert_eq!((rc.p_i_exponent, rc.lbppbe), (4, 3));
    assert_eq!(rc.logical_blocks_per_physical_block(), 8);
    assert!(rc.lbpme && rc.lbprz);
    assert_eq!(rc.lowest_aligned_lba, 0x0102);
    assert_eq!(rc.block_count(), 0x2_0000_0000);
    assert_eq!(rc.capacity_bytes(), 0x2_0000_0000 * 4096);
    // A 12-byte allocation length: the rest reads as zero.
    let rc = ReadCapacity16::parse(&d[..12]).unwrap();
    assert_eq!(
        (rc.prot_en, rc.protection_type(), rc.lbpme),
        (false, None, false)
    );
    assert!(ReadCapacity16::parse(&d[..11]).is_err());
    let huge = ReadCapacity16::parse(&[0xff; 32]).unwrap();
    assert_eq!(
        (huge.block_count(), huge.capacity_bytes()),
        (u64::MAX, u64::MAX)
    );
}

fn sample_report_luns() -> Vec<u8> {
    let mut d = vec![0, 0, 0, 24, 0, 0, 0, 0];
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    d.extend_from_slice(&[0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
    d
}

#[test]
fn report_luns_data() {
    let r = ReportLuns::parse(&sample_report_luns()).unwrap();
    assert_eq!(r.lun_list_length, 24);
    let idx: Vec<_> = r.luns.iter().map(Lun::index).collect();
    assert_eq!(idx, [Some(0), Some(1), Some(300)]);
    assert!(!r.is_truncated());
    assert_eq!(r.full_length(), 32);
    // Allocation length 16: one LUN came back, three exist.
    let r = ReportLuns::parse(&sample_report_luns()[..16]).unwrap();
    assert_eq!(r.luns.len(), 1);
    assert!(r.is_truncated());
    // A partial entry is ignored.
    assert_eq!(
        ReportLuns::parse(&sample_report_luns()[..20])
            .unwrap()
            .luns
            .len(),
        1
    );
    assert!(ReportLuns::parse(&[0, 0, 0, 8]).is_err());
}

#[test]
fn lun_addressing() {
    for i in [0u16, 1, 255, 256, 300, 0x3fff] {
        let lun = Lun::from_index(i).unwrap();
        assert_eq!(lun.index(), Some(i), "{i}");
    }
    assert_eq!(Lun::from_index(255).unwrap().0, [0, 255, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Lun::from_index(256).unwrap().0, [0x41, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Lun::from_index(0x4000), None);
    // Second level, a bus other than 0, extended and logical unit addressing.
    assert_eq!(Lun([0, 1, 0, 2, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0x01, 0, 0, 0, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0xc1, 0, 0, 0, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0x80, 5, 0, 0, 0, 0, 0, 0]).index(), None);
    assert_eq!(
        Lun::from(0x4001_0000_0000_0000).0,
        [0x40, 1, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        Lun([0x40, 1, 0, 0, 0, 0, 0, 0]).to_u64(),
        0x4001_0000_0000_0000
    );
}

fn sample_mode_sense6() -> Vec<u8> {
    let mut d = vec![0, 0x00, 0x90, 8];
    d.extend_from_slice(&[0x00, 0x20, 0x00, 0x00, 0, 0x00, 0x02, 0x00]);
    let mut caching = vec![0x88, 0x12, 0x04];
    caching.resize(20, 0);
    d.extend(caching);
    d.extend_from_slice(&[0x0a, 0x0a, 0x44, 0x12, 0x08, 0x40, 0, 0, 0xff, 0xff, 0, 0]);
    d[0] = u8::try_from(d.len() - 1).unwrap();
    d
}

#[test]
fn mode_sense6_data() {
    let m = ModeParameters::parse6(&sample_mode_sense6()).unwrap();
    assert_eq!(m.mode_data_length, 43);
    assert_eq!((m.medium_type, m.device_specific), (0, 0x90));
    assert!(m.write_protected() && m.dpofua());
    assert_eq!(m.block_descriptor_length, 8);
    assert_eq!(
        m.block_descriptors,
        [BlockDescriptor {
            blocks: 0x20_0000,
            block_length: 512
        }]
    );
    assert_eq!(m.pages.len(), 2);
    assert!(!m.truncated);
    let caching = &m.pages[0];
    assert_eq!(
        (caching.page_code, caching.subpage, caching.ps, caching.spf),
        (8, 0, true, false)
    );
    assert_eq!(caching.bytes.len(), 20);
    assert_eq!(
        m.caching(),
        Some(CachingPage {
            wce: true,
            rcd: false
        })
    );
    let control = m.control().unwrap();
    assert_eq!(control.tst, 2);
    assert!(!control.tmf_only && control.d_sense && !control.gltsd && !control.rlec);
    assert_eq!((control.queue_algorithm_modifier, control.qerr), (1, 1));
    assert!(control.swp && control.tas);
    assert!(m.page(0x1c, 0).is_none());
    assert!(m.pages[1].caching().is_none());
    assert!(m.pages[0].control().is_none());
}

#[test]
fn mode_sense6_truncated() {
    let full = sample_mode_sense6();
    // Cut inside the Caching page: header and descriptor only.
    let m = ModeParameters::parse6(&full[..30]).unwrap();
    assert!(m.truncated);
    assert_eq!(m.block_descriptors.len(), 1);
    assert!(m.pages.is_empty());
    assert_eq!(m.caching(), None);
    // Cut inside the block descriptor.
    let m = ModeParameters::parse6(&full[..8]).unwrap();
    assert!(m.truncated && m.block_descriptors.is_empty());
    // Header only, DBD: no descriptors, no pages.
    let m = ModeParameters::parse6(&[3, 0, 0, 0]).unwrap();
    assert!(!m.truncated && m.pages.is_empty());
    assert!(ModeParameters::parse6(&[3, 0, 0]).is_err());
    // MODE DATA LENGTH shorter than the data: the length wins.
    let mut short = full;
    short[0] = 31;
    let m = ModeParameters::parse6(&short).unwrap();
    assert_eq!(m.pages.len(), 1);
    assert!(!m.truncated);
}

#[test]
fn mode_sense10_long_lba_and_subpages() {
    let mut d = vec![0, 0, 0x00, 0x10, 0x01, 0, 0, 16];
    d.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    d.extend_from_slice(&[0x4a, 0x01, 0x00, 0x04, 1, 2, 3, 4]);
    d.extend_from_slice(&[0x08, 0x02, 0x05, 0x00]);
    let len = u16::try_from(d.len() - 2).unwrap().to_be_bytes();
    d[..2].copy_from_slice(&len);
    let m = ModeParameters::parse10(&d).unwrap();
    assert!(m.long_lba && !m.write_protected() && m.dpofua());
    assert_eq!(
        m.block_descriptors,
        [BlockDescriptor {
            blocks: 1 << 32,
            block_length: 4096
        }]
    );
    assert_eq!(m.pages.len(), 2);
    let ext = m.page(0x0a, 1).unwrap();
    assert!(ext.spf && !ext.ps);
    assert_eq!(ext.bytes, [0x4a, 0x01, 0x00, 0x04, 1, 2, 3, 4]);
    assert_eq!(ext.control(), None);
    assert_eq!(m.control(), None);
    assert_eq!(
        m.caching(),
        Some(CachingPage {
            wce: true,
            rcd: true
        })
    );
    // A sub_page header cut short.
    let m = ModeParameters::parse10(&d[..8 + 16 + 3]).unwrap();
    assert!(m.truncated && m.pages.is_empty());
    assert!(ModeParameters::parse10(&d[..7]).is_err());
}

fn sample_rsoc() -> Vec<u8> {
    let mut d = vec![0, 0, 0, 36];
    d.extend_from_slice(&[0x28, 0, 0, 0, 0, 0x00, 0, 10]);
    d.extend_from_slice(&[0x9e, 0, 0, 0x10, 0, 0x03, 0, 16]);
    d.extend_from_slice(&[0, 0x0a, 0, 0, 0, 0, 0, 30, 0, 0, 0, 60]);
    d.extend_from_slice(&[0xa3, 0, 0, 0x0c, 0, 0x01, 0, 12]);
    d
}

#[test]
fn supported_operation_codes() {
    let s = SupportedOperationCodes::parse(&sample_rsoc()).unwrap();
    assert_eq!(s.command_data_length, 36);
    assert_eq!(s.commands.len(), 3);
    assert_eq!(
        s.commands[0],
        CommandDescriptor {
            opcode: 0x28,
            service_action: 0,
            servactv: false,
            cdb_length: 10,
            timeouts: None
        }
    );
    let rc16 = s.commands[1];
    assert_eq!(
        (
            rc16.opcode,
            rc16.service_action,
            rc16.servactv,
            rc16.cdb_length
        ),
        (0x9e, 0x10, true, 16)
    );
    assert_eq!(rc16.timeouts, Some(CommandTimeouts::new(30, 60)));
    assert!(s.supports(0x28, None));
    assert!(s.supports(0x9e, Some(0x10)));
    assert!(!s.supports(0x9e, Some(0x12)));
    assert!(!s.supports(0x9e, None));
    assert!(s.supports(0xa3, Some(0x0c)));
    assert!(!s.supports(0x2a, None));
    // Cut inside the timeouts descriptor: only the first command.
    assert_eq!(
        SupportedOperationCodes::parse(&sample_rsoc()[..20])
            .unwrap()
            .commands
            .len(),
        1
    );
    assert!(SupportedOperationCodes::parse(&[0, 0, 0]).is_err());
}

#[test]
fn pr_read_keys() {
    let mut d = vec![0, 0, 0, 7, 0, 0, 0, 16];
    d.extend_from_slice(&0xaau64.to_be_bytes());
    d.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
    let k = PrReadKeys::parse(&d).unwrap();
    assert_eq!((k.generation, k.additional_length), (7, 16));
    assert_eq!(k.keys, [0xaa, 0x0123_4567_89ab_cdef]);
    assert_eq!(PrReadKeys::parse(&d[..20]).unwrap().keys, [0xaa]);
    assert!(
        PrReadKeys::parse(&[0, 0, 0, 7, 0, 0, 0, 0])
            .unwrap()
            .keys
            .is_empty()
    );
    assert!(PrReadKeys::parse(&d[..7]).is_err());
}

#[test]
fn pr_read_reservation() {
    let none = PrReadReservation::parse(&[0, 0, 0, 3, 0, 0, 0, 0]).unwrap();
    assert_eq!((none.generation, none.reservation), (3, None));
    let mut d = vec![0, 0, 0, 4, 0, 0, 0, 16];
    d.extend_from_slice(&0xabcdu64.to_be_bytes());
    d.extend_from_slice(&[0, 0, 0, 0, 0, 0x05, 0, 0]);
    let r = PrReadReservation::parse(&d).unwrap();
    assert_eq!(r.generation, 4);
    let res = r.reservation.unwrap();
    assert_eq!((res.key, res.scope, res.pr_type), (0xabcd, 0, 5));
    assert_eq!(
        res.reservation_type(),
        Some(PrType::WriteExclusiveRegistrantsOnly)
    );
    assert!(matches!(
        PrReadReservation::parse(&d[..12]),
        Err(ParseError::Truncated {
            needed: 24,
            got: 12,
            ..
        })
    ));
    assert!(PrReadReservation::parse(&d[..4]).is_err());
}

#[test]
fn lba_status() {
    let mut d = vec![0, 0, 0, 36, 0, 0, 0, 0];
    d.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x00, 0, 0, 0]);
    d.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x01, 0, 0, 0]);
    let s = LbaStatus::parse(&d).unwrap();
    assert_eq!(s.parameter_data_length, 36);
    assert_eq!(
        s.descriptors,
        [
            LbaStatusDescriptor {
                lba: 0,
                blocks: 0x100,
                status: ProvisioningStatus::Mapped
            },
            LbaStatusDescriptor {
                lba: 0x100,
                blocks: 0x80,
                status: ProvisioningStatus::Deallocated
            },
        ]
    );
    assert_eq!(LbaStatus::parse(&d[..30]).unwrap().descriptors.len(), 1);
    assert!(LbaStatus::parse(&d[..7]).is_err());
    assert_eq!(
        ProvisioningStatus::from_code(2),
        ProvisioningStatus::Anchored
    );
    assert_eq!(
        ProvisioningStatus::from_code(7),
        ProvisioningStatus::Reserved(7)
    );
}

// -- Robustness ----------------------------------------------------------

/// Runs every parser over `data`; only panics matter.
fn parse_all(data: &[u8]) {
    let _ = StandardInquiry::parse(data);
    let _ = VpdPage::parse(data);
    for page in [0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2] {
        let mut d = data.to_vec();
        if let Some(code) = d.get_mut(1) {
            *code = page;
        }
        if let Ok(VpdPage::DeviceIdentification(id)) = VpdPage::parse(&d) {
            for des in id.designators {
                let _ = des.to_string();
            }
        }
    }
    let _ = ReadCapacity10::parse(data).map(|r| r.capacity_bytes());
    let _ = ReadCapacity16::parse(data).map(|r| {
        (
            r.capacity_bytes(),
            r.logical_blocks_per_physical_block(),
            r.protection_type(),
        )
    });
    let _ = ReportLuns::parse(data).map(|r| r.luns.iter().map(Lun::index).count());
    let _ = ModeParameters::parse6(data).map(|m| (m.caching(), m.control()));
    let _ = ModeParameters::parse10(data).map(|m| (m.caching(), m.control()));
    let _ = SupportedOperationCodes::parse(data);
    let _ = PrReadKeys::parse(data);
    let _ = PrReadReservation::parse(data);
    let _ = LbaStatus::parse(data);
    let _ = PrOutParameterList::parse(data);
}

#[test]
fn every_prefix_of_valid_data_parses_without_panic() {
    let samples = [
        sample_inquiry(),
        sample_device_identification(),
        sample_block_limits(),
        sample_report_luns(),
        sample_mode_sense6(),
        sample_rsoc(),
    ];
    for sample in &samples {
        for n in 0..=sample.len() {
            parse_all(&sample[..n]);
        }
    }
}

#[test]
fn garbage_never_panics() {
    // A small xorshift generator: deterministic, no dependencies.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let len = usize::try_from(next() % 300).unwrap();
        let mut data: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
        if round % 3 == 0 {
            // Huge length fields are the classic overflow trap.
            for b in data.iter_mut().take(8) {
                *b = 0xff;
            }
        }
        parse_all(&data);
    }
    for fill in [0x00, 0xff, 0x40, 0x80] {
        for len in 0..80 {
            parse_all(&vec![fill; len]);
        }
    }
}
