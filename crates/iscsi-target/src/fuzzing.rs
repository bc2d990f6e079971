//! Fuzzing property of the target's [`Connection`], shared by the
//! `target_connection` fuzz target and unit tests. It panics when an
//! invariant fails.
//!
//! [`target_connection`]: the first input byte chooses the session (header
//! and data digests, ImmediateData, InitialR2T, how the rest is split into
//! reads); our initiator's login machine logs into a fresh [`Connection`]
//! serving a 1 MiB memory LUN; then the rest of the input arrives as the
//! bytes of the full feature phase, in arbitrary pieces, with SCSI
//! commands run on the LUN (some completed late and out of order), and
//! time passing (NOP-In pings and their timeout). Properties: no panic; everything the target
//! sends frames and parses under the negotiated digests; no data segment
//! exceeds the initiator's MaxRecvDataSegmentLength; nothing is handled or
//! sent after [`Event::Closed`].
//!
//! [`seed_inputs`] builds inputs that get deep: a realistic command stream
//! (TEST UNIT READY, INQUIRY, READ CAPACITY, writes with immediate,
//! unsolicited and solicited data, reads, NOP-Out, SendTargets, ABORT
//! TASK, Logout) for each setup.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a failed property must abort the fuzz run"
)]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    AuthConfig, DigestPolicy, FixedChallengeSource, InitiatorLogin, InitiatorLoginConfig,
    LoginEvent, OperationalConfig, SessionParams, TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::{
    Bhs, CmdSn, DataOut, DataSn, Decoded, Digests, FrameLimits, Framer, Isid, Itt, LogoutReason,
    LogoutRequest, Lun, NopOut, Pdu, PduBuf, ScsiCommand, StatSn, TaskManagementRequest,
    TextRequest, TmfFunction, TmfResponseCode, Tsih, Ttt,
};
use iscsi_scsi::{Command, LogicalUnit, LuConfig, MemoryBackend, Nexus, Request, Response};

use crate::connection::{Connection, ConnectionConfig, Deployment, Event};
use crate::engine::EngineConfig;

/// The target's name.
pub const TARGET: &str = "iqn.2026-11.rs.iscsi:fuzz";
const INITIATOR: &str = "iqn.2026-11.rs.iscsi:fuzzer";
/// The LUN's logical block size, bytes.
const BLOCK: usize = 512;

/// The session byte 0 of an input chooses.
#[derive(Clone, Copy, Debug)]
struct Setup {
    header_digest: bool,
    data_digest: bool,
    immediate_data: bool,
    initial_r2t: bool,
    /// 0: the whole input at once; else reads of 1..=2^(2+n) bytes; 7
    /// also lets 700 ms pass per read instead of 1 ms.
    split: u8,
}

impl Setup {
    const fn from_byte(b: u8) -> Self {
        Self {
            header_digest: b & 1 != 0,
            data_digest: b & 2 != 0,
            immediate_data: b & 4 == 0,
            initial_r2t: b & 8 != 0,
            split: (b >> 4) & 7,
        }
    }

    const fn to_byte(self) -> u8 {
        (self.header_digest as u8)
            | (self.data_digest as u8) << 1
            | (!self.immediate_data as u8) << 2
            | (self.initial_r2t as u8) << 3
            | (self.split & 7) << 4
    }
}

/// The deployment: one target with LUN 0, no authentication.
struct Site {
    lu: LogicalUnit,
}

impl TargetPolicy for Site {
    fn target(&self, name: &str) -> TargetLookup {
        if name == TARGET {
            TargetLookup::Found {
                auth: AuthConfig::none(),
                alias: None,
            }
        } else {
            TargetLookup::NotFound
        }
    }
}

impl Deployment for Site {
    fn data_out_len(&self, lun: Lun, cdb: &[u8], command: &Command) -> usize {
        if lun.index() == Some(0) {
            self.lu.data_out_buffer_size(cdb, command)
        } else {
            0
        }
    }
}

/// A connection in full feature phase and what the initiator knows.
struct LoggedIn {
    conn: Connection,
    site: Site,
    nexus: Nexus,
    params: SessionParams,
    now: u64,
}

