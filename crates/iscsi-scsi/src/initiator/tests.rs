//! Tests of the initiator half: builders byte for byte, parsers on real targets' data and on anything.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]

use super::builders::FUA;
use super::*;

fn b(cdb: Cdb) -> Vec<u8> {
    cdb.as_slice().to_vec()
}

fn ok(cdb: Result<Cdb, CdbError>) -> Vec<u8> {
    b(cdb.unwrap())
}

// -- CDB type ------------------------------------------------------------

#[test]
fn cdb_basics() {
    let c = Cdb::test_unit_ready();
    assert_eq!(c.len(), 6);
    assert!(!c.is_empty());
    assert_eq!(c.opcode(), 0x00);
    assert_eq!(c.as_ref(), &[0u8; 6][..]);
    assert_eq!(format!("{c:?}"), "Cdb(00 00 00 00 00 00)");
    let v = Cdb::from_slice(&[0xc0, 1, 2]).unwrap();
    assert_eq!(
        (v.len(), v.opcode(), v.as_slice()),
        (3, 0xc0, &[0xc0, 1, 2][..])
    );
    assert_eq!(Cdb::from_slice(&[]), Err(CdbError::Length(0)));
    assert_eq!(Cdb::from_slice(&[0; 17]), Err(CdbError::Length(17)));
    assert_eq!(Cdb::from_slice(&[0x28; 16]).unwrap().len(), 16);
}

// -- SPC-4 builders ------------------------------------------------------

#[test]
fn test_unit_ready_cdb() {
    assert_eq!(b(Cdb::test_unit_ready()), [0, 0, 0, 0, 0, 0]);
}

#[test]
fn inquiry_cdb() {
    assert_eq!(b(Cdb::inquiry(false, 0, 36)), [0x12, 0, 0, 0, 36, 0]);
    assert_eq!(
        b(Cdb::inquiry(true, 0x83, 0x1000)),
        [0x12, 1, 0x83, 0x10, 0x00, 0]
    );
}

#[test]
fn request_sense_cdb() {
    assert_eq!(b(Cdb::request_sense(true, 252)), [0x03, 1, 0, 0, 252, 0]);
    assert_eq!(b(Cdb::request_sense(false, 18)), [0x03, 0, 0, 0, 18, 0]);
}

#[test]
fn report_luns_cdb() {
    assert_eq!(
        b(Cdb::report_luns(2, 0x0001_0000)),
        [0xa0, 0, 2, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0]
    );
}

#[test]
fn mode_sense_cdbs() {
    assert_eq!(
        ok(Cdb::mode_sense6(
            true,
            PageControl::Changeable,
            0x08,
            0,
            0xff
        )),
        [0x1a, 0x08, 0x48, 0x00, 0xff, 0]
    );
    assert_eq!(
        ok(Cdb::mode_sense6(
            false,
            PageControl::Current,
            0x3f,
            0xff,
            192
        )),
        [0x1a, 0x00, 0x3f, 0xff, 192, 0]
    );
    assert_eq!(
        ok(Cdb::mode_sense10(
            false,
            PageControl::Saved,
            0x0a,
            0x01,
            0x1234
        )),
        [0x5a, 0x00, 0xca, 0x01, 0, 0, 0, 0x12, 0x34, 0]
    );
    assert_eq!(
        ok(Cdb::mode_sense10(true, PageControl::Default, 0x1c, 0, 8)),
        [0x5a, 0x08, 0x9c, 0, 0, 0, 0, 0, 8, 0]
    );
    assert!(matches!(
        Cdb::mode_sense6(false, PageControl::Current, 0x40, 0, 4),
        Err(CdbError::OutOfRange {
            field: "PAGE CODE",
            value: 0x40,
            max: 0x3f
        })
    ));
    assert!(Cdb::mode_sense10(false, PageControl::Current, 0xff, 0, 4).is_err());
}

