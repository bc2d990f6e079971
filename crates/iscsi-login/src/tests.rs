//! Login tests: an initiator against a target through the real wire format
//! (encode → framer → parse), transcripts after RFC 7143 Appendix B, and
//! every status the target can answer with.

use std::cell::Cell;
use std::collections::HashMap;

use bytes::BytesMut;
use iscsi_pdu::text::{TextPairs, encode_hex};
use iscsi_pdu::{
    Bhs, Cid, CmdSn, Decoded, Digests, FrameLimits, Framer, Isid, Itt, LoginRequest, LoginResponse,
    LoginStage, LoginStatus, NopOut, Pdu, PduBuf, StatSn, Tsih, Ttt,
};

use crate::chap::{ChapAlgorithm, ChapCredentials, FixedChallengeSource, Secret};
use crate::{
    AuthConfig, AuthError, AuthOutcome, DigestPolicy, InitiatorAuth, InitiatorLogin,
    InitiatorLoginConfig, LoginError, LoginEvent, OperationalConfig, SessionParams, SessionType,
    TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
};

const INITIATOR: &str = "iqn.2026-11.rs.iscsi:initiator";
const TARGET: &str = "iqn.2026-11.rs.iscsi:disk";

fn secret(s: &str) -> Secret {
    Secret::new(s.as_bytes().to_vec()).unwrap()
}

fn creds(user: &str, s: &str) -> ChapCredentials {
    ChapCredentials::new(user, secret(s))
}

/// A policy with a table of targets and switches for every refusal.
struct Policy {
    targets: HashMap<String, TargetLookup>,
    allowed: Option<Vec<String>>,
    accepting: bool,
    full: bool,
    tsih: Option<u16>,
    sessions: Vec<Tsih>,
    discovery: AuthConfig,
    assigned: Cell<u32>,
}

impl Policy {
    fn new(auth: AuthConfig) -> Self {
        let mut targets = HashMap::new();
        targets.insert(
            TARGET.to_owned(),
            TargetLookup::Found {
                auth,
                alias: Some("disk alias".to_owned()),
            },
        );
        Self {
            targets,
            allowed: None,
            accepting: true,
            full: false,
            tsih: Some(0x1234),
            sessions: Vec::new(),
            discovery: AuthConfig::none(),
            assigned: Cell::new(0),
        }
    }
}

impl TargetPolicy for Policy {
    fn accepting_logins(&self) -> bool {
        self.accepting
    }
    fn connection_limit_reached(&self) -> bool {
        self.full
    }
    fn target(&self, name: &str) -> TargetLookup {
        self.targets
            .get(name)
            .cloned()
            .unwrap_or(TargetLookup::NotFound)
    }
    fn authorize(&self, _target: &str, initiator: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == initiator))
    }
    fn discovery_auth(&self) -> AuthConfig {
        self.discovery.clone()
    }
    fn session_exists(&self, _: &str, _: Isid, tsih: Tsih) -> bool {
        self.sessions.contains(&tsih)
    }
}

impl Policy {
    /// What a deployment does on [`LoginEvent::SessionRequested`]: gives
    /// the configured TSIH, or refuses with 0x0302 when there is none.
    fn answer(&self, target: &mut TargetLogin) -> Result<(), LoginError> {
        self.assigned.set(self.assigned.get() + 1);
        match self.tsih {
            Some(t) => target.accept_session(Tsih(t)),
            None => Err(target.refuse_session(LoginStatus::OUT_OF_RESOURCES, "no session slot")),
        }
    }

    /// Feeds `pdu` to `target` and answers a session request.
    fn feed(&self, target: &mut TargetLogin, pdu: &PduBuf) -> Result<(), LoginError> {
        target.handle_pdu(pdu, self)?;
        if target.awaits_session() {
            self.answer(target)?;
        }
        Ok(())
    }
}

/// Feeds `pdu` to the target login `t`, answering a session request as
/// `policy` says.
fn feed(t: &mut TargetLogin, pdu: &PduBuf, policy: &Policy) -> Result<(), LoginError> {
    policy.feed(t, pdu)
}

/// A PDU as the peer sees it: encoded, framed from a byte stream, parsed.
fn wire(pdu: &PduBuf) -> PduBuf {
    let bytes = pdu.to_vec(Digests::NONE).unwrap();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut framer = Framer::new(FrameLimits::default());
    let Decoded::Frame(frame) = framer.decode(&mut buf).unwrap() else {
        panic!("whole PDU expected")
    };
    assert!(buf.is_empty());
    let parsed = frame
        .parse()
        .expect("every PDU a login machine emits parses");
    assert!(parsed.same_as(pdu));
    parsed
}

fn text_of(pdu: &PduBuf) -> TextPairs {
    TextPairs::parse(&pdu.data).unwrap()
}

/// The `LoginPair` harness: drives an initiator against a target.
struct Pair {
    initiator: InitiatorLogin,
    target: TargetLogin,
    policy: Policy,
    initiator_events: Vec<LoginEvent>,
    target_events: Vec<LoginEvent>,
    initiator_error: Option<LoginError>,
    target_error: Option<LoginError>,
    /// `I:` / `T:` lines: flags and pairs of every PDU.
    transcript: Vec<String>,
}

fn describe(pdu: &PduBuf) -> String {
    let flags = match pdu.bhs {
        Bhs::LoginRequest(h) => format!(
            "I csg={} nsg={} t={} c={}",
            h.csg.get(),
            h.nsg.get(),
            u8::from(h.transit),
            u8::from(h.continue_bit)
        ),
        Bhs::LoginResponse(h) => format!(
            "T csg={} nsg={} t={} c={} status={:04x}",
            h.csg.get(),
            h.nsg.get(),
            u8::from(h.transit),
            u8::from(h.continue_bit),
            h.status.code()
        ),
        other => format!("{:?}", other.opcode()),
    };
    let pairs: Vec<String> = text_of(pdu)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{flags} {}", pairs.join(" "))
}

