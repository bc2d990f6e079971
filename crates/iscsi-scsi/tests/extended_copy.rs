//! EXTENDED COPY (LID1) and RECEIVE COPY RESULTS through the logical unit:
//! copies within a unit and between units, the order of the parameter list
//! checks, and refusal of a unit the nexus may not reach.

use std::sync::Arc;

use bytes::Bytes;
use iscsi_scsi::data::{
    CopyManagerStatus, CopyStatus, CscdDescriptor, Designator, DeviceIdentification,
    ExtendedCopyParameters, FailedSegmentDetails, ListIdUsage, OperatingParameters,
    SegmentDescriptor, ThirdPartyCopy,
};
use iscsi_scsi::{
    Asc, CopyTargets, LogicalUnit, LuConfig, MAX_CSCD_DESCRIPTORS, MAX_SEGMENT_DESCRIPTORS,
    MemoryBackend, Nexus, Request, Response, SenseKey, Status,
};

mod common;
use common::assert_sense;

const BLOCKS: u64 = 8192;

fn unit(serial: &str) -> Arc<LogicalUnit> {
    let disk = MemoryBackend::new(BLOCKS * 512, 512).unwrap();
    Arc::new(LogicalUnit::new(
        Arc::new(disk),
        LuConfig::new("iqn.2026-11.rs.iscsi:copy", serial),
    ))
}

/// The units a nexus may reach besides the one it sends to.
struct Reach(Vec<Arc<LogicalUnit>>);

impl CopyTargets for Reach {
    fn find(&self, naa: &[u8]) -> Option<Arc<LogicalUnit>> {
        self.0.iter().find(|u| u.config().naa == naa).cloned()
    }
}

fn nexus() -> Nexus {
    Nexus::new(7, "iqn.2026-11.rs.iscsi:host,i,0x800000000007", 1)
}

fn run(lu: &LogicalUnit, n: &Nexus, reach: Option<&Reach>, cdb: &[u8], data: &[u8]) -> Response {
    let out = [Bytes::copy_from_slice(data)];
    let out: &[Bytes] = if data.is_empty() { &[] } else { &out };
    let mut req = Request::new(n, cdb, out);
    if let Some(r) = reach {
        req = req.with_copy_targets(r);
    }
    lu.execute(&req)
}

/// A unit with the nexus's power-on unit attention consumed.
fn ready(lu: &LogicalUnit, n: &Nexus) {
    lu.add_nexus(n);
    let _ = run(lu, n, None, &[0; 6], &[]);
}

fn xcopy_cdb(len: usize) -> [u8; 16] {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x83;
    cdb[10..14].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    cdb
}

fn rcr_cdb(service_action: u8, list_id: u8) -> [u8; 16] {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x84;
    cdb[1] = service_action;
    cdb[2] = list_id;
    cdb[10..14].copy_from_slice(&1024u32.to_be_bytes());
    cdb
}

fn write(lu: &LogicalUnit, n: &Nexus, lba: u32, data: &[u8]) {
    let blocks = u16::try_from(data.len() / 512).unwrap();
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    let cdb = [0x2a, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0];
    assert_eq!(run(lu, n, None, &cdb, data).status, Status::GOOD);
}

fn read(lu: &LogicalUnit, n: &Nexus, lba: u32, blocks: u16) -> Bytes {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    let cdb = [0x28, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0];
    let r = run(lu, n, None, &cdb, &[]);
    assert_eq!(r.status, Status::GOOD);
    r.data
}

