//! Every command with its normal and error cases, against the memory and
//! the file backend.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use iscsi_scsi::{
    Asc, BlockBackend, FileBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus, Request,
    ResetKind, Response, Sense, SenseKey, Status, lun_not_supported, report_luns,
};

const MIB: u64 = 1 << 20;

struct Unit {
    lu: LogicalUnit,
    a: Nexus,
    b: Nexus,
    _dir: Option<tempfile::TempDir>,
}

/// A unit with two nexuses whose power-on unit attentions are consumed.
fn unit_over(backend: Arc<dyn BlockBackend>, dir: Option<tempfile::TempDir>) -> Unit {
    let lu = LogicalUnit::new(
        backend,
        LuConfig::new("iqn.2026-11.rs.iscsi:test", "SN0001"),
    );
    let a = Nexus::new(1, "iqn.2026-11.rs.iscsi:a,i,0x800000000001", 1);
    let b = Nexus::new(2, "iqn.2026-11.rs.iscsi:b,i,0x800000000002", 1);
    for n in [&a, &b] {
        lu.add_nexus(n);
        let r = lu.execute(&Request::new(n, &[0, 0, 0, 0, 0, 0], &[]));
        assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET);
    }
    Unit {
        lu,
        a,
        b,
        _dir: dir,
    }
}

fn units() -> Vec<(&'static str, Unit)> {
    let dir = tempfile::tempdir().unwrap();
    let file = FileBackend::open(dir.path().join("lu.img"), Some(16 * MIB), 512, false).unwrap();
    vec![
        (
            "memory",
            unit_over(Arc::new(MemoryBackend::new(16 * MIB, 512).unwrap()), None),
        ),
        ("file", unit_over(Arc::new(file), Some(dir))),
    ]
}

impl Unit {
    fn run(&self, cdb: &[u8], data: &[u8]) -> Response {
        self.run_as(&self.a, cdb, data)
    }
    fn run_as(&self, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
        let out = if data.is_empty() {
            vec![]
        } else {
            vec![Bytes::copy_from_slice(data)]
        };
        self.lu.execute(&Request::new(n, cdb, &out))
    }
    fn good(&self, cdb: &[u8], data: &[u8]) -> Bytes {
        let r = self.run(cdb, data);
        assert_eq!(r.status, Status::GOOD, "{cdb:02x?}: {:?}", r.sense);
        r.data
    }
}

#[track_caller]
fn assert_sense(r: &Response, key: SenseKey, asc: Asc) -> Sense {
    assert_eq!(r.status, Status::CHECK_CONDITION, "{r:?}");
    let sense = r.sense.expect("sense data");
    assert_eq!((sense.key, sense.asc), (key, asc), "{sense}");
    // Every CHECK CONDITION carries well-formed sense data.
    let bytes = r.sense_data().unwrap();
    assert_eq!(Sense::parse(&bytes).unwrap(), sense);
    sense
}