impl Pair {
    fn new(config: InitiatorLoginConfig, target_config: TargetLoginConfig, policy: Policy) -> Self {
        Self {
            initiator: InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(0x40))),
            target: TargetLogin::new(target_config, Box::new(FixedChallengeSource::new(0x80))),
            policy,
            initiator_events: Vec::new(),
            target_events: Vec::new(),
            initiator_error: None,
            target_error: None,
            transcript: Vec::new(),
        }
    }

    fn normal(auth: InitiatorAuth, target_auth: AuthConfig) -> Self {
        let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(0xabcdef, 1))
            .with_auth(auth);
        Self::new(
            config,
            TargetLoginConfig::default(),
            Policy::new(target_auth),
        )
    }

    /// Moves PDUs both ways until neither side has anything to send.
    fn drive(&mut self) -> &mut Self {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(req) = self.initiator.poll_transmit() {
                moved = true;
                let req = wire(&req);
                self.transcript.push(describe(&req));
                if self.target_error.is_none()
                    && let Err(e) = self.policy.feed(&mut self.target, &req)
                {
                    self.target_error = Some(e);
                }
            }
            while let Some(e) = self.target.poll_event() {
                self.target_events.push(e);
            }
            while let Some(resp) = self.target.poll_transmit() {
                moved = true;
                let resp = wire(&resp);
                self.transcript.push(describe(&resp));
                if self.initiator_error.is_none()
                    && let Err(e) = self.initiator.handle_pdu(&resp)
                {
                    self.initiator_error = Some(e);
                }
            }
            while let Some(e) = self.initiator.poll_event() {
                self.initiator_events.push(e);
            }
            if !moved {
                return self;
            }
        }
        panic!("login did not settle: {:#?}", self.transcript);
    }

    fn params(events: &[LoginEvent]) -> Option<&SessionParams> {
        events.iter().find_map(|e| match e {
            LoginEvent::Complete(p) => Some(&**p),
            _ => None,
        })
    }

    /// Both sides completed with the same parameters.
    fn assert_success(&self) -> SessionParams {
        assert!(
            self.initiator_error.is_none(),
            "initiator: {:?}\n{:#?}",
            self.initiator_error,
            self.transcript
        );
        assert!(
            self.target_error.is_none(),
            "target: {:?}\n{:#?}",
            self.target_error,
            self.transcript
        );
        let i = Self::params(&self.initiator_events)
            .expect("initiator completes")
            .clone();
        let t = Self::params(&self.target_events)
            .expect("target completes")
            .clone();
        assert!(self.initiator.is_complete() && self.target.is_complete());
        assert_eq!(i.tsih, Tsih(0x1234));
        assert_eq!(i.tsih, t.tsih);
        assert_eq!(i.isid, t.isid);
        assert_eq!(i.digests(), t.digests());
        assert_eq!(i.max_burst_length, t.max_burst_length);
        assert_eq!(i.first_burst_length, t.first_burst_length);
        assert_eq!(i.immediate_data, t.immediate_data);
        assert_eq!(i.initial_r2t, t.initial_r2t);
        assert_eq!(i.max_outstanding_r2t, t.max_outstanding_r2t);
        assert_eq!(i.error_recovery_level, t.error_recovery_level);
        assert_eq!(
            i.initiator_max_recv_data_segment_length,
            t.initiator_max_recv_data_segment_length
        );
        assert_eq!(
            i.target_max_recv_data_segment_length,
            t.target_max_recv_data_segment_length
        );
        assert_eq!(i.next_stat_sn, t.next_stat_sn);
        assert_eq!(i.auth, t.auth);
        assert!(i.first_burst_length <= i.max_burst_length);
        i
    }

    /// The target refused with `status` and the initiator saw the same.
    fn assert_refused(&self, status: LoginStatus) {
        let target = self
            .target_error
            .as_ref()
            .unwrap_or_else(|| panic!("target accepted: {:#?}", self.transcript));
        assert_eq!(target.status(), status, "{target}\n{:#?}", self.transcript);
        let initiator = self
            .initiator_error
            .as_ref()
            .expect("initiator saw the refusal");
        assert_eq!(
            crate::refused_status(initiator),
            Some(status),
            "{initiator}"
        );
        assert!(!self.target.is_complete());
        assert!(matches!(
            self.target_events.last(),
            Some(LoginEvent::Failed { status: s, .. }) if *s == status
        ));
    }
}

#[test]
fn normal_and_discovery_without_authentication() {
    for session_type in [SessionType::Normal, SessionType::Discovery] {
        let mut config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(1, 0))
            .with_session_type(session_type);
        if session_type == SessionType::Discovery {
            config.target_name = None;
        }
        let mut pair = Pair::new(
            config,
            TargetLoginConfig::default(),
            Policy::new(AuthConfig::none()),
        );
        let params = pair.drive().assert_success();
        assert_eq!(params.session_type, session_type);
        assert_eq!(params.auth, AuthOutcome::None);
        // One round trip: CSG=1 → NSG=3 straight away.
        assert_eq!(pair.transcript.len(), 2, "{:#?}", pair.transcript);
        assert!(pair.transcript[0].starts_with("I csg=1 nsg=3 t=1"));
        assert!(pair.transcript[1].starts_with("T csg=1 nsg=3 t=1 c=0 status=0000"));
    }
}

#[test]
fn every_chap_algorithm_one_way_and_mutual() {
    for algorithm in ChapAlgorithm::ALL {
        for mutual in [false, true] {
            let initiator = creds("alice", "alice-secret-1");
            let target_creds = creds("target", "target-secret-2");
            let (auth, target_auth) = if mutual {
                (
                    InitiatorAuth::mutual_chap(initiator.clone(), target_creds.clone()).unwrap(),
                    AuthConfig::chap(initiator)
                        .with_mutual(target_creds)
                        .unwrap(),
                )
            } else {
                (
                    InitiatorAuth::chap(initiator.clone()),
                    AuthConfig::chap(initiator),
                )
            };
            let auth = auth.with_algorithms(&[algorithm]);
            let mut pair = Pair::normal(auth, target_auth);
            let params = pair.drive().assert_success();
            assert_eq!(
                params.auth,
                AuthOutcome::Chap {
                    algorithm,
                    user: "alice".to_owned(),
                    mutual
                }
            );
            assert!(
                pair.initiator_events.iter().any(
                    |e| matches!(e, LoginEvent::Authenticated { mutual: m, .. } if *m == mutual)
                )
            );
            let chap_c = pair
                .transcript
                .iter()
                .find(|l| l.starts_with('T') && l.contains("CHAP_C="))
                .unwrap();
            let challenge_hex_len = chap_c
                .split("CHAP_C=0x")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .len();
            assert_eq!(challenge_hex_len / 2, crate::chap::challenge_len(algorithm));
        }
    }
}