fn framer(digests: Digests) -> Framer {
    Framer::new(
        FrameLimits::default()
            .with_digests(digests)
            .with_max_recv_data_segment_length(1 << 24),
    )
}

/// Logs our initiator into a fresh connection with `setup`.
fn login(setup: Setup) -> LoggedIn {
    let policy = |on| {
        if on {
            DigestPolicy::Require
        } else {
            DigestPolicy::Off
        }
    };
    let mut operational = OperationalConfig::default()
        .with_header_digest(policy(setup.header_digest))
        .with_data_digest(policy(setup.data_digest));
    operational.immediate_data = setup.immediate_data;
    operational.initial_r2t = setup.initial_r2t;
    operational.max_recv_data_segment_length = 8192;
    operational.first_burst_length = 16_384;
    operational.max_burst_length = 32_768;
    let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(0x1234, 1))
        .with_operational(operational);
    let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(3)));
    let mut target_login = TargetLoginConfig::default();
    target_login.operational.max_recv_data_segment_length = 8192;
    let engine = EngineConfig {
        queue_depth: 16,
        nop_in_interval_ms: 1_000,
        nop_in_timeout_ms: 3_000,
        ..EngineConfig::default()
    };
    let mut conn = Connection::new(
        ConnectionConfig::new(target_login, engine, 15_000),
        Box::new(FixedChallengeSource::new(5)),
        0,
    );
    let backend = Arc::new(MemoryBackend::new(1 << 20, BLOCK as u32).unwrap());
    let site = Site {
        lu: LogicalUnit::new(backend, LuConfig::new(TARGET, "FUZZ0001")),
    };
    let mut buf = BytesMut::new();
    let mut replies = BytesMut::new();
    let mut from_target = framer(Digests::NONE);
    let mut target_params = None;
    let mut initiator_params = None;
    for _ in 0..32 {
        while let Some(request) = initiator.poll_transmit() {
            buf.extend_from_slice(&request.to_vec(Digests::NONE).unwrap());
        }
        // Each round feeds again, so "call again" needs no loop here.
        let _call_again = conn.handle_bytes(0, &mut buf, &site);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::SessionRequested(_) => conn.accept_session(Tsih(1)),
                Event::LoggedIn(p) => target_params = Some(*p),
                other => panic!("login: {other:?}"),
            }
        }
        while let Some(out) = conn.poll_transmit() {
            replies.extend_from_slice(&out.to_vec());
        }
        while let Decoded::Frame(frame) = from_target.decode(&mut replies).unwrap() {
            initiator.handle_pdu(&frame.parse().unwrap()).unwrap();
        }
        while let Some(event) = initiator.poll_event() {
            if let LoginEvent::Complete(p) = event {
                initiator_params = Some(*p);
            }
        }
        if let (Some(_), Some(params)) = (&target_params, &initiator_params) {
            let nexus = Nexus::new(1, format!("{INITIATOR},i,0x{}", params.isid), 1);
            site.lu.add_nexus(&nexus);
            return LoggedIn {
                conn,
                site,
                nexus,
                params: params.clone(),
                now: 0,
            };
        }
    }
    panic!("our own login did not complete with {setup:?}");
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// The login reached full feature phase.
    pub logged_in: bool,
    /// SCSI commands the connection handed out to run.
    pub executed: usize,
    /// PDUs the target sent in full feature phase.
    pub sent: usize,
    /// The connection closed.
    pub closed: bool,
}

