//! Online resize through the logical unit: the new capacity in READ
//! CAPACITY, CAPACITY DATA HAS CHANGED for every nexus, I/O past the old
//! end, and a backend that cannot change size.

use std::sync::Arc;

use iscsi_scsi::data::ReadCapacity16;
use iscsi_scsi::{
    Asc, BlockBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus, SenseKey, Status,
};

mod common;
use common::{assert_sense, run};

fn nexus(id: u64) -> Nexus {
    Nexus::new(
        id,
        format!("iqn.2026-11.rs.iscsi:h{id},i,0x8000000000{id:02}"),
        1,
    )
}

/// READ CAPACITY(16): (last LBA + 1, block size).
fn capacity(lu: &LogicalUnit, n: &Nexus) -> (u64, u32) {
    let r = run(
        lu,
        n,
        &[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
        &[],
    );
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    let c = ReadCapacity16::parse(&r.data).unwrap();
    (c.last_lba + 1, c.block_length)
}

#[test]
fn a_unit_grows_online_and_every_nexus_is_told() {
    let lu = LogicalUnit::new(
        Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
        LuConfig::new("iqn.2026-11.rs.iscsi:resize", "R1"),
    );
    let (a, b) = (nexus(1), nexus(2));
    for n in [&a, &b] {
        lu.add_nexus(n);
        let _ = run(&lu, n, &[0; 6], &[]);
    }
    assert_eq!(capacity(&lu, &a), (2048, 512));
    let past_end = [0x2a, 0, 0, 0, 0x08, 0, 0, 0, 1, 0];
    let r = run(&lu, &a, &past_end, &[9; 512]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);

    lu.resize(4096).unwrap();
    assert_eq!(lu.block_count(), 4096);
    // Every nexus, the one that did nothing included, sees the attention
    // once; READ CAPACITY then answers the new size.
    for n in [&a, &b] {
        let r = run(&lu, n, &[0; 6], &[]);
        assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::CAPACITY_DATA_HAS_CHANGED);
        assert_eq!(run(&lu, n, &[0; 6], &[]).status, Status::GOOD);
        assert_eq!(capacity(&lu, n), (4096, 512));
    }
    // LBA 2048 is now inside the disk, and reads back.
    assert_eq!(run(&lu, &a, &past_end, &[9; 512]).status, Status::GOOD);
    let r = run(&lu, &b, &[0x28, 0, 0, 0, 0x08, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.status, Status::GOOD);
    assert!(r.data.iter().all(|x| *x == 9));
    // READ CAPACITY(10) follows too.
    let r = run(&lu, &a, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(&r.data[..4], &4095u32.to_be_bytes());

    // A nexus that logs in later gets its power-on attention, not this one.
    let c = nexus(3);
    lu.add_nexus(&c);
    let r = run(&lu, &c, &[0; 6], &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET);
    assert_eq!(run(&lu, &c, &[0; 6], &[]).status, Status::GOOD);
}

/// A backend with the default `resize`, which refuses.
#[derive(Debug)]
struct Fixed(MemoryBackend);

impl BlockBackend for Fixed {
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn block_count(&self) -> u64 {
        self.0.block_count()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write_at(offset, data)
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn unmap(&self, offset: u64, len: u64) -> std::io::Result<()> {
        self.0.unmap(offset, len)
    }
    fn thin(&self) -> bool {
        true
    }
}

#[test]
fn a_refused_resize_changes_nothing_and_tells_no_one() {
    let lu = LogicalUnit::new(
        Arc::new(Fixed(MemoryBackend::new(1 << 20, 512).unwrap())),
        LuConfig::new("iqn.2026-11.rs.iscsi:resize", "R2"),
    );
    let a = nexus(1);
    lu.add_nexus(&a);
    let _ = run(&lu, &a, &[0; 6], &[]);
    let e = lu.resize(4096).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    assert_eq!(run(&lu, &a, &[0; 6], &[]).status, Status::GOOD);
    assert_eq!(capacity(&lu, &a), (2048, 512));
}