#[test]
fn chap_algorithm_negotiation_follows_the_initiator_order() {
    let c = creds("alice", "alice-secret-1");
    let auth = InitiatorAuth::chap(c.clone())
        .with_algorithms(&[ChapAlgorithm::Sha256, ChapAlgorithm::Md5]);
    let target = AuthConfig::chap(c).with_algorithms(&[ChapAlgorithm::Md5, ChapAlgorithm::Sha256]);
    let mut pair = Pair::normal(auth, target);
    let params = pair.drive().assert_success();
    assert!(matches!(
        params.auth,
        AuthOutcome::Chap {
            algorithm: ChapAlgorithm::Sha256,
            ..
        }
    ));
}

#[test]
fn digests_on_and_off() {
    for (i, t, expect) in [
        (DigestPolicy::Prefer, DigestPolicy::Allow, true),
        (DigestPolicy::Allow, DigestPolicy::Prefer, false),
        (DigestPolicy::Require, DigestPolicy::Allow, true),
        (DigestPolicy::Off, DigestPolicy::Allow, false),
    ] {
        let op = |d| OperationalConfig {
            header_digest: d,
            data_digest: d,
            ..OperationalConfig::default()
        };
        let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(2, 0))
            .with_operational(op(i));
        let target = TargetLoginConfig {
            operational: op(t),
            ..TargetLoginConfig::default()
        };
        let mut pair = Pair::new(config, target, Policy::new(AuthConfig::none()));
        let params = pair.drive().assert_success();
        assert_eq!(
            params.digests(),
            Digests {
                header: expect,
                data: expect
            },
            "{i:?} vs {t:?}"
        );
    }
    // No common value: the target answers Reject and both keep None.
    let op = |d| OperationalConfig {
        header_digest: d,
        ..OperationalConfig::default()
    };
    let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(2, 0))
        .with_operational(op(DigestPolicy::Require));
    let target = TargetLoginConfig {
        operational: op(DigestPolicy::Off),
        ..TargetLoginConfig::default()
    };
    let mut pair = Pair::new(config, target, Policy::new(AuthConfig::none()));
    let params = pair.drive().assert_success();
    assert!(!params.header_digest);
    assert!(pair.transcript[1].contains("HeaderDigest=Reject"));
}

#[test]
fn operational_values_settle_by_their_rules() {
    let initiator_op = OperationalConfig {
        max_burst_length: 65_536,
        first_burst_length: 262_144, // above MaxBurstLength: proposed clamped
        immediate_data: false,
        initial_r2t: false,
        max_recv_data_segment_length: 131_072,
        max_outstanding_r2t: 4,
        ..OperationalConfig::default()
    };
    let target_op = OperationalConfig {
        max_recv_data_segment_length: 65_536,
        max_outstanding_r2t: 2,
        ..OperationalConfig::default()
    };
    let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(3, 0))
        .with_operational(initiator_op);
    let target = TargetLoginConfig {
        operational: target_op,
        ..TargetLoginConfig::default()
    };
    let mut pair = Pair::new(config, target, Policy::new(AuthConfig::none()));
    let p = pair.drive().assert_success();
    assert_eq!(p.max_burst_length, 65_536);
    assert_eq!(p.first_burst_length, 65_536);
    assert!(!p.immediate_data, "AND");
    assert!(!p.initial_r2t, "OR of No and No");
    assert_eq!(p.max_outstanding_r2t, 2, "min");
    assert_eq!(p.initiator_max_recv_data_segment_length, 131_072);
    assert_eq!(p.target_max_recv_data_segment_length, 65_536);
    assert_eq!(p.target_portal_group_tag, Some(1));
    assert_eq!(p.target_alias.as_deref(), Some("disk alias"));
    assert_eq!(p.cmd_sn, CmdSn(1));
    assert_eq!(p.max_cmd_sn, CmdSn(64));
}

#[test]
fn target_offers_keys_the_initiator_left_at_default() {
    let target = TargetLoginConfig {
        operational: OperationalConfig {
            max_burst_length: 16_384,
            first_burst_length: 8192,
            ..OperationalConfig::default()
        },
        ..TargetLoginConfig::default()
    };
    // A raw initiator that offers nothing but names.
    let mut t = TargetLogin::new(target, Box::new(FixedChallengeSource::new(1)));
    let policy = Policy::new(AuthConfig::none());
    feed(
        &mut t,
        &request(
            1,
            3,
            true,
            &[("InitiatorName", INITIATOR), ("TargetName", TARGET)],
        ),
        &policy,
    )
    .unwrap();
    let resp = t.poll_transmit().unwrap();
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert!(!h.transit, "the target must wait for answers to its offers");
    let text = text_of(&resp);
    assert_eq!(text.get("MaxBurstLength"), Some("16384"));
    assert_eq!(text.get("FirstBurstLength"), Some("8192"));
    feed(
        &mut t,
        &request(
            1,
            3,
            true,
            &[("MaxBurstLength", "16384"), ("FirstBurstLength", "8192")],
        ),
        &policy,
    )
    .unwrap();
    let resp = t.poll_transmit().unwrap();
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert!(h.transit);
    assert_eq!(h.tsih, Tsih(0x1234));
    assert!(t.is_complete());
}

// ---- Refusals: each asserts the exact class and detail. ----

#[test]
fn status_0201_wrong_secret() {
    let mut pair = Pair::normal(
        InitiatorAuth::chap(creds("alice", "wrong-secret-xx")),
        AuthConfig::chap(creds("alice", "alice-secret-1")),
    );
    pair.drive()
        .assert_refused(LoginStatus::AUTHENTICATION_FAILURE);
    assert!(matches!(
        pair.target_error,
        Some(LoginError::Auth(AuthError::WrongCredentials))
    ));
}

#[test]
fn status_0201_wrong_user() {
    let mut pair = Pair::normal(
        InitiatorAuth::chap(creds("mallory", "alice-secret-1")),
        AuthConfig::chap(creds("alice", "alice-secret-1")),
    );
    pair.drive()
        .assert_refused(LoginStatus::AUTHENTICATION_FAILURE);
}

