use super::*;
use iscsi_login::{SessionParams, SessionType};
use iscsi_pdu::{Cid, Isid};
use iscsi_scsi::Status;

fn params() -> SessionParams {
    let mut p =
        SessionParams::with_defaults(SessionType::Normal, "iqn.i".into(), Isid::default(), Cid(0));
    p.target_name = Some("iqn.t".into());
    p.initial_r2t = false;
    p.immediate_data = true;
    p.first_burst_length = 8192;
    p.max_burst_length = 16_384;
    p.initiator_max_recv_data_segment_length = 8192;
    p.target_max_recv_data_segment_length = 8192;
    p.cmd_sn = CmdSn(10);
    p.next_stat_sn = StatSn(100);
    p
}

fn engine() -> Engine {
    Engine::new(
        params(),
        EngineConfig {
            queue_depth: 4,
            ..EngineConfig::default()
        },
        0,
    )
}

/// Every write wants its whole EDTL.
fn sizer(_: Lun, cdb: &[u8], _: &Command) -> usize {
    if cdb.first() == Some(&0x2a) {
        1024 * usize::from(cdb.get(8).copied().unwrap_or(0))
    } else {
        0
    }
}

fn write_cmd(itt: u32, cmd_sn: u32, final_bit: bool, blocks: u8, immediate: &[u8]) -> PduBuf {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x2a;
    cdb[8] = blocks;
    Pdu::new(
        ScsiCommand {
            final_bit,
            write: true,
            itt: Itt(itt),
            cmd_sn: CmdSn(cmd_sn),
            expected_data_transfer_length: 1024 * u32::from(blocks),
            cdb,
            ..ScsiCommand::default()
        },
        Bytes::copy_from_slice(immediate),
    )
}

fn data_out(itt: u32, ttt: Ttt, sn: u32, offset: u32, len: usize, final_bit: bool) -> PduBuf {
    Pdu::new(
        DataOut {
            final_bit,
            itt: Itt(itt),
            ttt,
            data_sn: DataSn(sn),
            buffer_offset: offset,
            ..DataOut::default()
        },
        Bytes::from(vec![1u8; len]),
    )
}

fn drain(e: &mut Engine) -> (Vec<PduBuf>, Vec<Event>) {
    let mut out = Vec::new();
    while let Some(p) = e.poll_transmit() {
        out.push(p);
    }
    let mut events = Vec::new();
    while let Some(ev) = e.poll_event() {
        events.push(ev);
    }
    (out, events)
}

