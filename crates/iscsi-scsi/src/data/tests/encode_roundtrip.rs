//! `parse(&x.encode()) == x` for values built by hand with every field set,
//! and `parse ∘ encode ∘ parse == parse` for the binary structures on
//! arbitrary bytes.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]

use crate::data::*;

#[test]
fn reader_never_panics_and_reads_zero_past_the_end() {
    let r = Reader::new(&[1, 2, 3]);
    assert_eq!((r.u8(2), r.u8(3), r.u8(usize::MAX)), (3, 0, 0));
    assert_eq!(r.u16(usize::MAX), 0);
    assert_eq!(r.u32(1), 0x0203_0000);
    assert_eq!(r.u64(usize::MAX - 3), 0);
    assert_eq!(r.span(2, 1), &[] as &[u8]);
    assert_eq!(r.span(5, usize::MAX), &[] as &[u8]);
    assert_eq!(r.rest(3), &[] as &[u8]);
    assert_eq!(r.take(2).0, &[1, 2]);
    assert_eq!(Reader::new(b" ab \0").text(0, 9), "ab");
}

#[test]
fn standard_inquiry_round_trip() {
    let x = StandardInquiry {
        peripheral_qualifier: 1,
        device_type: 0x05,
        rmb: true,
        version: 0x06,
        normaca: true,
        hisup: true,
        response_data_format: 2,
        additional_length: StandardInquiry::FULL_ADDITIONAL_LENGTH,
        sccs: true,
        acc: true,
        tpgs: 3,
        three_pc: true,
        protect: true,
        encserv: true,
        multip: true,
        cmdque: true,
        vendor: "ACME".to_owned(),
        product: "Disk of Doom".to_owned(),
        revision: "9.1".to_owned(),
        version_descriptors: vec![0x00a0, 0x0960, 0x0460, 0x04c0, 1, 2, 3, 4],
    };
    assert_eq!(StandardInquiry::parse(&x.encode()).unwrap(), x);
    // The 36-byte form has no version descriptors.
    let short = StandardInquiry {
        additional_length: StandardInquiry::MIN_ADDITIONAL_LENGTH,
        version_descriptors: vec![],
        ..x
    };
    assert_eq!(short.encode().len(), 36);
    assert_eq!(StandardInquiry::parse(&short.encode()).unwrap(), short);
}

#[test]
fn vpd_pages_round_trip() {
    let pages = [
        VpdPage::SupportedPages(SupportedVpdPages::new(&[0x00, 0x80, 0x83])),
        VpdPage::UnitSerialNumber(UnitSerialNumber::new("ABC123")),
        VpdPage::DeviceIdentification(DeviceIdentification::new(vec![
            Designator::naa(&[0x60, 1, 2, 3, 4, 5, 6, 7]),
            Designator::t10_vendor_id("X", "serial"),
            Designator::relative_target_port(3).with_protocol(Designator::PROTOCOL_ISCSI),
            Designator::scsi_name_string(Association::TargetDevice, "iqn.2026-11.x:y"),
            Designator::new(
                CodeSet::Reserved(9),
                Association::Reserved,
                DesignatorType::Reserved(0xe),
                vec![1; 255],
            ),
        ])),
        VpdPage::ExtendedInquiry(ExtendedInquiry {
            activate_microcode: 2,
            spt: 5,
            grd_chk: true,
            app_chk: true,
            ref_chk: true,
            uask_sup: true,
            group_sup: true,
            prior_sup: true,
            headsup: true,
            ordsup: true,
            simpsup: true,
            wu_sup: true,
            crd_sup: true,
            nv_sup: true,
            v_sup: true,
            p_i_i_sup: true,
            luiclr: true,
            r_sup: true,
            cbcs: true,
            multi_it_nexus_microcode_download: 0xa,
            extended_self_test_minutes: 0x1234,
            poa_sup: true,
            hra_sup: true,
            vsa_sup: true,
            max_sense_data_length: 252,
        }),
        VpdPage::BlockLimits(BlockLimits {
            wsnz: true,
            max_compare_and_write_length: 1,
            optimal_transfer_length_granularity: 2,
            max_transfer_length: 3,
            optimal_transfer_length: 4,
            max_prefetch_length: 5,
            max_unmap_lba_count: 6,
            max_unmap_block_descriptor_count: 7,
            optimal_unmap_granularity: 8,
            ugavalid: true,
            unmap_granularity_alignment: 0x7fff_fff9,
            max_write_same_length: 1 << 40,
            max_atomic_transfer_length: 10,
            atomic_alignment: 11,
            atomic_transfer_length_granularity: 12,
            max_atomic_transfer_length_with_boundary: 13,
            max_atomic_boundary_size: 14,
        }),
        VpdPage::BlockDeviceCharacteristics(BlockDeviceCharacteristics {
            medium_rotation_rate: 7200,
            product_type: 2,
            wabereq: 1,
            wacereq: 2,
            nominal_form_factor: 3,
            fuab: true,
            vbuls: true,
        }),
        VpdPage::LogicalBlockProvisioning(LogicalBlockProvisioning {
            threshold_exponent: 9,
            lbpu: true,
            lbpws: true,
            lbpws10: true,
            lbprz: 1,
            anc_sup: true,
            dp: false,
            provisioning_type: 2,
        }),
        VpdPage::Other {
            page_code: 0xc0,
            data: vec![1, 2, 3],
        },
    ];
    for page in pages {
        let bytes = page.encode();
        assert_eq!(bytes[1], page.page_code());
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            bytes.len() - 4
        );
        assert_eq!(VpdPage::parse(&bytes).unwrap(), page);
    }
}

