//! The encoders reproduce the logical unit's answers byte for byte: each
//! test builds the struct from the same values the unit uses (lu/spc.rs
//! `standard_inquiry`, vpd.rs `page`, lu/sbc.rs READ CAPACITY and GET LBA
//! STATUS, lu.rs `report_luns`, pr.rs `pr_in`, lu/spc.rs + mode.rs MODE
//! SENSE) and compares `encode` with `LogicalUnit::execute`'s data.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests index known data and fail loudly"
)]

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use crate::data::*;
use crate::{
    BlockBackend, LogicalUnit, LuConfig, MAX_COMPARE_AND_WRITE_BLOCKS, MAX_TRANSFER_BLOCKS,
    MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BLOCKS, MemoryBackend, Nexus, Request,
    Response, Status,
};

/// A disk of any geometry that reads zeros and stores nothing: READ
/// CAPACITY and the pages need only its shape.
#[derive(Debug)]
struct Shape {
    blocks: u64,
    block_size: u32,
    thin: bool,
}

impl BlockBackend for Shape {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn block_count(&self) -> u64 {
        self.blocks
    }
    fn read_at(&self, _: u64, buf: &mut [u8]) -> io::Result<()> {
        buf.fill(0);
        Ok(())
    }
    fn write_at(&self, _: u64, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    fn unmap(&self, _: u64, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn thin(&self) -> bool {
        self.thin
    }
}

const TARGET: &str = "iqn.2026-11.rs.iscsi:data";

struct Unit {
    lu: LogicalUnit,
    nexus: Nexus,
}

impl Unit {
    fn over(backend: Arc<dyn BlockBackend>, config: LuConfig, target_port: u16) -> Self {
        let lu = LogicalUnit::new(backend, config);
        let nexus = Nexus::new(
            1,
            "iqn.2026-11.rs.iscsi:client,i,0x800000000001",
            target_port,
        );
        lu.add_nexus(&nexus);
        let unit = Self { lu, nexus };
        // Clear the power-on unit attention.
        while unit.run(&[0; 6], &[]).status != Status::GOOD {}
        unit
    }

    fn shape(blocks: u64, block_size: u32, thin: bool) -> Self {
        Self::over(
            Arc::new(Shape {
                blocks,
                block_size,
                thin,
            }),
            LuConfig::new(TARGET, "SER0001"),
            1,
        )
    }

    fn run(&self, cdb: &[u8], data_out: &[u8]) -> Response {
        let payload = [Bytes::copy_from_slice(data_out)];
        let payload: &[Bytes] = if data_out.is_empty() { &[] } else { &payload };
        self.lu.execute(&Request::new(&self.nexus, cdb, payload))
    }

    /// The Data-In of a command that must succeed.
    fn data(&self, cdb: &[u8]) -> Vec<u8> {
        let r = self.run(cdb, &[]);
        assert_eq!(r.status, Status::GOOD, "{cdb:02x?}: {r:?}");
        r.data.to_vec()
    }

    fn vpd(&self, page: u8) -> Vec<u8> {
        self.data(&[0x12, 1, page, 0xff, 0xff, 0])
    }
}

/// The shapes the tests run over: thin and fully provisioned, 512-byte and
/// 4096-byte blocks, and a capacity past 32 bits of LBA.
fn shapes() -> Vec<(Unit, u64, u32, bool)> {
    [
        (2048, 512, true),
        (2048, 512, false),
        (1 << 20, 4096, true),
        (5 << 32, 512, false),
    ]
    .into_iter()
    .map(|(blocks, bs, thin)| (Unit::shape(blocks, bs, thin), blocks, bs, thin))
    .collect()
}

// -- INQUIRY -------------------------------------------------------------

/// What lu/spc.rs `standard_inquiry` answers, as a struct.
fn standard_inquiry(config: &LuConfig) -> StandardInquiry {
    StandardInquiry {
        version: 0x06,
        hisup: true,
        response_data_format: 2,
        additional_length: StandardInquiry::FULL_ADDITIONAL_LENGTH,
        cmdque: true,
        three_pc: true,
        vendor: config.vendor.clone(),
        product: config.product.clone(),
        revision: config.revision.clone(),
        // SAM-5, iSCSI (RFC 7143), SPC-4, SBC-3.
        version_descriptors: vec![0x00a0, 0x0960, 0x0460, 0x04c0],
        ..StandardInquiry::default()
    }
}

#[test]
fn standard_inquiry_matches_the_unit() {
    let mut odd = LuConfig::new(TARGET, "S");
    odd.vendor = "VENDOR-NAME-TOO-LONG".to_owned();
    odd.product = "tab\there é".to_owned();
    odd.revision = "1".to_owned();
    for config in [LuConfig::new(TARGET, "SER0001"), odd] {
        let unit = Unit::over(
            Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
            config.clone(),
            1,
        );
        let answer = unit.data(&[0x12, 0, 0, 0, 0xff, 0]);
        let ours = standard_inquiry(&config).encode();
        assert_eq!(ours, answer);
        assert_eq!(ours.len(), 96);
        // What an initiator reads back: the text as the unit cleaned it.
        let parsed = StandardInquiry::parse(&ours).unwrap();
        assert_eq!(parsed.encode(), ours);
    }
}

#[test]
fn no_logical_unit_inquiry_matches_lun_not_supported() {
    let answer = crate::lun_not_supported(&[0x12, 0, 0, 0, 0xff, 0]).data;
    let ours = StandardInquiry {
        peripheral_qualifier: 0x3,
        device_type: 0x1f,
        version: 0x06,
        hisup: true,
        response_data_format: 2,
        additional_length: StandardInquiry::MIN_ADDITIONAL_LENGTH,
        ..StandardInquiry::default()
    }
    .encode();
    assert_eq!(ours, answer);
}

// -- VPD pages -----------------------------------------------------------

#[test]
fn supported_vpd_pages_match_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    let ours = SupportedVpdPages::new(&[0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2]).encode();
    assert_eq!(ours, unit.vpd(0x00));
    // Every page the unit lists parses as its type and encodes back.
    for page in SupportedVpdPages::parse(&ours).unwrap().pages {
        let answer = unit.vpd(page);
        let parsed = VpdPage::parse(&answer).unwrap();
        assert_eq!(parsed.page_code(), page);
        assert!(!matches!(parsed, VpdPage::Other { .. }), "{page:#x}");
        assert_eq!(parsed.encode(), answer, "page {page:#04x}");
    }
}

#[test]
fn unit_serial_number_matches_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    assert_eq!(UnitSerialNumber::new("SER0001").encode(), unit.vpd(0x80));
}

