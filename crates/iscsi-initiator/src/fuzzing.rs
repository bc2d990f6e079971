//! Fuzzing property of the initiator's [`Connection`] against a hostile
//! target, shared by the `initiator_connection` fuzz target and unit tests.
//! It panics when an invariant fails.
//!
//! [`initiator_connection`]: the first input byte chooses the session
//! (header and data digests, how the rest is split into reads); the
//! connection logs in to our target login machine, queues a READ of 8 KiB,
//! a WRITE of 4 KiB, a TEST UNIT READY, a SendTargets Text Request and a
//! NOP-Out ping; then the rest of the input arrives as the target's bytes.
//! Properties: no panic; everything the initiator sends frames and parses
//! under the negotiated digests; no command completes with more data than
//! it asked for; nothing is handled or sent after [`Event::Closed`].
//!
//! [`seed_inputs`] builds target streams that answer all five.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a failed property must abort the fuzz run"
)]

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    AuthConfig, DigestPolicy, FixedChallengeSource, InitiatorLoginConfig, LoginEvent,
    OperationalConfig, SessionParams, TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    DataIn, DataSn, Decoded, Digests, FrameLimits, Framer, Isid, Itt, Lun, NopIn, Pdu, PduBuf, R2t,
    R2tSn, ScsiResponse, ScsiStatus, TextResponse, Tsih, Ttt,
};

use crate::connection::{Connection, Event, SessionEvent};
use crate::session::Command;

const TARGET: &str = "iqn.2026-11.rs.iscsi:fuzz";
const INITIATOR: &str = "iqn.2026-11.rs.iscsi:fuzzer";
/// Bytes the READ asks for.
const READ_LEN: usize = 8192;
/// Bytes the WRITE sends.
const WRITE_LEN: usize = 4096;

struct Policy;

impl TargetPolicy for Policy {
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

fn framer(digests: Digests) -> Framer {
    Framer::new(
        FrameLimits::default()
            .with_digests(digests)
            .with_max_recv_data_segment_length(1 << 24),
    )
}

/// A logged-in connection with work outstanding, and the ITTs of that work
/// in order: READ, WRITE, TEST UNIT READY, Text, ping.
struct Setup {
    conn: Connection,
    params: SessionParams,
    itts: Vec<Itt>,
    /// What the initiator sent in full feature phase, still to check.
    sent: BytesMut,
}

fn login(first: u8) -> Setup {
    let policy = |on| {
        if on {
            DigestPolicy::Require
        } else {
            DigestPolicy::Off
        }
    };
    let mut operational = OperationalConfig::default()
        .with_header_digest(policy(first & 1 != 0))
        .with_data_digest(policy(first & 2 != 0));
    operational.max_recv_data_segment_length = 8192;
    operational.initial_r2t = true;
    operational.immediate_data = false;
    let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(0x77, 2))
        .with_operational(operational);
    let mut conn = Connection::new(config, Box::new(FixedChallengeSource::new(2)), 0, 10_000);
    let mut target = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(6)),
    );
    let mut to_target = BytesMut::new();
    let mut from_initiator = framer(Digests::NONE);
    let mut params = None;
    for _ in 0..16 {
        while let Some(out) = conn.poll_transmit() {
            to_target.extend_from_slice(&out.to_vec());
        }
        while let Decoded::Frame(frame) = from_initiator.decode(&mut to_target).unwrap() {
            target.handle_pdu(&frame.parse().unwrap(), &Policy).unwrap();
            while let Some(event) = target.poll_event() {
                if let LoginEvent::SessionRequested(_) = event {
                    target.accept_session(Tsih(9)).unwrap();
                }
            }
        }
        let mut replies = BytesMut::new();
        while let Some(response) = target.poll_transmit() {
            replies.extend_from_slice(&response.to_vec(Digests::NONE).unwrap());
        }
        conn.handle_bytes(0, &mut replies);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::LoggedIn(p) => params = Some(*p),
                other => panic!("login: {other:?}"),
            }
        }
        if let Some(params) = params.take() {
            let lun = Lun::from_index(0).unwrap();
            let read = [0x28, 0, 0, 0, 0, 0, 0, 0, 16, 0];
            let write = [0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0];
            let mut pairs = TextPairs::new();
            pairs.push("SendTargets", "All");
            let itts = vec![
                conn.submit(Command::new(lun, &read).reading(READ_LEN as u32))
                    .unwrap(),
                conn.submit(Command::new(lun, &write).writing(Bytes::from(vec![0x5a; WRITE_LEN])))
                    .unwrap(),
                conn.submit(Command::new(lun, &[0; 6])).unwrap(),
                conn.text(&pairs).unwrap(),
                conn.ping(Bytes::from_static(b"fuzz")).unwrap(),
            ];
            return Setup {
                conn,
                params,
                itts,
                sent: BytesMut::new(),
            };
        }
    }
    panic!("our own login did not complete");
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Commands that completed with a SCSI status.
    pub completed: usize,
    /// Text and ping answers and task management responses received.
    pub answered: usize,
    /// PDUs the initiator sent in full feature phase.
    pub sent: usize,
    /// The connection closed.
    pub closed: bool,
}