/// `target_connection`; see the module docs.
pub fn target_connection(data: &[u8]) -> Outcome {
    let Some((&first, stream)) = data.split_first() else {
        return Outcome::default();
    };
    let setup = Setup::from_byte(first);
    let mut s = login(setup);
    let mut outcome = Outcome {
        logged_in: true,
        ..Outcome::default()
    };
    let mut from_target = framer(s.params.digests());
    let mut replies = BytesMut::new();
    let mut buf = BytesMut::new();
    let mut pending: Vec<(Itt, Response)> = Vec::new();
    let mut rng = u32::from(first) | 0x9e37_0000;
    let mut rest = stream;
    let mut round = 0u32;
    while !rest.is_empty() {
        let take = if setup.split == 0 {
            rest.len()
        } else {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            1 + (rng as usize) % (1usize << (2 + setup.split))
        };
        let (chunk, tail) = rest.split_at(take.min(rest.len()));
        rest = tail;
        round += 1;
        buf.extend_from_slice(chunk);
        let was_closed = s.conn.is_closed();
        while s.conn.handle_bytes(s.now, &mut buf, &s.site) {
            assert!(!was_closed, "bytes handled after Closed");
            drain(&mut s, &mut pending, &mut outcome);
        }
        if was_closed {
            assert!(s.conn.poll_event().is_none(), "an event after Closed");
            assert!(s.conn.poll_transmit().is_none(), "a PDU after Closed");
            break;
        }
        drain(&mut s, &mut pending, &mut outcome);
        // Commands finish late and in reverse order every other read.
        if round.is_multiple_of(2) {
            while let Some((itt, response)) = pending.pop() {
                s.conn.complete(itt, &response);
                drain(&mut s, &mut pending, &mut outcome);
            }
        }
        // Split mode 7 lets long stretches of time pass (NOP-In pings and
        // their timeout); the others a millisecond per read.
        s.now += if setup.split == 7 { 700 } else { 1 };
        if let Some(at) = s.conn.poll_timeout()
            && at <= s.now
        {
            s.conn.handle_timeout(s.now);
            drain(&mut s, &mut pending, &mut outcome);
        }
        check_output(&mut s, &mut from_target, &mut replies, &mut outcome);
    }
    while let Some((itt, response)) = pending.pop() {
        s.conn.complete(itt, &response);
        drain(&mut s, &mut pending, &mut outcome);
    }
    check_output(&mut s, &mut from_target, &mut replies, &mut outcome);
    outcome.closed = s.conn.is_closed();
    outcome
}

/// Answers the connection's events: commands run on the LUN now; one in
/// three (by ITT) is completed later, the others at once, as the server
/// does for memory LUNs; task management completes at once.
fn drain(s: &mut LoggedIn, pending: &mut Vec<(Itt, Response)>, outcome: &mut Outcome) {
    while let Some(event) = s.conn.poll_event() {
        match event {
            Event::Execute(task) => {
                outcome.executed += 1;
                let mut request = Request::new(&s.nexus, &task.cdb, &task.data_out);
                if let Some(n) = task.announced_data_out {
                    request = request.with_announced_data_out(n);
                }
                if let Some(command) = task.command {
                    request = request.with_command(command);
                }
                let response = if task.lun.index() == Some(0) {
                    s.site.lu.execute(&request)
                } else {
                    iscsi_scsi::lun_not_supported(&task.cdb)
                };
                if task.itt.0 % 3 == 0 {
                    pending.push((task.itt, response));
                } else {
                    s.conn.complete(task.itt, &response);
                }
            }
            Event::TaskManagement { itt, .. } => {
                s.conn
                    .complete_task_management(itt, TmfResponseCode::FUNCTION_COMPLETE);
            }
            Event::Closed { .. } => outcome.closed = true,
            Event::Logout => {}
            other => panic!("full feature phase: unexpected {other:?}"),
        }
    }
}

/// Everything the target sent frames and parses under the negotiated
/// digests, within the initiator's MaxRecvDataSegmentLength.
fn check_output(
    s: &mut LoggedIn,
    from_target: &mut Framer,
    replies: &mut BytesMut,
    outcome: &mut Outcome,
) {
    while let Some(out) = s.conn.poll_transmit() {
        replies.extend_from_slice(&out.to_vec());
    }
    let limit = s.params.initiator_max_recv_data_segment_length as usize;
    loop {
        match from_target.decode(replies) {
            Ok(Decoded::Frame(frame)) => {
                let pdu = frame
                    .parse()
                    .unwrap_or_else(|e| panic!("the target sent a PDU that does not parse: {e}"));
                assert!(
                    pdu.data.len() <= limit,
                    "{:?} carries {} bytes, over MaxRecvDataSegmentLength {limit}",
                    pdu.opcode(),
                    pdu.data.len()
                );
                outcome.sent += 1;
            }
            Ok(Decoded::Incomplete { .. }) => break,
            Err(e) => panic!("the target's output does not frame: {e}"),
        }
    }
    assert!(replies.is_empty(), "the target sent part of a PDU");
}