#[test]
fn designator_value_is_cut_to_its_length_byte() {
    let d = Designator::new(
        CodeSet::Binary,
        Association::LogicalUnit,
        DesignatorType::VendorSpecific,
        vec![7; 300],
    );
    let bytes = d.encode();
    assert_eq!((bytes[3], bytes.len()), (255, 259));
    let name = Designator::scsi_name_string(Association::TargetPort, &"n".repeat(400));
    assert_eq!(name.value.len(), 252);
    assert_eq!(name.value[251], 0);
}

#[test]
fn capacity_round_trip() {
    let rc10 = ReadCapacity10::new(1 << 20, 4096);
    assert_eq!(ReadCapacity10::parse(&rc10.encode()).unwrap(), rc10);
    assert_eq!(ReadCapacity10::new(1 << 40, 512).last_lba, u32::MAX);
    let rc16 = ReadCapacity16 {
        p_type: 2,
        prot_en: true,
        p_i_exponent: 3,
        lbppbe: 3,
        lbpme: true,
        lbprz: true,
        lowest_aligned_lba: 0x3ffe,
        ..ReadCapacity16::new(1 << 40, 512)
    };
    assert_eq!(ReadCapacity16::parse(&rc16.encode()).unwrap(), rc16);
}

#[test]
fn luns_round_trip() {
    for i in [0, 1, 255, 256, 0x3fff] {
        let lun = Lun::from_index(i).unwrap();
        assert_eq!(lun.index(), Some(i));
        assert_eq!(Lun::try_from(i), Ok(lun));
        assert_eq!(Lun::from(lun.to_bytes()), lun);
        assert_eq!(<[u8; 8]>::from(lun), lun.0);
        assert_eq!(Lun::from_u64(lun.to_u64()), lun);
    }
    assert_eq!(Lun::try_from(0x4000u16), Err(0x4000));
    let r = ReportLuns::new(vec![
        Lun::from_index(3).unwrap(),
        Lun([0xc1, 2, 3, 4, 5, 6, 7, 8]),
    ]);
    assert_eq!(r.lun_list_length, 16);
    assert_eq!(ReportLuns::parse(&r.encode()).unwrap(), r);
}