/// What vpd.rs `page` answers for page 83h, as a struct.
fn device_identification(config: &LuConfig, target_port: u16) -> DeviceIdentification {
    let iscsi = Designator::PROTOCOL_ISCSI;
    let port_name = format!("{},t,0x{target_port:04x}", config.target_name);
    DeviceIdentification::new(vec![
        Designator::naa(&config.naa),
        Designator::t10_vendor_id(&config.vendor, &config.serial),
        Designator::relative_target_port(target_port).with_protocol(iscsi),
        Designator::target_port_group(target_port).with_protocol(iscsi),
        Designator::scsi_name_string(Association::TargetPort, &port_name).with_protocol(iscsi),
        Designator::scsi_name_string(Association::TargetDevice, &config.target_name)
            .with_protocol(iscsi),
    ])
}

#[test]
fn device_identification_matches_the_unit() {
    let mut long_vendor = LuConfig::new("iqn.2026-11.rs.iscsi:abc", "1234567890ABCDEF");
    long_vendor.vendor = "VERY LONG VENDOR".to_owned();
    for (config, port) in [
        (LuConfig::new(TARGET, "SER0001"), 1),
        (LuConfig::new("iqn.2026-11.rs.iscsi:t", "X"), 0xbeef),
        (long_vendor, 7),
    ] {
        let unit = Unit::over(
            Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
            config.clone(),
            port,
        );
        let ours = device_identification(&config, port);
        assert_eq!(ours.encode(), unit.vpd(0x83));
        assert_eq!(DeviceIdentification::parse(&ours.encode()).unwrap(), ours);
    }
}

