//! Full feature phase over TCP: SendTargets with continuation, R2T-driven
//! writes with digests, Data-In sequences, NOP, task management, Reject,
//! keepalive and logout.

mod common;

use bytes::Bytes;
use common::{Conn, INITIATOR, TestTarget, login, normal};
use iscsi_login::{DigestPolicy, InitiatorLoginConfig, OperationalConfig};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Bhs, CmdSn, DataOut, DataSn, Isid, Itt, LogoutReason, LogoutRequest, Lun, NopOut, Pdu, PduBuf,
    RejectReason, ScsiCommand, ScsiStatus, StatSn, TaskManagementRequest, TextRequest, TmfFunction,
    TmfResponseCode, Ttt,
};
use iscsi_target::config::{Config, DEFAULT_TARGET};

struct Sess {
    s: common::Session,
    cmd_sn: CmdSn,
    itt: u32,
}

impl Sess {
    fn new(s: common::Session) -> Self {
        Self {
            cmd_sn: s.params.cmd_sn,
            s,
            itt: 100,
        }
    }

    fn next(&mut self) -> (Itt, CmdSn) {
        self.itt += 1;
        let c = self.cmd_sn;
        self.cmd_sn = c.next();
        (Itt(self.itt), c)
    }

    fn command(&mut self, cdb: &[u8], read: bool, write: bool, edtl: u32, immediate: Bytes) -> Itt {
        let (itt, cmd_sn) = self.next();
        let mut c = [0u8; 16];
        c[..cdb.len()].copy_from_slice(cdb);
        // F=1: this client never sends unsolicited Data-Out PDUs.
        let final_bit = true;
        self.s.conn.send(&Pdu::new(
            ScsiCommand {
                final_bit,
                read,
                write,
                lun: Lun::default(),
                itt,
                expected_data_transfer_length: edtl,
                cmd_sn,
                exp_stat_sn: StatSn(0),
                cdb: c,
                ..ScsiCommand::default()
            },
            immediate,
        ));
        itt
    }