#[test]
fn immediate_unsolicited_then_solicited_data() {
    let mut e = engine();
    // 16 KiB write: 4 KiB immediate, 4 KiB unsolicited Data-Out (F), then R2T.
    e.handle_pdu(write_cmd(1, 10, false, 16, &[0u8; 4096]), 0, &sizer);
    assert!(drain(&mut e).0.is_empty());
    e.handle_pdu(data_out(1, Ttt::RESERVED, 0, 4096, 4096, true), 0, &sizer);
    let (out, events) = drain(&mut e);
    assert!(events.is_empty());
    let [r2t] = &out[..] else { panic!("{out:?}") };
    let Bhs::R2t(r) = r2t.bhs else { panic!() };
    assert_eq!(
        (r.buffer_offset, r.desired_data_transfer_length, r.r2t_sn),
        (8192, 8192, R2tSn(0))
    );
    e.handle_pdu(data_out(1, r.ttt, 0, 8192, 8192, true), 0, &sizer);
    let (_, events) = drain(&mut e);
    let [Event::Execute(task)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(task.data_out.iter().map(Bytes::len).sum::<usize>(), 16_384);
    // The CDB was decoded once, on arrival, and travels with the task.
    assert_eq!(task.command, Command::parse(&task.cdb).ok());
    assert!(matches!(task.command, Some(Command::Write { .. })));
    e.complete(Itt(1), &Response::good(Bytes::new()));
    let (out, _) = drain(&mut e);
    let Bhs::ScsiResponse(resp) = out[0].bhs else {
        panic!()
    };
    assert_eq!(
        (resp.status, resp.stat_sn, resp.exp_data_sn),
        (ScsiStatus::GOOD, StatSn(100), DataSn(1))
    );
}

/// A write of several bursts gets one R2T at a time under
/// MaxOutstandingR2T=1, the next only when a burst is complete (found
/// by the Linux initiator: all four R2Ts of a 4 MiB WRITE were sent at
/// once, and it dropped the connection, "Could not allocate R2T").
#[test]
fn r2ts_never_exceed_max_outstanding_r2t() {
    for max_r2t in [1u16, 2] {
        let mut p = params();
        p.max_outstanding_r2t = max_r2t;
        p.max_burst_length = 8192;
        let mut e = Engine::new(p, EngineConfig::default(), 0);
        // 40 KiB: 8 KiB immediate, then 4 bursts of 8 KiB.
        e.handle_pdu(write_cmd(7, 10, true, 40, &[0u8; 8192]), 0, &sizer);
        let mut open: Vec<R2t> = Vec::new();
        let mut offsets = Vec::new();
        let mut executed = false;
        for _ in 0..10 {
            let (out, events) = drain(&mut e);
            executed |= events.iter().any(|ev| matches!(ev, Event::Execute(_)));
            for pdu in out {
                if let Bhs::R2t(r) = pdu.bhs {
                    open.push(r);
                    offsets.push(r.buffer_offset);
                }
            }
            assert!(
                open.len() <= usize::from(max_r2t),
                "{} R2Ts open with MaxOutstandingR2T={max_r2t}",
                open.len()
            );
            if open.is_empty() {
                break;
            }
            let r = open.remove(0);
            let len = r.desired_data_transfer_length as usize;
            e.handle_pdu(data_out(7, r.ttt, 0, r.buffer_offset, len, true), 0, &sizer);
        }
        assert_eq!(offsets, [8192, 16_384, 24_576, 32_768]);
        assert!(executed, "the write ran once every burst had arrived");
    }
}

#[test]
fn a_wrong_data_sn_fails_the_task() {
    let mut e = engine();
    e.handle_pdu(write_cmd(2, 10, true, 8, &[]), 0, &sizer);
    let (out, _) = drain(&mut e);
    let Bhs::R2t(r) = out[0].bhs else { panic!() };
    e.handle_pdu(data_out(2, r.ttt, 5, 0, 8192, true), 0, &sizer);
    let (out, events) = drain(&mut e);
    assert!(events.is_empty());
    let Bhs::ScsiResponse(resp) = out[0].bhs else {
        panic!("{out:?}")
    };
    assert_eq!(resp.status, ScsiStatus::CHECK_CONDITION);
    // Later data for it is dropped silently.
    e.handle_pdu(data_out(2, r.ttt, 0, 0, 8192, true), 0, &sizer);
    assert!(drain(&mut e).0.is_empty());
}

#[test]
fn cmd_sn_window_order_and_max_cmd_sn() {
    let mut e = engine();
    assert_eq!(e.max_cmd_sn(), CmdSn(13));
    // CmdSN 11 arrives before 10: held until 10 comes.
    let tur = |itt: u32, sn: u32| {
        PduBuf::header_only(ScsiCommand {
            final_bit: true,
            itt: Itt(itt),
            cmd_sn: CmdSn(sn),
            ..ScsiCommand::default()
        })
    };
    e.handle_pdu(tur(21, 11), 0, &sizer);
    assert!(drain(&mut e).1.is_empty());
    e.handle_pdu(tur(20, 10), 0, &sizer);
    let (_, events) = drain(&mut e);
    let order: Vec<Itt> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::Execute(t) => Some(t.itt),
            _ => None,
        })
        .collect();
    assert_eq!(order, [Itt(20), Itt(21)]);
    assert_eq!(e.exp_cmd_sn(), CmdSn(12));
    // Two tasks in flight of four slots: MaxCmdSN = 12 + 2 - 1.
    assert_eq!(e.max_cmd_sn(), CmdSn(13));
    // Out of the window: ignored.
    e.handle_pdu(tur(22, 99), 0, &sizer);
    assert!(drain(&mut e).1.is_empty());
}

/// Commands held for an earlier CmdSN are found by their own CmdSN, not
/// by their distance from an ExpCmdSN that has moved since: 12 and 13
/// both wait while ExpCmdSN goes from 10 to 11, and neither is lost.
#[test]
fn held_commands_survive_exp_cmd_sn_moving() {
    let mut e = engine();
    let tur = |itt: u32, sn: u32| {
        PduBuf::header_only(ScsiCommand {
            final_bit: true,
            itt: Itt(itt),
            cmd_sn: CmdSn(sn),
            ..ScsiCommand::default()
        })
    };
    let executed = |e: &mut Engine| -> Vec<Itt> {
        drain(e)
            .1
            .iter()
            .filter_map(|ev| match ev {
                Event::Execute(t) => Some(t.itt),
                _ => None,
            })
            .collect()
    };
    e.handle_pdu(tur(32, 12), 0, &sizer);
    e.handle_pdu(tur(30, 10), 0, &sizer);
    assert_eq!(executed(&mut e), [Itt(30)]);
    e.complete(Itt(30), &Response::good(Bytes::new()));
    let _ = drain(&mut e);
    e.handle_pdu(tur(33, 13), 0, &sizer);
    assert!(executed(&mut e).is_empty());
    e.handle_pdu(tur(31, 11), 0, &sizer);
    assert_eq!(executed(&mut e), [Itt(31), Itt(32), Itt(33)]);
    assert_eq!(e.exp_cmd_sn(), CmdSn(14));
}