/// `initiator_connection`; see the module docs.
pub fn initiator_connection(data: &[u8]) -> Outcome {
    let Some((&first, stream)) = data.split_first() else {
        return Outcome::default();
    };
    let mut s = login(first);
    let mut outcome = Outcome::default();
    let mut from_initiator = framer(s.params.digests());
    let mut buf = BytesMut::new();
    let split = usize::from((first >> 2) & 7);
    let mut rng = u32::from(first) | 0x51_0000;
    let mut rest = stream;
    check(&mut s, &mut from_initiator, &mut outcome);
    while !rest.is_empty() {
        let take = if split == 0 {
            rest.len()
        } else {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            1 + (rng as usize) % (1usize << (2 + split))
        };
        let (chunk, tail) = rest.split_at(take.min(rest.len()));
        rest = tail;
        buf.extend_from_slice(chunk);
        let was_closed = s.conn.is_closed();
        s.conn.handle_bytes(0, &mut buf);
        if was_closed {
            assert!(s.conn.poll_event().is_none(), "an event after Closed");
            assert!(s.conn.poll_transmit().is_none(), "a PDU after Closed");
            break;
        }
        while let Some(event) = s.conn.poll_event() {
            match event {
                Event::Session(SessionEvent::Completed { itt, result }) => {
                    if let Ok(r) = result {
                        outcome.completed += 1;
                        let asked = if itt == s.itts[0] { READ_LEN } else { 0 };
                        assert!(
                            r.data.len() <= asked,
                            "{itt:?} completed with {} bytes, {asked} asked",
                            r.data.len()
                        );
                    }
                }
                Event::Session(SessionEvent::Text { .. } | SessionEvent::TaskManagement { .. }) => {
                    outcome.answered += 1
                }
                Event::Session(SessionEvent::LogoutRequested { .. } | SessionEvent::Dropping) => {
                    let _ = s.conn.logout();
                }
                Event::Closed { .. } => outcome.closed = true,
                Event::Session(_) => {}
                other => panic!("full feature phase: unexpected {other:?}"),
            }
        }
        check(&mut s, &mut from_initiator, &mut outcome);
    }
    outcome.closed = s.conn.is_closed();
    outcome
}

/// Everything the initiator sent frames and parses under the digests.
fn check(s: &mut Setup, from_initiator: &mut Framer, outcome: &mut Outcome) {
    while let Some(out) = s.conn.poll_transmit() {
        s.sent.extend_from_slice(&out.to_vec());
    }
    loop {
        match from_initiator.decode(&mut s.sent) {
            Ok(Decoded::Frame(frame)) => {
                frame.parse().unwrap_or_else(|e| {
                    panic!("the initiator sent a PDU that does not parse: {e}")
                });
                outcome.sent += 1;
            }
            Ok(Decoded::Incomplete { .. }) => break,
            Err(e) => panic!("the initiator's output does not frame: {e}"),
        }
    }
    assert!(s.sent.is_empty(), "the initiator sent part of a PDU");
}

