//! Tests of the initiator half: CDB builders and parameter lists byte for byte (the parsers are tested in `crate::data`).

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
