//! SANITIZE through the logical unit: OVERWRITE and BLOCK ERASE of the
//! whole medium, parameter checks, the in-progress state other nexuses see,
//! failure mode and EXIT FAILURE MODE.

use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iscsi_scsi::data::{LbaStatus, ProvisioningStatus};
use iscsi_scsi::{
    Asc, Background, BackgroundWork, BlockBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus,
    Response, SANITIZE_CHUNK_BYTES, SenseKey, Status,
};

mod common;
use common::{assert_sense, run};

const BLOCKS: u64 = 4096;

/// A runtime the test steps by hand: the operation gets a thread, each
/// chunk waits for a token.
#[derive(Debug)]
struct Gate {
    tokens: Mutex<Receiver<()>>,
    chunks: Mutex<Sender<u64>>,
}

impl Background for Gate {
    fn spawn(&self, work: BackgroundWork) -> io::Result<()> {
        std::thread::Builder::new().spawn(work).map(drop)
    }

    fn chunk_done(&self, bytes: u64) {
        let _ = self.chunks.lock().unwrap().send(bytes);
        let _ = self.tokens.lock().unwrap().recv();
    }
}

fn unit(background: Option<Arc<dyn Background>>) -> LogicalUnit {
    let mut config = LuConfig::new("iqn.2026-11.rs.iscsi:sanitize", "S1");
    config.background = background;
    let disk = MemoryBackend::new(BLOCKS * 512, 512).unwrap();
    LogicalUnit::new(Arc::new(disk), config)
}

fn nexus(id: u64) -> Nexus {
    Nexus::new(
        id,
        format!("iqn.2026-11.rs.iscsi:h{id},i,0x8000000000{id:02}"),
        1,
    )
}

fn ready(lu: &LogicalUnit, n: &Nexus) {
    lu.add_nexus(n);
    let _ = run(lu, n, &[0; 6], &[]);
}

/// SANITIZE with service action `sa`, IMMED and a parameter list.
fn sanitize_cdb(sa: u8, immed: bool, pll: usize) -> [u8; 10] {
    let l = u16::try_from(pll).unwrap().to_be_bytes();
    [
        0x48,
        sa | if immed { 0x80 } else { 0 },
        0,
        0,
        0,
        0,
        0,
        l[0],
        l[1],
        0,
    ]
}

/// An OVERWRITE parameter list: count 1, the pattern.
fn overwrite_list(pattern: &[u8], invert: bool, count: u8) -> Vec<u8> {
    let mut list = vec![count | if invert { 0x80 } else { 0 }, 0];
    list.extend_from_slice(&u16::try_from(pattern.len()).unwrap().to_be_bytes());
    list.extend_from_slice(pattern);
    list
}

fn read(lu: &LogicalUnit, n: &Nexus, lba: u32, blocks: u16) -> Bytes {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    let r = run(
        lu,
        n,
        &[0x28, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0],
        &[],
    );
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    r.data
}

fn write(lu: &LogicalUnit, n: &Nexus, lba: u32, data: &[u8]) -> Response {
    let l = lba.to_be_bytes();
    let b = u16::try_from(data.len() / 512).unwrap().to_be_bytes();
    run(
        lu,
        n,
        &[0x2a, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0],
        data,
    )
}