/// Encodes `pdus` as the initiator would send them.
fn wire(pdus: &[PduBuf], digests: Digests) -> Vec<u8> {
    pdus.iter()
        .flat_map(|p| p.to_vec(digests).unwrap())
        .collect()
}

fn command(itt: u32, cmd_sn: CmdSn, cdb: &[u8], edtl: u32, read: bool, write: bool) -> ScsiCommand {
    let mut bytes = [0u8; 16];
    bytes[..cdb.len()].copy_from_slice(cdb);
    ScsiCommand {
        final_bit: true,
        read,
        write,
        lun: Lun::from_index(0).unwrap_or_default(),
        itt: Itt(itt),
        expected_data_transfer_length: edtl,
        cmd_sn,
        exp_stat_sn: StatSn(0),
        cdb: bytes,
        ..ScsiCommand::default()
    }
}

fn rw10(opcode: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [opcode, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

fn data_out(itt: u32, ttt: Ttt, data_sn: u32, offset: u32, data: Bytes, last: bool) -> PduBuf {
    Pdu::new(
        DataOut {
            final_bit: last,
            lun: Lun::from_index(0).unwrap_or_default(),
            itt: Itt(itt),
            ttt,
            exp_stat_sn: StatSn(0),
            data_sn: DataSn(data_sn),
            buffer_offset: offset,
        },
        data,
    )
}

/// The full-feature PDUs of a realistic session for `setup`: CmdSN from
/// the login's, writes in the forms the setup allows.
fn session_pdus(setup: Setup, first_cmd_sn: CmdSn) -> Vec<PduBuf> {
    let sn = std::cell::Cell::new(first_cmd_sn);
    let next = || {
        let s = sn.get();
        sn.set(s.next());
        s
    };
    let pattern = |len: usize, seed: u8| -> Bytes {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>()
            .into()
    };
    let mut pdus: Vec<PduBuf> = vec![
        PduBuf::header_only(command(1, next(), &[0x00; 6], 0, false, false)),
        PduBuf::header_only(command(2, next(), &[0x12, 0, 0, 0, 96, 0], 96, true, false)),
        PduBuf::header_only(command(3, next(), &[0x25; 1], 8, true, false)),
    ];
    // READ CAPACITY(10) is 10 bytes: opcode then zeros.
    if let Some(Bhs::ScsiCommand(h)) = pdus.last_mut().map(|p| &mut p.bhs) {
        h.cdb = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    }
    // WRITE(10) of 16 blocks (8 KiB): immediate data when allowed, the
    // rest unsolicited (InitialR2T=No) or after the target's R2T (TTT 1,
    // the engine's first).
    let len = 16 * BLOCK;
    let data = pattern(len, 7);
    let mut write = command(4, next(), &rw10(0x2a, 8, 16), len as u32, false, true);
    // F=0 announces unsolicited Data-Out (RFC 7143 §11.3.1).
    write.final_bit = setup.initial_r2t;
    let immediate = if setup.immediate_data { 2 * BLOCK } else { 0 };
    pdus.push(Pdu::new(write, data.slice(..immediate)));
    let ttt = if setup.initial_r2t {
        Ttt(1)
    } else {
        Ttt::RESERVED
    };
    let offset = if setup.initial_r2t { 0 } else { immediate };
    let start = if setup.initial_r2t && setup.immediate_data {
        immediate
    } else {
        offset
    };
    pdus.push(data_out(4, ttt, 0, start as u32, data.slice(start..), true));
    // A one-block write and the reads of both.
    let one = pattern(BLOCK, 99);
    let mut write = command(5, next(), &rw10(0x2a, 0, 1), BLOCK as u32, false, true);
    write.final_bit = setup.immediate_data || setup.initial_r2t;
    pdus.push(Pdu::new(
        write,
        if setup.immediate_data {
            one.clone()
        } else {
            Bytes::new()
        },
    ));
    if !setup.immediate_data {
        let ttt = if setup.initial_r2t {
            Ttt(2)
        } else {
            Ttt::RESERVED
        };
        pdus.push(data_out(5, ttt, 0, 0, one, true));
    }
    pdus.push(PduBuf::header_only(command(
        6,
        next(),
        &rw10(0x28, 0, 24),
        24 * BLOCK as u32,
        true,
        false,
    )));
    // NOP-Out ping, SendTargets, ABORT TASK of a finished task, Logout.
    pdus.push(Pdu::new(
        NopOut {
            immediate: true,
            itt: Itt(7),
            ttt: Ttt::RESERVED,
            cmd_sn: sn.get(),
            ..NopOut::default()
        },
        Bytes::from_static(b"ping"),
    ));
    pdus.push(Pdu::new(
        TextRequest {
            final_bit: true,
            itt: Itt(8),
            ttt: Ttt::RESERVED,
            cmd_sn: next(),
            ..TextRequest::default()
        },
        Bytes::from_static(b"SendTargets=All\0"),
    ));
    pdus.push(PduBuf::header_only(TaskManagementRequest {
        immediate: true,
        function: TmfFunction::ABORT_TASK,
        itt: Itt(9),
        referenced_task_tag: Itt(2),
        cmd_sn: sn.get(),
        ..TaskManagementRequest::default()
    }));
    pdus.push(PduBuf::header_only(LogoutRequest {
        immediate: true,
        reason: LogoutReason::CLOSE_SESSION,
        itt: Itt(10),
        cmd_sn: sn.get(),
        ..LogoutRequest::default()
    }));
    pdus
}

/// Seed inputs (name, bytes) that reach deep into the full feature phase:
/// a realistic session (commands, NOP-Out, Text, ABORT TASK, Logout)
/// under each setup.
#[must_use]
pub fn seed_inputs() -> Vec<(String, Vec<u8>)> {
    let setups = [
        ("plain", Setup::from_byte(0)),
        ("digests", Setup::from_byte(0b0011)),
        ("r2t", Setup::from_byte(0b1100)),
        ("r2t-immediate", Setup::from_byte(0b1000)),
        ("split", Setup::from_byte(0b0011_0000)),
        ("split-digests-r2t", Setup::from_byte(0b0101_1011)),
    ];
    setups
        .iter()
        .map(|(name, setup)| {
            let s = login(*setup);
            let mut input = vec![setup.to_byte()];
            input.extend(wire(
                &session_pdus(*setup, s.params.cmd_sn),
                s.params.digests(),
            ));
            ((*name).to_owned(), input)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_byte_round_trips() {
        for b in 0..=0x7f_u8 {
            assert_eq!(Setup::from_byte(b).to_byte(), b);
        }
    }

    #[test]
    fn seeds_run_every_command_and_log_out() {
        for (name, input) in seed_inputs() {
            let outcome = target_connection(&input);
            assert!(outcome.logged_in, "{name}");
            assert_eq!(outcome.executed, 6, "{name}: {outcome:?}");
            assert!(outcome.closed, "{name}: the Logout closes: {outcome:?}");
            assert!(outcome.sent >= 8, "{name}: {outcome:?}");
        }
    }

    /// The committed seeds of `fuzz/seeds/target_connection` are these
    /// inputs; `UPDATE_SEEDS=1` rewrites them.
    #[test]
    fn committed_seeds_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/seeds/target_connection");
        for (name, input) in seed_inputs() {
            let path = dir.join(&name);
            if std::env::var_os("UPDATE_SEEDS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &input).unwrap();
            }
            let committed = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SEEDS=1 writes it)", path.display()));
            assert_eq!(committed, input, "{name} is stale: run with UPDATE_SEEDS=1");
        }
    }

    #[test]
    fn empty_and_garbage_inputs() {
        assert!(!target_connection(&[]).logged_in);
        let outcome = target_connection(&[0, 0xff, 0xff, 0xff]);
        assert!(outcome.logged_in);
        let mut header = vec![0u8; 48];
        header[0] = 0x01;
        header[4] = 2; // TotalAHSLength 2 words that are not there
        let mut input = vec![0];
        input.extend_from_slice(&header);
        input.extend_from_slice(&[0u8; 8]);
        let outcome = target_connection(&input);
        assert!(outcome.closed, "a malformed AHS closes: {outcome:?}");
    }
}