/// A target's answers to the work [`login`] queued: Data-In with status
/// for the READ, an R2T then GOOD for the WRITE, GOOD for TEST UNIT
/// READY, the SendTargets answer, the ping's echo.
fn answers(s: &Setup) -> Vec<PduBuf> {
    let [read, write, tur, text, ping] = s.itts[..] else {
        panic!("five ITTs")
    };
    let stat_sn = std::cell::Cell::new(s.params.next_stat_sn);
    let exp_cmd_sn = s.params.cmd_sn.add(4);
    let max_cmd_sn = exp_cmd_sn.add(63);
    let next_stat = || {
        let v = stat_sn.get();
        stat_sn.set(v.next());
        v
    };
    let lun = Lun::from_index(0).unwrap();
    let response = |itt, stat_sn| {
        PduBuf::header_only(ScsiResponse {
            itt,
            status: ScsiStatus::GOOD,
            stat_sn,
            exp_cmd_sn,
            max_cmd_sn,
            ..ScsiResponse::default()
        })
    };
    vec![
        Pdu::new(
            DataIn {
                final_bit: true,
                status: Some(ScsiStatus::GOOD),
                lun,
                itt: read,
                ttt: Ttt::RESERVED,
                stat_sn: next_stat(),
                exp_cmd_sn,
                max_cmd_sn,
                data_sn: DataSn(0),
                buffer_offset: 0,
                ..DataIn::default()
            },
            Bytes::from(vec![0xa5; READ_LEN]),
        ),
        PduBuf::header_only(R2t {
            lun,
            itt: write,
            ttt: Ttt(0x99),
            stat_sn: stat_sn.get(),
            exp_cmd_sn,
            max_cmd_sn,
            r2t_sn: R2tSn(0),
            buffer_offset: 0,
            desired_data_transfer_length: WRITE_LEN as u32,
        }),
        response(write, next_stat()),
        response(tur, next_stat()),
        Pdu::new(
            TextResponse {
                final_bit: true,
                itt: text,
                ttt: Ttt::RESERVED,
                stat_sn: next_stat(),
                exp_cmd_sn,
                max_cmd_sn,
                ..TextResponse::default()
            },
            Bytes::from(format!(
                "TargetName={TARGET}\0TargetAddress=127.0.0.1:3260,1\0"
            )),
        ),
        Pdu::new(
            NopIn {
                lun,
                itt: ping,
                ttt: Ttt::RESERVED,
                stat_sn: next_stat(),
                exp_cmd_sn,
                max_cmd_sn,
            },
            Bytes::from_static(b"fuzz"),
        ),
    ]
}

/// Seed inputs (name, bytes): a target's answers to all five requests
/// under each setup.
#[must_use]
pub fn seed_inputs() -> Vec<(String, Vec<u8>)> {
    [
        ("plain", 0u8),
        ("digests", 0b11),
        ("split", 0b1_0100),
        ("split-digests", 0b1_1111),
    ]
    .iter()
    .map(|&(name, first)| {
        let s = login(first);
        let mut input = vec![first];
        for pdu in answers(&s) {
            input.extend(pdu.to_vec(s.params.digests()).unwrap());
        }
        (name.to_owned(), input)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_complete_every_command() {
        for (name, input) in seed_inputs() {
            let outcome = initiator_connection(&input);
            assert_eq!(outcome.completed, 3, "{name}: {outcome:?}");
            assert!(outcome.answered >= 1, "{name}: {outcome:?}");
            assert!(!outcome.closed, "{name}: {outcome:?}");
            // The five requests and the Data-Out answering the R2T.
            assert!(outcome.sent >= 6, "{name}: {outcome:?}");
        }
    }

    /// The committed seeds of `fuzz/seeds/initiator_connection` are these
    /// inputs; `UPDATE_SEEDS=1` rewrites them.
    #[test]
    fn committed_seeds_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/seeds/initiator_connection");
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
    fn garbage_closes_without_panic() {
        assert_eq!(initiator_connection(&[]).sent, 0);
        let outcome = initiator_connection(&[0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
        assert!(!outcome.closed || outcome.completed == 0);
        // A SCSI Response whose TotalAHSLength covers an AHS of length 0.
        let mut junk = vec![0u8, 0x21, 0x80, 0, 0, 2];
        junk.resize(1 + 48, 0);
        junk.extend_from_slice(&[0; 8]);
        assert!(initiator_connection(&junk).closed);
    }
}