#[test]
fn status_0201_chap_required_but_not_offered() {
    let mut pair = Pair::normal(
        InitiatorAuth::None,
        AuthConfig::chap(creds("alice", "alice-secret-1")),
    );
    pair.drive()
        .assert_refused(LoginStatus::AUTHENTICATION_FAILURE);
    assert!(matches!(
        pair.target_error,
        Some(LoginError::Auth(AuthError::Required))
    ));
}

#[test]
fn status_0201_no_common_algorithm() {
    let c = creds("alice", "alice-secret-1");
    let mut pair = Pair::normal(
        InitiatorAuth::chap(c.clone()).with_algorithms(&[ChapAlgorithm::Md5]),
        AuthConfig::chap(c).with_algorithms(&[ChapAlgorithm::Sha256]),
    );
    pair.drive()
        .assert_refused(LoginStatus::AUTHENTICATION_FAILURE);
}

#[test]
fn status_0201_mutual_requested_without_target_credentials() {
    let c = creds("alice", "alice-secret-1");
    let mut pair = Pair::normal(
        InitiatorAuth::mutual_chap(c.clone(), creds("target", "target-secret-2")).unwrap(),
        AuthConfig::chap(c),
    );
    pair.drive()
        .assert_refused(LoginStatus::AUTHENTICATION_FAILURE);
    assert!(matches!(
        pair.target_error,
        Some(LoginError::Auth(AuthError::MutualNotConfigured))
    ));
}

#[test]
fn initiator_refuses_a_wrong_mutual_response() {
    let c = creds("alice", "alice-secret-1");
    let mut pair = Pair::normal(
        InitiatorAuth::mutual_chap(c.clone(), creds("target", "expected-secret")).unwrap(),
        AuthConfig::chap(c)
            .with_mutual(creds("target", "another-secret"))
            .unwrap(),
    );
    pair.drive();
    assert!(matches!(
        pair.initiator_error,
        Some(LoginError::Auth(AuthError::TargetResponseWrong))
    ));
    assert!(!pair.initiator.is_complete());
}

/// A hostile target sends AuthMethod, CHAP_A, CHAP_I and CHAP_C in one
/// response with the T bit set, as if the initiator had already proved
/// itself. The initiator must not move on to the operational stage without
/// having sent CHAP_R and checked the target's mutual response (found by
/// the `login_initiator` fuzz target).
#[test]
fn initiator_refuses_a_challenge_that_comes_with_the_t_bit() {
    for mutual in [false, true] {
        let c = creds("alice", "alice-secret-1");
        let auth = if mutual {
            InitiatorAuth::mutual_chap(c, creds("target", "target-secret-2")).unwrap()
        } else {
            InitiatorAuth::chap(c)
        };
        let isid = Isid::random(0x0a0b0c, 1);
        let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, isid).with_auth(auth);
        let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(0x40)));
        let Some(first) = initiator.poll_transmit() else {
            panic!("the initiator sends the first request")
        };
        let Bhs::LoginRequest(req) = first.bhs else {
            panic!()
        };
        let text: TextPairs = [
            ("AuthMethod", "CHAP"),
            ("CHAP_A", "5"),
            ("CHAP_I", "1"),
            ("CHAP_C", "0x0102030405060708090a0b0c0d0e0f10"),
        ]
        .into_iter()
        .collect();
        let response = Pdu::new(
            LoginResponse {
                transit: true,
                csg: LoginStage::SECURITY_NEGOTIATION,
                nsg: LoginStage::OPERATIONAL_NEGOTIATION,
                isid,
                tsih: Tsih(5),
                itt: req.itt,
                stat_sn: StatSn(1),
                status: LoginStatus::SUCCESS,
                ..LoginResponse::default()
            },
            text.to_bytes(),
        );
        let err = initiator.handle_pdu(&wire(&response)).unwrap_err();
        assert_eq!(err, LoginError::Auth(AuthError::Unexpected("T bit")));
        assert!(!initiator.is_complete());
        assert!(initiator.poll_transmit().is_none(), "nothing more is sent");
    }
}

#[test]
fn status_0201_reflected_challenge() {
    // A raw initiator that sends the target's own challenge back as its
    // mutual challenge.
    let c = creds("alice", "alice-secret-1");
    let policy = Policy::new(
        AuthConfig::chap(c.clone())
            .with_mutual(creds("target", "target-secret-2"))
            .unwrap(),
    );
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(7)),
    );
    feed(
        &mut t,
        &request(
            0,
            1,
            true,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", TARGET),
                ("AuthMethod", "CHAP"),
            ],
        ),
        &policy,
    )
    .unwrap();
    let _ = t.poll_transmit();
    feed(&mut t, &request(0, 1, false, &[("CHAP_A", "5")]), &policy).unwrap();
    let resp = t.poll_transmit().unwrap();
    let text = text_of(&resp);
    let id: u8 = text.get("CHAP_I").unwrap().parse().unwrap();
    let challenge = iscsi_pdu::text::parse_binary(text.get("CHAP_C").unwrap()).unwrap();
    let r = ChapAlgorithm::Md5.response(id, &c.secret, &challenge);
    let err = t
        .handle_pdu(
            &request(
                0,
                1,
                true,
                &[
                    ("CHAP_N", "alice"),
                    ("CHAP_R", &encode_hex(&r)),
                    ("CHAP_I", "1"),
                    ("CHAP_C", &encode_hex(&challenge)),
                ],
            ),
            &policy,
        )
        .unwrap_err();
    assert_eq!(err, LoginError::Auth(AuthError::Reflection));
    assert_status(&mut t, LoginStatus::AUTHENTICATION_FAILURE);
}

#[test]
fn status_0202_initiator_not_in_acl() {
    let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
    pair.policy.allowed = Some(vec!["iqn.2026-11.rs.iscsi:someone-else".to_owned()]);
    pair.drive()
        .assert_refused(LoginStatus::AUTHORIZATION_FAILURE);
}