#[test]
fn mode_parameters_round_trip() {
    let pages = vec![
        CachingPage {
            wce: true,
            rcd: true,
        }
        .to_page(),
        ControlPage {
            tst: 1,
            tmf_only: true,
            d_sense: true,
            gltsd: true,
            rlec: true,
            queue_algorithm_modifier: 1,
            qerr: 3,
            swp: true,
            tas: true,
            busy_timeout_period: 600,
            extended_self_test_completion_time: 30,
        }
        .to_page(),
        InformationalExceptionsPage {
            perf: true,
            ebf: true,
            ewasc: true,
            dexcpt: true,
            test: true,
            logerr: true,
            mrie: 6,
            interval_timer: 100,
            report_count: 3,
        }
        .to_page(),
        ModePage::from_bytes(vec![0x40 | 0x1c, 0x01, 0x00, 0x02, 0xaa, 0xbb]),
    ];
    let long = ModeParameters::new(
        0x90,
        true,
        vec![BlockDescriptor::new(1 << 40, 4096)],
        pages.clone(),
    );
    assert_eq!(ModeParameters::parse10(&long.encode10()).unwrap(), long);
    let short = ModeParameters::new(
        0x10,
        false,
        vec![
            BlockDescriptor::new(1000, 512),
            BlockDescriptor::new(2, 520),
        ],
        pages.clone(),
    );
    assert_eq!(ModeParameters::parse10(&short.encode10()).unwrap(), short);
    let six = short.for_sense6();
    assert_eq!(ModeParameters::parse6(&six.encode6()).unwrap(), six);
    let parsed = ModeParameters::parse10(&long.encode10()).unwrap();
    assert_eq!(parsed.caching(), pages[0].caching());
    assert_eq!(parsed.control().unwrap().busy_timeout_period, 600);
    let ie = parsed.page(0x1c, 0).unwrap();
    assert_eq!(InformationalExceptionsPage::parse(&ie.bytes).mrie, 6);
    assert_eq!(parsed.page(0x1c, 1).unwrap().bytes.len(), 6);
}

#[test]
fn reservations_round_trip() {
    let keys = PrReadKeys::new(7, vec![1, u64::MAX]);
    assert_eq!(PrReadKeys::parse(&keys.encode()).unwrap(), keys);
    let reservation = PrReadReservation::new(
        9,
        Some(PrReservation::new(0xfeed, PrType::ExclusiveAccess.code())),
    );
    assert_eq!(
        PrReadReservation::parse(&reservation.encode()).unwrap(),
        reservation
    );
    let caps = PrCapabilities {
        rlr_c: true,
        crh: true,
        sip_c: true,
        atp_c: true,
        ptpl_c: true,
        tmv: true,
        allow_commands: 5,
        ptpl_a: true,
        type_mask: 0xea01,
    };
    assert_eq!(PrCapabilities::parse(&caps.encode()).unwrap(), caps);
    let full = PrFullStatus::new(
        3,
        vec![
            PrFullStatusDescriptor {
                key: 1,
                all_tg_pt: true,
                r_holder: true,
                scope: 0,
                pr_type: 5,
                relative_target_port: 2,
                transport_id: iscsi_transport_id("iqn.a,i,0x1"),
            },
            PrFullStatusDescriptor::default(),
        ],
    );
    assert_eq!(PrFullStatus::parse(&full.encode()).unwrap(), full);
    let tid = iscsi_transport_id("iqn.a,i,0x1");
    assert_eq!(
        (tid[0], tid.len() % 4, tid[3], *tid.last().unwrap()),
        (0x45, 0, 12, 0)
    );
    let list = PrOutParameterList {
        spec_i_pt: true,
        all_tg_pt: true,
        aptpl: true,
        ..PrOutParameterList::new(1, 2)
    };
    assert_eq!(PrOutParameterList::parse(&list.encode()).unwrap(), list);
    assert_eq!(list.encode(), list.to_bytes());
}

#[test]
fn lba_status_and_opcodes_round_trip() {
    let status = LbaStatus::new(vec![
        LbaStatusDescriptor::new(0, 8, ProvisioningStatus::Mapped),
        LbaStatusDescriptor::new(8, 1, ProvisioningStatus::Anchored),
        LbaStatusDescriptor::new(9, 2, ProvisioningStatus::Reserved(7)),
    ]);
    assert_eq!(LbaStatus::parse(&status.encode()).unwrap(), status);
    let mut with_timeouts = CommandDescriptor::new(0x9e, Some(0x10), 16);
    with_timeouts.timeouts = Some(CommandTimeouts {
        command_specific: 4,
        ..CommandTimeouts::new(10, 20)
    });
    let codes =
        SupportedOperationCodes::new(vec![CommandDescriptor::new(0x28, None, 10), with_timeouts]);
    assert_eq!(codes.command_data_length, 28);
    assert_eq!(
        SupportedOperationCodes::parse(&codes.encode()).unwrap(),
        codes
    );
    for one in [
        OneCommand::supported(&[0x28, 0xff, 0xff], Some(CommandTimeouts::new(1, 2))),
        OneCommand::supported(&[0x00; 6], None),
        OneCommand::not_supported(),
    ] {
        assert_eq!(OneCommand::parse(&one.encode()).unwrap(), one);
    }
}