    /// Reads Data-In / R2T / SCSI Response for `itt` until the status;
    /// answers R2Ts from `payload`. Returns (status, data, residual flags).
    fn finish(
        &mut self,
        itt: Itt,
        payload: &[u8],
    ) -> (ScsiStatus, Vec<u8>, (bool, bool, u32), u32) {
        let mut data = Vec::new();
        let mut r2ts = 0;
        loop {
            let pdu = self.s.conn.recv().expect("a response");
            match pdu.bhs {
                Bhs::DataIn(d) => {
                    assert_eq!(d.itt, itt);
                    assert_eq!(d.buffer_offset as usize, data.len());
                    data.extend_from_slice(&pdu.data);
                    if let Some(status) = d.status {
                        return (
                            status,
                            data,
                            (d.residual_overflow, d.residual_underflow, d.residual_count),
                            r2ts,
                        );
                    }
                }
                Bhs::R2t(r) => {
                    r2ts += 1;
                    assert!(r.desired_data_transfer_length <= self.s.params.max_burst_length);
                    let max = self.s.params.target_max_recv_data_segment_length as usize;
                    let mut offset = r.buffer_offset as usize;
                    let end = offset + r.desired_data_transfer_length as usize;
                    let mut sn = 0;
                    while offset < end {
                        let n = (end - offset).min(max);
                        self.s.conn.send(&Pdu::new(
                            DataOut {
                                final_bit: offset + n == end,
                                lun: Lun::default(),
                                itt,
                                ttt: r.ttt,
                                data_sn: DataSn(sn),
                                buffer_offset: offset as u32,
                                ..DataOut::default()
                            },
                            Bytes::copy_from_slice(&payload[offset..offset + n]),
                        ));
                        sn += 1;
                        offset += n;
                    }
                }
                Bhs::ScsiResponse(r) => {
                    assert_eq!(r.itt, itt);
                    return (
                        r.status,
                        data,
                        (r.residual_overflow, r.residual_underflow, r.residual_count),
                        r2ts,
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn rw_cdb(op: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [op, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

fn ready(s: &mut Sess) {
    // Consume the power-on unit attention.
    let itt = s.command(&[0, 0, 0, 0, 0, 0], false, false, 0, Bytes::new());
    let _ = s.finish(itt, &[]);
}

#[test]
fn writes_via_r2t_and_reads_with_digests_round_trip() {
    let target = TestTarget::default_ram(64 << 20);
    for (digest, initial_r2t, immediate) in [
        (DigestPolicy::Off, true, false),
        (DigestPolicy::Require, false, true),
    ] {
        let op = OperationalConfig::default()
            .with_header_digest(digest)
            .with_data_digest(digest)
            .with_initial_r2t(initial_r2t)
            .with_immediate_data(immediate)
            .with_max_burst_length(65_536)
            .with_first_burst_length(16_384)
            .with_max_recv_data_segment_length(8192);
        let s = login(target.addr, normal(DEFAULT_TARGET, 7).with_operational(op)).unwrap();
        assert_eq!(s.params.header_digest, digest == DigestPolicy::Require);
        let mut s = Sess::new(s);
        ready(&mut s);
        // 256 KiB: several R2Ts (MaxBurstLength 64 KiB), Data-Out of 8 KiB.
        let payload: Vec<u8> = (0..262_144u32).map(|i| (i % 251) as u8).collect();
        let first = if immediate {
            Bytes::copy_from_slice(&payload[..8192])
        } else {
            Bytes::new()
        };
        let itt = s.command(&rw_cdb(0x2a, 1000, 512), false, true, 262_144, first);
        let (status, _, _, r2ts) = s.finish(itt, &payload);
        assert_eq!(status, ScsiStatus::GOOD);
        assert!(r2ts >= 4, "{r2ts} R2Ts");
        // Read it back: Data-In split by the initiator's MRDSL, status collapsed.
        let itt = s.command(&rw_cdb(0x28, 1000, 512), true, false, 262_144, Bytes::new());
        let (status, data, residual, _) = s.finish(itt, &[]);
        assert_eq!(status, ScsiStatus::GOOD);
        assert_eq!(residual, (false, false, 0));
        assert!(data == payload, "read back differs");
    }
}

#[test]
fn residuals_follow_the_expected_transfer_length() {
    let target = TestTarget::default_ram(64 << 20);
    let mut s = Sess::new(login(target.addr, normal(DEFAULT_TARGET, 8)).unwrap());
    ready(&mut s);
    // READ 1 block with EDTL 200: 200 bytes, overflow 312.
    let itt = s.command(&rw_cdb(0x28, 0, 1), true, false, 200, Bytes::new());
    let (status, data, residual, _) = s.finish(itt, &[]);
    assert_eq!(
        (status, data.len(), residual),
        (ScsiStatus::GOOD, 200, (true, false, 312))
    );
    // READ 1 block with EDTL 10000: underflow 9488.
    let itt = s.command(&rw_cdb(0x28, 0, 1), true, false, 10_000, Bytes::new());
    let (_, data, residual, _) = s.finish(itt, &[]);
    assert_eq!((data.len(), residual), (512, (false, true, 9488)));
    // WRITE 2 blocks with EDTL 512: one block written, overflow 512.
    let itt = s.command(
        &rw_cdb(0x2a, 50, 2),
        false,
        true,
        512,
        Bytes::from(vec![7u8; 512]),
    );
    let (status, _, residual, _) = s.finish(itt, &[]);
    assert_eq!((status, residual), (ScsiStatus::GOOD, (true, false, 512)));
}

#[test]
fn send_targets_answers_are_continued_across_text_responses() {
    let mut config = Config::embedded_default();
    config.targets[0].luns[0].size = Some(1 << 20);
    for i in 0..60 {
        let mut t = config.targets[0].clone();
        t.name = format!("iqn.2026-11.rs.iscsi:a-rather-long-target-name-for-continuation-{i:03}");
        config.targets.push(t);
    }
    let target = TestTarget::start(config);
    let op = OperationalConfig::default().with_max_recv_data_segment_length(512);
    let cfg = InitiatorLoginConfig::discovery(INITIATOR, Isid::random(3, 3)).with_operational(op);
    let mut s = login(target.addr, cfg).unwrap();
    let text: TextPairs = [("SendTargets", "All")].into_iter().collect();
    let mut req = TextRequest {
        immediate: true,
        final_bit: true,
        itt: Itt(5),
        ttt: Ttt::RESERVED,
        cmd_sn: s.params.cmd_sn,
        ..TextRequest::default()
    };
    s.conn.send(&Pdu::new(req, text.to_bytes()));
    let mut all = Vec::new();
    let mut pieces = 0;
    loop {
        let pdu = s.conn.recv().unwrap();
        let Bhs::TextResponse(r) = pdu.bhs else {
            panic!("{:?}", pdu.bhs)
        };
        assert!(pdu.data.len() <= 512);
        all.extend_from_slice(&pdu.data);
        pieces += 1;
        if r.final_bit {
            assert_eq!(r.ttt, Ttt::RESERVED);
            break;
        }
        assert!(r.continue_bit && r.ttt != Ttt::RESERVED);
        req.ttt = r.ttt;
        s.conn.send(&PduBuf::header_only(req));
    }
    assert!(pieces > 5);
    let pairs = TextPairs::parse(&all).unwrap();
    assert_eq!(pairs.get_all("TargetName").count(), 61);
    assert_eq!(pairs.get_all("TargetAddress").count(), 61);
    assert!(pairs.get("TargetAddress").unwrap().ends_with(",1"));
}

#[test]
fn nop_task_management_reject_and_logout() {
    let target = TestTarget::default_ram(64 << 20);
    let op = OperationalConfig::default()
        .with_initial_r2t(true)
        .with_immediate_data(false);
    let mut s =
        Sess::new(login(target.addr, normal(DEFAULT_TARGET, 9).with_operational(op)).unwrap());
    ready(&mut s);
    // NOP-Out ping is echoed.
    s.s.conn.send(&Pdu::new(
        NopOut {
            immediate: true,
            itt: Itt(77),
            ttt: Ttt::RESERVED,
            cmd_sn: s.cmd_sn,
            ..NopOut::default()
        },
        Bytes::from_static(b"ping"),
    ));
    let pong = s.s.conn.recv().unwrap();
    assert!(matches!(pong.bhs, Bhs::NopIn(n) if n.itt == Itt(77)));
    assert_eq!(&pong.data[..], b"ping");

    // A write waiting for data is aborted: no SCSI Response for it.
    let write = s.command(&rw_cdb(0x2a, 0, 8), false, true, 4096, Bytes::new());
    let r2t = s.s.conn.recv().unwrap();
    assert!(matches!(r2t.bhs, Bhs::R2t(_)));
    let (tmf_itt, _) = (Itt(900), ());
    s.s.conn.send(&PduBuf::header_only(TaskManagementRequest {
        immediate: true,
        function: TmfFunction::ABORT_TASK,
        itt: tmf_itt,
        referenced_task_tag: write,
        cmd_sn: s.cmd_sn,
        ref_cmd_sn: CmdSn(s.cmd_sn.0.wrapping_sub(1)),
        ..TaskManagementRequest::default()
    }));
    let resp = s.s.conn.recv().unwrap();
    assert!(
        matches!(resp.bhs, Bhs::TaskManagementResponse(r) if r.response == TmfResponseCode::FUNCTION_COMPLETE && r.itt == tmf_itt)
    );
    // Aborting it again: it no longer exists.
    s.s.conn.send(&PduBuf::header_only(TaskManagementRequest {
        immediate: true,
        function: TmfFunction::ABORT_TASK,
        itt: Itt(901),
        referenced_task_tag: write,
        cmd_sn: s.cmd_sn,
        ref_cmd_sn: CmdSn(s.cmd_sn.0.wrapping_sub(1)),
        ..TaskManagementRequest::default()
    }));
    let resp = s.s.conn.recv().unwrap();
    assert!(
        matches!(resp.bhs, Bhs::TaskManagementResponse(r) if r.response == TmfResponseCode::TASK_DOES_NOT_EXIST)
    );
    // LUN RESET completes.
    s.s.conn.send(&PduBuf::header_only(TaskManagementRequest {
        immediate: true,
        function: TmfFunction::LOGICAL_UNIT_RESET,
        itt: Itt(902),
        referenced_task_tag: Itt::RESERVED,
        cmd_sn: s.cmd_sn,
        ..TaskManagementRequest::default()
    }));
    let resp = s.s.conn.recv().unwrap();
    assert!(
        matches!(resp.bhs, Bhs::TaskManagementResponse(r) if r.response == TmfResponseCode::FUNCTION_COMPLETE)
    );

    // An unknown opcode is rejected with its header attached.
    let mut raw = Pdu::new(NopOut::default(), Bytes::new())
        .to_vec(s.s.conn.digests)
        .unwrap();
    raw[0] = 0x1c;
    use std::io::Write as _;
    s.s.conn.stream.write_all(&raw).unwrap();
    let rej = s.s.conn.recv().unwrap();
    let Bhs::Reject(r) = rej.bhs else {
        panic!("{:?}", rej.bhs)
    };
    assert_eq!(r.reason, RejectReason::COMMAND_NOT_SUPPORTED);
    assert_eq!(rej.data[0] & 0x3f, 0x1c);

    // Logout: response, then the target closes.
    s.s.conn.send(&PduBuf::header_only(LogoutRequest {
        immediate: true,
        reason: LogoutReason::CLOSE_SESSION,
        itt: Itt(999),
        cmd_sn: s.cmd_sn,
        ..LogoutRequest::default()
    }));
    let out = s.s.conn.recv().unwrap();
    assert!(matches!(out.bhs, Bhs::LogoutResponse(_)));
    assert!(s.s.conn.closed());
}

#[test]
fn cmd_sn_outside_the_window_is_ignored() {
    let target = TestTarget::default_ram(64 << 20);
    let mut s = Sess::new(login(target.addr, normal(DEFAULT_TARGET, 10)).unwrap());
    ready(&mut s);
    // Too high: beyond MaxCmdSN. Too low: already used.
    for sn in [s.cmd_sn.add(100_000), CmdSn(s.cmd_sn.0.wrapping_sub(1))] {
        let mut c = [0u8; 16];
        c[0] = 0;
        s.s.conn.send(&PduBuf::header_only(ScsiCommand {
            final_bit: true,
            itt: Itt(4242),
            cmd_sn: sn,
            cdb: c,
            ..ScsiCommand::default()
        }));
    }
    // The next in-window command is answered, and nothing else came before.
    let itt = s.command(&[0, 0, 0, 0, 0, 0], false, false, 0, Bytes::new());
    let pdu = s.s.conn.recv().unwrap();
    assert!(
        matches!(pdu.bhs, Bhs::ScsiResponse(r) if r.itt == itt && r.status == ScsiStatus::GOOD)
    );
}

#[test]
fn dead_peers_are_dropped_after_the_nop_in_timeout() {
    let mut config = Config::embedded_default();
    config.targets[0].luns[0].size = Some(1 << 20);
    config.limits.nop_in_interval_ms = 200;
    config.limits.nop_in_timeout_ms = 300;
    let target = TestTarget::start(config);
    let mut s = login(target.addr, normal(DEFAULT_TARGET, 11)).unwrap();
    let ping = s.conn.recv().expect("a NOP-In ping");
    assert!(matches!(ping.bhs, Bhs::NopIn(n) if n.ttt != Ttt::RESERVED && n.itt == Itt::RESERVED));
    // We never answer: the target closes the connection.
    let started = std::time::Instant::now();
    assert!(s.conn.closed());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let _ = Conn::connect;
}

/// RFC 7143 §7.13: a SCSI Command whose TotalAHSLength announces an AHS
/// that is not there is a format error: Reject (invalid PDU field), then
/// the connection closes, because the next PDU's first bytes were taken as
/// the AHS. A forbidden flag combination in a well-framed PDU is rejected
/// and the connection carries on.
#[test]
fn format_errors_close_and_flag_errors_are_survived() {
    use std::io::Write as _;
    let target = TestTarget::default_ram(64 << 20);
    let mut s = Sess::new(login(target.addr, normal(DEFAULT_TARGET, 11)).unwrap());
    ready(&mut s);

    // F and C both set on a Text Request: Reject 0x09, still connected.
    let (itt, cmd_sn) = s.next();
    let mut raw = PduBuf::header_only(TextRequest {
        final_bit: true,
        itt,
        ttt: Ttt::RESERVED,
        cmd_sn,
        ..TextRequest::default()
    })
    .to_vec(s.s.conn.digests)
    .unwrap();
    raw[1] |= 0x40;
    s.s.conn.stream.write_all(&raw).unwrap();
    let rej = s.s.conn.recv().unwrap();
    let Bhs::Reject(r) = rej.bhs else {
        panic!("{:?}", rej.bhs)
    };
    assert_eq!(r.reason, RejectReason::INVALID_PDU_FIELD);
    s.cmd_sn = CmdSn(s.cmd_sn.0.wrapping_sub(1));
    ready(&mut s);

    // TotalAHSLength 2 (8 bytes) with an AHS whose AHSLength is 0.
    let (itt, cmd_sn) = s.next();
    let mut header = Pdu::new(
        ScsiCommand {
            final_bit: true,
            itt,
            cmd_sn,
            ..ScsiCommand::default()
        },
        Bytes::new(),
    )
    .to_vec(iscsi_pdu::Digests::NONE)
    .unwrap();
    header[4] = 2;
    header.extend_from_slice(&[0u8; 8]);
    s.s.conn.stream.write_all(&header).unwrap();
    let rej = s.s.conn.recv().unwrap();
    let Bhs::Reject(r) = rej.bhs else {
        panic!("{:?}", rej.bhs)
    };
    assert_eq!(r.reason, RejectReason::INVALID_PDU_FIELD);
    assert!(s.s.conn.closed(), "a format error closes the connection");
}

/// PERSISTENT RESERVE OUT `sa` with the basic parameter list (an R2T for it).
fn pr_out(s: &mut Sess, sa: u8, kind: u8, key: u64, sa_key: u64) -> ScsiStatus {
    let mut list = [0u8; 24];
    list[..8].copy_from_slice(&key.to_be_bytes());
    list[8..16].copy_from_slice(&sa_key.to_be_bytes());
    let itt = s.command(
        &[0x5f, sa, kind, 0, 0, 0, 0, 0, 24, 0],
        false,
        true,
        24,
        Bytes::new(),
    );
    s.finish(itt, &list).0
}

/// PREEMPT AND ABORT (SPC-4 §5.13.11.2.5): the preempted session's write,
/// waiting for its Data-Out, is aborted (no status ever comes for it) and
/// writes nothing; that session then learns REGISTRATIONS PREEMPTED.
#[test]
fn preempt_and_abort_aborts_the_preempted_sessions_tasks() {
    let target = TestTarget::default_ram(64 << 20);
    let op = OperationalConfig::default()
        .with_initial_r2t(true)
        .with_immediate_data(false);
    let mut a = Sess::new(
        login(
            target.addr,
            normal(DEFAULT_TARGET, 41).with_operational(op.clone()),
        )
        .unwrap(),
    );
    let mut b =
        Sess::new(login(target.addr, normal(DEFAULT_TARGET, 42).with_operational(op)).unwrap());
    ready(&mut a);
    ready(&mut b);
    assert_eq!(pr_out(&mut a, 0, 0, 0, 0xa), ScsiStatus::GOOD);
    assert_eq!(pr_out(&mut b, 0, 0, 0, 0xb), ScsiStatus::GOOD);
    // b holds Write Exclusive and starts a write: the target asks for
    // its data with an R2T, which b leaves unanswered.
    assert_eq!(pr_out(&mut b, 1, 1, 0xb, 0), ScsiStatus::GOOD);
    let write = b.command(&rw_cdb(0x2a, 2048, 8), false, true, 4096, Bytes::new());
    let pdu = b.s.conn.recv().expect("an R2T");
    let Bhs::R2t(r2t) = pdu.bhs else {
        panic!("expected an R2T, got {:?}", pdu.bhs)
    };
    assert_eq!(r2t.itt, write);
    // a preempts b's key and takes the reservation, aborting b's tasks.
    assert_eq!(pr_out(&mut a, 5, 1, 0xa, 0xb), ScsiStatus::GOOD);
    std::thread::sleep(std::time::Duration::from_millis(100));
    // b's data comes too late: the task is gone and the data dropped.
    // (Had it not been aborted, the write would now run and end in
    // RESERVATION CONFLICT, a status the next finish would trip on.)
    b.s.conn.send(&Pdu::new(
        DataOut {
            final_bit: true,
            lun: Lun::default(),
            itt: write,
            ttt: r2t.ttt,
            data_sn: DataSn(0),
            buffer_offset: 0,
            ..DataOut::default()
        },
        Bytes::from(vec![0xee; 4096]),
    ));
    // b's next command meets the unit attention; no status for the
    // write comes first (finish would fail on another ITT).
    let tur = b.command(&[0; 6], false, false, 0, Bytes::new());
    let (status, ..) = b.finish(tur, &[]);
    assert_eq!(status, ScsiStatus::CHECK_CONDITION);
    let tur = b.command(&[0; 6], false, false, 0, Bytes::new());
    assert_eq!(b.finish(tur, &[]).0, ScsiStatus::GOOD);
    // Nothing was written where b's write was going.
    let read = a.command(&rw_cdb(0x28, 2048, 8), true, false, 4096, Bytes::new());
    let (status, data, ..) = a.finish(read, &[]);
    assert_eq!(status, ScsiStatus::GOOD);
    assert!(data.iter().all(|x| *x == 0));
}