#[test]
fn extended_inquiry_matches_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    let ours = ExtendedInquiry {
        headsup: true,
        ordsup: true,
        simpsup: true,
        v_sup: true,
        luiclr: true,
        max_sense_data_length: 252,
        ..ExtendedInquiry::default()
    };
    assert_eq!(ours.encode().to_vec(), unit.vpd(0x86));
}

/// What vpd.rs `page` answers for page B0h, as a struct.
fn block_limits(block_size: u32, thin: bool) -> BlockLimits {
    let granularity = u16::try_from(4096 / block_size).unwrap_or(1).max(1);
    let mut limits = BlockLimits {
        max_compare_and_write_length: MAX_COMPARE_AND_WRITE_BLOCKS,
        optimal_transfer_length_granularity: granularity,
        max_transfer_length: MAX_TRANSFER_BLOCKS,
        optimal_transfer_length: MAX_TRANSFER_BLOCKS / 8,
        max_prefetch_length: MAX_TRANSFER_BLOCKS,
        max_write_same_length: MAX_WRITE_SAME_BLOCKS,
        max_atomic_transfer_length: u32::from(u16::MAX).min(MAX_TRANSFER_BLOCKS),
        atomic_alignment: 1,
        atomic_transfer_length_granularity: 1,
        ..BlockLimits::default()
    };
    if thin {
        limits.max_unmap_lba_count = MAX_UNMAP_BLOCKS;
        limits.max_unmap_block_descriptor_count = MAX_UNMAP_DESCRIPTORS;
        limits.optimal_unmap_granularity = u32::from(granularity);
        limits.ugavalid = true;
        limits.unmap_granularity_alignment = 0;
    }
    limits
}

#[test]
fn block_limits_match_the_unit() {
    for (unit, _, block_size, thin) in shapes() {
        let ours = block_limits(block_size, thin);
        assert_eq!(
            ours.encode().to_vec(),
            unit.vpd(0xb0),
            "{block_size} {thin}"
        );
        assert_eq!(BlockLimits::parse(&ours.encode()).unwrap(), ours);
    }
}

#[test]
fn block_device_characteristics_match_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    let ours = BlockDeviceCharacteristics {
        medium_rotation_rate: 1,
        wabereq: 1,
        ..BlockDeviceCharacteristics::default()
    };
    assert_eq!(ours.encode().to_vec(), unit.vpd(0xb1));
}

#[test]
fn logical_block_provisioning_matches_the_unit() {
    for (unit, _, _, thin) in shapes() {
        let ours = if thin {
            LogicalBlockProvisioning {
                lbpu: true,
                lbpws: true,
                lbpws10: true,
                lbprz: 1,
                provisioning_type: 2,
                ..LogicalBlockProvisioning::default()
            }
        } else {
            LogicalBlockProvisioning::default()
        };
        assert_eq!(ours.encode().to_vec(), unit.vpd(0xb2), "thin {thin}");
    }
}

// -- READ CAPACITY ---------------------------------------------------------