#[test]
fn bidirectional_commands_end_with_check_condition() {
    let mut e = engine();
    let mut cdb = [0u8; 16];
    cdb[0] = 0x28;
    e.handle_pdu(
        PduBuf::header_only(ScsiCommand {
            final_bit: true,
            read: true,
            write: true,
            itt: Itt(3),
            cmd_sn: CmdSn(10),
            cdb,
            ..ScsiCommand::default()
        }),
        0,
        &sizer,
    );
    let (out, events) = drain(&mut e);
    assert!(events.is_empty());
    let Bhs::ScsiResponse(r) = out[0].bhs else {
        panic!()
    };
    assert_eq!(r.status, ScsiStatus::CHECK_CONDITION);
    assert_eq!(e.tasks_in_flight(), 0);
}

#[test]
fn data_in_sequences_split_by_mrdsl_and_max_burst() {
    let mut e = engine();
    let mut cdb = [0u8; 16];
    cdb[0] = 0x28;
    e.handle_pdu(
        PduBuf::header_only(ScsiCommand {
            final_bit: true,
            read: true,
            itt: Itt(4),
            cmd_sn: CmdSn(10),
            expected_data_transfer_length: 40_000,
            cdb,
            ..ScsiCommand::default()
        }),
        0,
        &sizer,
    );
    let _ = drain(&mut e);
    e.complete(Itt(4), &Response::good(Bytes::from(vec![9u8; 40_000])));
    let (out, _) = drain(&mut e);
    let data_ins: Vec<DataIn> = out
        .iter()
        .filter_map(|p| match p.bhs {
            Bhs::DataIn(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(data_ins.len(), 5); // 8192 × 4 + 7232
    assert!(
        data_ins
            .iter()
            .enumerate()
            .all(|(i, d)| d.data_sn == DataSn(i as u32))
    );
    // F at each 16 KiB MaxBurstLength boundary and at the end; S only at the end.
    let finals: Vec<bool> = data_ins.iter().map(|d| d.final_bit).collect();
    assert_eq!(finals, [false, true, false, true, true]);
    assert_eq!(data_ins[4].status, Some(ScsiStatus::GOOD));
    assert!(data_ins[..4].iter().all(|d| d.status.is_none()));
    assert_eq!(out.len(), 5, "status collapsed into the last Data-In");
    let _ = Status::GOOD;
}

#[test]
fn discovery_sessions_reject_scsi_commands() {
    let mut p = params();
    p.session_type = SessionType::Discovery;
    let mut e = Engine::new(p, EngineConfig::default(), 0);
    e.handle_pdu(write_cmd(1, 10, true, 1, &[]), 0, &sizer);
    let (out, events) = drain(&mut e);
    assert!(events.is_empty());
    assert!(matches!(out[0].bhs, Bhs::Reject(r) if r.reason == RejectReason::PROTOCOL_ERROR));
}

#[test]
fn a_data_digest_error_rejects_and_fails_the_task() {
    let mut e = engine();
    e.handle_pdu(write_cmd(6, 10, true, 8, &[]), 0, &sizer);
    let (out, _) = drain(&mut e);
    let Bhs::R2t(r) = out[0].bhs else { panic!() };
    let bad = data_out(6, r.ttt, 0, 0, 8192, true);
    let mut header = BytesMut::new();
    bad.encode_header(iscsi_pdu::Digests::NONE, &mut header)
        .unwrap();
    e.handle_data_digest_error(header.freeze(), 0);
    let (out, _) = drain(&mut e);
    assert!(
        out.iter().any(
            |p| matches!(p.bhs, Bhs::Reject(r) if r.reason == RejectReason::DATA_DIGEST_ERROR)
        )
    );
    assert!(
        out.iter().any(
            |p| matches!(p.bhs, Bhs::ScsiResponse(r) if r.status == ScsiStatus::CHECK_CONDITION)
        )
    );
}

#[test]
fn nop_in_keepalive_and_dead_peer() {
    let mut e = Engine::new(
        params(),
        EngineConfig {
            nop_in_interval_ms: 100,
            nop_in_timeout_ms: 50,
            ..EngineConfig::default()
        },
        0,
    );
    assert_eq!(e.poll_timeout(), Some(100));
    e.handle_timeout(100);
    let (out, _) = drain(&mut e);
    let Bhs::NopIn(ping) = out[0].bhs else {
        panic!()
    };
    assert_eq!(
        ping.stat_sn,
        StatSn(100),
        "an unsolicited NOP-In does not advance StatSN"
    );
    assert_eq!(e.poll_timeout(), Some(150));
    e.handle_timeout(150);
    let (_, events) = drain(&mut e);
    assert!(matches!(events[..], [Event::Close { .. }]));
}