/// `parse ∘ encode ∘ parse == parse` for the binary structures.
fn stable(data: &[u8]) {
    macro_rules! check {
        ($parse:expr, $encode:expr) => {
            if let Ok(x) = $parse(data) {
                let again = $parse(&$encode(&x)[..]).unwrap();
                assert_eq!(again, x, "{data:02x?}");
            }
        };
    }
    check!(ReadCapacity10::parse, ReadCapacity10::encode);
    check!(ReadCapacity16::parse, |x: &ReadCapacity16| x.encode());
    check!(PrCapabilities::parse, PrCapabilities::encode);
    check!(PrOutParameterList::parse, PrOutParameterList::encode);
    check!(BlockLimits::parse, |x: &BlockLimits| x.encode());
    check!(ExtendedInquiry::parse, |x: &ExtendedInquiry| x.encode());
    check!(
        BlockDeviceCharacteristics::parse,
        |x: &BlockDeviceCharacteristics| x.encode()
    );
    check!(
        LogicalBlockProvisioning::parse,
        |x: &LogicalBlockProvisioning| x.encode()
    );
    check!(SupportedVpdPages::parse, SupportedVpdPages::encode);
    check!(OneCommand::parse, OneCommand::encode);
    check!(PrFullStatus::parse, PrFullStatus::encode);
    check!(PrReadReservation::parse, PrReadReservation::encode);
    // List types: the content is stable, the length field becomes the
    // content's length.
    macro_rules! content {
        ($parse:expr, $encode:expr, $field:ident) => {
            if let Ok(x) = $parse(data) {
                let again = $parse(&$encode(&x)[..]).unwrap();
                assert_eq!(again.$field, x.$field, "{data:02x?}");
            }
        };
    }
    content!(ReportLuns::parse, ReportLuns::encode, luns);
    content!(LbaStatus::parse, LbaStatus::encode, descriptors);
    content!(PrReadKeys::parse, PrReadKeys::encode, keys);
    content!(
        SupportedOperationCodes::parse,
        SupportedOperationCodes::encode,
        commands
    );
    content!(
        DeviceIdentification::parse,
        DeviceIdentification::encode,
        designators
    );
    content!(ModeParameters::parse10, ModeParameters::encode10, pages);
}

#[test]
fn parse_encode_parse_is_stable_on_garbage() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let len = usize::try_from(next() % 120).unwrap();
        let mut data: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
        if round % 4 == 0 {
            // Page codes the VPD parsers accept, small lengths.
            for (i, b) in [0, 0xb0, 0, 0x3c].into_iter().enumerate() {
                if let Some(d) = data.get_mut(i) {
                    *d = b;
                }
            }
        }
        stable(&data);
        for page in [0x00, 0x83, 0x86, 0xb1, 0xb2] {
            if data.len() > 1 {
                data[1] = page;
                stable(&data);
            }
        }
    }
}