#[test]
fn status_0203_and_0204_unknown_and_removed_targets() {
    let config =
        InitiatorLoginConfig::normal(INITIATOR, "iqn.2026-11.rs.iscsi:nope", Isid::random(4, 0));
    let mut pair = Pair::new(
        config,
        TargetLoginConfig::default(),
        Policy::new(AuthConfig::none()),
    );
    pair.drive().assert_refused(LoginStatus::NOT_FOUND);

    let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
    pair.policy
        .targets
        .insert(TARGET.to_owned(), TargetLookup::Removed);
    pair.drive().assert_refused(LoginStatus::TARGET_REMOVED);
}

#[test]
fn status_0101_and_0102_redirect_with_target_address() {
    for (permanent, status) in [
        (false, LoginStatus::TARGET_MOVED_TEMPORARILY),
        (true, LoginStatus::TARGET_MOVED_PERMANENTLY),
    ] {
        let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
        pair.policy.targets.insert(
            TARGET.to_owned(),
            TargetLookup::Redirect {
                address: "127.0.0.2:3260,1".to_owned(),
                permanent,
            },
        );
        pair.drive().assert_refused(status);
        assert_eq!(
            pair.initiator.received_text().get("TargetAddress"),
            Some("127.0.0.2:3260,1")
        );
        // Both sides name the address as data, not as free text.
        for error in [&pair.target_error, &pair.initiator_error] {
            assert!(
                matches!(
                    error,
                    Some(LoginError::Redirected { address, permanent: p })
                        if address == "127.0.0.2:3260,1" && *p == permanent
                ),
                "{error:?}"
            );
        }
    }
}

#[test]
fn status_0205_unsupported_version() {
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let mut req = request(
        1,
        3,
        true,
        &[("InitiatorName", INITIATOR), ("TargetName", TARGET)],
    );
    if let Bhs::LoginRequest(h) = &mut req.bhs {
        h.version_max = 2;
        h.version_min = 1;
    }
    assert!(feed(&mut t, &req, &Policy::new(AuthConfig::none())).is_err());
    let resp = assert_status(&mut t, LoginStatus::UNSUPPORTED_VERSION);
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert_eq!((h.version_max, h.version_active), (0, 0));
}

#[test]
fn status_0207_missing_initiator_or_target_name() {
    let policy = Policy::new(AuthConfig::none());
    for pairs in [
        vec![("TargetName", TARGET)],
        vec![("InitiatorName", INITIATOR)],
        vec![("InitiatorName", INITIATOR), ("TargetName", "")],
    ] {
        let mut t = TargetLogin::new(
            TargetLoginConfig::default(),
            Box::new(FixedChallengeSource::new(1)),
        );
        let err = t
            .handle_pdu(&request(1, 3, true, &pairs), &policy)
            .unwrap_err();
        assert_eq!(err.status(), LoginStatus::MISSING_PARAMETER, "{pairs:?}");
        assert_status(&mut t, LoginStatus::MISSING_PARAMETER);
    }
    // A discovery session needs no TargetName.
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    feed(
        &mut t,
        &request(
            1,
            3,
            true,
            &[("InitiatorName", INITIATOR), ("SessionType", "Discovery")],
        ),
        &policy,
    )
    .unwrap();
    assert!(t.is_complete());
}

#[test]
fn status_0208_and_020a_existing_and_unknown_tsih() {
    let mut policy = Policy::new(AuthConfig::none());
    policy.sessions.push(Tsih(7));
    for (tsih, status) in [
        (7, LoginStatus::CANT_INCLUDE_IN_SESSION),
        (9, LoginStatus::SESSION_DOES_NOT_EXIST),
    ] {
        let mut t = TargetLogin::new(
            TargetLoginConfig::default(),
            Box::new(FixedChallengeSource::new(1)),
        );
        let mut req = request(
            1,
            3,
            true,
            &[("InitiatorName", INITIATOR), ("TargetName", TARGET)],
        );
        if let Bhs::LoginRequest(h) = &mut req.bhs {
            h.tsih = Tsih(tsih);
        }
        assert!(feed(&mut t, &req, &policy).is_err());
        assert_status(&mut t, status);
    }
}

#[test]
fn status_0209_unknown_session_type() {
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let req = request(
        1,
        3,
        true,
        &[("InitiatorName", INITIATOR), ("SessionType", "Bogus")],
    );
    assert!(feed(&mut t, &req, &Policy::new(AuthConfig::none())).is_err());
    assert_status(&mut t, LoginStatus::SESSION_TYPE_NOT_SUPPORTED);
}

#[test]
fn status_020b_non_login_pdu_and_illegal_stage() {
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let nop: PduBuf = Pdu::new(
        NopOut {
            itt: Itt(5),
            ttt: Ttt::RESERVED,
            ..NopOut::default()
        },
        bytes::Bytes::new(),
    );
    assert!(feed(&mut t, &nop, &policy).is_err());
    let resp = assert_status(&mut t, LoginStatus::INVALID_DURING_LOGIN);
    assert_eq!(resp.itt(), Itt(5));

    // CSG changes without the target having agreed to a transition.
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    feed(
        &mut t,
        &request(
            0,
            1,
            false,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", TARGET),
                ("AuthMethod", "None"),
            ],
        ),
        &policy,
    )
    .unwrap();
    let _ = t.poll_transmit();
    assert!(feed(&mut t, &request(1, 3, true, &[]), &policy).is_err());
    assert_status(&mut t, LoginStatus::INVALID_DURING_LOGIN);
}

#[test]
fn status_0206_connection_limit() {
    let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
    pair.policy.full = true;
    pair.drive()
        .assert_refused(LoginStatus::TOO_MANY_CONNECTIONS);
}

#[test]
fn status_0301_and_0302() {
    let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
    pair.policy.accepting = false;
    pair.drive()
        .assert_refused(LoginStatus::SERVICE_UNAVAILABLE);

    let mut pair = Pair::normal(InitiatorAuth::None, AuthConfig::none());
    pair.policy.tsih = None;
    pair.drive().assert_refused(LoginStatus::OUT_OF_RESOURCES);
    assert_eq!(pair.policy.assigned.get(), 1);
}