fn cdb10(op: u8, flags: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [op, flags, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

fn cdb16(op: u8, flags: u8, lba: u64, blocks: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = op;
    c[1] = flags;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn cdb12(op: u8, flags: u8, lba: u32, blocks: u32) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[0] = op;
    c[1] = flags;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[6..10].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn pattern(blocks: usize, seed: u8) -> Vec<u8> {
    (0..blocks * 512)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const LAST: u64 = 16 * MIB / 512 - 1;

#[test]
fn read_write_all_sizes_round_trip() {
    for (name, u) in units() {
        let data = pattern(4, 1);
        u.good(&[0x0a, 0, 0, 10, 4, 0], &data); // WRITE(6)
        assert_eq!(
            &u.good(&[0x08, 0, 0, 10, 4, 0], &[])[..],
            &data[..],
            "{name} READ(6)"
        );
        u.good(&cdb10(0x2a, 0x08, 100, 4), &data); // WRITE(10) FUA
        assert_eq!(
            &u.good(&cdb10(0x28, 0x10, 100, 4), &[])[..],
            &data[..],
            "{name}"
        );
        u.good(&cdb12(0xaa, 0, 200, 4), &data);
        assert_eq!(&u.good(&cdb12(0xa8, 0, 200, 4), &[])[..], &data[..]);
        u.good(&cdb16(0x8a, 0, LAST - 3, 4), &data);
        assert_eq!(&u.good(&cdb16(0x88, 0, LAST - 3, 4), &[])[..], &data[..]);
        // Zero blocks: no data, GOOD.
        assert!(u.good(&cdb10(0x28, 0, 5, 0), &[]).is_empty());
        // Unwritten blocks read as zeros.
        assert!(
            u.good(&cdb10(0x28, 0, 5000, 2), &[])
                .iter()
                .all(|b| *b == 0)
        );
    }
}

#[test]
fn beyond_end_of_medium_and_protect_fields() {
    let (_, u) = units().remove(0);
    for cdb in [
        cdb16(0x88, 0, LAST, 2).to_vec(),
        cdb16(0x88, 0, LAST + 1, 0).to_vec(),
        cdb16(0x88, 0, u64::MAX, 1).to_vec(),
        cdb10(0x28, 0, u32::MAX, 1).to_vec(),
        cdb16(0x8a, 0, LAST, 2).to_vec(),
    ] {
        let data = pattern(2, 0);
        let r = u.run(&cdb, &data);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    }
    // RDPROTECT / WRPROTECT without protection information.
    let r = u.run(&cdb10(0x28, 0x20, 0, 1), &[]);
    let s = assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    assert_eq!(s.field.map(|f| (f.in_cdb, f.byte)), Some((true, 1)));
    // A Data-Out shorter than the transfer length (an iSCSI expected length
    // below the CDB's): the whole blocks received are written, GOOD.
    u.good(&cdb10(0x2a, 0, 20, 2), &pattern(1, 4));
    assert_eq!(&u.good(&cdb10(0x28, 0, 20, 1), &[])[..], &pattern(1, 4)[..]);
    assert!(u.good(&cdb10(0x28, 0, 21, 1), &[]).iter().all(|b| *b == 0));
    assert_eq!(u.lu.expected_data_out(&cdb10(0x2a, 0, 20, 2)), 1024);
    assert_eq!(u.lu.expected_data_out(&cdb10(0x28, 0, 20, 2)), 0);
}

#[test]
fn unknown_opcode_and_short_cdb() {
    let (_, u) = units().remove(0);
    let r = u.run(&[0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    let s = assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_COMMAND_OPERATION_CODE,
    );
    assert_eq!(s.field.map(|f| f.byte), Some(0));
    let r = u.run(&[0x28, 0, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    assert_eq!(u.run(&[], &[]).status, Status::CHECK_CONDITION);
}

#[test]
fn read_only_units_refuse_writes() {
    let lu = LogicalUnit::new(
        Arc::new(MemoryBackend::new(MIB, 512).unwrap().read_only()),
        LuConfig::new("iqn.2026-11.rs.iscsi:ro", "RO1"),
    );
    let n = Nexus::new(9, "iqn.x,i,0x1", 1);
    let block = [Bytes::from(vec![0u8; 512])];
    for cdb in [
        cdb10(0x2a, 0, 0, 1).to_vec(),
        cdb10(0x41, 0, 0, 1).to_vec(),
        cdb16(0x8a, 0, 0, 1).to_vec(),
    ] {
        let r = lu.execute(&Request::new(&n, &cdb, &block));
        assert_sense(&r, SenseKey::DATA_PROTECT, Asc::WRITE_PROTECTED);
    }
    // MODE SENSE reports WP.
    let r = lu.execute(&Request::new(&n, &[0x1a, 0x08, 0x3f, 0, 255, 0], &[]));
    assert_eq!(r.data[2] & 0x80, 0x80);
}

/// A backend whose every I/O fails with this kind and message.
#[derive(Debug)]
struct Failing(io::ErrorKind, &'static str);
impl Failing {
    fn error(&self) -> io::Error {
        io::Error::new(self.0, self.1)
    }
}
impl BlockBackend for Failing {
    fn block_size(&self) -> u32 {
        512
    }
    fn block_count(&self) -> u64 {
        1024
    }
    fn read_at(&self, _: u64, _: &mut [u8]) -> io::Result<()> {
        Err(self.error())
    }
    fn write_at(&self, _: u64, _: &[u8]) -> io::Result<()> {
        Err(self.error())
    }
    fn flush(&self) -> io::Result<()> {
        Err(self.error())
    }
    fn unmap(&self, _: u64, _: u64) -> io::Result<()> {
        Err(self.error())
    }
    fn thin(&self) -> bool {
        false
    }
}

#[test]
fn backend_errors_become_medium_errors() {
    let disk = Failing(io::ErrorKind::Other, "disk on fire");
    let lu = LogicalUnit::new(Arc::new(disk), LuConfig::new("iqn.x", "F"));
    let n = Nexus::new(1, "iqn.y,i,0x1", 1);
    let r = lu.execute(&Request::new(&n, &cdb10(0x28, 0, 7, 1), &[]));
    let s = assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::UNRECOVERED_READ_ERROR);
    assert_eq!(s.information, Some(7));
    // The OS error is kept for the target's log.
    assert_eq!(r.backend_error.as_deref(), Some("disk on fire"));
    let r = lu.execute(&Request::new(
        &n,
        &cdb10(0x2a, 0, 3, 1),
        &[Bytes::from(vec![0u8; 512])],
    ));
    assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::WRITE_ERROR);
    assert_eq!(r.backend_error.as_deref(), Some("disk on fire"));
    let r = lu.execute(&Request::new(&n, &cdb10(0x35, 0, 0, 0), &[]));
    assert_sense(&r, SenseKey::MEDIUM_ERROR, Asc::WRITE_ERROR);
    assert_eq!(r.backend_error.as_deref(), Some("disk on fire"));
    // Other failures carry none.
    let r = lu.execute(&Request::new(&n, &cdb10(0x28, 0, 1 << 30, 1), &[]));
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    assert_eq!(r.backend_error, None);
}

#[test]
fn inquiry_standard_and_every_vpd_page() {
    let (_, u) = units().remove(0);
    let std = u.good(&[0x12, 0, 0, 0, 255, 0], &[]);
    assert_eq!(std.len(), 96);
    assert_eq!(std[0], 0x00);
    assert_eq!(std[2], 0x06);
    assert_eq!(std[3] & 0x0f, 2);
    assert_eq!(&std[8..16], b"RSISCSI ");
    assert_eq!(&std[58..60], &[0x00, 0xa0]);
    // A short allocation length truncates.
    assert_eq!(u.good(&[0x12, 0, 0, 0, 5, 0], &[]).len(), 5);
    // EVPD=0 with a page code is invalid.
    let r = u.run(&[0x12, 0, 0x80, 0, 255, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    let supported = u.good(&[0x12, 1, 0, 0, 255, 0], &[]);
    let pages = supported[4..].to_vec();
    assert_eq!(pages, [0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2]);
    for page in pages {
        let d = u.good(&[0x12, 1, page, 0, 255, 0], &[]);
        assert_eq!(d[1], page);
        assert_eq!(usize::from(u16::from_be_bytes([d[2], d[3]])) + 4, d.len());
    }
    assert_eq!(&u.good(&[0x12, 1, 0x80, 0, 255, 0], &[])[4..], b"SN0001");
    let id = u.good(&[0x12, 1, 0x83, 0, 255, 0], &[]);
    // The first designator is NAA (type 3), binary, 16 bytes, NAA 6.
    assert_eq!(
        (id[4] & 0x0f, id[5] & 0x0f, id[7], id[8] >> 4),
        (1, 3, 16, 6)
    );
    let text = String::from_utf8_lossy(&id);
    assert!(text.contains("iqn.2026-11.rs.iscsi:test,t,0x0001"));
    let r = u.run(&[0x12, 1, 0x99, 0, 255, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    let bl = u.good(&[0x12, 1, 0xb0, 0, 255, 0], &[]);
    assert_eq!(bl[5], 255);
    assert_eq!(
        u32::from_be_bytes([bl[20], bl[21], bl[22], bl[23]]),
        iscsi_scsi::MAX_UNMAP_BLOCKS
    );
    let lbp = u.good(&[0x12, 1, 0xb2, 0, 255, 0], &[]);
    assert_eq!(lbp[5] & 0xe4, 0xe4);
}

#[test]
fn capacity_and_lba_status() {
    for (name, u) in units() {
        let rc10 = u.good(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
        assert_eq!(
            u32::from_be_bytes([rc10[0], rc10[1], rc10[2], rc10[3]]),
            LAST as u32
        );
        assert_eq!(&rc10[4..8], &512u32.to_be_bytes());
        let r = u.run(&[0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], &[]);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
        let mut rc16 = [0u8; 16];
        rc16[0] = 0x9e;
        rc16[1] = 0x10;
        rc16[13] = 32;
        let d = u.good(&rc16, &[]);
        assert_eq!(u64::from_be_bytes(d[0..8].try_into().unwrap()), LAST);
        assert_eq!(d[14] & 0xc0, 0xc0, "{name}: LBPME and LBPRZ on a thin unit");
        rc16[13] = 8;
        assert_eq!(u.good(&rc16, &[]).len(), 8);

        // GET LBA STATUS: written blocks are mapped, others deallocated.
        u.good(&cdb10(0x2a, 0, 0, 128), &pattern(128, 3));
        let mut gls = [0u8; 16];
        gls[0] = 0x9e;
        gls[1] = 0x12;
        gls[13] = 255;
        let d = u.good(&gls, &[]);
        assert_eq!(d[8..16], 0u64.to_be_bytes());
        assert_eq!(d[20], 0, "{name}: LBA 0 is mapped");
        let count = u32::from_be_bytes([d[16], d[17], d[18], d[19]]);
        let next = 24;
        assert_eq!(
            u64::from_be_bytes(d[next..next + 8].try_into().unwrap()),
            u64::from(count)
        );
        assert_eq!(d[next + 12], 1, "{name}: then deallocated");
        gls[2..10].copy_from_slice(&(LAST + 1).to_be_bytes());
        let r = u.run(&gls, &[]);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    }
}

#[test]
fn verify_and_write_and_verify() {
    for (_, u) in units() {
        let data = pattern(2, 9);
        u.good(&cdb10(0x2e, 0x02, 40, 2), &data); // WRITE AND VERIFY(10) BYTCHK
        u.good(&cdb10(0x2f, 0, 40, 2), &[]); // medium verify
        u.good(&cdb10(0x2f, 0x02, 40, 2), &data); // BYTCHK 01
        let mut wrong = data.clone();
        wrong[700] ^= 1;
        let r = u.run(&cdb10(0x2f, 0x02, 40, 2), &wrong);
        let s = assert_sense(&r, SenseKey::MISCOMPARE, Asc::MISCOMPARE_DURING_VERIFY);
        assert_eq!(s.information, Some(700));
        // BYTCHK 11: one block compared against each.
        let same = vec![0x5au8; 512];
        u.good(&cdb16(0x93, 0, 60, 3), &same);
        u.good(&cdb16(0x8f, 0x06, 60, 3), &same);
        let r = u.run(&cdb16(0x8f, 0x04, 60, 3), &same);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
        u.good(&cdb12(0xae, 0, 70, 1), &same);
        u.good(&cdb12(0xaf, 0, 70, 1), &[]);
    }
}

#[test]
fn compare_and_write_is_atomic_and_reports_the_offset() {
    let (_, u) = units().remove(0);
    let old = pattern(1, 1);
    let new = pattern(1, 2);
    u.good(&cdb10(0x2a, 0, 8, 1), &old);
    let mut caw = [0u8; 16];
    caw[0] = 0x89;
    caw[2..10].copy_from_slice(&8u64.to_be_bytes());
    caw[13] = 1;
    let mut both = old;
    both.extend_from_slice(&new);
    u.good(&caw, &both);
    assert_eq!(&u.good(&cdb10(0x28, 0, 8, 1), &[])[..], &new[..]);
    // Miscompare: the offset of the first differing byte, nothing written.
    let r = u.run(&caw, &both);
    let s = assert_sense(&r, SenseKey::MISCOMPARE, Asc::MISCOMPARE_DURING_VERIFY);
    assert_eq!(s.information, Some(0));
    assert_eq!(&u.good(&cdb10(0x28, 0, 8, 1), &[])[..], &new[..]);
    // Data-Out not twice the blocks, or NUMBER OF LOGICAL BLOCKS 0 with data.
    let r = u.run(&caw, &new);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    caw[13] = 0;
    let r = u.run(&caw, &both);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);

    // Concurrent COMPARE AND WRITE on one block: each swap happens exactly once.
    let lu = Arc::new(LogicalUnit::new(
        Arc::new(MemoryBackend::new(MIB, 512).unwrap()),
        LuConfig::new("iqn.x", "C"),
    ));
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let lu = lu.clone();
            std::thread::spawn(move || {
                let n = Nexus::new(u64::from(t), format!("iqn.t{t},i,0x1"), 1);
                let mut wins = 0;
                let mut cdb = [0u8; 16];
                cdb[0] = 0x89;
                cdb[13] = 1;
                for round in 0..200u32 {
                    let cur =
                        lu.execute(&Request::new(&n, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]));
                    let mut next = cur.data.to_vec();
                    let counter = u32::from_le_bytes(next[0..4].try_into().unwrap()) + 1;
                    next[0..4].copy_from_slice(&counter.to_le_bytes());
                    let mut payload = cur.data.to_vec();
                    payload.extend(next);
                    let r = lu.execute(&Request::new(&n, &cdb, &[Bytes::from(payload)]));
                    if r.status == Status::GOOD {
                        wins += 1;
                    }
                    let _ = round;
                }
                wins
            })
        })
        .collect();
    let wins: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let n = Nexus::new(99, "iqn.z,i,0x1", 1);
    let d = lu
        .execute(&Request::new(&n, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]))
        .data;
    assert_eq!(u32::from_le_bytes(d[0..4].try_into().unwrap()), wins);
}

#[test]
fn orwrite_ors_data_into_the_medium() {
    let (_, u) = units().remove(0);
    u.good(&cdb10(0x2a, 0, 0, 1), &vec![0x0f; 512]);
    u.good(&cdb16(0x8b, 0, 0, 1), &vec![0xf0; 512]);
    assert!(
        u.good(&cdb10(0x28, 0, 0, 1), &[])
            .iter()
            .all(|b| *b == 0xff)
    );
}

#[test]
fn write_atomic_16() {
    let (_, u) = units().remove(0);
    let mut c = [0u8; 16];
    c[0] = 0x9c;
    c[2..10].copy_from_slice(&4u64.to_be_bytes());
    c[12..14].copy_from_slice(&2u16.to_be_bytes());
    let data = pattern(2, 5);
    u.good(&c, &data);
    assert_eq!(&u.good(&cdb10(0x28, 0, 4, 2), &[])[..], &data[..]);
}

#[test]
fn write_same_unmap_and_until_end() {
    for (name, u) in units() {
        let block = vec![0x77u8; 512];
        u.good(&cdb10(0x41, 0, 1000, 16), &block);
        assert!(
            u.good(&cdb10(0x28, 0, 1000, 16), &[])
                .iter()
                .all(|b| *b == 0x77)
        );
        // UNMAP bit with zeros deallocates.
        u.good(&cdb16(0x93, 0x08, 1000, 16), &[0u8; 512]);
        assert!(
            u.good(&cdb10(0x28, 0, 1000, 16), &[])
                .iter()
                .all(|b| *b == 0),
            "{name}"
        );
        // NDOB: no Data-Out, zeros.
        u.good(&cdb10(0x2a, 0, 2000, 1), &block);
        u.good(&cdb16(0x93, 0x09, 2000, 1), &[]);
        assert!(
            u.good(&cdb10(0x28, 0, 2000, 1), &[])
                .iter()
                .all(|b| *b == 0)
        );
        // 0 blocks: to the end of the medium, up to MAXIMUM WRITE SAME LENGTH.
        u.good(&cdb16(0x93, 0, LAST - 7, 0), &block);
        assert!(
            u.good(&cdb10(0x28, 0, (LAST - 7) as u32, 8), &[])
                .iter()
                .all(|b| *b == 0x77)
        );
        let r = u.run(&cdb16(0x93, 0, LAST, 2), &block);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
        let r = u.run(&cdb10(0x41, 0, 0, 1), &block[..100]);
        assert_sense(
            &r,
            SenseKey::ILLEGAL_REQUEST,
            Asc::PARAMETER_LIST_LENGTH_ERROR,
        );
        // Half a block or two blocks announced: refused, nothing written.
        for announced in [256, 1024] {
            let out = [Bytes::from(vec![0x55u8; announced])];
            let r = u.lu.execute(
                &Request::new(&u.a, &cdb10(0x41, 0x08, 1000, 1), &out)
                    .with_announced_data_out(announced),
            );
            assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
        }
        assert!(
            u.good(&cdb10(0x28, 0, 1000, 1), &[])
                .iter()
                .all(|b| *b == 0)
        );
    }
}

#[test]
fn write_same_to_the_end_is_limited() {
    let u = unit_over(Arc::new(MemoryBackend::new(64 * MIB, 512).unwrap()), None);
    let n = 64 * MIB / 512;
    let max = iscsi_scsi::MAX_WRITE_SAME_BLOCKS;
    let block = vec![1u8; 512];
    let r = u.run(&cdb16(0x93, 0, 0, 0), &block);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    let r = u.run(&cdb16(0x93, 0, n - max - 1, 0), &block);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    u.good(&cdb16(0x93, 0, n - max, 0), &block);
    let r = u.run(&cdb16(0x93, 0, n + 1, 0), &block);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
}

fn unmap_list(ranges: &[(u64, u32)]) -> Vec<u8> {
    let mut p = vec![0u8; 8];
    let total = (6 + 16 * ranges.len()) as u16;
    p[0..2].copy_from_slice(&total.to_be_bytes());
    p[2..4].copy_from_slice(&((16 * ranges.len()) as u16).to_be_bytes());
    for (lba, n) in ranges {
        p.extend_from_slice(&lba.to_be_bytes());
        p.extend_from_slice(&n.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
    }
    p
}

#[test]
fn unmap_deallocates_and_checks_ranges() {
    for (_, u) in units() {
        u.good(&cdb10(0x2a, 0, 512, 256), &pattern(256, 1));
        let list = unmap_list(&[(512, 128), (640, 128)]);
        let mut cdb = [0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        cdb[7..9].copy_from_slice(&(list.len() as u16).to_be_bytes());
        u.good(&cdb, &list);
        assert!(
            u.good(&cdb10(0x28, 0, 512, 256), &[])
                .iter()
                .all(|b| *b == 0)
        );
        let list = unmap_list(&[(LAST, 2)]);
        cdb[7..9].copy_from_slice(&(list.len() as u16).to_be_bytes());
        let r = u.run(&cdb, &list);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
        let r = u.run(&cdb, &list[..10]);
        assert_sense(
            &r,
            SenseKey::ILLEGAL_REQUEST,
            Asc::PARAMETER_LIST_LENGTH_ERROR,
        );
        // Parameter list length 0: nothing to do.
        u.good(&[0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    }
}

#[test]
fn sync_cache_prefetch_defects_start_stop_prevent() {
    let (_, u) = units().remove(1);
    u.good(&cdb10(0x35, 0, 0, 0), &[]);
    u.good(&cdb16(0x91, 0, 0, 100), &[]);
    let r = u.run(&cdb16(0x91, 0, LAST + 1, 1), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    u.good(&cdb10(0x34, 0, 0, 8), &[]);
    u.good(&cdb16(0x90, 0x02, 0, 8), &[]);
    let r = u.run(&cdb16(0x90, 0, LAST, 8), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    assert_eq!(
        u.good(&[0x37, 0, 0x1d, 0, 0, 0, 0, 0, 8, 0], &[]),
        &[0, 5, 0, 0][..]
    );
    assert_eq!(
        u.good(&[0xb7, 0x05, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], &[])
            .len(),
        8
    );
    u.good(&[0x1b, 0, 0, 0, 0x01, 0], &[]);
    u.good(&[0x1e, 0, 0, 0, 0x01, 0], &[]);
    let r = u.run(&[0x1b, 0, 0, 0, 0x02, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::MEDIUM_REMOVAL_PREVENTED);
    u.good(&[0x1e, 0, 0, 0, 0x00, 0], &[]);
    u.good(&[0x1b, 0, 0, 0, 0x02, 0], &[]);
}

#[test]
fn mode_sense_select_and_d_sense() {
    let (_, u) = units().remove(0);
    let all = u.good(&[0x1a, 0, 0x3f, 0, 255, 0], &[]);
    assert_eq!(usize::from(all[0]) + 1, all.len());
    assert_eq!(all[3], 8, "block descriptor");
    assert_eq!(all[2] & 0x10, 0x10, "DPOFUA");
    let ten = u.good(&[0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0], &[]);
    assert_eq!(
        usize::from(u16::from_be_bytes([ten[0], ten[1]])) + 2,
        ten.len()
    );
    assert_eq!(ten[8], 0x08);
    assert_eq!(ten[10] & 0x04, 0x04, "WCE on by default");
    // Changeable values and a short allocation length.
    let ch = u.good(&[0x1a, 0x08, 0x48, 0, 255, 0], &[]);
    assert_eq!(ch[6] & 0x04, 0x04);
    assert_eq!(u.good(&[0x1a, 0, 0x3f, 0, 4, 0], &[]).len(), 4);
    let r = u.run(&[0x1a, 0, 0xc8, 0, 255, 0], &[]);
    assert_eq!(r.sense.map(|s| s.asc), Some(Asc::new(0x39, 0)));
    let r = u.run(&[0x1a, 0, 0x05, 0, 255, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);

    // MODE SELECT the Control page with D_SENSE set: descriptor sense from
    // then on, and a MODE PARAMETERS CHANGED attention for the other nexus.
    let control = u.good(&[0x1a, 0x08, 0x0a, 0, 255, 0], &[]);
    let mut page = control.to_vec();
    page[0] = 0;
    page[2] = 0;
    page[6] |= 0x04;
    u.good(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    let r = u.run(&cdb10(0x28, 0, u32::MAX, 1), &[]);
    assert_eq!(r.sense_data().unwrap()[0], 0x72);
    let r = u.run_as(&u.b, &[0, 0, 0, 0, 0, 0], &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::MODE_PARAMETERS_CHANGED);
    // SWP: writes are refused.
    page[8] |= 0x08;
    u.good(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    let r = u.run(&cdb10(0x2a, 0, 0, 1), &pattern(1, 0));
    assert_sense(&r, SenseKey::DATA_PROTECT, Asc::SOFTWARE_WRITE_PROTECTED);
    // Changing what is not changeable is refused.
    page[8] &= !0x08;
    page[7] = 0x55;
    let r = u.run(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_FIELD_IN_PARAMETER_LIST,
    );
}

#[test]
fn report_supported_operation_codes() {
    let (_, u) = units().remove(0);
    let all = u.good(&[0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], &[]);
    let len = u32::from_be_bytes([all[0], all[1], all[2], all[3]]) as usize;
    assert_eq!(len + 4, all.len());
    assert!(all[4..].chunks(8).any(|d| d[0] == 0x28));
    let one = u.good(&[0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 0, 64, 0, 0], &[]);
    assert_eq!(one[1] & 0x07, 3);
    assert_eq!(u16::from_be_bytes([one[2], one[3]]), 10);
    assert_eq!(one[4], 0x28);
    let unsupported = u.good(&[0xa3, 0x0c, 0x01, 0xc5, 0, 0, 0, 0, 0, 64, 0, 0], &[]);
    assert_eq!(unsupported[1] & 0x07, 1);
    // SERVICE ACTION IN(16) has service actions: option 1 is invalid, 2 works.
    let r = u.run(&[0xa3, 0x0c, 0x01, 0x9e, 0, 0, 0, 0, 0, 64, 0, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
    let rc16 = u.good(&[0xa3, 0x0c, 0x02, 0x9e, 0, 0x10, 0, 0, 0, 64, 0, 0], &[]);
    assert_eq!(rc16[1] & 0x07, 3);
    let rctd = u.good(&[0xa3, 0x0c, 0x81, 0x28, 0, 0, 0, 0, 0, 64, 0, 0], &[]);
    assert_eq!(rctd.len(), 4 + 10 + 12);
}

#[test]
fn request_sense_reports_and_clears_attentions() {
    let (_, u) = units().remove(0);
    u.lu.reset(ResetKind::LogicalUnit, None);
    let d = u.good(&[0x03, 0, 0, 0, 252, 0], &[]);
    let s = Sense::parse(&d).unwrap();
    assert_eq!(
        (s.key, s.asc),
        (SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET)
    );
    let d = u.good(&[0x03, 0x01, 0, 0, 252, 0], &[]);
    assert_eq!(d[0], 0x72);
    assert_eq!(Sense::parse(&d).unwrap().key, SenseKey::NO_SENSE);
    // INQUIRY does not consume an attention; TUR does.
    u.lu.luns_changed();
    u.good(&[0x12, 0, 0, 0, 36, 0], &[]);
    let r = u.run(&[0, 0, 0, 0, 0, 0], &[]);
    assert_sense(
        &r,
        SenseKey::UNIT_ATTENTION,
        Asc::REPORTED_LUNS_DATA_HAS_CHANGED,
    );
    u.good(&[0, 0, 0, 0, 0, 0], &[]);
}

#[test]
fn spc2_reservations() {
    let (_, u) = units().remove(0);
    u.good(&[0x16, 0, 0, 0, 0, 0], &[]);
    u.good(&cdb10(0x28, 0, 0, 1), &[]);
    assert_eq!(
        u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::RESERVATION_CONFLICT
    );
    assert_eq!(
        u.run_as(&u.b, &[0x16, 0, 0, 0, 0, 0], &[]).status,
        Status::RESERVATION_CONFLICT
    );
    // INQUIRY is always allowed; RELEASE by a non-holder is GOOD but changes nothing.
    assert_eq!(
        u.run_as(&u.b, &[0x12, 0, 0, 0, 36, 0], &[]).status,
        Status::GOOD
    );
    assert_eq!(
        u.run_as(&u.b, &[0x17, 0, 0, 0, 0, 0], &[]).status,
        Status::GOOD
    );
    assert_eq!(
        u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::RESERVATION_CONFLICT
    );
    // Losing the nexus releases it.
    u.lu.nexus_lost(u.a.id);
    assert_eq!(
        u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::GOOD
    );
    // A reset releases it too.
    u.good(&[0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    u.lu.reset(ResetKind::TargetWarm, Some(u.a.id));
    let r = u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::POWER_ON_RESET);
    assert_eq!(
        u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::GOOD
    );
}

fn prout(sa: u8, kind: u8, key: u64, sa_key: u64) -> ([u8; 10], Vec<u8>) {
    let cdb = [0x5f, sa, kind, 0, 0, 0, 0, 0, 24, 0];
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    (cdb, p)
}

fn prin(u: &Unit, n: &Nexus, sa: u8) -> Bytes {
    let r = u.run_as(n, &[0x5e, sa, 0, 0, 0, 0, 0, 1, 0, 0], &[]);
    assert_eq!(r.status, Status::GOOD);
    r.data
}

#[test]
fn persistent_reservations() {
    let (_, u) = units().remove(0);
    let (a, b) = (&u.a, &u.b);
    let out = |n: &Nexus, (cdb, p): ([u8; 10], Vec<u8>)| u.run_as(n, &cdb, &p).status;
    assert_eq!(out(a, prout(0, 0, 0, 0xaaaa)), Status::GOOD);
    assert_eq!(out(b, prout(0, 0, 0, 0xbbbb)), Status::GOOD);
    // Registering again with a wrong key conflicts.
    assert_eq!(
        out(a, prout(0, 0, 0x1234, 0xcccc)),
        Status::RESERVATION_CONFLICT
    );
    let keys = prin(&u, a, 0);
    assert_eq!(u32::from_be_bytes([keys[4], keys[5], keys[6], keys[7]]), 16);
    assert_eq!(
        u32::from_be_bytes([keys[0], keys[1], keys[2], keys[3]]),
        2,
        "generation"
    );
    // WRITE EXCLUSIVE: others may read, not write.
    assert_eq!(out(a, prout(1, 1, 0xaaaa, 0)), Status::GOOD);
    let resv = prin(&u, b, 1);
    assert_eq!(
        (
            u64::from_be_bytes(resv[8..16].try_into().unwrap()),
            resv[21]
        ),
        (0xaaaa, 1)
    );
    assert_eq!(u.run_as(b, &cdb10(0x28, 0, 0, 1), &[]).status, Status::GOOD);
    assert_eq!(
        u.run_as(b, &cdb10(0x2a, 0, 0, 1), &pattern(1, 0)).status,
        Status::RESERVATION_CONFLICT
    );
    assert_eq!(
        u.run_as(a, &cdb10(0x2a, 0, 0, 1), &pattern(1, 0)).status,
        Status::GOOD
    );
    // SPC-2 RESERVE is refused while registrations exist.
    assert_eq!(
        u.run_as(b, &[0x16, 0, 0, 0, 0, 0], &[]).status,
        Status::RESERVATION_CONFLICT
    );
    // Releasing with the wrong type is an error; with the right one, fine.
    let r = u.run_as(a, &prout(2, 3, 0xaaaa, 0).0, &prout(2, 3, 0xaaaa, 0).1);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_RELEASE_OF_PERSISTENT_RESERVATION,
    );
    assert_eq!(out(a, prout(2, 1, 0xaaaa, 0)), Status::GOOD);
    // EXCLUSIVE ACCESS - REGISTRANTS ONLY: registrants may do everything.
    assert_eq!(out(a, prout(1, 6, 0xaaaa, 0)), Status::GOOD);
    assert_eq!(
        u.run_as(b, &cdb10(0x2a, 0, 0, 1), &pattern(1, 0)).status,
        Status::GOOD
    );
    let c = Nexus::new(3, "iqn.2026-11.rs.iscsi:c,i,0x800000000003", 1);
    u.lu.add_nexus(&c);
    let _ = u.run_as(&c, &[0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(
        u.run_as(&c, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::RESERVATION_CONFLICT
    );
    assert_eq!(
        u.run_as(&c, &[0, 0, 0, 0, 0, 0], &[]).status,
        Status::GOOD,
        "TUR is allowed"
    );
    // PREEMPT: b takes over, a's registration goes and a gets an attention.
    assert_eq!(out(b, prout(4, 3, 0xbbbb, 0xaaaa)), Status::GOOD);
    let keys = prin(&u, b, 0);
    assert_eq!(u32::from_be_bytes([keys[4], keys[5], keys[6], keys[7]]), 8);
    let r = u.run_as(a, &[0, 0, 0, 0, 0, 0], &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::REGISTRATIONS_PREEMPTED);
    assert_eq!(
        u.run_as(a, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::RESERVATION_CONFLICT
    );
    // CLEAR removes everything.
    assert_eq!(out(b, prout(3, 0, 0xbbbb, 0)), Status::GOOD);
    assert_eq!(u.run_as(a, &cdb10(0x28, 0, 0, 1), &[]).status, Status::GOOD);
    let caps = prin(&u, a, 2);
    assert_eq!(&caps[0..2], &[0, 8]);
    // APTPL is not supported.
    let (cdb, mut p) = prout(0, 0, 0, 0x1);
    p[20] = 0x01;
    let r = u.run_as(a, &cdb, &p);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_FIELD_IN_PARAMETER_LIST,
    );
    let r = u.run_as(a, &[0x5e, 0x09, 0, 0, 0, 0, 0, 1, 0, 0], &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
}

#[test]
fn report_luns_and_missing_luns() {
    let r = report_luns(&[0, 1, 300], &[0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(r.status, Status::GOOD);
    assert_eq!(&r.data[0..4], &24u32.to_be_bytes());
    assert_eq!(&r.data[16..18], &[0, 1]);
    assert_eq!(&r.data[24..26], &[0x41, 0x2c]);
    let r = report_luns(&[0], &[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0]);
    assert_eq!(r.status, Status::CHECK_CONDITION);
    let r = lun_not_supported(&[0x12, 0, 0, 0, 36, 0]);
    assert_eq!(r.data[0], 0x7f);
    let r = lun_not_supported(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::LOGICAL_UNIT_NOT_SUPPORTED,
    );
}

#[test]
fn file_backed_unit_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persist.img");
    let data: Vec<u8> = (0..64 * 4096)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    {
        let backend = FileBackend::open(&path, Some(32 * MIB), 4096, false).unwrap();
        let lu = LogicalUnit::new(Arc::new(backend), LuConfig::new("iqn.x", "P"));
        let n = Nexus::new(1, "iqn.y,i,0x1", 1);
        let r = lu.execute(&Request::new(
            &n,
            &cdb10(0x2a, 0x08, 17, 64),
            &[Bytes::from(data.clone())],
        ));
        assert_eq!(r.status, Status::GOOD);
        assert_eq!(
            lu.execute(&Request::new(&n, &cdb10(0x35, 0, 0, 0), &[]))
                .status,
            Status::GOOD
        );
    }
    let backend = FileBackend::open(&path, None, 4096, true).unwrap();
    let lu = LogicalUnit::new(Arc::new(backend), LuConfig::new("iqn.x", "P"));
    let n = Nexus::new(1, "iqn.y,i,0x1", 1);
    let r = lu.execute(&Request::new(&n, &cdb10(0x28, 0, 17, 64), &[]));
    assert_eq!(r.status, Status::GOOD);
    assert!(r.data == data, "data read back differs");
}

/// The initiator-side parsers read what the unit returns (both halves of
/// the crate agree on every format).
#[test]
fn initiator_parsers_read_the_units_answers() {
    use iscsi_scsi::initiator::{
        BlockLimits, Cdb, DeviceIdentification, LogicalBlockProvisioning, ModeParameters,
        PageControl, ReadCapacity16, ReportingOptions, StandardInquiry, SupportedOperationCodes,
        SupportedVpdPages,
    };
    let (_, u) = units().remove(0);
    let std = StandardInquiry::parse(&u.good(Cdb::inquiry(false, 0, 255).as_slice(), &[])).unwrap();
    assert_eq!(std.vendor, "RSISCSI");
    assert!(std.version_descriptors.contains(&0x04c0));
    let pages =
        SupportedVpdPages::parse(&u.good(Cdb::inquiry(true, 0, 255).as_slice(), &[])).unwrap();
    assert_eq!(pages.pages.len(), 8);
    let id = DeviceIdentification::parse(&u.good(Cdb::inquiry(true, 0x83, 255).as_slice(), &[]))
        .unwrap();
    assert!(
        id.designators
            .iter()
            .any(|d| d.to_string().starts_with("naa.6")),
        "{id:?}"
    );
    let bl = BlockLimits::parse(&u.good(Cdb::inquiry(true, 0xb0, 255).as_slice(), &[])).unwrap();
    assert_eq!(bl.max_transfer_length, iscsi_scsi::MAX_TRANSFER_BLOCKS);
    let lbp =
        LogicalBlockProvisioning::parse(&u.good(Cdb::inquiry(true, 0xb2, 255).as_slice(), &[]))
            .unwrap();
    assert!(lbp.lbpu && lbp.lbpws && lbp.lbpws10);
    let rc = ReadCapacity16::parse(&u.good(Cdb::read_capacity16(32).as_slice(), &[])).unwrap();
    assert_eq!(rc.block_count(), LAST + 1);
    assert!(rc.lbpme && rc.lbprz);
    let ms = ModeParameters::parse6(
        &u.good(
            Cdb::mode_sense6(false, PageControl::Current, 0x3f, 0, 255)
                .unwrap()
                .as_slice(),
            &[],
        ),
    )
    .unwrap();
    assert!(ms.dpofua() && !ms.write_protected());
    assert!(ms.caching().is_some_and(|c| c.wce));
    assert!(ms.control().is_some_and(|c| !c.d_sense));
    let ops = SupportedOperationCodes::parse(
        &u.good(
            Cdb::report_supported_operation_codes(ReportingOptions::AllCommands, true, 0, 0, 65535)
                .as_slice(),
            &[],
        ),
    )
    .unwrap();
    assert!(ops.supports(0x89, None));
    assert!(ops.supports(0x9e, Some(0x10)));
}

/// The forms the other tests leave out: MODE SELECT(10), MODE SENSE of the
/// Informational Exceptions page alone, RELEASE(10), WRITE AND VERIFY(16).
#[test]
fn ten_and_sixteen_byte_forms_and_the_exceptions_page() {
    for (name, u) in units() {
        // MODE SENSE(10) of the Control page without block descriptors,
        // D_SENSE set, sent back with MODE SELECT(10).
        let control = u.good(&[0x5a, 0x08, 0x0a, 0, 0, 0, 0, 0, 255, 0], &[]);
        assert_eq!(control[8] & 0x3f, 0x0a, "{name}");
        let mut param = control.to_vec();
        param[0] = 0;
        param[1] = 0;
        param[3] = 0;
        param[8] &= 0x3f; // PS is reserved in MODE SELECT
        param[10] |= 0x04; // D_SENSE
        let len = u8::try_from(param.len()).unwrap();
        u.good(&[0x55, 0x10, 0, 0, 0, 0, 0, 0, len, 0], &param);
        let r = u.run(&cdb10(0x28, 0, u32::MAX, 1), &[]);
        assert_eq!(r.sense_data().unwrap()[0], 0x72, "{name}: descriptor sense");
        // A parameter list longer than the CDB says is cut, not read past.
        let r = u.run(&[0x55, 0x10, 0, 0, 0, 0, 0, 0, 4, 0], &param);
        assert_eq!(r.status, Status::CHECK_CONDITION, "{name}");

        // Informational Exceptions (1Ch) on its own: DEXCPT set, nothing changeable.
        let ie = u.good(&[0x1a, 0x08, 0x1c, 0, 255, 0], &[]);
        assert_eq!((ie[4] & 0x3f, ie[5]), (0x1c, 0x0a), "{name}");
        assert_eq!(ie[6] & 0x08, 0x08, "{name}: DEXCPT");
        let changeable = u.good(&[0x1a, 0x08, 0x5c, 0, 255, 0], &[]);
        assert!(changeable[6..].iter().all(|b| *b == 0), "{name}");

        // The MODE SELECT told the other nexus.
        let r = u.run_as(&u.b, &[0, 0, 0, 0, 0, 0], &[]);
        assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::MODE_PARAMETERS_CHANGED);

        // RESERVE(10) / RELEASE(10).
        u.good(&[0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
        assert_eq!(
            u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
            Status::RESERVATION_CONFLICT
        );
        u.good(&[0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
        assert_eq!(
            u.run_as(&u.b, &cdb10(0x28, 0, 0, 1), &[]).status,
            Status::GOOD
        );

        // WRITE AND VERIFY(16) with BYTCHK, read back.
        let data = pattern(2, 31);
        u.good(&cdb16(0x8e, 0x02, 80, 2), &data);
        assert_eq!(u.good(&cdb16(0x88, 0, 80, 2), &[]), data, "{name}");
        let r = u.run(&cdb16(0x8e, 0, 32 * 1024 - 1, 2), &data);
        assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::LBA_OUT_OF_RANGE);
    }
}

/// PERSISTENT RESERVE IN READ FULL STATUS (03h) and PERSISTENT RESERVE OUT
/// PREEMPT AND ABORT (05h) and REGISTER AND IGNORE EXISTING KEY (06h).
#[test]
fn persistent_reservation_full_status_preempt_and_abort_and_ignore_existing_key() {
    let (_, u) = units().remove(0);
    let (a, b) = (&u.a, &u.b);
    let out = |n: &Nexus, (cdb, p): ([u8; 10], Vec<u8>)| u.run_as(n, &cdb, &p).status;
    assert_eq!(out(a, prout(0, 0, 0, 0xaaaa)), Status::GOOD);
    assert_eq!(out(b, prout(0, 0, 0, 0xbbbb)), Status::GOOD);
    assert_eq!(out(a, prout(1, 1, 0xaaaa, 0)), Status::GOOD);

    // READ FULL STATUS: one descriptor per registration, R_HOLDER on a's.
    let full = u.run_as(a, &[0x5e, 0x03, 0, 0, 0, 0, 0, 4, 0, 0], &[]);
    assert_eq!(full.status, Status::GOOD);
    let body = full.data.get(8..).unwrap();
    let mut descriptors = Vec::new();
    let mut at = 0;
    while let Some(d) = body.get(at..at + 24) {
        let key = u64::from_be_bytes(d[0..8].try_into().unwrap());
        let holder = d[12] & 0x01 != 0;
        let extra = u32::from_be_bytes(d[20..24].try_into().unwrap()) as usize;
        descriptors.push((key, holder, d[13] & 0x0f));
        at += 24 + extra;
    }
    descriptors.sort_unstable();
    assert_eq!(descriptors, [(0xaaaa, true, 1), (0xbbbb, false, 0)]);
    assert_eq!(at, body.len(), "descriptors fill the additional length");

    // REGISTER AND IGNORE EXISTING KEY: a new key without knowing the old.
    assert_eq!(out(b, prout(6, 0, 0x1234, 0xcccc)), Status::GOOD);
    let keys = prin(&u, a, 0);
    let listed: Vec<u64> = keys[8..]
        .chunks(8)
        .map(|k| u64::from_be_bytes(k.try_into().unwrap()))
        .collect();
    assert!(
        listed.contains(&0xcccc) && !listed.contains(&0xbbbb),
        "{listed:x?}"
    );

    // PREEMPT AND ABORT: b takes the reservation and a's registration goes.
    assert_eq!(out(b, prout(5, 3, 0xcccc, 0xaaaa)), Status::GOOD);
    let r = u.run_as(a, &[0, 0, 0, 0, 0, 0], &[]);
    assert_sense(&r, SenseKey::UNIT_ATTENTION, Asc::REGISTRATIONS_PREEMPTED);
    let resv = prin(&u, b, 1);
    assert_eq!(u64::from_be_bytes(resv[8..16].try_into().unwrap()), 0xcccc);
    assert_eq!(
        u.run_as(a, &cdb10(0x28, 0, 0, 1), &[]).status,
        Status::RESERVATION_CONFLICT,
        "EXCLUSIVE ACCESS held by b"
    );
}

#[test]
fn register_and_move_hands_the_reservation_to_another_nexus() {
    use iscsi_scsi::data::{RegisterAndMoveParameterList, iscsi_transport_id};
    let (_, u) = units().remove(0);
    let (a, b) = (&u.a, &u.b);
    let out = |n: &Nexus, (cdb, p): ([u8; 10], Vec<u8>)| u.run_as(n, &cdb, &p).status;
    assert_eq!(out(a, prout(0, 0, 0, 0xaaaa)), Status::GOOD);
    assert_eq!(out(a, prout(1, 1, 0xaaaa, 0)), Status::GOOD);
    let write = |n: &Nexus| u.run_as(n, &cdb10(0x2a, 0, 0, 1), &pattern(1, 0)).status;
    assert_eq!(write(b), Status::RESERVATION_CONFLICT);
    // b's initiator port, its ISID in upper case.
    let b_port = b.initiator_port.replace(",i,0x", ",i,0X").to_uppercase();
    let b_port = format!(
        "{},i,0x{}",
        &b.initiator_port[..b.initiator_port.find(",i,0x").unwrap()],
        &b_port[b_port.find(",I,0X").unwrap() + 5..]
    );
    let mv = |key: u64, sa_key: u64, unreg: bool, port: &str, rtp: u16| {
        let mut list =
            RegisterAndMoveParameterList::new(key, sa_key, rtp, iscsi_transport_id(port));
        list.unreg = unreg;
        let list = list.encode();
        let l = u16::try_from(list.len()).unwrap().to_be_bytes();
        ([0x5f, 0x07, 0x01, 0, 0, 0, 0, l[0], l[1], 0], list)
    };
    // Only the holder, with its key, and not to itself.
    assert_eq!(
        out(b, mv(0, 0xbbbb, false, &b_port, b.target_port)),
        Status::RESERVATION_CONFLICT
    );
    assert_eq!(
        out(a, mv(0x1111, 0xbbbb, false, &b_port, b.target_port)),
        Status::RESERVATION_CONFLICT
    );
    let r = {
        let (cdb, p) = mv(0xaaaa, 0xbbbb, false, &a.initiator_port, a.target_port);
        u.run_as(a, &cdb, &p)
    };
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_FIELD_IN_PARAMETER_LIST,
    );
    // The move: b holds a WRITE EXCLUSIVE reservation with key 0xbbbb, a
    // is unregistered.
    assert_eq!(
        out(a, mv(0xaaaa, 0xbbbb, true, &b_port, b.target_port)),
        Status::GOOD
    );
    assert_eq!(write(b), Status::GOOD);
    assert_eq!(write(a), Status::RESERVATION_CONFLICT);
    let resv = prin(&u, b, 1);
    assert_eq!(
        (
            u64::from_be_bytes(resv[8..16].try_into().unwrap()),
            resv[21]
        ),
        (0xbbbb, 1)
    );
    let keys = prin(&u, a, 0);
    assert_eq!(
        u32::from_be_bytes(keys[4..8].try_into().unwrap()),
        8,
        "one key"
    );
    assert_eq!(u64::from_be_bytes(keys[8..16].try_into().unwrap()), 0xbbbb);
}

#[test]
fn unreachable_storage_is_not_ready_not_a_medium_error() {
    for kind in [io::ErrorKind::TimedOut, io::ErrorKind::NotConnected] {
        // The storage out of reach (a network store's cluster down).
        let backend = Failing(kind, "cluster unreachable");
        let lu = LogicalUnit::new(Arc::new(backend), LuConfig::new("iqn.x", "U"));
        let n = Nexus::new(1, "iqn.y,i,0x1", 1);
        let _ = lu.execute(&Request::new(&n, &[0, 0, 0, 0, 0, 0], &[]));
        let r = lu.execute(&Request::new(&n, &cdb10(0x28, 0, 7, 1), &[]));
        assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_CAUSE_NOT_REPORTABLE);
        assert_eq!(r.backend_error.as_deref(), Some("cluster unreachable"));
        let r = lu.execute(&Request::new(
            &n,
            &cdb10(0x2a, 0, 3, 1),
            &[Bytes::from(vec![0u8; 512])],
        ));
        assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_CAUSE_NOT_REPORTABLE);
    }
}