#[test]
fn mode_select_cdbs() {
    assert_eq!(
        b(Cdb::mode_select6(true, false, 0x18)),
        [0x15, 0x10, 0, 0, 0x18, 0]
    );
    assert_eq!(
        b(Cdb::mode_select6(true, true, 0x18)),
        [0x15, 0x11, 0, 0, 0x18, 0]
    );
    assert_eq!(
        b(Cdb::mode_select10(true, true, 0x0102)),
        [0x55, 0x11, 0, 0, 0, 0, 0, 0x01, 0x02, 0]
    );
    assert_eq!(
        b(Cdb::mode_select10(false, false, 0)),
        [0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn report_supported_operation_codes_cdb() {
    assert_eq!(
        b(Cdb::report_supported_operation_codes(
            ReportingOptions::AllCommands,
            true,
            0,
            0,
            0x2000
        )),
        [0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0x20, 0x00, 0, 0]
    );
    assert_eq!(
        b(Cdb::report_supported_operation_codes(
            ReportingOptions::OneCommandServiceAction,
            false,
            0x9e,
            0x10,
            512
        )),
        [0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x10, 0, 0, 0x02, 0x00, 0, 0]
    );
    assert_eq!(
        b(Cdb::report_supported_operation_codes(
            ReportingOptions::OneCommandOptionalServiceAction,
            false,
            0x28,
            0,
            64
        ))[2],
        0x03
    );
    assert_eq!(
        b(Cdb::report_supported_operation_codes(
            ReportingOptions::OneCommand,
            false,
            0x28,
            0,
            64
        ))[2],
        0x01
    );
}

#[test]
fn prevent_allow_cdb() {
    assert_eq!(
        b(Cdb::prevent_allow_medium_removal(true)),
        [0x1e, 0, 0, 0, 1, 0]
    );
    assert_eq!(
        b(Cdb::prevent_allow_medium_removal(false)),
        [0x1e, 0, 0, 0, 0, 0]
    );
}

#[test]
fn start_stop_unit_cdb() {
    assert_eq!(
        ok(Cdb::start_stop_unit(true, 0, true, false)),
        [0x1b, 1, 0, 0, 0x02, 0]
    );
    assert_eq!(
        ok(Cdb::start_stop_unit(false, 0, false, true)),
        [0x1b, 0, 0, 0, 0x01, 0]
    );
    assert_eq!(
        ok(Cdb::start_stop_unit(false, 3, false, false)),
        [0x1b, 0, 0, 0, 0x30, 0]
    );
    assert!(Cdb::start_stop_unit(false, 0x10, false, false).is_err());
}

#[test]
fn reserve_release_cdbs() {
    assert_eq!(b(Cdb::reserve6()), [0x16, 0, 0, 0, 0, 0]);
    assert_eq!(b(Cdb::release6()), [0x17, 0, 0, 0, 0, 0]);
    assert_eq!(b(Cdb::reserve10()), [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(b(Cdb::release10()), [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn persistent_reserve_cdbs() {
    assert_eq!(
        b(Cdb::persistent_reserve_in(
            PrInAction::ReadReservation,
            0x2000
        )),
        [0x5e, 0x01, 0, 0, 0, 0, 0, 0x20, 0x00, 0]
    );
    assert_eq!(
        b(Cdb::persistent_reserve_in(PrInAction::ReadKeys, 8))[1],
        0x00
    );
    assert_eq!(
        b(Cdb::persistent_reserve_in(
            PrInAction::ReportCapabilities,
            8
        ))[1],
        0x02
    );
    assert_eq!(
        b(Cdb::persistent_reserve_in(PrInAction::ReadFullStatus, 8))[1],
        0x03
    );
    assert_eq!(
        b(Cdb::persistent_reserve_out(
            PrOutAction::Reserve,
            Some(PrType::WriteExclusiveRegistrantsOnly),
            24
        )),
        [0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0]
    );
    assert_eq!(
        b(Cdb::persistent_reserve_out(
            PrOutAction::Register,
            None,
            0x0102_0304
        )),
        [0x5f, 0x00, 0x00, 0, 0, 0x01, 0x02, 0x03, 0x04, 0]
    );
    let codes = [
        (PrOutAction::Clear, 3),
        (PrOutAction::Preempt, 4),
        (PrOutAction::PreemptAndAbort, 5),
        (PrOutAction::RegisterAndIgnoreExistingKey, 6),
        (PrOutAction::RegisterAndMove, 7),
        (PrOutAction::ReplaceLostReservation, 8),
        (PrOutAction::Release, 2),
    ];
    for (action, code) in codes {
        assert_eq!(b(Cdb::persistent_reserve_out(action, None, 24))[1], code);
    }
    for code in 0..16 {
        if let Some(t) = PrType::from_code(code) {
            assert_eq!(t.code(), code);
        }
    }
    assert_eq!(PrType::from_code(2), None);
    assert_eq!(
        PrType::from_code(8),
        Some(PrType::ExclusiveAccessAllRegistrants)
    );
}

#[test]
fn pr_out_parameter_list_bytes() {
    let mut list = PrOutParameterList::new(0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00);
    list.aptpl = true;
    list.all_tg_pt = true;
    let bytes = list.to_bytes();
    assert_eq!(
        bytes,
        [
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
            0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, //
            0, 0, 0, 0, 0x05, 0, 0, 0
        ]
    );
    assert_eq!(PrOutParameterList::parse(&bytes), Ok(list));
    list.spec_i_pt = true;
    assert_eq!(list.to_bytes()[20], 0x0d);
    assert!(PrOutParameterList::parse(&bytes[..23]).is_err());
    assert_eq!(PrOutParameterList::default().to_bytes(), [0; 24]);
}

// -- SBC-3 builders ------------------------------------------------------

#[test]
fn read_write6_cdbs() {
    assert_eq!(
        ok(Cdb::read6(0x12345, 256)),
        [0x08, 0x01, 0x23, 0x45, 0x00, 0]
    );
    assert_eq!(
        ok(Cdb::read6(0x1f_ffff, 1)),
        [0x08, 0x1f, 0xff, 0xff, 0x01, 0]
    );
    assert_eq!(ok(Cdb::write6(0, 255)), [0x0a, 0, 0, 0, 0xff, 0]);
    assert!(matches!(
        Cdb::read6(0x20_0000, 1),
        Err(CdbError::OutOfRange { max: 0x1f_ffff, .. })
    ));
    assert!(matches!(
        Cdb::write6(0, 0),
        Err(CdbError::OutOfRange {
            field: "TRANSFER LENGTH",
            value: 0,
            max: 256
        })
    ));
    assert!(Cdb::read6(0, 257).is_err());
}

#[test]
fn read10_example_from_the_brief() {
    assert_eq!(
        ok(Cdb::read10(0x1234_5678, 8, false, true)),
        [0x28, 0x08, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x08, 0x00]
    );
}

#[test]
fn read_write10_cdbs() {
    assert_eq!(
        ok(Cdb::read10(1, 0xffff, true, true)),
        [0x28, 0x18, 0, 0, 0, 1, 0, 0xff, 0xff, 0]
    );
    assert_eq!(
        ok(Cdb::write10(0xffff_ffff, 1, true, false)),
        [0x2a, 0x10, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0]
    );
    assert!(matches!(
        Cdb::read10(1 << 32, 1, false, false),
        Err(CdbError::OutOfRange {
            field: "LOGICAL BLOCK ADDRESS",
            ..
        })
    ));
    assert!(matches!(
        Cdb::write10(0, 0x1_0000, false, false),
        Err(CdbError::OutOfRange {
            field: "TRANSFER LENGTH",
            value: 0x1_0000,
            max: 0xffff
        })
    ));
}

#[test]
fn read_write12_cdbs() {
    assert_eq!(
        ok(Cdb::read12(0x0102_0304, 0x0506_0708, true, false)),
        [0xa8, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]
    );
    assert_eq!(
        ok(Cdb::write12(0x0102_0304, 0x0506_0708, false, true)),
        [0xaa, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]
    );
    assert!(Cdb::write12(1 << 32, 1, false, false).is_err());
}

#[test]
fn read_write16_cdbs() {
    assert_eq!(
        b(Cdb::read16(0x0102_0304_0506_0708, 0x090a_0b0c, true, true)),
        [0x88, 0x18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0]
    );
    assert_eq!(
        b(Cdb::write16(u64::MAX, u32::MAX, false, false)),
        [
            0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0
        ]
    );
}

#[test]
fn read_write_pick_the_short_form() {
    assert_eq!(Cdb::read(5, 1, false, false).opcode(), 0x28);
    assert_eq!(Cdb::read(1 << 32, 1, false, false).opcode(), 0x88);
    assert_eq!(Cdb::read(0, 70_000, false, false).opcode(), 0x88);
    assert_eq!(Cdb::write(5, 1, false, true).as_slice()[1], FUA);
    assert_eq!(Cdb::write(1 << 40, 1, false, false).opcode(), 0x8a);
}

#[test]
fn write_and_verify_cdbs() {
    assert_eq!(
        ok(Cdb::write_and_verify10(0x10, 4, true, true)),
        [0x2e, 0x12, 0, 0, 0, 0x10, 0, 0, 4, 0]
    );
    assert_eq!(
        b(Cdb::write_and_verify16(0x10, 4, false, true)),
        [0x8e, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 4, 0, 0]
    );
    assert!(Cdb::write_and_verify10(0, 0x1_0000, false, false).is_err());
}

#[test]
fn verify_cdbs() {
    assert_eq!(
        ok(Cdb::verify10(0x20, 0x100, false, ByteCheck::Compare)),
        [0x2f, 0x02, 0, 0, 0, 0x20, 0, 0x01, 0x00, 0]
    );
    assert_eq!(
        ok(Cdb::verify10(0, 1, false, ByteCheck::CompareSingleBlock))[1],
        0x06
    );
    assert_eq!(
        b(Cdb::verify16(1, 2, true, ByteCheck::MediumOnly)),
        [0x8f, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]
    );
    assert!(matches!(
        Cdb::verify10(0, 0x1_0000, false, ByteCheck::MediumOnly),
        Err(CdbError::OutOfRange {
            field: "VERIFICATION LENGTH",
            ..
        })
    ));
}

#[test]
fn synchronize_cache_cdbs() {
    assert_eq!(
        ok(Cdb::synchronize_cache10(true, 0, 0)),
        [0x35, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        ok(Cdb::synchronize_cache10(false, 0x0a0b_0c0d, 0x0102)),
        [0x35, 0, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0x01, 0x02, 0]
    );
    assert_eq!(
        b(Cdb::synchronize_cache16(false, 1 << 32, 0x10)),
        [0x91, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]
    );
    assert_eq!(b(Cdb::synchronize_cache16(true, 0, 0))[1], 0x02);
    assert!(Cdb::synchronize_cache10(false, 1 << 32, 0).is_err());
}

#[test]
fn pre_fetch_cdbs() {
    assert_eq!(
        ok(Cdb::pre_fetch10(true, 0x10, 0x20)),
        [0x34, 0x02, 0, 0, 0, 0x10, 0, 0, 0x20, 0]
    );
    assert_eq!(
        b(Cdb::pre_fetch16(false, 0x10, 0x20)),
        [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0]
    );
    assert!(Cdb::pre_fetch10(false, 0, 0x1_0000).is_err());
}

#[test]
fn read_capacity_cdbs() {
    assert_eq!(b(Cdb::read_capacity10()), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        b(Cdb::read_capacity16(32)),
        [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]
    );
}

#[test]
fn write_same_cdbs() {
    assert_eq!(
        ok(Cdb::write_same10(0x1000, 8, true, false)),
        [0x41, 0x08, 0, 0, 0x10, 0x00, 0, 0, 8, 0]
    );
    assert_eq!(ok(Cdb::write_same10(0, 1, true, true))[1], 0x18);
    assert_eq!(
        b(Cdb::write_same16(0x1000, 0x0001_0000, true, false, true)),
        [0x93, 0x09, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 0, 0, 0, 0]
    );
    assert_eq!(b(Cdb::write_same16(0, 1, false, true, false))[1], 0x10);
    assert!(Cdb::write_same10(0, 0x1_0000, false, false).is_err());
}

#[test]
fn unmap_cdb_and_parameter_list() {
    assert_eq!(b(Cdb::unmap(false, 24)), [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]);
    assert_eq!(
        b(Cdb::unmap(true, 0x0102)),
        [0x42, 1, 0, 0, 0, 0, 0, 0x01, 0x02, 0]
    );
    let list = unmap_parameter_list(&[(0x1000, 0x80), (0xffff_ffff_ffff, 1)]);
    assert_eq!(
        list,
        [
            0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0, // header: 38 and 32 bytes
            0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0x80, 0, 0, 0, 0, //
            0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0,
        ]
    );
    assert_eq!(unmap_parameter_list(&[]), [0, 6, 0, 0, 0, 0, 0, 0]);
    let many = vec![(0u64, 1u32); UNMAP_MAX_DESCRIPTORS + 10];
    let list = unmap_parameter_list(&many);
    assert_eq!(list.len(), 8 + 16 * UNMAP_MAX_DESCRIPTORS);
    assert_eq!(u16::from_be_bytes([list[0], list[1]]), 65_526);
    assert_eq!(u16::from_be_bytes([list[2], list[3]]), 65_520);
}

#[test]
fn compare_and_write_cdb() {
    assert_eq!(
        b(Cdb::compare_and_write(0x1234, 1, false, true)),
        [0x89, 0x08, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 0]
    );
    assert_eq!(
        b(Cdb::compare_and_write(0, 255, true, false))[1..],
        [0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0]
    );
}

#[test]
fn get_lba_status_cdb() {
    assert_eq!(
        b(Cdb::get_lba_status(0x55, 4096)),
        [
            0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x55, 0, 0, 0x10, 0x00, 0, 0
        ]
    );
}

#[test]
fn cdb_error_messages() {
    let e = Cdb::read10(1 << 32, 1, false, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LOGICAL BLOCK ADDRESS 0x100000000 does not fit its CDB field (maximum 0xffffffff)"
    );
    assert_eq!(
        CdbError::Length(0).to_string(),
        "a CDB holds 1 to 16 bytes, not 0"
    );
}

// -- Parsers -------------------------------------------------------------

fn padded(s: &[u8], n: usize) -> Vec<u8> {
    let mut v = s.to_vec();
    v.resize(n, b' ');
    v
}

fn sample_inquiry() -> Vec<u8> {
    let mut d = vec![0x00, 0x80, 0x06, 0x12, 91, 0x39, 0x50, 0x02];
    d.extend(padded(b"LIO-ORG", 8));
    d.extend(padded(b"disk0", 16));
    d.extend(padded(b"4.0", 4));
    d.resize(58, 0);
    for v in [0x0460u16, 0, 0x04c0, 0x0960, 0, 0, 0, 0] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.resize(96, 0);
    d
}

#[test]
fn standard_inquiry_round_trip() {
    let inq = StandardInquiry::parse(&sample_inquiry()).unwrap();
    assert_eq!(inq.peripheral_qualifier, 0);
    assert_eq!(inq.device_type, 0);
    assert!(inq.rmb);
    assert_eq!(inq.version, 6);
    assert!(!inq.normaca);
    assert!(inq.hisup);
    assert_eq!(inq.response_data_format, 2);
    assert_eq!(inq.additional_length, 91);
    assert!(!inq.sccs && !inq.acc);
    assert_eq!(inq.tpgs, 3);
    assert!(inq.three_pc && inq.protect);
    assert!(inq.encserv && inq.multip && inq.cmdque);
    assert_eq!(inq.vendor, "LIO-ORG");
    assert_eq!(inq.product, "disk0");
    assert_eq!(inq.revision, "4.0");
    assert_eq!(inq.version_descriptors, [0x0460, 0x04c0, 0x0960]);
}

#[test]
fn standard_inquiry_short_and_odd() {
    let full = sample_inquiry();
    let inq = StandardInquiry::parse(&full[..36]).unwrap();
    assert_eq!(
        (inq.vendor.as_str(), inq.revision.as_str()),
        ("LIO-ORG", "4.0")
    );
    assert!(inq.version_descriptors.is_empty());
    let inq = StandardInquiry::parse(&full[..5]).unwrap();
    assert_eq!(
        (inq.version, inq.vendor.as_str(), inq.cmdque),
        (6, "", false)
    );
    assert_eq!(
        StandardInquiry::parse(&full[..4]),
        Err(ParseError::Truncated {
            what: "standard INQUIRY data",
            needed: 5,
            got: 4
        })
    );
    // ADDITIONAL LENGTH 31 hides the version descriptors that follow.
    let mut short_len = full.clone();
    short_len[4] = 31;
    assert!(
        StandardInquiry::parse(&short_len)
            .unwrap()
            .version_descriptors
            .is_empty()
    );
    // No logical unit: qualifier 3, type 1Fh; non-UTF-8 text is replaced.
    let mut none = full;
    none[0] = 0x7f;
    none[8] = 0xff;
    let inq = StandardInquiry::parse(&none).unwrap();
    assert_eq!((inq.peripheral_qualifier, inq.device_type), (3, 0x1f));
    assert!(inq.vendor.starts_with('\u{fffd}'));
}

fn vpd(page: u8, body: &[u8]) -> Vec<u8> {
    let mut d = vec![0x00, page];
    d.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    d.extend_from_slice(body);
    d
}

#[test]
fn supported_vpd_pages() {
    let d = vpd(0x00, &[0x00, 0x80, 0x83, 0xb0, 0xb2]);
    assert_eq!(
        SupportedVpdPages::parse(&d).unwrap().pages,
        [0x00, 0x80, 0x83, 0xb0, 0xb2]
    );
    // Cut short: what is there.
    assert_eq!(
        SupportedVpdPages::parse(&d[..6]).unwrap().pages,
        [0x00, 0x80]
    );
    // PAGE LENGTH shorter than the data: the length wins.
    let mut d2 = d.clone();
    d2[3] = 2;
    assert_eq!(SupportedVpdPages::parse(&d2).unwrap().pages, [0x00, 0x80]);
    assert_eq!(
        SupportedVpdPages::parse(&vpd(0x80, b"x")),
        Err(ParseError::WrongPage {
            expected: 0x00,
            got: 0x80
        })
    );
    assert!(matches!(
        SupportedVpdPages::parse(&d[..3]),
        Err(ParseError::Truncated { .. })
    ));
}

#[test]
fn unit_serial_number() {
    let d = vpd(0x80, b"  SER123\0\0");
    assert_eq!(UnitSerialNumber::parse(&d).unwrap().serial, "SER123");
    assert_eq!(UnitSerialNumber::parse(&vpd(0x80, b"")).unwrap().serial, "");
    assert!(UnitSerialNumber::parse(&vpd(0x83, b"")).is_err());
}

fn designator(b0: u8, b1: u8, value: &[u8]) -> Vec<u8> {
    let mut d = vec![b0, b1, 0, u8::try_from(value.len()).unwrap()];
    d.extend_from_slice(value);
    d
}

fn sample_device_identification() -> Vec<u8> {
    let naa = [
        0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
        0x12,
    ];
    let mut body = designator(0x01, 0x03, &naa);
    body.extend(designator(0x02, 0x01, b"LIO-ORG disk0   "));
    body.extend(designator(
        0x53,
        0x98,
        b"iqn.2003-01.org.example:t1,t,0x0001\0",
    ));
    body.extend(designator(0x51, 0x94, &[0, 0, 0, 1]));
    body.extend(designator(0x51, 0x95, &[0, 0, 0, 2]));
    body.extend(designator(
        0x01,
        0x02,
        &[0x00, 0x14, 0x05, 0xff, 0xfe, 0x00, 0x00, 0x01],
    ));
    body.extend(designator(0x01, 0x00, &[0xde, 0xad]));
    vpd(0x83, &body)
}

#[test]
fn device_identification_round_trip() {
    let page = DeviceIdentification::parse(&sample_device_identification()).unwrap();
    let d = &page.designators;
    assert_eq!(d.len(), 7);
    assert_eq!(d[0].designator_type, DesignatorType::Naa);
    assert_eq!(d[0].code_set, CodeSet::Binary);
    assert_eq!(d[0].association, Association::LogicalUnit);
    assert!(!d[0].piv);
    assert_eq!(d[0].value.len(), 16);
    assert_eq!(d[0].to_string(), "naa.6001405ABCDEF0123456789ABCDEF012");
    assert_eq!(d[1].designator_type, DesignatorType::T10VendorId);
    assert_eq!(d[1].code_set, CodeSet::Ascii);
    assert_eq!(d[1].to_string(), "t10.LIO-ORG disk0");
    assert_eq!(d[2].protocol_identifier, 5);
    assert!(d[2].piv);
    assert_eq!(d[2].code_set, CodeSet::Utf8);
    assert_eq!(d[2].association, Association::TargetPort);
    assert_eq!(d[2].designator_type, DesignatorType::ScsiNameString);
    assert_eq!(d[2].to_string(), "iqn.2003-01.org.example:t1,t,0x0001");
    assert_eq!(d[3].designator_type, DesignatorType::RelativeTargetPort);
    assert_eq!(d[3].to_string(), "relative target port 1");
    assert_eq!(d[4].designator_type, DesignatorType::TargetPortGroup);
    assert_eq!(d[4].to_string(), "target port group 2");
    assert_eq!(d[5].to_string(), "eui.001405FFFE000001");
    assert_eq!(d[6].designator_type, DesignatorType::VendorSpecific);
    assert_eq!(d[6].to_string(), "0xDEAD");
}

#[test]
fn device_identification_truncated_and_codes() {
    let full = sample_device_identification();
    // Cut inside the second descriptor: only the first survives.
    let page = DeviceIdentification::parse(&full[..4 + 20 + 6]).unwrap();
    assert_eq!(page.designators.len(), 1);
    // A descriptor that claims more than the page holds is dropped.
    let page = DeviceIdentification::parse(&vpd(0x83, &[0x01, 0x03, 0, 16, 1, 2])).unwrap();
    assert!(page.designators.is_empty());
    assert_eq!(CodeSet::from_code(0xf), CodeSet::Reserved(0xf));
    assert_eq!(Association::from_code(3), Association::Reserved);
    assert_eq!(Association::from_code(2), Association::TargetDevice);
    assert_eq!(
        DesignatorType::from_code(0x7),
        DesignatorType::Md5LogicalUnit
    );
    assert_eq!(
        DesignatorType::from_code(0x6),
        DesignatorType::LogicalUnitGroup
    );
    assert_eq!(
        DesignatorType::from_code(0x9),
        DesignatorType::ProtocolSpecificPort
    );
    assert_eq!(
        DesignatorType::from_code(0xa),
        DesignatorType::Reserved(0xa)
    );
}

#[test]
fn extended_inquiry() {
    let mut body = vec![0x6d, 0x3f, 0x0a, 0x11, 0x11, 0x0f, 0x00, 0x1e, 0xe0, 252];
    body.resize(0x3c, 0);
    let e = ExtendedInquiry::parse(&vpd(0x86, &body)).unwrap();
    assert_eq!((e.activate_microcode, e.spt), (1, 5));
    assert!(e.grd_chk && !e.app_chk && e.ref_chk);
    assert!(e.uask_sup && e.group_sup && e.prior_sup && e.headsup && e.ordsup && e.simpsup);
    assert!(e.wu_sup && !e.crd_sup && e.nv_sup && !e.v_sup);
    assert!(e.p_i_i_sup && e.luiclr && e.r_sup && e.cbcs);
    assert_eq!(e.multi_it_nexus_microcode_download, 0x0f);
    assert_eq!(e.extended_self_test_minutes, 30);
    assert!(e.poa_sup && e.hra_sup && e.vsa_sup);
    assert_eq!(e.max_sense_data_length, 252);
    let short = ExtendedInquiry::parse(&vpd(0x86, &[0x08])).unwrap();
    assert_eq!(short.spt, 1);
    assert!(!short.simpsup);
}

fn sample_block_limits() -> Vec<u8> {
    let mut body = vec![0x01, 0x01, 0x00, 0x08];
    for v in [
        0x0000_4000u32,
        0x0000_0080,
        0x0000_1000,
        0x0040_0000,
        0x0000_0100,
        0x0000_0008,
    ] {
        body.extend_from_slice(&v.to_be_bytes());
    }
    body.extend_from_slice(&(0x8000_0007u32).to_be_bytes());
    body.extend_from_slice(&(0x0000_0001_0000_0000u64).to_be_bytes());
    for v in [
        0x0000_0200u32,
        0x0000_0008,
        0x0000_0004,
        0x0000_0400,
        0x0000_0800,
    ] {
        body.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(body.len(), 0x3c);
    vpd(0xb0, &body)
}

#[test]
fn block_limits() {
    let l = BlockLimits::parse(&sample_block_limits()).unwrap();
    assert!(l.wsnz);
    assert_eq!(l.max_compare_and_write_length, 1);
    assert_eq!(l.optimal_transfer_length_granularity, 8);
    assert_eq!(l.max_transfer_length, 0x4000);
    assert_eq!(l.optimal_transfer_length, 0x80);
    assert_eq!(l.max_prefetch_length, 0x1000);
    assert_eq!(l.max_unmap_lba_count, 0x40_0000);
    assert_eq!(l.max_unmap_block_descriptor_count, 0x100);
    assert_eq!(l.optimal_unmap_granularity, 8);
    assert!(l.ugavalid);
    assert_eq!(l.unmap_granularity_alignment, 7);
    assert_eq!(l.max_write_same_length, 1 << 32);
    assert_eq!(l.max_atomic_transfer_length, 0x200);
    assert_eq!(l.atomic_alignment, 8);
    assert_eq!(l.atomic_transfer_length_granularity, 4);
    assert_eq!(l.max_atomic_transfer_length_with_boundary, 0x400);
    assert_eq!(l.max_atomic_boundary_size, 0x800);
    // An old 16-byte page: the later fields read as zero.
    let mut old = sample_block_limits();
    old[3] = 0x10;
    let l = BlockLimits::parse(&old).unwrap();
    assert_eq!(
        (l.max_transfer_length, l.optimal_transfer_length),
        (0x4000, 0x80)
    );
    assert_eq!((l.max_unmap_lba_count, l.max_write_same_length), (0, 0));
    assert!(!l.ugavalid);
}

#[test]
fn block_device_characteristics() {
    let mut body = vec![0x00, 0x01, 0x00, 0x23, 0x02];
    body.resize(0x3c, 0);
    let c = BlockDeviceCharacteristics::parse(&vpd(0xb1, &body)).unwrap();
    assert_eq!(c.medium_rotation_rate, 1);
    assert!(c.is_non_rotating());
    assert_eq!(
        (c.product_type, c.wabereq, c.wacereq, c.nominal_form_factor),
        (0, 0, 2, 3)
    );
    assert!(c.fuab && !c.vbuls);
    let spinning =
        BlockDeviceCharacteristics::parse(&vpd(0xb1, &[0x1c, 0x20, 0x01, 0xc2, 0x01])).unwrap();
    assert_eq!(spinning.medium_rotation_rate, 7200);
    assert!(!spinning.is_non_rotating());
    assert_eq!(
        (
            spinning.product_type,
            spinning.wabereq,
            spinning.nominal_form_factor
        ),
        (1, 3, 2)
    );
    assert!(spinning.vbuls && !spinning.fuab);
}

#[test]
fn logical_block_provisioning() {
    let p = LogicalBlockProvisioning::parse(&vpd(0xb2, &[0x00, 0xe6, 0x02, 0x00])).unwrap();
    assert_eq!(p.threshold_exponent, 0);
    assert!(p.lbpu && p.lbpws && p.lbpws10 && p.anc_sup && !p.dp);
    assert_eq!(p.lbprz, 1);
    assert_eq!(p.provisioning_type, 2);
    let p = LogicalBlockProvisioning::parse(&vpd(0xb2, &[0x14, 0x09, 0xf9])).unwrap();
    assert_eq!(
        (p.threshold_exponent, p.lbprz, p.provisioning_type),
        (0x14, 2, 1)
    );
    assert!(p.dp && !p.lbpu);
}

#[test]
fn vpd_page_dispatch() {
    let cases = [
        (vpd(0x00, &[0x00, 0x80]), 0x00),
        (vpd(0x80, b"S1"), 0x80),
        (sample_device_identification(), 0x83),
        (vpd(0x86, &[0; 60]), 0x86),
        (sample_block_limits(), 0xb0),
        (vpd(0xb1, &[0; 60]), 0xb1),
        (vpd(0xb2, &[0; 4]), 0xb2),
        (vpd(0xc0, &[1, 2, 3]), 0xc0),
    ];
    for (data, code) in cases {
        let page = VpdPage::parse(&data).unwrap();
        assert_eq!(page.page_code(), code);
    }
    assert!(matches!(
        VpdPage::parse(&vpd(0x80, b"S1")).unwrap(),
        VpdPage::UnitSerialNumber(UnitSerialNumber { ref serial }) if serial == "S1"
    ));
    assert!(matches!(
        VpdPage::parse(&vpd(0xb0, &[0; 4])).unwrap(),
        VpdPage::BlockLimits(_)
    ));
    match VpdPage::parse(&vpd(0xc0, &[1, 2, 3])).unwrap() {
        VpdPage::Other { page_code, data } => {
            assert_eq!((page_code, data), (0xc0, vec![1, 2, 3]))
        }
        other => panic!("{other:?}"),
    }
    assert!(VpdPage::parse(&[0, 0x83, 0]).is_err());
}

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
    assert_eq!(
        rc16.timeouts,
        Some(CommandTimeouts {
            nominal: 30,
            recommended: 60
        })
    );
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