fn id(lu: &LogicalUnit) -> CscdDescriptor {
    CscdDescriptor::identification(Designator::naa(&lu.config().naa), 512)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn copies_within_a_unit_overlapping_and_between_reachable_units() {
    let (a, b) = (unit("A"), unit("B"));
    let n = nexus();
    ready(&a, &n);
    ready(&b, &n);
    // 3 MiB: more than one chunk of the copy buffer.
    let data = pattern(6144 * 512, 1);
    write(&a, &n, 0, &data[..4096 * 512]);
    write(&a, &n, 4096, &data[4096 * 512..]);
    let reach = Reach(vec![b.clone()]);
    let list = ExtendedCopyParameters::new(
        1,
        ListIdUsage::Hold,
        vec![id(&a), id(&b)],
        vec![SegmentDescriptor::block_to_block(0, 1, 6144, 0, 100)],
    )
    .encode();
    let r = run(&a, &n, Some(&reach), &xcopy_cdb(list.len()), &list);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    let mut copied = read(&b, &n, 100, 4096).to_vec();
    copied.extend_from_slice(&read(&b, &n, 4196, 2048));
    assert!(copied == data, "the copy on B differs");
    let status = CopyStatus::parse(&run(&a, &n, None, &rcr_cdb(0, 1), &[]).data).unwrap();
    assert_eq!(status.status, CopyManagerStatus::Completed);
    assert_eq!(status.segments_processed, 1);
    assert_eq!(status.transfer_count, 6144 * 512);
    let details = run(&a, &n, None, &rcr_cdb(4, 1), &[]);
    assert_eq!(FailedSegmentDetails::parse(&details.data).unwrap(), None);

    // Overlapping, destination above the source: the source is read
    // before it is overwritten.
    let list = ExtendedCopyParameters::new(
        2,
        ListIdUsage::Discard,
        vec![id(&a)],
        vec![SegmentDescriptor::block_to_block(0, 0, 4096, 0, 1000)],
    )
    .encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    assert!(
        read(&a, &n, 1000, 4096) == data[..4096 * 512],
        "overlapping copy"
    );
}

#[test]
fn a_unit_outside_the_reach_of_the_nexus_is_refused_and_nothing_is_copied() {
    let (a, outside) = (unit("A"), unit("OUTSIDE"));
    let n = nexus();
    ready(&a, &n);
    ready(&outside, &n);
    write(&a, &n, 0, &pattern(64 * 512, 9));
    let before = read(&outside, &n, 0, 64);
    for reach in [None, Some(&Reach(vec![unit("OTHER")]))] {
        // To the unreachable unit, and from it.
        for (src, dst) in [(0u16, 1u16), (1, 0)] {
            let list = ExtendedCopyParameters::new(
                3,
                ListIdUsage::Hold,
                vec![id(&a), id(&outside)],
                vec![SegmentDescriptor::block_to_block(src, dst, 64, 0, 0)],
            )
            .encode();
            let r = run(&a, &n, reach, &xcopy_cdb(list.len()), &list);
            assert_sense(
                &r,
                SenseKey::COPY_ABORTED,
                Asc::COPY_TARGET_DEVICE_NOT_REACHABLE,
            );
        }
    }
    assert_eq!(read(&outside, &n, 0, 64), before);
    assert!(read(&a, &n, 0, 64) == pattern(64 * 512, 9));
    // Refused before it started: no copy status was kept.
    let r = run(&a, &n, None, &rcr_cdb(0, 3), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
}

#[test]
fn parameter_list_checks_come_in_the_order_spc_and_lio_give() {
    let a = unit("A");
    let n = nexus();
    ready(&a, &n);
    let seg = SegmentDescriptor::block_to_block(0, 0, 8, 0, 16);
    let good = ExtendedCopyParameters::new(1, ListIdUsage::Hold, vec![id(&a)], vec![seg]).encode();
    // A zero PARAMETER LIST LENGTH is no error and copies nothing.
    assert_eq!(run(&a, &n, None, &xcopy_cdb(0), &[]).status, Status::GOOD);
    // Cut short: PARAMETER LIST LENGTH ERROR.
    for cut in [10, 47, good.len() - 1] {
        let r = run(&a, &n, None, &xcopy_cdb(cut), &good[..cut]);
        assert_sense(
            &r,
            SenseKey::ILLEGAL_REQUEST,
            Asc::PARAMETER_LIST_LENGTH_ERROR,
        );
    }
    // Too many descriptors.
    let many_ids = vec![id(&a); usize::from(MAX_CSCD_DESCRIPTORS) + 1];
    let list = ExtendedCopyParameters::new(1, ListIdUsage::Hold, many_ids, vec![seg]).encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::TOO_MANY_TARGET_DESCRIPTORS,
    );
    let many_segs = vec![seg; usize::from(MAX_SEGMENT_DESCRIPTORS) + 1];
    let list = ExtendedCopyParameters::new(1, ListIdUsage::Hold, vec![id(&a)], many_segs).encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::TOO_MANY_SEGMENT_DESCRIPTORS,
    );
    // Unsupported descriptor types.
    let fc = CscdDescriptor::parse(&[0xe0; 32]).unwrap();
    let list = ExtendedCopyParameters::new(1, ListIdUsage::Hold, vec![fc], vec![seg]).encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE,
    );
    let stream = SegmentDescriptor::parse(&[0x03, 0, 0, 0]).unwrap();
    let list =
        ExtendedCopyParameters::new(1, ListIdUsage::Hold, vec![id(&a)], vec![stream]).encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE,
    );
    // A segment past the end of the medium or naming a missing descriptor.
    for seg in [
        SegmentDescriptor::block_to_block(0, 0, 8, 0, BLOCKS - 1),
        SegmentDescriptor::block_to_block(0, 1, 8, 0, 0),
    ] {
        let list =
            ExtendedCopyParameters::new(1, ListIdUsage::Hold, vec![id(&a)], vec![seg]).encode();
        let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
        assert_sense(
            &r,
            SenseKey::COPY_ABORTED,
            Asc::COPY_TARGET_DEVICE_NOT_REACHABLE,
        );
    }
    // LIST ID USAGE 11b needs LIST IDENTIFIER 0.
    let list = ExtendedCopyParameters::new(5, ListIdUsage::None, vec![id(&a)], vec![seg]).encode();
    let r = run(&a, &n, None, &xcopy_cdb(list.len()), &list);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_FIELD_IN_PARAMETER_LIST,
    );
    assert_eq!(
        run(&a, &n, None, &xcopy_cdb(good.len()), &good).status,
        Status::GOOD
    );
}

