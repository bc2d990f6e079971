//! Every login status the target emits, driven with raw PDUs against a
//! running server, each asserting the exact class and detail.

mod common;

use common::{INITIATOR, TestTarget, login, login_request, normal, raw_login};
use iscsi_login::{ChapCredentials, InitiatorAuth, Secret};
use iscsi_pdu::{Bhs, Itt, LoginStatus, NopOut, Pdu, PduBuf, Tsih, Ttt};
use iscsi_target::config::{Config, DEFAULT_TARGET};

const RAM: &str = DEFAULT_TARGET;
const SECURE: &str = "iqn.2026-11.rs.iscsi:secure";
const PRIVATE: &str = "iqn.2026-11.rs.iscsi:private";

fn config() -> Config {
    let mut config = Config::embedded_default();
    config.targets[0].luns[0].size = Some(64 << 20);
    config.limits.shutdown_grace_s = 2;
    let mut secure = config.targets[0].clone();
    secure.name = SECURE.to_owned();
    secure.chap = Some(ChapCredentials::new(
        "user",
        Secret::new(*b"secure-secret-1").unwrap(),
    ));
    let mut private = config.targets[0].clone();
    private.name = PRIVATE.to_owned();
    private.allow = Some(vec!["iqn.2026-11.rs.iscsi:someone-else".to_owned()]);
    config.targets.push(secure);
    config.targets.push(private);
    config
}

fn names(target: &str) -> Vec<(&'static str, String)> {
    vec![
        ("InitiatorName", INITIATOR.to_owned()),
        ("TargetName", target.to_owned()),
    ]
}

fn status_of(target: &TestTarget, pairs: &[(&str, &str)]) -> LoginStatus {
    let (h, _, _) = raw_login(target.addr, &login_request(1, 3, true, pairs));
    h.status
}

#[test]
fn status_0200_initiator_error() {
    let target = TestTarget::start(config());
    // A key sent twice in one login (RFC 7143 §6.2).
    assert_eq!(
        status_of(
            &target,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", RAM),
                ("MaxBurstLength", "65536"),
                ("MaxBurstLength", "8192"),
            ]
        ),
        LoginStatus::INITIATOR_ERROR
    );
    // A key only the target may send.
    assert_eq!(
        status_of(
            &target,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", RAM),
                ("TargetPortalGroupTag", "1"),
            ]
        ),
        LoginStatus::INITIATOR_ERROR
    );
    // And a login that is fine succeeds (0x0000).
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("TargetName", RAM)]
        ),
        LoginStatus::SUCCESS
    );
}

#[test]
fn status_0201_authentication_failure() {
    let target = TestTarget::start(config());
    // No authentication offered to a CHAP target.
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("TargetName", SECURE)]
        ),
        LoginStatus::AUTHENTICATION_FAILURE
    );
    // A wrong secret.
    let wrong = normal(SECURE, 1).with_auth(InitiatorAuth::chap(ChapCredentials::new(
        "user",
        Secret::new(*b"wrong-secret-xx").unwrap(),
    )));
    let Err(err) = login(target.addr, wrong) else {
        panic!("a wrong secret logged in")
    };
    assert_eq!(
        iscsi_login::refused_status(&err),
        Some(LoginStatus::AUTHENTICATION_FAILURE)
    );
    // The right one.
    let right = normal(SECURE, 2).with_auth(InitiatorAuth::chap(ChapCredentials::new(
        "user",
        Secret::new(*b"secure-secret-1").unwrap(),
    )));
    assert!(login(target.addr, right).is_ok());
}

#[test]
fn status_0202_authorization_failure() {
    let target = TestTarget::start(config());
    let pairs = names(PRIVATE);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        status_of(&target, &pairs),
        LoginStatus::AUTHORIZATION_FAILURE
    );
}

#[test]
fn status_0203_not_found() {
    let target = TestTarget::start(config());
    assert_eq!(
        status_of(
            &target,
            &[
                ("InitiatorName", INITIATOR),
                ("TargetName", "iqn.2026-11.rs.iscsi:nope")
            ]
        ),
        LoginStatus::NOT_FOUND
    );
}

#[test]
fn status_0204_target_removed_while_running() {
    let target = TestTarget::start(config());
    let mut session = login(target.addr, normal(RAM, 3)).unwrap();
    target.server().remove_target(RAM);
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("TargetName", RAM)]
        ),
        LoginStatus::TARGET_REMOVED
    );
    // Its sessions are closed.
    assert!(session.conn.closed());
}

#[test]
fn status_0205_unsupported_version() {
    let target = TestTarget::start(config());
    let mut req = login_request(
        1,
        3,
        true,
        &[("InitiatorName", INITIATOR), ("TargetName", RAM)],
    );
    if let Bhs::LoginRequest(h) = &mut req.bhs {
        h.version_max = 3;
        h.version_min = 2;
    }
    let (h, _, _) = raw_login(target.addr, &req);
    assert_eq!(h.status, LoginStatus::UNSUPPORTED_VERSION);
    assert_eq!((h.version_max, h.version_active), (0, 0));
}