#[test]
fn third_party_copy_round_trip() {
    let naa = Designator::naa(&[0x65, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    let list = ExtendedCopyParameters {
        header: ExtendedCopyHeader {
            list_identifier: 9,
            str_bit: true,
            list_id_usage: ListIdUsage::Discard.code(),
            priority: 5,
            ..ExtendedCopyHeader::default()
        },
        cscds: vec![
            CscdDescriptor::Identification {
                lu_id_type: 2,
                nul: true,
                peripheral_device_type: 0,
                relative_initiator_port: 0x1234,
                designator: naa,
                disk_block_length: 4096,
            },
            CscdDescriptor::Other { type_code: 0xe0 },
        ],
        segments: vec![
            SegmentDescriptor::BlockToBlock {
                dc: true,
                cat: true,
                source: 1,
                destination: 0,
                blocks: 0xfffe,
                source_lba: u64::MAX - 1,
                destination_lba: 7,
            },
            SegmentDescriptor::Other { type_code: 0x03 },
        ],
    };
    let bytes = list.encode();
    let mut parsed = ExtendedCopyParameters::parse(&bytes).unwrap();
    assert_eq!(parsed.header.cscd_list_length, 64);
    assert_eq!(parsed.header.segment_list_length, 32);
    parsed.header.cscd_list_length = 0;
    parsed.header.segment_list_length = 0;
    assert_eq!(parsed, list);
    assert!(ExtendedCopyParameters::parse(&bytes[..bytes.len() - 1]).is_err());

    let status = CopyStatus::new(CopyManagerStatus::Completed, 3, 5 << 40);
    assert_eq!(
        (status.transfer_count_units, status.transfer_count),
        (2, 5 << 20)
    );
    assert_eq!(CopyStatus::parse(&status.encode()).unwrap(), status);
    let op = OperatingParameters {
        snlid: true,
        max_cscd_descriptor_count: 1,
        max_segment_descriptor_count: 2,
        max_descriptor_list_length: 3,
        max_segment_length: 4,
        max_inline_data_length: 5,
        held_data_limit: 6,
        max_stream_device_transfer_size: 7,
        total_concurrent_copies: 8,
        max_concurrent_copies: 9,
        data_segment_granularity: 10,
        inline_data_granularity: 11,
        held_data_granularity: 12,
        implemented_descriptor_type_codes: vec![0x02, 0xe4],
    };
    assert_eq!(OperatingParameters::parse(&op.encode()).unwrap(), op);
    let failed = FailedSegmentDetails {
        copy_command_status: 2,
        sense_data: vec![
            0x70, 0, 0x0a, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x0d, 0x02, 0, 0, 0, 0,
        ],
    };
    let bytes = FailedSegmentDetails::encode(Some(&failed));
    assert_eq!(FailedSegmentDetails::parse(&bytes).unwrap(), Some(failed));
    assert_eq!(
        FailedSegmentDetails::parse(&FailedSegmentDetails::encode(None)).unwrap(),
        None
    );
    let page = ThirdPartyCopy {
        commands: vec![(0x83, vec![0]), (0x84, vec![0, 3, 4])],
        max_cscd_descriptor_count: 2,
        max_segment_descriptor_count: 3,
        max_descriptor_list_length: 1024,
        max_inline_data_length: 0,
        descriptor_type_codes: vec![0x02, 0xe4],
        total_concurrent_copies: 1,
        max_identified_concurrent_copies: 255,
        max_segment_length: 1 << 28,
        data_segment_granularity: 9,
    };
    let bytes = page.encode();
    // Every descriptor is a multiple of 4 bytes long.
    assert_eq!((bytes.len() - 4) % 4, 0);
    assert_eq!(
        VpdPage::parse(&bytes).unwrap(),
        VpdPage::ThirdPartyCopy(page)
    );
}

#[test]
fn alua_and_register_and_move_round_trip() {
    let report = ReportTargetPortGroups {
        extended: true,
        implicit_transition_time: 10,
        groups: vec![TargetPortGroupDescriptor {
            pref: true,
            state: AccessState::Standby,
            supported: 0x8f,
            id: 2,
            status_code: 1,
            ports: vec![2, 7],
        }],
    };
    assert_eq!(
        ReportTargetPortGroups::parse(&report.encode()).unwrap(),
        report
    );
    let set = SetTargetPortGroups::new(vec![
        (AccessState::ActiveOptimized, 1),
        (AccessState::Unavailable, 9),
    ]);
    assert_eq!(SetTargetPortGroups::parse(&set.encode()).unwrap(), set);
    let mut list = RegisterAndMoveParameterList::new(1, 2, 3, iscsi_transport_id("iqn.x,i,0x1"));
    list.unreg = true;
    let bytes = list.encode();
    assert_eq!(RegisterAndMoveParameterList::parse(&bytes).unwrap(), list);
    assert!(RegisterAndMoveParameterList::parse(&bytes[..bytes.len() - 1]).is_err());
    assert_eq!(
        parse_iscsi_transport_id(&list.transport_id).as_deref(),
        Some("iqn.x,i,0x1")
    );
}