#[test]
fn status_0200_renegotiation_wrong_stage_and_wrong_sender() {
    let policy = Policy::new(AuthConfig::none());
    let cases: [&[(&str, &str)]; 4] = [
        &[
            ("InitiatorName", INITIATOR),
            ("TargetName", TARGET),
            ("MaxBurstLength", "65536"),
            ("MaxBurstLength", "8192"),
        ],
        &[
            ("InitiatorName", INITIATOR),
            ("TargetName", TARGET),
            ("TargetAlias", "mine"),
        ],
        &[
            ("InitiatorName", INITIATOR),
            ("TargetName", TARGET),
            ("MaxRecvDataSegmentLength", "100"),
        ],
        &[
            ("InitiatorName", INITIATOR),
            ("TargetName", TARGET),
            ("AuthMethod", "None"),
        ],
    ];
    for pairs in cases {
        let mut t = TargetLogin::new(
            TargetLoginConfig::default(),
            Box::new(FixedChallengeSource::new(1)),
        );
        assert!(
            feed(&mut t, &request(1, 3, true, pairs), &policy).is_err(),
            "{pairs:?}"
        );
        assert_status(&mut t, LoginStatus::INITIATOR_ERROR);
    }
    // Operational keys in the security stage.
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let pairs = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("AuthMethod", "None"),
        ("HeaderDigest", "None"),
    ];
    assert!(feed(&mut t, &request(0, 1, true, &pairs), &policy).is_err());
    assert_status(&mut t, LoginStatus::INITIATOR_ERROR);
}

/// The keys initiators rarely send, each answered as its RFC section says.
#[test]
fn rarely_sent_keys_get_the_answers_their_sections_give() {
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let pairs = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("InitiatorAlias", "host-a"),
        ("MaxConnections", "4"),
        ("DefaultTime2Retain", "20"),
        ("DataPDUInOrder", "No"),
        ("DataSequenceInOrder", "No"),
        ("TaskReporting", "ResponseFence,RFC3720"),
        ("iSCSIProtocolLevel", "1"),
        ("IFMarker", "Yes"),
        ("OFMarker", "No"),
        ("IFMarkInt", "2048"),
        ("OFMarkInt", "1~65535"),
    ];
    feed(&mut t, &request(1, 3, true, &pairs), &policy).unwrap();
    let resp = t.poll_transmit().unwrap();
    let answers = text_of(&resp);
    let answer = |k: &str| answers.get(k).map(str::to_owned);
    // §13.2 MaxConnections: the lower value (sessions have one connection).
    assert_eq!(answer("MaxConnections").as_deref(), Some("1"));
    // §13.11 DefaultTime2Retain: the lower value; 0 at ErrorRecoveryLevel 0.
    assert_eq!(answer("DefaultTime2Retain").as_deref(), Some("0"));
    // §13.18/§13.19: OR, and the target wants order.
    assert_eq!(answer("DataPDUInOrder").as_deref(), Some("Yes"));
    assert_eq!(answer("DataSequenceInOrder").as_deref(), Some("Yes"));
    // §13.23 TaskReporting: the first value the target supports.
    assert_eq!(answer("TaskReporting").as_deref(), Some("RFC3720"));
    // RFC 7144 §2.1 iSCSIProtocolLevel: the lower value.
    let level = answer("iSCSIProtocolLevel").expect("iSCSIProtocolLevel answered");
    assert!(matches!(level.as_str(), "0" | "1"), "{level}");
    // §13.26 obsolete markers: Reject (IFMarker/OFMarker may get No).
    for key in ["IFMarker", "OFMarker"] {
        let a = answer(key).expect("markers answered");
        assert!(matches!(a.as_str(), "Reject" | "No"), "{key}={a}");
    }
    assert_eq!(answer("IFMarkInt").as_deref(), Some("Reject"));
    assert_eq!(answer("OFMarkInt").as_deref(), Some("Reject"));
    // A declaration: no answer.
    assert_eq!(answer("InitiatorAlias"), None);
    assert!(t.is_complete());
}

#[test]
fn malformed_values_are_refused_not_read_as_zero() {
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let pairs = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("MaxBurstLength", "12ab"),
        ("FirstBurstLength", "0x8000"),
        ("ErrorRecoveryLevel", "one"),
        ("ImmediateData", "yes"),
        ("MaxOutstandingR2T", ""),
    ];
    feed(&mut t, &request(1, 3, true, &pairs), &policy).unwrap();
    let resp = t.poll_transmit().unwrap();
    let answers = text_of(&resp);
    // RFC 7143 §6.2: an offer that is not a value of its key is refused and
    // the key keeps its default.
    assert_eq!(answers.get("MaxBurstLength"), Some("Reject"));
    assert_eq!(answers.get("ErrorRecoveryLevel"), Some("Reject"));
    assert_eq!(answers.get("ImmediateData"), Some("Reject"));
    assert_eq!(answers.get("MaxOutstandingR2T"), Some("Reject"));
    // Hex is a numerical value (§6.1); the answer is written in decimal.
    assert_eq!(answers.get("FirstBurstLength"), Some("32768"));
    let mut params = None;
    while let Some(e) = t.poll_event() {
        if let LoginEvent::Complete(p) = e {
            params = Some(p);
        }
    }
    let params = params.expect("the login completes");
    assert_eq!(params.max_burst_length, 262_144);
    assert_eq!(params.first_burst_length, 32_768);
    assert_eq!(params.error_recovery_level, 0);
    assert!(params.immediate_data);
    assert_eq!(params.max_outstanding_r2t, 1);

    // A malformed declaration fails the login (initiator error, 0x0200).
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let pairs = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("MaxRecvDataSegmentLength", "8k"),
    ];
    let err = feed(&mut t, &request(1, 3, true, &pairs), &policy).unwrap_err();
    assert!(
        err.to_string().contains("MaxRecvDataSegmentLength"),
        "{err}"
    );
    assert_status(&mut t, LoginStatus::INITIATOR_ERROR);
}

#[test]
fn unknown_and_extension_keys_are_not_understood() {
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let pairs = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("X-com.example.Foo", "1"),
        ("X#Bar", "2"),
        ("NoSuchKey", "3"),
        ("IFMarker", "No"),
    ];
    feed(&mut t, &request(1, 3, true, &pairs), &policy).unwrap();
    let text = text_of(&t.poll_transmit().unwrap());
    assert_eq!(text.get("X-com.example.Foo"), Some("NotUnderstood"));
    assert_eq!(text.get("X#Bar"), Some("NotUnderstood"));
    assert_eq!(text.get("NoSuchKey"), Some("NotUnderstood"));
    assert_eq!(text.get("IFMarker"), Some("No"));
    assert!(t.is_complete());
}

