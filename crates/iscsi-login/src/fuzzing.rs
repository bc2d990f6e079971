//! Fuzzing properties for the login machines, shared by `fuzz/` targets and
//! unit tests. Each panics when an invariant fails.
//!
//! - [`login_target`]: arbitrary Login Request sequences against a target
//!   that requires CHAP. It never reaches full feature phase unless a
//!   correct CHAP_R was sent for the challenge it issued; every PDU it emits
//!   parses with our own parser; negotiated values stay within the RFC's
//!   bounds and the target's limits.
//! - [`login_initiator`]: arbitrary Login Response sequences against an
//!   initiator using mutual CHAP. It never completes unless the target's
//!   mutual response was correct; every PDU it emits parses; negotiated
//!   values never exceed what it offered.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a failed property must abort the fuzz run"
)]

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use iscsi_pdu::text::{TextPairs, encode_hex, parse_binary, parse_numerical};
use iscsi_pdu::{
    Bhs, Decoded, Digests, FrameLimits, Framer, Isid, LoginRequest, LoginResponse, LoginStage,
    LoginStatus, Pdu, PduBuf, Tsih,
};

use crate::chap::{ChapAlgorithm, ChapCredentials, FixedChallengeSource, Secret};
use crate::{
    AuthConfig, AuthOutcome, InitiatorAuth, InitiatorLogin, InitiatorLoginConfig, LoginEvent,
    OperationalConfig, SessionParams, TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
};

const TARGET: &str = "iqn.2026-11.rs.iscsi:fuzz";
const USER: &str = "fuzz-user";
const SECRET: &[u8] = b"fuzz-secret-0123";
const TARGET_USER: &str = "fuzz-target";
const TARGET_SECRET: &[u8] = b"target-secret-987";

const KEYS: &[&str] = &[
    "InitiatorName",
    "TargetName",
    "SessionType",
    "AuthMethod",
    "CHAP_A",
    "CHAP_I",
    "CHAP_C",
    "CHAP_N",
    "CHAP_R",
    "HeaderDigest",
    "DataDigest",
    "MaxConnections",
    "InitialR2T",
    "ImmediateData",
    "MaxRecvDataSegmentLength",
    "MaxBurstLength",
    "FirstBurstLength",
    "DefaultTime2Wait",
    "DefaultTime2Retain",
    "MaxOutstandingR2T",
    "DataPDUInOrder",
    "DataSequenceInOrder",
    "ErrorRecoveryLevel",
    "TaskReporting",
    "TargetAlias",
    "TargetAddress",
    "TargetPortalGroupTag",
    "InitiatorAlias",
    "SendTargets",
    "IFMarker",
    "OFMarkInt",
    "X-com.example.k",
    "X#k",
    "Unknown",
];

const VALUES: &[&str] = &[
    "iqn.2026-11.rs.iscsi:fuzz",
    "iqn.2026-11.rs.iscsi:other",
    "Normal",
    "Discovery",
    "Bogus",
    "CHAP",
    "None",
    "CHAP,None",
    "5",
    "7",
    "8,7,6,5",
    "0",
    "1",
    "255",
    "256",
    "512",
    "8192",
    "65536",
    "262144",
    "16777215",
    "16777216",
    "0x10",
    "0bAQID",
    "Yes",
    "No",
    "CRC32C",
    "CRC32C,None",
    "None,CRC32C",
    "fuzz-user",
    "fuzz-target",
    "0x00",
    "Reject",
    "NotUnderstood",
    "Irrelevant",
    "",
    "1~5",
    "RFC3720",
    "FastAbort",
];

