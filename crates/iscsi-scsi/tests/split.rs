//! READ and WRITE split in two for asynchronous backends
//! (`LogicalUnit::begin`, then the caller's I/O, then `finish_read` /
//! `finish_write`): the same checks and answers as `execute`, and the
//! write gate held in between.

use std::io;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bytes::Bytes;
use iscsi_scsi::{
    Asc, Begun, BlockBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus, Request, Response,
    SenseKey, Status,
};

fn unit() -> (Arc<LogicalUnit>, Arc<MemoryBackend>, Nexus) {
    let disk = Arc::new(MemoryBackend::new(1 << 20, 512).unwrap());
    let lu = LogicalUnit::new(
        disk.clone(),
        LuConfig::new("iqn.2026-12.rs.iscsi:split", "S1"),
    );
    let n = Nexus::new(1, "iqn.2026-12.rs.iscsi:a,i,0x1", 1);
    lu.add_nexus(&n);
    (Arc::new(lu), disk, n)
}

fn cdb10(op: u8, flags: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    [op, flags, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

fn sense_of(r: &Response) -> (SenseKey, Asc) {
    assert_eq!(r.status, Status::CHECK_CONDITION, "{r:?}");
    let s = r.sense.expect("sense");
    (s.key, s.asc)
}

#[test]
fn reads_and_writes_split_with_the_checks_of_execute() {
    let (lu, disk, n) = unit();
    // The power-on unit attention comes first, through begin.
    let read = cdb10(0x28, 0, 4, 2);
    match lu.begin(&Request::new(&n, &read, &[])) {
        Begun::Done(r) => assert_eq!(
            sense_of(&r),
            (SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET)
        ),
        other => panic!("{other:?}"),
    }
    // WRITE(10) FUA of 2 blocks at LBA 4, Data-Out in two pieces and one
    // block more than the CDB asks (only 1024 bytes are written).
    let write = cdb10(0x2a, 0x08, 4, 2);
    let data = [Bytes::from(vec![7u8; 600]), Bytes::from(vec![7u8; 936])];
    let plan = match lu.begin(&Request::new(&n, &write, &data)) {
        Begun::Write(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!((plan.offset, plan.len, plan.flush), (2048, 1024, true));
    disk.write_at(plan.offset, &[7u8; 1024]).unwrap();
    assert_eq!(lu.finish_write(plan, Ok(())).status, Status::GOOD);
    let plan = match lu.begin(&Request::new(&n, &read, &[])) {
        Begun::Read(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!((plan.offset, plan.len, plan.flush), (2048, 1024, false));
    let mut buf = vec![0u8; plan.len];
    disk.read_at(plan.offset, &mut buf).unwrap();
    let r = lu.finish_read(plan, Ok(Bytes::from(buf)));
    assert_eq!(r.status, Status::GOOD);
    assert!(r.data.iter().all(|b| *b == 7) && r.data.len() == 1024);
    // Errors before any I/O are answers.
    match lu.begin(&Request::new(&n, &cdb10(0x28, 0, 2048, 1), &[])) {
        Begun::Done(r) => assert_eq!(
            sense_of(&r),
            (SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE)
        ),
        other => panic!("{other:?}"),
    }
    match lu.begin(&Request::new(&n, &cdb10(0x28, 0, 0, 0), &[])) {
        Begun::Done(r) => assert!(r.status == Status::GOOD && r.data.is_empty()),
        other => panic!("{other:?}"),
    }
    // Other commands are executed whole.
    assert!(matches!(
        lu.begin(&Request::new(&n, &[0x12, 0, 0, 0, 96, 0], &[])),
        Begun::Execute
    ));
    // Backend errors: MEDIUM ERROR with the LBA, NOT READY when the
    // storage is out of reach.
    let plan = match lu.begin(&Request::new(&n, &read, &[])) {
        Begun::Read(p) => p,
        other => panic!("{other:?}"),
    };
    let r = lu.finish_read(plan, Err(io::Error::other("lost")));
    assert_eq!(
        sense_of(&r),
        (SenseKey::MEDIUM_ERROR, Asc::UNRECOVERED_READ_ERROR)
    );
    assert_eq!(r.sense.and_then(|s| s.information), Some(4));
    let plan = match lu.begin(&Request::new(&n, &write, &data)) {
        Begun::Write(p) => p,
        other => panic!("{other:?}"),
    };
    let r = lu.finish_write(plan, Err(io::Error::new(io::ErrorKind::TimedOut, "osd")));
    assert_eq!(
        sense_of(&r),
        (SenseKey::NOT_READY, Asc::NOT_READY_CAUSE_NOT_REPORTABLE)
    );
    assert_eq!(r.backend_error.as_deref(), Some("osd"));
}

#[test]
fn an_unfinished_plan_holds_compare_and_write_back() {
    let (lu, _disk, n) = unit();
    let _ = lu.execute(&Request::new(&n, &[0, 0, 0, 0, 0, 0], &[]));
    let read = cdb10(0x28, 0, 0, 1);
    let plan = match lu.begin(&Request::new(&n, &read, &[])) {
        Begun::Read(p) => p,
        other => panic!("{other:?}"),
    };
    // COMPARE AND WRITE of block 0 (zeros -> ones) on another thread
    // must wait for the plan.
    let (tx, rx) = mpsc::channel();
    let (lu2, n2) = (lu.clone(), n.clone());
    let caw = std::thread::spawn(move || {
        let cdb = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
        let data = [Bytes::from([vec![0u8; 512], vec![1u8; 512]].concat())];
        let r = lu2.execute(&Request::new(&n2, &cdb, &data));
        tx.send(r.status).ok();
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "CAW ran past a plan"
    );
    // While it waits, new READs and WRITEs go the blocking way.
    assert!(matches!(
        lu.begin(&Request::new(&n, &read, &[])),
        Begun::Execute
    ));
    let r = lu.finish_read(plan, Ok(Bytes::from(vec![0u8; 512])));
    assert_eq!(r.status, Status::GOOD);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Status::GOOD));
    caw.join().unwrap();
    assert!(matches!(
        lu.begin(&Request::new(&n, &read, &[])),
        Begun::Read(_)
    ));
}
