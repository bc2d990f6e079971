//! librbd through this crate against a real Ceph cluster. `cargo xtask ci`
//! (step "rbd") brings a one-node cluster up on 127.0.0.1, points
//! `CEPH_CONF` at it and runs these under AddressSanitizer:
//! `cargo xtask rbd-test`. Without `CEPH_CONF` they fail, saying so.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::future::Future;
use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use iscsi_rbd::{CephOptions, CompareAndWrite, Rados, RbdBackend, RbdImage, RbdSpec};
use iscsi_scsi::{BlockBackend, LogicalUnit, LuConfig, Nexus, Request, Status};

const POOL: &str = "rbd";

fn conf() -> String {
    std::env::var("CEPH_CONF").unwrap_or_else(|_| {
        panic!(
            "CEPH_CONF is not set: these tests need a Ceph cluster; run them with `cargo xtask rbd-test` \
             (brings one up on 127.0.0.1), or `eval $(cargo xtask ceph up)` first"
        )
    })
}

/// Tests share the cluster; the one that stops the OSD runs alone.
static CLUSTER: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    CLUSTER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn rados() -> Rados {
    Rados::connect(&CephOptions {
        conf: Some(conf().into()),
        op_timeout: Duration::from_secs(10),
        ..CephOptions::default()
    })
    .expect("connect to the test cluster")
}

