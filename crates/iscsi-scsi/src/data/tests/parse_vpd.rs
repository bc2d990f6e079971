//! Parsers on real targets' data: standard INQUIRY and the VPD pages.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]

use crate::data::*;

fn padded(s: &[u8], n: usize) -> Vec<u8> {
    let mut v = s.to_vec();
    v.resize(n, b' ');
    v
}

pub(super) fn sample_inquiry() -> Vec<u8> {
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

pub(super) fn sample_device_identification() -> Vec<u8> {
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

pub(super) fn sample_block_limits() -> Vec<u8> {
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