fn random_text(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for _ in 0..u.int_in_range(0u8..=8)? {
        let key = (*u.choose(KEYS)?).to_owned();
        let value = if u.ratio(1u8, 8)? {
            String::arbitrary(u)?
        } else {
            (*u.choose(VALUES)?).to_owned()
        };
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn encode(pairs: &[(String, String)]) -> Bytes {
    let mut buf = BytesMut::new();
    iscsi_pdu::text::encode_text(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &mut buf,
    );
    buf.freeze()
}

/// Encodes, frames and parses `pdu`: what the peer would see. Panics when
/// our own output does not parse.
fn through_wire(pdu: &PduBuf) -> PduBuf {
    let bytes = pdu.to_vec(Digests::NONE).expect("login PDUs encode");
    let mut buf = BytesMut::from(&bytes[..]);
    let mut framer = Framer::new(FrameLimits::default());
    match framer.decode(&mut buf).expect("emitted PDU frames") {
        Decoded::Frame(frame) => frame.parse().expect("emitted PDU parses"),
        Decoded::Incomplete { .. } => panic!("emitted PDU is incomplete"),
    }
}

fn check_bounds(p: &SessionParams, limits: &OperationalConfig) {
    let mrdsl = 512..=16_777_215;
    assert!(
        mrdsl.contains(&p.initiator_max_recv_data_segment_length)
            || p.initiator_max_recv_data_segment_length == 8192
    );
    assert!(mrdsl.contains(&p.target_max_recv_data_segment_length));
    assert!(
        p.first_burst_length <= p.max_burst_length
            || p.session_type == crate::SessionType::Discovery
    );
    assert!(p.max_burst_length <= limits.max_burst_length.max(262_144));
    assert!(p.max_outstanding_r2t >= 1);
    assert!(p.error_recovery_level <= limits.error_recovery_level);
    assert!(p.max_connections >= 1);
}

struct Policy;

impl TargetPolicy for Policy {
    fn target(&self, name: &str) -> TargetLookup {
        if name == TARGET {
            TargetLookup::Found {
                auth: AuthConfig::chap(ChapCredentials::new(USER, Secret::new(SECRET).unwrap()))
                    .with_mutual(ChapCredentials::new(
                        TARGET_USER,
                        Secret::new(TARGET_SECRET).unwrap(),
                    ))
                    .unwrap(),
                alias: None,
            }
        } else {
            TargetLookup::NotFound
        }
    }
    fn discovery_auth(&self) -> AuthConfig {
        AuthConfig::chap(ChapCredentials::new(USER, Secret::new(SECRET).unwrap()))
    }
}

/// `login_target`; see the module docs. Returns whether the target reached
/// full feature phase (so seeds can show the harness gets that deep).
pub fn login_target(data: &[u8]) -> bool {
    let mut u = Unstructured::new(data);
    let config = TargetLoginConfig::default();
    let limits = config.operational.clone();
    let mut target = TargetLogin::new(config, Box::new(FixedChallengeSource::new(0x33)));
    let secret = Secret::new(SECRET).unwrap();
    let mut challenge: Option<(ChapAlgorithm, u8, Vec<u8>)> = None;
    let mut sent_correct_response = false;
    let mut stage = LoginStage::SECURITY_NEGOTIATION;

    for _ in 0..u.int_in_range(1u8..=12).unwrap_or(1) {
        let Ok(op) = u.int_in_range(0u8..=9) else {
            break;
        };
        let mut pairs = if u.ratio(1u8, 3).unwrap_or(false) {
            random_text(&mut u).unwrap_or_default()
        } else {
            Vec::new()
        };
        // Mostly a header that follows the login so far, sometimes anything.
        let header = if u.ratio(4u8, 5).unwrap_or(true) {
            let transit = u.arbitrary().unwrap_or(true);
            let nsg =
                if stage == LoginStage::SECURITY_NEGOTIATION && u.ratio(3u8, 4).unwrap_or(true) {
                    LoginStage::OPERATIONAL_NEGOTIATION
                } else {
                    LoginStage::FULL_FEATURE_PHASE
                };
            LoginRequest {
                transit,
                csg: stage,
                nsg,
                isid: Isid::random(1, 2),
                cmd_sn: iscsi_pdu::CmdSn(1),
                ..LoginRequest::default()
            }
        } else {
            LoginRequest::arbitrary(&mut u).unwrap_or_default()
        };
        match op {
            0 => pairs.extend([
                (
                    "InitiatorName".to_owned(),
                    "iqn.2026-11.rs.iscsi:fuzzer".to_owned(),
                ),
                ("TargetName".to_owned(), TARGET.to_owned()),
                ("AuthMethod".to_owned(), "CHAP".to_owned()),
            ]),
            1 => pairs.push(("CHAP_A".to_owned(), "5,7".to_owned())),
            2 | 3 => {
                // The correct response to the last challenge.
                if let Some((alg, id, c)) = &challenge {
                    pairs.push(("CHAP_N".to_owned(), USER.to_owned()));
                    pairs.push((
                        "CHAP_R".to_owned(),
                        encode_hex(&alg.response(*id, &secret, c)),
                    ));
                    sent_correct_response = true;
                }
            }
            _ => {}
        }
        let data = encode(&pairs);
        let pdu: PduBuf = if op == 9 {
            // A non-login PDU now and then.
            Pdu::new(
                iscsi_pdu::NopOut::arbitrary(&mut u).unwrap_or_default(),
                data,
            )
        } else {
            Pdu::new(header, data)
        };
        if pdu.bhs.validate().is_err() {
            continue;
        }
        let mut result = target.handle_pdu(&through_wire(&pdu), &Policy);
        let mut events = Vec::new();
        while let Some(event) = target.poll_event() {
            if let LoginEvent::SessionRequested(params) = &event {
                assert_eq!(params.tsih, Tsih::NEW_SESSION);
                if let Err(e) = target.accept_session(Tsih(7)) {
                    result = Err(e);
                }
            }
            events.push(event);
        }
        while let Some(resp) = target.poll_transmit() {
            let resp = through_wire(&resp);
            let Bhs::LoginResponse(h) = resp.bhs else {
                panic!("target sent {:?} during login", resp.opcode())
            };
            if let Ok(text) = TextPairs::parse(&resp.data)
                && let (Some(a), Some(i), Some(c)) =
                    (text.get("CHAP_A"), text.get("CHAP_I"), text.get("CHAP_C"))
            {
                let alg = ChapAlgorithm::from_code(parse_numerical(a).unwrap()).unwrap();
                let id = u8::try_from(parse_numerical(i).unwrap()).unwrap();
                challenge = Some((alg, id, parse_binary(c).unwrap()));
            }
            if h.transit {
                assert_eq!(h.status, LoginStatus::SUCCESS);
                stage = h.nsg;
            }
        }
        while let Some(event) = target.poll_event() {
            events.push(event);
        }
        for event in events {
            if let LoginEvent::Complete(params) = event {
                assert!(
                    sent_correct_response,
                    "full feature phase without a correct CHAP_R: {params:?}"
                );
                assert!(matches!(params.auth, AuthOutcome::Chap { .. }));
                check_bounds(&params, &limits);
            }
        }
        if result.is_err() || target.is_complete() {
            assert!(target.poll_transmit().is_none());
            break;
        }
    }
    target.is_complete()
}

/// `login_initiator`; see the module docs. Returns whether the initiator
/// reached full feature phase.
pub fn login_initiator(data: &[u8]) -> bool {
    let mut u = Unstructured::new(data);
    let isid = Isid::random(9, 9);
    let auth = InitiatorAuth::mutual_chap(
        ChapCredentials::new(USER, Secret::new(SECRET).unwrap()),
        ChapCredentials::new(TARGET_USER, Secret::new(TARGET_SECRET).unwrap()),
    )
    .unwrap();
    let config =
        InitiatorLoginConfig::normal("iqn.2026-11.rs.iscsi:fuzzer", TARGET, isid).with_auth(auth);
    let offered = config.operational.clone();
    let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(0x55)));
    let target_secret = Secret::new(TARGET_SECRET).unwrap();
    let mut mutual_challenge: Option<(u8, Vec<u8>)> = None;
    let mut sent_correct_mutual = false;
    let mut last_request = LoginRequest::default();

    for _ in 0..u.int_in_range(1u8..=12).unwrap_or(1) {
        while let Some(req) = initiator.poll_transmit() {
            let req = through_wire(&req);
            let Bhs::LoginRequest(h) = req.bhs else {
                panic!("initiator sent a non-login PDU")
            };
            last_request = h;
            if let Ok(text) = TextPairs::parse(&req.data)
                && let (Some(i), Some(c)) = (text.get("CHAP_I"), text.get("CHAP_C"))
            {
                let id = u8::try_from(parse_numerical(i).unwrap()).unwrap();
                mutual_challenge = Some((id, parse_binary(c).unwrap()));
            }
        }
        let Ok(op) = u.int_in_range(0u8..=6) else {
            break;
        };
        let mut pairs = if u.ratio(1u8, 3).unwrap_or(false) {
            random_text(&mut u).unwrap_or_default()
        } else {
            Vec::new()
        };
        let header = if u.ratio(4u8, 5).unwrap_or(true) {
            // A response that follows the request, as a real target's would.
            let transit = last_request.transit && u.arbitrary().unwrap_or(true);
            LoginResponse {
                transit,
                csg: last_request.csg,
                nsg: if transit {
                    last_request.nsg
                } else {
                    LoginStage::SECURITY_NEGOTIATION
                },
                isid,
                tsih: Tsih(5),
                itt: last_request.itt,
                stat_sn: iscsi_pdu::StatSn(u.arbitrary().unwrap_or(0)),
                status: LoginStatus::SUCCESS,
                ..LoginResponse::default()
            }
        } else {
            LoginResponse::arbitrary(&mut u).unwrap_or_default()
        };
        match op {
            0 => pairs.push(("AuthMethod".to_owned(), "CHAP".to_owned())),
            1 => {
                pairs.push(("CHAP_A".to_owned(), "5".to_owned()));
                pairs.push(("CHAP_I".to_owned(), "1".to_owned()));
                pairs.push((
                    "CHAP_C".to_owned(),
                    "0x0102030405060708090a0b0c0d0e0f10".to_owned(),
                ));
            }
            2 => {
                if let Some((id, c)) = &mutual_challenge {
                    let r = ChapAlgorithm::Md5.response(*id, &target_secret, c);
                    pairs.push(("CHAP_N".to_owned(), TARGET_USER.to_owned()));
                    pairs.push(("CHAP_R".to_owned(), encode_hex(&r)));
                    sent_correct_mutual = true;
                }
            }
            _ => {}
        }
        let pdu = Pdu::new(header, encode(&pairs));
        if pdu.bhs.validate().is_err() {
            continue;
        }
        let result = initiator.handle_pdu(&through_wire(&pdu));
        while let Some(event) = initiator.poll_event() {
            if let LoginEvent::Complete(params) = event {
                assert!(
                    sent_correct_mutual,
                    "completed without the target proving itself"
                );
                assert!(params.max_burst_length <= offered.max_burst_length);
                assert!(params.first_burst_length <= params.max_burst_length);
                assert!(params.max_outstanding_r2t <= offered.max_outstanding_r2t);
                assert!(params.error_recovery_level <= offered.error_recovery_level);
            }
        }
        if result.is_err() || initiator.is_complete() {
            break;
        }
    }
    initiator.is_complete()
}

#[cfg(test)]
mod tests {
    #[test]
    fn properties_hold_on_pseudo_random_inputs() {
        let mut rng = 0x9e37_79b9_u32;
        for _ in 0..3000 {
            let data: Vec<u8> = (0..512)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 17;
                    rng ^= rng << 5;
                    rng as u8
                })
                .collect();
            super::login_target(&data);
            super::login_initiator(&data);
        }
    }

    /// Committed seeds (fuzz/seeds/login_*) run through the same properties,
    /// and some of them get all the way to full feature phase.
    #[test]
    fn seeds_reach_full_feature_phase() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds");
        let run = |target: &str, f: fn(&[u8]) -> bool| {
            let mut complete = 0;
            let mut total = 0;
            for entry in std::fs::read_dir(format!("{dir}/{target}")).unwrap() {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                total += 1;
                complete += usize::from(f(&data));
            }
            (complete, total)
        };
        let (done, total) = run("login_target", super::login_target);
        assert!(
            done > 0,
            "no login_target seed of {total} completes the login"
        );
        let (done, total) = run("login_initiator", super::login_initiator);
        assert!(
            done > 0,
            "no login_initiator seed of {total} completes the login"
        );
    }
}