fn rbd(args: &[&str]) {
    let out = Command::new("rbd")
        .args(args)
        .env("CEPH_CONF", conf())
        .output()
        .expect("run rbd");
    assert!(
        out.status.success(),
        "rbd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh image of `size` (as `rbd create --size` reads it) for one test.
fn image(rados: &Rados, name: &str, size: &str) -> RbdImage {
    let _ = Command::new("rbd")
        .args(["rm", &format!("{POOL}/{name}")])
        .env("CEPH_CONF", conf())
        .output();
    rbd(&["create", "--size", size, &format!("{POOL}/{name}")]);
    RbdImage::open(rados, POOL, name).unwrap()
}

/// A backend over a fresh image of `size` (see [`image`]).
fn backend(rados: &Rados, name: &str, size: &str, block_size: u32) -> Arc<RbdBackend> {
    drop(image(rados, name, size));
    let spec = RbdSpec {
        pool: POOL.into(),
        image: name.into(),
    };
    Arc::new(RbdBackend::open(rados, &spec, block_size, false).unwrap())
}

/// Runs a future to completion on this thread (no runtime needed: the
/// completion callback wakes it).
fn block_on<T>(f: impl Future<Output = T>) -> T {
    struct Thread(std::thread::Thread);
    impl Wake for Thread {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Thread(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn blocking_and_async_reads_and_writes_round_trip() {
    let _cluster = shared();
    let rados = rados();
    let img = image(&rados, "t-rw", "16M");
    assert_eq!(img.size().unwrap(), 16 << 20);
    // Vectored write across an object boundary (4 MiB objects).
    let a = vec![0x11u8; 3000];
    let b = vec![0x22u8; 5192];
    let at = (4 << 20) - 4096;
    img.write_vectored_at(at, &[&a, &[], &b]).unwrap();
    let mut back = vec![0u8; 8192];
    img.read_at(at, &mut back).unwrap();
    assert_eq!(&back[..3000], &a[..]);
    assert_eq!(&back[3000..], &b[..]);
    // Asynchronous: 64 writes in flight at once, then 64 reads.
    let writes: Vec<_> = (0..64u8)
        .map(|i| img.write(u64::from(i) * 4096, vec![i; 4096]))
        .collect();
    for w in writes {
        block_on(w).unwrap();
    }
    let reads: Vec<_> = (0..64u8)
        .map(|i| img.read(u64::from(i) * 4096, 4096))
        .collect();
    for (i, r) in reads.into_iter().enumerate() {
        let data = block_on(r).unwrap();
        assert!(data.iter().all(|x| usize::from(*x) == i), "block {i}");
    }
    // Shared buffers as they came off the network, written without
    // gathering, then flushed.
    let parts = vec![
        Bytes::from(vec![0xa1u8; 1000]),
        Bytes::new(),
        Bytes::from(vec![0xa2u8; 3096]),
    ];
    block_on(img.write_parts(8 << 20, parts)).unwrap();
    block_on(img.flush_async()).unwrap();
    let data = block_on(img.read(8 << 20, 4096)).unwrap();
    assert!(data[..1000].iter().all(|b| *b == 0xa1) && data[1000..].iter().all(|b| *b == 0xa2));
    block_on(img.write_parts(0, Vec::new())).unwrap();
    // Beyond the end: an error, not a short read.
    let mut tail = vec![0u8; 8192];
    assert!(img.read_at((16 << 20) - 4096, &mut tail).is_err());
    assert!(block_on(img.write(16 << 20, vec![1; 512])).is_err());
}

#[test]
fn small_discards_really_zero_and_write_same_writes() {
    let _cluster = shared();
    let rados = rados();
    let img = image(&rados, "t-discard", "8M");
    img.write_vectored_at(0, &[&vec![0xc3; 65536]]).unwrap();
    // 4 KiB inside an object: librbd's defaults would keep the data.
    img.discard(4096, 4096).unwrap();
    let mut back = vec![0u8; 12288];
    img.read_at(0, &mut back).unwrap();
    assert!(back[..4096].iter().all(|b| *b == 0xc3));
    assert!(
        back[4096..8192].iter().all(|b| *b == 0),
        "4 KiB discard kept the data"
    );
    assert!(back[8192..].iter().all(|b| *b == 0xc3));
    img.write_zeroes(8192, 4096).unwrap();
    img.read_at(8192, &mut back[..4096]).unwrap();
    assert!(back[..4096].iter().all(|b| *b == 0));
    let pattern: Vec<u8> = (0..=255u8).cycle().take(512).collect();
    img.write_same(1 << 20, 512 * 10, &pattern).unwrap();
    let mut ten = vec![0u8; 5120];
    img.read_at(1 << 20, &mut ten).unwrap();
    for chunk in ten.chunks(512) {
        assert_eq!(chunk, &pattern[..]);
    }
    assert_eq!(
        img.write_same(0, 1000, &pattern).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    img.flush().unwrap();
}

#[test]
fn compare_and_write_is_atomic_and_reports_the_miscompare() {
    let _cluster = shared();
    let rados = rados();
    let img = image(&rados, "t-caw", "4M");
    let old = vec![0x5a; 512];
    img.write_vectored_at(512, &[&old]).unwrap();
    let new = vec![0xa5; 512];
    assert_eq!(
        img.compare_and_write(512, &old, &new).unwrap(),
        CompareAndWrite::Written
    );
    let mut wrong = old.clone();
    wrong[100] = 0;
    assert_eq!(
        img.compare_and_write(512, &wrong, &old).unwrap(),
        CompareAndWrite::Miscompare(0),
        "the image holds `new`: it differs from `wrong` at byte 0"
    );
    let mut expect = new.clone();
    assert_eq!(
        img.compare_and_write(512, &expect, &old).unwrap(),
        CompareAndWrite::Written
    );
    expect.clone_from(&old);
    expect[300] ^= 1;
    assert_eq!(
        img.compare_and_write(512, &expect, &new).unwrap(),
        CompareAndWrite::Miscompare(300)
    );
    // Ceph 16 refuses ranges that leave one 512-byte sector.
    assert!(img.compare_and_write(0, &[0; 1024], &[1; 1024]).is_err());
}

#[test]
fn metadata_allocation_and_errors() {
    let _cluster = shared();
    let rados = rados();
    let img = image(&rados, "t-meta", "64M");
    assert_eq!(img.metadata_get("scsi.pr").unwrap(), None);
    let long = "x".repeat(1000);
    img.metadata_set("scsi.pr", &long).unwrap();
    assert_eq!(
        img.metadata_get("scsi.pr").unwrap().as_deref(),
        Some(&*long)
    );
    assert!(img.allocated(0, 64 << 20).unwrap().is_empty());
    img.write_vectored_at(8 << 20, &[&[7u8; 4096]]).unwrap();
    let extents = img.allocated(0, 64 << 20).unwrap();
    assert!(!extents.is_empty());
    assert!(
        extents
            .iter()
            .all(|(o, l)| *o <= 8 << 20 && o + l >= (8 << 20) + 4096),
        "{extents:?}"
    );
    let missing = RbdImage::open(&rados, POOL, "no-such-image").unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound, "{missing}");
    assert!(
        missing.to_string().contains("rbd/no-such-image"),
        "{missing}"
    );
    assert!(RbdImage::open(&rados, "no-such-pool", "x").is_err());
    img.lock_exclusive().unwrap();
    assert!(img.is_lock_owner().unwrap());
}

#[test]
fn an_outside_resize_reaches_the_backend_and_the_unit() {
    let _cluster = shared();
    let rados = rados();
    let backend = backend(&rados, "t-resize", "8M", 512);
    assert_eq!(backend.block_count(), 16384);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    backend
        .on_resize(move |blocks| {
            let _ = tx.lock().unwrap().send(blocks);
        })
        .unwrap();
    rbd(&["resize", "--size", "16M", "rbd/t-resize"]);
    let blocks = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(blocks, 32768);
    assert_eq!(backend.block_count(), 32768);
    // Through the unit: READ CAPACITY answers the new size after the
    // unit's own resize (what the target does in `changed`).
    let lu = LogicalUnit::new(backend, LuConfig::new("iqn.2026-12.rs.iscsi:rbd", "r1"));
    lu.resize(blocks).unwrap();
    let nexus = Nexus::new(1, "iqn.2026-12.rs.iscsi:client,i,0x1", 1);
    let cap = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut r = lu.execute(&Request::new(&nexus, &cap, &[]));
    if r.status == Status::CHECK_CONDITION {
        r = lu.execute(&Request::new(&nexus, &cap, &[]));
    }
    assert_eq!(r.status, Status::GOOD);
    assert_eq!(&r.data[..4], &32767u32.to_be_bytes());
}

#[test]
fn scsi_commands_through_the_backend() {
    let _cluster = shared();
    let rados = rados();
    let backend = backend(&rados, "t-scsi", "32M", 4096);
    let lu = LogicalUnit::new(
        backend.clone(),
        LuConfig::new("iqn.2026-12.rs.iscsi:rbd", "r2"),
    );
    let nexus = Nexus::new(1, "iqn.2026-12.rs.iscsi:client,i,0x1", 1);
    let run = |cdb: &[u8], data: &[Bytes]| {
        let mut r = lu.execute(&Request::new(&nexus, cdb, data));
        if r.status == Status::CHECK_CONDITION
            && r.sense_data().is_some_and(|s| s.get(2) == Some(&6))
        {
            r = lu.execute(&Request::new(&nexus, cdb, data));
        }
        r
    };
    // WRITE(16) FUA of 2 blocks at LBA 100, in two Data-Out pieces.
    let w = [0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 0, 0];
    let data = [Bytes::from(vec![1u8; 5000]), Bytes::from(vec![2u8; 3192])];
    assert_eq!(run(&w, &data).status, Status::GOOD);
    let rd = [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 0, 0];
    let r = run(&rd, &[]);
    assert_eq!(r.status, Status::GOOD);
    assert!(r.data[..5000].iter().all(|b| *b == 1) && r.data[5000..].iter().all(|b| *b == 2));
    // GET LBA STATUS: LBA 100 mapped; LBA 2048 (8 MiB, the third 4 MiB
    // object, never written) deallocated. librbd reports an object's
    // data from its start, so LBA 0 reads as mapped too.
    for (lba, status) in [(100u8, 0u8), (8, 0)] {
        let gls = [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, lba, 0, 0, 0, 64, 0, 0];
        let r = run(&gls, &[]);
        assert_eq!(r.status, Status::GOOD);
        assert_eq!(
            r.data[8 + 12] & 0x0f,
            status,
            "LBA {lba}: {:?}",
            &r.data[..24]
        );
    }
    let gls = [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 64, 0, 0];
    let r = run(&gls, &[]);
    assert_eq!(r.status, Status::GOOD);
    assert_eq!(&r.data[8..16], &2048u64.to_be_bytes());
    assert_eq!(
        r.data[8 + 12] & 0x0f,
        1,
        "LBA 2048 deallocated: {:?}",
        &r.data[..24]
    );
    // UNMAP the two blocks: they read back as zeros.
    let mut list = vec![0u8, 22, 0, 16, 0, 0, 0, 0];
    list.extend_from_slice(&100u64.to_be_bytes());
    list.extend_from_slice(&2u32.to_be_bytes());
    list.extend_from_slice(&[0; 4]);
    let unmap = [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0];
    assert_eq!(run(&unmap, &[Bytes::from(list)]).status, Status::GOOD);
    let r = run(&rd, &[]);
    assert!(r.data.iter().all(|b| *b == 0));
    // A whole object (4 MiB, the allocation unit) unmapped is
    // deallocated; less of one leaves it allocated (and zeroed).
    assert_eq!(backend.allocation_unit(), 4 << 20);
    assert_eq!(backend.image().object_size().unwrap(), 4 << 20);
    backend.write_at(0, &[5u8; 8192]).unwrap();
    assert!(backend.mapping(0).unwrap().0);
    backend.unmap(0, 4096).unwrap();
    assert!(
        backend.mapping(0).unwrap().0,
        "a partial discard keeps the object"
    );
    backend.unmap(0, 4 << 20).unwrap();
    assert_eq!(backend.mapping(0).unwrap(), (false, 32 << 20));
    // SYNCHRONIZE CACHE(10).
    assert_eq!(
        run(&[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]).status,
        Status::GOOD
    );
}

#[test]
fn compare_and_write_of_one_512_byte_block_is_done_at_the_osd() {
    let _cluster = shared();
    let rados = rados();
    let backend = backend(&rados, "t-ats", "8M", 512);
    // Never written: it compares against zeros.
    assert_eq!(
        backend
            .compare_and_write(4096, &[0; 512], &[9; 512])
            .expect("one sector goes to the OSD")
            .unwrap(),
        None
    );
    let mut back = [0u8; 512];
    backend.read_at(4096, &mut back).unwrap();
    assert_eq!(back, [9; 512]);
    let mut wrong = [9u8; 512];
    wrong[77] = 0;
    assert_eq!(
        backend
            .compare_and_write(4096, &wrong, &[1; 512])
            .unwrap()
            .unwrap(),
        Some(77)
    );
    assert!(
        backend
            .compare_and_write(0, &[0; 1024], &[0; 1024])
            .is_none()
    );
    // Through the unit: COMPARE AND WRITE(16) of one block, then a
    // miscompare at byte 3 reported in INFORMATION.
    let lu = LogicalUnit::new(backend, LuConfig::new("iqn.2026-12.rs.iscsi:rbd", "r3"));
    let nexus = Nexus::new(1, "iqn.2026-12.rs.iscsi:client,i,0x1", 1);
    let _ = lu.execute(&Request::new(&nexus, &[0, 0, 0, 0, 0, 0], &[]));
    let caw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0];
    let ok = [Bytes::from([vec![9u8; 512], vec![2u8; 512]].concat())];
    assert_eq!(
        lu.execute(&Request::new(&nexus, &caw, &ok)).status,
        Status::GOOD
    );
    let mut bad = [vec![2u8; 512], vec![3u8; 512]].concat();
    bad[3] = 0;
    let r = lu.execute(&Request::new(&nexus, &caw, &[Bytes::from(bad)]));
    assert_eq!(r.status, Status::CHECK_CONDITION);
    let sense = r.sense.unwrap();
    assert_eq!((sense.key.0, sense.information), (0x0e, Some(3)));
}

#[test]
fn dropping_the_image_waits_for_its_operations() {
    let _cluster = shared();
    let rados = rados();
    let img = image(&rados, "t-drop", "16M");
    let done = Arc::new(AtomicUsize::new(0));
    // Start 128 writes and 128 reads, drop every future and the image at
    // once: the buffers must live until librbd is done (ASan watches).
    let mut futures = Vec::new();
    for i in 0..128u64 {
        futures.push(Box::pin(img.write(i * 65536, vec![9; 65536]))
            as std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + Send>>);
        let d = done.clone();
        let read = img.read(i * 65536, 65536);
        futures.push(Box::pin(async move {
            let _ = read.await;
            d.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }));
    }
    drop(futures);
    drop(img);
    assert_eq!(done.load(Ordering::Relaxed), 0, "no future was polled");
    // The data landed anyway.
    let img = RbdImage::open(&rados, POOL, "t-drop").unwrap();
    let mut back = vec![0u8; 65536];
    img.read_at(127 * 65536, &mut back).unwrap();
    assert!(back.iter().all(|b| *b == 9));
}

/// libiscsi's MultipathIO.CompareAndWrite pattern on a fresh image: zeros
/// written over 256 blocks, then per block two compare-and-writes that
/// must succeed and two that must miscompare.
#[test]
fn compare_and_write_block_after_block_like_the_multipath_test() {
    let _cluster = shared();
    let rados = rados();
    let backend = backend(&rados, "t-mpio", "8M", 512);
    backend.write_same(0, 256, &[0; 512]).unwrap();
    for lba in 0..=256u64 {
        for path in 0..2u8 {
            let compare = [path; 512];
            let write = [path + 1; 512];
            let first = backend.compare_and_write(lba * 512, &compare, &write);
            assert_eq!(
                first.map(Result::unwrap),
                Some(None),
                "LBA {lba} path {path}"
            );
            let again = backend.compare_and_write(lba * 512, &compare, &write);
            assert!(
                matches!(again, Some(Ok(Some(_)))),
                "LBA {lba} path {path}: {again:?}"
            );
        }
    }
}

/// A cluster that stops answering gives errors of kind TimedOut within
/// the operation timeout (NOT READY through the unit), not a hang; when it
/// answers again, I/O resumes on the same image handle.
#[test]
fn a_stopped_osd_times_out_and_io_resumes_after() {
    let _alone = CLUSTER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rados = Rados::connect(&CephOptions {
        conf: Some(conf().into()),
        op_timeout: Duration::from_secs(2),
        ..CephOptions::default()
    })
    .unwrap();
    let backend = backend(&rados, "t-stop", "8M", 512);
    backend.write_at(0, &[4u8; 4096]).unwrap();
    // The OSD's pid file is in the cluster's run directory.
    let dir = std::path::Path::new(&conf())
        .parent()
        .unwrap()
        .to_path_buf();
    let pid = std::fs::read_to_string(dir.join("run/osd.0.pid")).unwrap();
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    // librbd's cache may hold the block: read one never read before.
    let err = backend.read_at(1 << 20, &mut buf).unwrap_err();
    let took = started.elapsed();
    let lu = LogicalUnit::new(
        backend.clone(),
        LuConfig::new("iqn.2026-12.rs.iscsi:rbd", "r4"),
    );
    let nexus = Nexus::new(1, "iqn.2026-12.rs.iscsi:client,i,0x1", 1);
    let _ = lu.execute(&Request::new(&nexus, &[0, 0, 0, 0, 0, 0], &[]));
    let read = [0x28, 0, 0, 0, 0x10, 0, 0, 0, 8, 0];
    let r = lu.execute(&Request::new(&nexus, &read, &[]));
    signal("-CONT");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(took < Duration::from_secs(15), "the read took {took:?}");
    assert_eq!(r.status, Status::CHECK_CONDITION);
    let sense = r.sense.unwrap();
    assert_eq!(
        (sense.key.0, sense.asc.0),
        (0x02, 0x0400),
        "NOT READY, LOGICAL UNIT NOT READY"
    );
    // Back: the same handle reads and writes again.
    let mut again = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match backend.read_at(0, &mut again) {
            Ok(()) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not back yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("I/O did not resume: {e}"),
        }
    }
    assert_eq!(again, [4u8; 4096]);
    backend.write_at(8192, &[5u8; 512]).unwrap();
}