#[test]
fn status_0206_too_many_connections() {
    let mut config = config();
    config.limits.max_connections = 1;
    let target = TestTarget::start(config);
    let _first = login(target.addr, normal(RAM, 4)).unwrap();
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("TargetName", RAM)]
        ),
        LoginStatus::TOO_MANY_CONNECTIONS
    );
}

#[test]
fn status_0207_missing_initiator_name_and_target_name() {
    let target = TestTarget::start(config());
    // A real Login Request without InitiatorName.
    assert_eq!(
        status_of(&target, &[("TargetName", RAM)]),
        LoginStatus::MISSING_PARAMETER
    );
    // A Normal session without TargetName.
    assert_eq!(
        status_of(&target, &[("InitiatorName", INITIATOR)]),
        LoginStatus::MISSING_PARAMETER
    );
}

#[test]
fn status_0208_cant_include_in_session() {
    let target = TestTarget::start(config());
    let session = login(target.addr, normal(RAM, 0x208)).unwrap();
    // A second connection for the session (its ISID and TSIH): sessions
    // have one connection here (MaxConnections=1).
    let mut req = login_request(
        1,
        3,
        true,
        &[("InitiatorName", INITIATOR), ("TargetName", RAM)],
    );
    if let Bhs::LoginRequest(h) = &mut req.bhs {
        h.isid = session.params.isid;
        h.tsih = session.params.tsih;
        h.cid = iscsi_pdu::Cid(1);
    }
    let (h, _, _) = raw_login(target.addr, &req);
    assert_eq!(h.status, LoginStatus::CANT_INCLUDE_IN_SESSION);
    drop(session);
}

#[test]
fn status_0209_session_type_not_supported() {
    let target = TestTarget::start(config());
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("SessionType", "Bogus")]
        ),
        LoginStatus::SESSION_TYPE_NOT_SUPPORTED
    );
}

#[test]
fn status_020a_session_does_not_exist() {
    let target = TestTarget::start(config());
    let mut req = login_request(
        1,
        3,
        true,
        &[("InitiatorName", INITIATOR), ("TargetName", RAM)],
    );
    if let Bhs::LoginRequest(h) = &mut req.bhs {
        h.tsih = Tsih(0x7777);
    }
    let (h, _, _) = raw_login(target.addr, &req);
    assert_eq!(h.status, LoginStatus::SESSION_DOES_NOT_EXIST);
}

#[test]
fn status_020b_invalid_during_login() {
    let target = TestTarget::start(config());
    let nop: PduBuf = Pdu::new(
        NopOut {
            immediate: true,
            itt: Itt(7),
            ttt: Ttt::RESERVED,
            ..NopOut::default()
        },
        bytes::Bytes::new(),
    );
    let (h, _, _) = raw_login(target.addr, &nop);
    assert_eq!(h.status, LoginStatus::INVALID_DURING_LOGIN);
    assert_eq!(h.itt, Itt(7));
}

#[test]
fn status_0301_service_unavailable_during_shutdown() {
    let mut target = TestTarget::start(config());
    let mut session = login(target.addr, normal(RAM, 5)).unwrap();
    let shutdown = target.shutdown_in_background();
    // The logged-in session is asked to log out (Asynchronous Message, event 1).
    let msg = session.conn.recv().expect("an asynchronous message");
    let Bhs::AsyncMessage(m) = msg.bhs else {
        panic!("expected an Asynchronous Message, got {:?}", msg.opcode())
    };
    assert_eq!(m.async_event, iscsi_pdu::AsyncEvent::LOGOUT_REQUESTED);
    assert_eq!(m.parameter3, 2);
    // New logins are refused while it shuts down.
    assert_eq!(
        status_of(
            &target,
            &[("InitiatorName", INITIATOR), ("TargetName", RAM)]
        ),
        LoginStatus::SERVICE_UNAVAILABLE
    );
    assert!(target.rt.block_on(shutdown).unwrap().is_ok());
    assert!(session.conn.closed());
}

#[test]
fn status_0302_out_of_resources() {
    let mut config = config();
    config.limits.max_sessions = 1;
    let target = TestTarget::start(config);
    let _first = login(target.addr, normal(RAM, 6)).unwrap();
    let (h, _, _) = raw_login(
        target.addr,
        &login_request(
            1,
            3,
            true,
            &[
                ("InitiatorName", "iqn.2026-11.rs.iscsi:second"),
                ("TargetName", RAM),
            ],
        ),
    );
    assert_eq!(h.status, LoginStatus::OUT_OF_RESOURCES);
}

#[test]
fn session_reinstatement_closes_the_old_session() {
    let target = TestTarget::start(config());
    let mut first = login(target.addr, normal(RAM, 0x42)).unwrap();
    let second = login(target.addr, normal(RAM, 0x42)).unwrap();
    assert_ne!(first.params.tsih, second.params.tsih);
    assert!(
        first.conn.closed(),
        "the old session's connection is closed"
    );
    assert_eq!(target.server().session_count(), 1);
}