#[test]
fn continuation_both_directions() {
    // The initiator's text is over 8192 bytes: it goes in pieces with C=1,
    // the target acknowledges each, and its answer (NotUnderstood for each
    // extension key, also over 8192 bytes) comes back in pieces.
    let mut config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(5, 0));
    config.initiator_alias = Some("a".repeat(200));
    let mut pair = Pair::new(
        config,
        TargetLoginConfig::default(),
        Policy::new(AuthConfig::none()),
    );
    // Inject many extension keys through the initiator's first PDU by hand.
    let first = pair.initiator.poll_transmit().unwrap();
    let mut text = text_of(&first);
    for i in 0..400 {
        text.push(format!("X-com.example.Key{i:03}"), "v".repeat(20));
    }
    let data = text.to_bytes();
    assert!(data.len() > 8192);
    let policy = Policy::new(AuthConfig::none());
    let Bhs::LoginRequest(h) = first.bhs else {
        panic!()
    };
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    let chunks: Vec<&[u8]> = data.chunks(8192).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let req = Pdu::new(
            LoginRequest {
                continue_bit: !last,
                transit: last,
                ..h
            },
            bytes::Bytes::copy_from_slice(chunk),
        );
        feed(&mut t, &wire(&req), &policy).unwrap();
        let resp = wire(&t.poll_transmit().unwrap());
        if !last {
            assert!(
                resp.data.is_empty(),
                "a continued request gets an empty answer"
            );
        }
    }
    // The first piece of the answer is out; ask for the rest.
    let mut answer = Vec::new();
    let mut pieces = 1;
    // Re-read the last response (already taken above): ask until T=1.
    loop {
        feed(
            &mut t,
            &wire(&Pdu::new(
                LoginRequest {
                    continue_bit: false,
                    transit: true,
                    ..h
                },
                bytes::Bytes::new(),
            )),
            &policy,
        )
        .unwrap();
        let resp = wire(&t.poll_transmit().unwrap());
        answer.extend_from_slice(&resp.data);
        pieces += 1;
        let Bhs::LoginResponse(r) = resp.bhs else {
            panic!()
        };
        if !r.continue_bit {
            assert!(r.transit);
            break;
        }
        assert!(!r.transit, "no transit while pieces remain");
    }
    assert!(pieces >= 2);
    assert!(t.is_complete());
    let _ = pair;
}

// ---- RFC 7143 Appendix B login examples as transcripts. ----

#[test]
fn appendix_b_no_security_straight_to_full_feature() {
    // I-> Login (CSG,NSG=1,3 T=1) InitiatorName=... TargetName=... MaxRecvDataSegmentLength=...
    // T-> Login (CSG,NSG=1,3 T=1) ... TSIH set, status 0
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    feed(
        &mut t,
        &request(
            1,
            3,
            true,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", TARGET),
                ("MaxRecvDataSegmentLength", "65536"),
            ],
        ),
        &policy,
    )
    .unwrap();
    let resp = t.poll_transmit().unwrap();
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert!(
        h.transit
            && h.csg == LoginStage::OPERATIONAL_NEGOTIATION
            && h.nsg == LoginStage::FULL_FEATURE_PHASE
    );
    assert_eq!(h.status, LoginStatus::SUCCESS);
    assert_ne!(h.tsih, Tsih(0));
    let text = text_of(&resp);
    assert_eq!(text.get("TargetPortalGroupTag"), Some("1"));
    assert!(text.get("MaxRecvDataSegmentLength").is_some());
}

#[test]
fn appendix_b_chap_with_target_authentication() {
    // I-> Login (CSG,NSG=0,1 T=1) InitiatorName TargetName AuthMethod=KRB5,CHAP,None
    // T-> Login (CSG,NSG=0,0 T=0) AuthMethod=CHAP
    // I-> Login (CSG,NSG=0,0 T=0) CHAP_A=<A1,A2>
    // T-> Login (CSG,NSG=0,0 T=0) CHAP_A=<A1> CHAP_I=<I> CHAP_C=<C>
    // I-> Login (CSG,NSG=0,1 T=1) CHAP_N CHAP_R CHAP_I CHAP_C
    // T-> Login (CSG,NSG=0,1 T=1) CHAP_N CHAP_R
    // I-> Login (CSG,NSG=1,3 T=1) HeaderDigest=CRC32C,None ...
    // T-> Login (CSG,NSG=1,3 T=1) HeaderDigest=None ... (TSIH)
    let c = creds("alice", "alice-secret-1");
    let target_creds = creds("disk", "target-secret-2");
    let mut pair = Pair::normal(
        InitiatorAuth::mutual_chap(c.clone(), target_creds.clone()).unwrap(),
        AuthConfig::chap(c).with_mutual(target_creds).unwrap(),
    );
    pair.drive().assert_success();
    let t = &pair.transcript;
    assert_eq!(t.len(), 8, "{t:#?}");
    assert!(t[0].starts_with("I csg=0 nsg=1 t=1") && t[0].contains("AuthMethod=CHAP"));
    assert!(t[1].starts_with("T csg=0 nsg=0 t=0") && t[1].contains("AuthMethod=CHAP"));
    assert!(t[2].starts_with("I csg=0 nsg=0 t=0") && t[2].contains("CHAP_A=8,7,6,5"));
    assert!(
        t[3].starts_with("T csg=0 nsg=0 t=0")
            && t[3].contains("CHAP_A=8")
            && t[3].contains("CHAP_I=")
            && t[3].contains("CHAP_C=0x")
    );
    assert!(
        t[4].starts_with("I csg=0 nsg=1 t=1")
            && t[4].contains("CHAP_N=alice")
            && t[4].contains("CHAP_C=0x")
    );
    assert!(
        t[5].starts_with("T csg=0 nsg=1 t=1")
            && t[5].contains("CHAP_N=disk")
            && t[5].contains("CHAP_R=0x")
    );
    assert!(t[6].starts_with("I csg=1 nsg=3 t=1") && t[6].contains("HeaderDigest=None,CRC32C"));
    assert!(
        t[7].starts_with("T csg=1 nsg=3 t=1 c=0 status=0000") && t[7].contains("HeaderDigest=None")
    );
}