#[test]
fn overwrite_and_block_erase_cover_the_whole_medium() {
    let lu = unit(None);
    let n = nexus(1);
    ready(&lu, &n);
    assert_eq!(write(&lu, &n, 0, &[7u8; 8 * 512]).status, Status::GOOD);
    // A 3-byte pattern repeats across each block.
    let list = overwrite_list(&[1, 2, 3], false, 1);
    let r = run(&lu, &n, &sanitize_cdb(1, false, list.len()), &list);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    let block: Vec<u8> = [1u8, 2, 3].iter().copied().cycle().take(512).collect();
    for lba in [0, 7, BLOCKS as u32 - 1] {
        assert_eq!(read(&lu, &n, lba, 1), block);
    }
    // INVERT with an even count leaves the inverse.
    let list = overwrite_list(&[0x0f], true, 2);
    let r = run(&lu, &n, &sanitize_cdb(1, false, list.len()), &list);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    assert!(read(&lu, &n, 5, 1).iter().all(|b| *b == 0xf0));
    // BLOCK ERASE deallocates everything: zeros, one deallocated extent.
    // Without a runtime to run it in the background, IMMED too returns
    // only when the operation is over.
    let r = run(&lu, &n, &sanitize_cdb(2, true, 0), &[]);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    assert!(read(&lu, &n, 100, 8).iter().all(|b| *b == 0));
    let r = run(
        &lu,
        &n,
        &[0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        &[],
    );
    let status = LbaStatus::parse(&r.data).unwrap();
    let first = status.descriptors[0];
    assert_eq!(first.status, ProvisioningStatus::Deallocated);
    assert_eq!((first.lba, u64::from(first.blocks)), (0, BLOCKS));
}

#[test]
fn malformed_requests_are_refused_before_anything_is_written() {
    let lu = unit(None);
    let n = nexus(1);
    ready(&lu, &n);
    assert_eq!(write(&lu, &n, 0, &[7u8; 512]).status, Status::GOOD);
    let good = overwrite_list(&[0xaa; 512], false, 1);
    let mut bad_lists = vec![
        // Parameter list length 0..4, and one past block size + 4.
        (0, vec![]),
        (4, good[..4].to_vec()),
        (517, [good.clone(), vec![0]].concat()),
    ];
    let mut zero_count = good.clone();
    zero_count[0] = 0;
    let mut no_pattern = good.clone();
    no_pattern[2..4].copy_from_slice(&[0, 0]);
    let mut long_pattern = good;
    long_pattern[2..4].copy_from_slice(&516u16.to_be_bytes());
    for list in [zero_count, no_pattern, long_pattern] {
        bad_lists.push((list.len(), list));
    }
    for (pll, list) in bad_lists {
        let r = run(&lu, &n, &sanitize_cdb(1, false, pll), &list);
        assert_eq!(r.status, Status::CHECK_CONDITION, "pll {pll}");
        let s = r.sense.unwrap();
        assert_eq!(s.key, SenseKey::ILLEGAL_REQUEST);
        assert!(
            [
                Asc::INVALID_FIELD_IN_CDB,
                Asc::INVALID_FIELD_IN_PARAMETER_LIST
            ]
            .contains(&s.asc),
            "pll {pll}: {s}"
        );
    }
    // Reserved bits and bytes, a parameter list for BLOCK ERASE or EXIT
    // FAILURE MODE, CRYPTOGRAPHIC ERASE (not supported) and unknown service
    // actions: INVALID FIELD IN CDB.
    let mut reserved = sanitize_cdb(2, false, 0);
    reserved[1] |= 0x40;
    let mut byte4 = sanitize_cdb(2, false, 0);
    byte4[4] = 4;
    for cdb in [
        reserved,
        byte4,
        sanitize_cdb(2, false, 8),
        sanitize_cdb(0x1f, false, 8),
        sanitize_cdb(3, false, 0),
        sanitize_cdb(0, false, 0),
        sanitize_cdb(0x1e, false, 0),
    ] {
        let r = run(&lu, &n, &cdb, &[0; 8]);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    }
    // Not in failure mode: nothing to exit.
    let r = run(&lu, &n, &sanitize_cdb(0x1f, false, 0), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    assert!(read(&lu, &n, 0, 1).iter().all(|b| *b == 7));
}

#[test]
fn a_running_sanitize_holds_off_every_nexus_but_inquiry_and_request_sense() {
    let (go, tokens) = channel();
    let (chunks_tx, chunks) = channel();
    let gate = Gate {
        tokens: Mutex::new(tokens),
        chunks: Mutex::new(chunks_tx),
    };
    let lu = unit(Some(Arc::new(gate)));
    let (a, b) = (nexus(1), nexus(2));
    ready(&lu, &a);
    ready(&lu, &b);
    let r = run(&lu, &a, &sanitize_cdb(2, true, 0), &[]);
    assert_eq!(r.status, Status::GOOD, "IMMED: done when it starts");
    // A nexus that appears meanwhile sees the sanitize before its power-on
    // unit attention.
    let c = nexus(3);
    lu.add_nexus(&c);
    for n in [&a, &b, &c] {
        let r = run(&lu, n, &[0; 6], &[]);
        assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_SANITIZE_IN_PROGRESS);
        let r = run(&lu, n, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]);
        assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_SANITIZE_IN_PROGRESS);
        assert_eq!(
            run(&lu, n, &[0x12, 0, 0, 0, 36, 0], &[]).status,
            Status::GOOD
        );
        let r = run(&lu, n, &[0x03, 0, 0, 0, 18, 0], &[]);
        assert_eq!(r.status, Status::GOOD);
        assert_eq!(
            (r.data[2] & 0x0f, r.data[12], r.data[13]),
            (0x02, 0x04, 0x1b)
        );
    }
    let r = run(&lu, &b, &sanitize_cdb(2, false, 0), &[]);
    assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_SANITIZE_IN_PROGRESS);
    // The pace sees every chunk: 2 MiB in 1 MiB chunks.
    let mut seen = 0;
    while seen < BLOCKS * 512 {
        seen += chunks.recv().unwrap();
        assert!(seen <= BLOCKS * 512);
        go.send(()).unwrap();
    }
    assert_eq!(seen / SANITIZE_CHUNK_BYTES, 2);
    // The thread ends soon after the last chunk.
    while run(&lu, &a, &[0; 6], &[]).status != Status::GOOD {
        std::thread::yield_now();
    }
    // The new nexus's unit attention is still there after it.
    let r = run(&lu, &c, &[0; 6], &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET);
}