#[test]
fn operating_parameters_and_the_third_party_copy_page_agree() {
    let a = unit("A");
    let n = nexus();
    ready(&a, &n);
    let op = OperatingParameters::parse(&run(&a, &n, None, &rcr_cdb(3, 0), &[]).data).unwrap();
    let inquiry = [0x12, 0x01, 0x8f, 0x04, 0x00, 0x00];
    let page = ThirdPartyCopy::parse(&run(&a, &n, None, &inquiry, &[]).data).unwrap();
    assert_eq!(op.max_cscd_descriptor_count, MAX_CSCD_DESCRIPTORS);
    assert_eq!(page.max_cscd_descriptor_count, op.max_cscd_descriptor_count);
    assert_eq!(
        page.max_segment_descriptor_count,
        op.max_segment_descriptor_count
    );
    assert_eq!(
        page.max_descriptor_list_length,
        op.max_descriptor_list_length
    );
    assert_eq!(page.max_segment_length, op.max_segment_length);
    assert_eq!(
        page.descriptor_type_codes,
        op.implemented_descriptor_type_codes
    );
    assert_eq!(page.commands[0], (0x83, vec![0x00]));
    assert_eq!(page.commands[1], (0x84, vec![0x00, 0x03, 0x04]));
    // The page round-trips, and the unit's VPD 83h carries the NAA a
    // descriptor names.
    assert_eq!(ThirdPartyCopy::parse(&page.encode()).unwrap(), page);
    let vpd83 = run(&a, &n, None, &[0x12, 0x01, 0x83, 0x04, 0x00, 0x00], &[]).data;
    let ids = DeviceIdentification::parse(&vpd83).unwrap();
    assert!(ids.designators.contains(&Designator::naa(&a.config().naa)));
}