#[test]
fn appendix_b_auth_method_none_in_security_stage() {
    // I-> Login (CSG,NSG=0,1 T=1) ... AuthMethod=None
    // T-> Login (CSG,NSG=0,1 T=1) AuthMethod=None
    // I-> Login (CSG,NSG=1,3 T=1) ...
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    feed(
        &mut t,
        &request(
            0,
            1,
            true,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", TARGET),
                ("AuthMethod", "CHAP,None"),
            ],
        ),
        &policy,
    )
    .unwrap();
    let resp = t.poll_transmit().unwrap();
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert!(h.transit && h.nsg == LoginStage::OPERATIONAL_NEGOTIATION);
    assert_eq!(text_of(&resp).get("AuthMethod"), Some("None"));
    feed(
        &mut t,
        &request(1, 3, true, &[("HeaderDigest", "None")]),
        &policy,
    )
    .unwrap();
    assert!(t.is_complete());
}

/// libiscsi (1.19, a user set, AuthMethod=None answered) sends
/// InitiatorName, TargetName and SessionType again in its first
/// operational PDU: the same values are accepted, a changed one is not.
#[test]
fn identical_identity_keys_may_be_repeated_after_auth_method_none() {
    let policy = Policy::new(AuthConfig::none());
    let first = [
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("SessionType", "Normal"),
        ("AuthMethod", "CHAP,None"),
    ];
    for (repeat, accepted) in [(INITIATOR, true), ("iqn.2026-11.other:init", false)] {
        let mut t = TargetLogin::new(
            TargetLoginConfig::default(),
            Box::new(FixedChallengeSource::new(1)),
        );
        feed(&mut t, &request(0, 1, true, &first), &policy).unwrap();
        let resp = t.poll_transmit().unwrap();
        assert_eq!(text_of(&resp).get("AuthMethod"), Some("None"));
        let second = [
            ("InitiatorName", repeat),
            ("TargetName", TARGET),
            ("SessionType", "Normal"),
            ("HeaderDigest", "None"),
        ];
        let result = feed(&mut t, &request(1, 3, true, &second), &policy);
        if accepted {
            result.unwrap();
            assert!(t.is_complete());
        } else {
            assert!(result.is_err());
            assert_status(&mut t, LoginStatus::INITIATOR_ERROR);
        }
    }
}

#[test]
fn sequence_numbers_follow_rfc7143_11_12() {
    let c = creds("alice", "alice-secret-1");
    let mut pair = Pair::normal(InitiatorAuth::chap(c.clone()), AuthConfig::chap(c));
    pair.drive().assert_success();
    // Every login response advances StatSN by one; every request after the
    // first echoes ExpStatSN = last StatSN + 1; CmdSN stays constant.
    let mut target = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(0x80)),
    );
    let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(0xabcdef, 1))
        .with_auth(InitiatorAuth::chap(creds("alice", "alice-secret-1")));
    let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(0x40)));
    let policy = Policy::new(AuthConfig::chap(creds("alice", "alice-secret-1")));
    let mut last_stat: Option<StatSn> = None;
    while let Some(req) = initiator.poll_transmit() {
        let Bhs::LoginRequest(r) = req.bhs else {
            panic!()
        };
        assert_eq!(r.cmd_sn, CmdSn(1));
        assert_eq!(r.itt, Itt(0));
        assert_eq!(r.cid, Cid(0));
        if let Some(s) = last_stat {
            assert_eq!(
                r.exp_stat_sn,
                s.next(),
                "ExpStatSN echoes the last StatSN + 1"
            );
        }
        feed(&mut target, &req, &policy).unwrap();
        while let Some(resp) = target.poll_transmit() {
            let Bhs::LoginResponse(h) = resp.bhs else {
                panic!()
            };
            if let Some(s) = last_stat {
                assert_eq!(h.stat_sn, s.next());
            }
            assert_eq!(h.exp_cmd_sn, CmdSn(1));
            last_stat = Some(h.stat_sn);
            initiator.handle_pdu(&resp).unwrap();
        }
    }
    assert!(initiator.is_complete());
    assert_eq!(target.next_stat_sn(), last_stat.unwrap().next());
}

#[test]
fn isid_is_taken_from_config_and_changes_are_refused() {
    let a = Isid::random(0x111111, 0);
    let b = Isid::random(0x222222, 0);
    assert_ne!(a, b);
    assert_eq!(a.isid_type(), Isid::TYPE_RANDOM);
    let policy = Policy::new(AuthConfig::none());
    let mut t = TargetLogin::new(
        TargetLoginConfig::default(),
        Box::new(FixedChallengeSource::new(1)),
    );
    feed(
        &mut t,
        &request(
            0,
            1,
            false,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", TARGET),
                ("AuthMethod", "None"),
            ],
        ),
        &policy,
    )
    .unwrap();
    let _ = t.poll_transmit();
    let mut req = request(0, 1, true, &[]);
    if let Bhs::LoginRequest(h) = &mut req.bhs {
        h.isid = b;
    }
    assert!(feed(&mut t, &req, &policy).is_err());
    assert_status(&mut t, LoginStatus::INITIATOR_ERROR);
}

// ---- Raw-PDU helpers. ----

fn request(csg: u8, nsg: u8, transit: bool, pairs: &[(&str, &str)]) -> PduBuf {
    let text: TextPairs = pairs.iter().copied().collect();
    Pdu::new(
        LoginRequest {
            transit,
            continue_bit: false,
            csg: LoginStage::from_wire(csg),
            nsg: LoginStage::from_wire(nsg),
            isid: Isid::random(0x424242, 0),
            itt: Itt(1),
            cmd_sn: CmdSn(1),
            ..LoginRequest::default()
        },
        text.to_bytes(),
    )
}

/// The target queued exactly one more response: a refusal with `status`.
fn assert_status(t: &mut TargetLogin, status: LoginStatus) -> PduBuf {
    let mut last = None;
    while let Some(p) = t.poll_transmit() {
        last = Some(p);
    }
    let resp = wire(&last.expect("a response"));
    let Bhs::LoginResponse(h) = resp.bhs else {
        panic!()
    };
    assert_eq!(h.status, status, "{}", h.status);
    assert!(!h.transit);
    assert!(t.is_failed());
    resp
}