#[test]
fn a_read_only_unit_refuses_sanitize() {
    let mut config = LuConfig::new("iqn.2026-11.rs.iscsi:sanitize", "RO");
    config.read_only = true;
    let lu = LogicalUnit::new(Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()), config);
    let n = nexus(1);
    ready(&lu, &n);
    let r = run(&lu, &n, &sanitize_cdb(2, false, 0), &[]);
    assert_sense(&r, SenseKey::DATA_PROTECT, Asc::WRITE_PROTECTED);
}

/// A backend whose writes fail.
#[derive(Debug)]
struct Broken;

impl BlockBackend for Broken {
    fn block_size(&self) -> u32 {
        512
    }
    fn block_count(&self) -> u64 {
        64
    }
    fn read_at(&self, _: u64, buf: &mut [u8]) -> io::Result<()> {
        buf.fill(0);
        Ok(())
    }
    fn write_at(&self, _: u64, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("disk on fire"))
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    fn unmap(&self, _: u64, _: u64) -> io::Result<()> {
        Err(io::Error::other("disk on fire"))
    }
    fn thin(&self) -> bool {
        true
    }
}

#[test]
fn a_failed_sanitize_leaves_failure_mode_until_exit_failure_mode() {
    let lu = LogicalUnit::new(Arc::new(Broken), LuConfig::new("iqn.x", "B"));
    let n = nexus(1);
    ready(&lu, &n);
    // AUSE set: EXIT FAILURE MODE may end it.
    let mut cdb = sanitize_cdb(2, false, 0);
    cdb[1] |= 0x20;
    let r = run(&lu, &n, &cdb, &[]);
    assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::SANITIZE_COMMAND_FAILED);
    assert_eq!(r.backend_error.as_deref(), Some("disk on fire"));
    let r = run(&lu, &n, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]);
    assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::SANITIZE_COMMAND_FAILED);
    assert_eq!(
        run(&lu, &n, &[0x12, 0, 0, 0, 36, 0], &[]).status,
        Status::GOOD
    );
    let r = run(&lu, &n, &sanitize_cdb(0x1f, false, 0), &[]);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    assert_eq!(read(&lu, &n, 0, 1).len(), 512);
    // Without AUSE only a sanitize that succeeds ends it.
    let r = run(&lu, &n, &sanitize_cdb(2, false, 0), &[]);
    assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::SANITIZE_COMMAND_FAILED);
    let r = run(&lu, &n, &sanitize_cdb(0x1f, false, 0), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
}