#[test]
fn read_capacity_matches_the_unit() {
    for (unit, blocks, block_size, thin) in shapes() {
        let rc10 = ReadCapacity10::new(blocks, block_size);
        assert_eq!(
            rc10.encode().to_vec(),
            unit.data(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(rc10.needs_read_capacity16(), blocks > 1 << 32);
        let mut rc16 = ReadCapacity16::new(blocks, block_size);
        rc16.lbpme = thin;
        rc16.lbprz = thin;
        let answer = unit.data(&[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
        assert_eq!(rc16.encode().to_vec(), answer);
        assert_eq!(ReadCapacity16::parse(&answer).unwrap(), rc16);
    }
}

// -- GET LBA STATUS --------------------------------------------------------

/// GET LBA STATUS from `lba` with `alloc` bytes.
fn get_lba_status(lba: u64, alloc: u32) -> Vec<u8> {
    let mut cdb = vec![0x9e, 0x12];
    cdb.extend_from_slice(&lba.to_be_bytes());
    cdb.extend_from_slice(&alloc.to_be_bytes());
    cdb.extend_from_slice(&[0, 0]);
    cdb
}

#[test]
fn lba_status_matches_the_unit() {
    let unit = Unit::over(
        Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
        LuConfig::new(TARGET, "S"),
        1,
    );
    // Map blocks 128..256 (one 64 KiB chunk): unmapped, mapped, unmapped.
    let mut write = vec![0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 128, 0, 0];
    let block = vec![0xa5u8; 128 * 512];
    assert_eq!(unit.run(&write, &block).status, Status::GOOD);
    write[9] = 0;
    let deallocated = ProvisioningStatus::Deallocated;
    let whole = LbaStatus::new(vec![
        LbaStatusDescriptor::new(0, 128, deallocated),
        LbaStatusDescriptor::new(128, 128, ProvisioningStatus::Mapped),
        LbaStatusDescriptor::new(256, 2048 - 256, deallocated),
    ]);
    assert_eq!(whole.encode(), unit.data(&get_lba_status(0, 4096)));
    // The allocation length decides how many descriptors the unit reports
    // (at least one), and cuts the data.
    let first = LbaStatus::new(vec![LbaStatusDescriptor::new(0, 128, deallocated)]);
    assert_eq!(first.encode(), unit.data(&get_lba_status(0, 24)));
    assert_eq!(first.encode()[..8], unit.data(&get_lba_status(0, 8))[..]);
    let from_200 = LbaStatus::new(vec![
        LbaStatusDescriptor::new(200, 56, ProvisioningStatus::Mapped),
        LbaStatusDescriptor::new(256, 2048 - 256, deallocated),
    ]);
    assert_eq!(from_200.encode(), unit.data(&get_lba_status(200, 1000)));
    assert_eq!(LbaStatus::parse(&whole.encode()).unwrap(), whole);
}

// -- REPORT LUNS -----------------------------------------------------------

#[test]
fn report_luns_matches_the_unit() {
    let cdb = |select: u8| [0xa0, 0, select, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
    for indices in [vec![], vec![0], vec![0, 1, 7, 255, 256, 300, 0x3fff]] {
        let luns = indices
            .iter()
            .map(|&i| Lun::from_index(i).unwrap())
            .collect();
        let ours = ReportLuns::new(luns);
        for select in [0x00, 0x02, 0x10, 0x11, 0x12] {
            assert_eq!(
                ours.encode(),
                crate::report_luns(&indices, &cdb(select)).data
            );
        }
        assert_eq!(
            ReportLuns::new(Vec::new()).encode(),
            crate::report_luns(&indices, &cdb(0x01)).data
        );
        assert_eq!(ReportLuns::parse(&ours.encode()).unwrap(), ours);
    }
}

// -- PERSISTENT RESERVE IN -------------------------------------------------

fn pr_in(action: u8) -> [u8; 10] {
    [0x5e, action, 0, 0, 0, 0, 0, 0x10, 0, 0]
}

fn pr_out(unit: &Unit, action: u8, pr_type: u8, key: u64, sa_key: u64) {
    let list = PrOutParameterList::new(key, sa_key).encode();
    let cdb = [0x5f, action, pr_type, 0, 0, 0, 0, 0, 24, 0];
    assert_eq!(unit.run(&cdb, &list).status, Status::GOOD);
}

#[test]
fn persistent_reserve_in_matches_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    let port = unit.nexus.initiator_port.to_string();
    assert_eq!(PrReadKeys::new(0, vec![]).encode(), unit.data(&pr_in(0)));
    assert_eq!(
        PrReadReservation::new(0, None).encode(),
        unit.data(&pr_in(1))
    );
    assert_eq!(PrFullStatus::new(0, vec![]).encode(), unit.data(&pr_in(3)));
    // REPORT CAPABILITIES: CRH, TMV, every type but the obsolete ones.
    let capabilities = PrCapabilities {
        crh: true,
        tmv: true,
        type_mask: 0xea01,
        ..PrCapabilities::default()
    };
    assert_eq!(capabilities.encode().to_vec(), unit.data(&pr_in(2)));

    // REGISTER key 0xabc, RESERVE Write Exclusive.
    pr_out(&unit, 0x00, 0, 0, 0xabc);
    assert_eq!(
        PrReadKeys::new(1, vec![0xabc]).encode(),
        unit.data(&pr_in(0))
    );
    pr_out(&unit, 0x01, PrType::WriteExclusive.code(), 0xabc, 0);
    let reservation = PrReservation::new(0xabc, PrType::WriteExclusive.code());
    assert_eq!(
        PrReadReservation::new(1, Some(reservation)).encode(),
        unit.data(&pr_in(1))
    );
    let holder = PrFullStatusDescriptor {
        key: 0xabc,
        r_holder: true,
        pr_type: PrType::WriteExclusive.code(),
        relative_target_port: unit.nexus.target_port,
        transport_id: iscsi_transport_id(&port),
        ..PrFullStatusDescriptor::default()
    };
    let full = PrFullStatus::new(1, vec![holder]);
    assert_eq!(full.encode(), unit.data(&pr_in(3)));
    assert_eq!(PrFullStatus::parse(&full.encode()).unwrap(), full);

    // RELEASE, then RESERVE Exclusive Access – All Registrants: the key
    // reads as 0.
    pr_out(&unit, 0x02, PrType::WriteExclusive.code(), 0xabc, 0);
    let all = PrType::ExclusiveAccessAllRegistrants.code();
    pr_out(&unit, 0x01, all, 0xabc, 0);
    assert_eq!(
        PrReadReservation::new(1, Some(PrReservation::new(0, all))).encode(),
        unit.data(&pr_in(1))
    );
}

// -- MODE SENSE ------------------------------------------------------------

/// The Caching page mode.rs `caching` answers for page control `pc`.
fn caching(pc: u8, wce: bool) -> ModePage {
    CachingPage {
        wce: pc != 0 || wce,
        ..CachingPage::default()
    }
    .to_page()
}

/// The Control page mode.rs `control` answers for page control `pc`.
fn control(pc: u8, d_sense: bool, swp: bool) -> ModePage {
    if pc == 1 {
        return ControlPage {
            d_sense: true,
            swp: true,
            ..ControlPage::default()
        }
        .to_page();
    }
    let current = pc == 0;
    ControlPage {
        gltsd: true,
        d_sense: current && d_sense,
        queue_algorithm_modifier: 1,
        swp: current && swp,
        tas: true,
        busy_timeout_period: 0xffff,
        ..ControlPage::default()
    }
    .to_page()
}

/// The Informational Exceptions page mode.rs answers for `pc`.
fn informational_exceptions(pc: u8) -> ModePage {
    InformationalExceptionsPage {
        dexcpt: pc != 1,
        ..InformationalExceptionsPage::default()
    }
    .to_page()
}

/// MODE SENSE(6) or (10) of `page` with page control `pc`.
fn mode_sense(ten: bool, dbd: bool, llbaa: bool, pc: u8, page: u8) -> Vec<u8> {
    let byte1 = (u8::from(llbaa) << 4) | (u8::from(dbd) << 3);
    if ten {
        vec![0x5a, byte1, (pc << 6) | page, 0, 0, 0, 0, 0xff, 0xff, 0]
    } else {
        vec![0x1a, byte1, (pc << 6) | page, 0, 0xff, 0]
    }
}

#[test]
fn mode_sense_matches_the_unit() {
    for (unit, blocks, block_size, _) in shapes() {
        // Current values as MODE SELECT leaves them: (WCE, D_SENSE, SWP).
        for (wce, d_sense, swp) in [(true, false, false), (false, true, true)] {
            if !wce {
                let mut select = vec![0, 0, 0, 0];
                select.extend_from_slice(&CachingPage::default().encode());
                let mut c = control(0, d_sense, swp).bytes;
                c[0] &= 0x3f;
                select.extend(c);
                let cdb = [0x15, 0x10, 0, 0, u8::try_from(select.len()).unwrap(), 0];
                assert_eq!(unit.run(&cdb, &select).status, Status::GOOD);
                // Clear the MODE PARAMETERS CHANGED attention of others (none
                // here) and carry on.
            }
            for pc in 0..3 {
                for page in [0x08, 0x0a, 0x1c, 0x3f] {
                    let pages = match page {
                        0x08 => vec![caching(pc, wce)],
                        0x0a => vec![control(pc, d_sense, swp)],
                        0x1c => vec![informational_exceptions(pc)],
                        _ => vec![
                            caching(pc, wce),
                            control(pc, d_sense, swp),
                            informational_exceptions(pc),
                        ],
                    };
                    // DEVICE-SPECIFIC PARAMETER: WP when write protected,
                    // DPOFUA always.
                    let device_specific = if swp { 0x80 } else { 0 } | 0x10;
                    for (ten, dbd, llbaa) in [
                        (false, false, false),
                        (false, true, false),
                        (true, false, false),
                        (true, false, true),
                        (true, true, true),
                    ] {
                        let descriptors = if dbd {
                            vec![]
                        } else {
                            vec![BlockDescriptor::new(blocks, block_size)]
                        };
                        let ours =
                            ModeParameters::new(device_specific, llbaa, descriptors, pages.clone());
                        let answer = unit.data(&mode_sense(ten, dbd, llbaa, pc, page));
                        // Equal bytes, and what an initiator parses encodes
                        // back to them (a block count past 32 bits
                        // saturates in the short descriptor).
                        if ten {
                            assert_eq!(ours.encode10(), answer);
                            let parsed = ModeParameters::parse10(&answer).unwrap();
                            assert_eq!(parsed.encode10(), answer);
                            assert_eq!(parsed.pages, ours.pages);
                        } else {
                            assert_eq!(ours.encode6(), answer);
                            let parsed = ModeParameters::parse6(&answer).unwrap();
                            assert_eq!(parsed.encode6(), answer);
                            assert_eq!(parsed.pages, ours.pages);
                        }
                    }
                }
            }
        }
    }
}

// -- REPORT SUPPORTED OPERATION CODES --------------------------------------

#[test]
fn supported_operation_codes_match_the_unit() {
    let unit = Unit::shape(2048, 512, true);
    let rsoc = |rctd: bool, options: u8, opcode: u8, sa: u16| {
        let [sa_hi, sa_lo] = sa.to_be_bytes();
        let byte2 = (u8::from(rctd) << 7) | options;
        unit.data(&[
            0xa3, 0x0c, byte2, opcode, sa_hi, sa_lo, 0, 0, 0xff, 0xff, 0, 0,
        ])
    };
    for rctd in [false, true] {
        let answer = rsoc(rctd, 0, 0, 0);
        let parsed = SupportedOperationCodes::parse(&answer).unwrap();
        assert!(parsed.commands.len() > 30);
        let timeouts = rctd.then(|| CommandTimeouts::new(30, 30));
        // Built the way mode.rs builds it: one descriptor per command, the
        // CDB length the length of its usage data.
        let ours = SupportedOperationCodes::new(
            parsed
                .commands
                .iter()
                .map(|c| CommandDescriptor {
                    timeouts,
                    ..CommandDescriptor::new(
                        c.opcode,
                        c.servactv.then_some(c.service_action),
                        c.cdb_length,
                    )
                })
                .collect(),
        );
        assert_eq!(ours.encode(), answer);
        assert_eq!(ours, parsed);
        // One command: READ(10), READ CAPACITY(16), and an unknown opcode.
        let read10 = rsoc(rctd, 1, 0x28, 0);
        let one = OneCommand::parse(&read10).unwrap();
        assert_eq!(one.support, CommandSupport::Standard);
        assert_eq!((one.usage.len(), one.usage[0]), (10, 0x28));
        assert_eq!(OneCommand::supported(&one.usage, timeouts).encode(), read10);
        let rc16 = rsoc(rctd, 2, 0x9e, 0x10);
        let one = OneCommand::parse(&rc16).unwrap();
        assert_eq!(OneCommand::supported(&one.usage, timeouts).encode(), rc16);
        assert_eq!(OneCommand::not_supported().encode(), rsoc(rctd, 1, 0xc7, 0));
    }
}
