//! The client library against our own target, in process on 127.0.0.1:0.

use std::time::Duration;

use bytes::Bytes;
use iscsi_initiator::client::{Error, LoginOptions, discover, login};
use iscsi_initiator::url::{IscsiUrl, Portal};
use iscsi_login::{ChapCredentials, InitiatorAuth, Secret};
use iscsi_pdu::LoginStatus;
use iscsi_target::config::{Config, DEFAULT_TARGET};
use iscsi_target::server::Server;

async fn start(config: Config) -> (Server, Portal) {
    let mut config = config;
    config.portals[0].address = "127.0.0.1:0".parse().unwrap();
    config.limits.shutdown_grace_s = 1;
    let server = Server::start(config).await.unwrap();
    let port = server.addresses()[0].port();
    (server, Portal::new("127.0.0.1", port))
}

fn small() -> Config {
    let mut c = Config::embedded_default();
    c.targets[0].luns[0].size = Some(64 << 20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_many_in_flight() {
    let (server, portal) = start(small()).await;
    let session = login(&LoginOptions::normal(portal, DEFAULT_TARGET))
        .await
        .unwrap();
    session.test_unit_ready(0).await.unwrap();
    let (blocks, bs) = session.read_capacity(0).await.unwrap();
    assert_eq!((blocks, bs), (131_072, 512));
    assert_eq!(session.report_luns().await.unwrap(), [0]);
    let inq = session.inquiry(0).await.unwrap();
    assert_eq!(inq.vendor, "RSISCSI");
    // 64 concurrent writes then reads of 64 KiB each.
    let session = std::sync::Arc::new(session);
    let mut tasks = Vec::new();
    for i in 0..64u64 {
        let s = session.clone();
        tasks.push(tokio::spawn(async move {
            let data = Bytes::from(vec![i as u8; 65_536]);
            s.write_blocks(0, i * 128, data.clone(), 512).await.unwrap();
            let back = s.read_blocks(0, i * 128, 128, 512).await.unwrap();
            assert_eq!(back, data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    session.sync_cache(0).await.unwrap();
    session.unmap(0, &[(0, 128)]).await.unwrap();
    assert!(
        session
            .read_blocks(0, 0, 128, 512)
            .await
            .unwrap()
            .iter()
            .all(|b| *b == 0)
    );
    let session = std::sync::Arc::into_inner(session).unwrap();
    session.logout().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_every_target_and_logs_out() {
    let mut config = small();
    let mut t = config.targets[0].clone();
    t.name = "iqn.2026-11.rs.iscsi:second".to_owned();
    config.targets.push(t);
    let (server, portal) = start(config).await;
    let d = discover(&LoginOptions::discovery(portal)).await.unwrap();
    let names: Vec<&str> = d.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [DEFAULT_TARGET, "iqn.2026-11.rs.iscsi:second"]);
    assert!(d.targets[0].addresses[0].starts_with("127.0.0.1:"));
    // The discovery session logged out: no session is left.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.session_count(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chap_mutual_chap_and_refusals() {
    let mut config = small();
    config.targets[0].chap = Some(ChapCredentials::new(
        "user",
        Secret::new(*b"user-secret-12").unwrap(),
    ));
    config.targets[0].mutual_chap = Some(ChapCredentials::new(
        "target",
        Secret::new(*b"target-secret-3").unwrap(),
    ));
    let (server, portal) = start(config).await;
    let url = |q: &str| {
        IscsiUrl::parse(&format!(
            "iscsi://user%user-secret-12@{portal}/{DEFAULT_TARGET}/0{q}"
        ))
        .unwrap()
    };
    let s = login(&LoginOptions::from_url(&url("")).unwrap())
        .await
        .unwrap();
    s.logout().await.unwrap();
    let s = login(
        &LoginOptions::from_url(&url("?target_user=target&target_password=target-secret-3"))
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.params().auth,
        iscsi_login::AuthOutcome::Chap { mutual: true, .. }
    ));
    s.logout().await.unwrap();
    // Wrong secret: the status and its explanation.
    let bad = IscsiUrl::parse(&format!(
        "iscsi://user%wrong-secret-x@{portal}/{DEFAULT_TARGET}/0"
    ))
    .unwrap();
    let err = login(&LoginOptions::from_url(&bad).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.login_status(),
        Some(LoginStatus::AUTHENTICATION_FAILURE)
    );
    assert!(
        err.to_string()
            .starts_with("login refused: 0x0201 authentication failure"),
        "{err}"
    );
    // Wrong target secret: the initiator refuses the target.
    let err = login(
        &LoginOptions::from_url(&url("?target_user=target&target_password=not-the-secret"))
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Login(_)), "{err}");
    // Unknown target.
    let err = login(
        &LoginOptions::normal(portal.clone(), "iqn.2026-11.rs.iscsi:none")
            .with_auth(InitiatorAuth::None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.login_status(), Some(LoginStatus::NOT_FOUND));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_not_iscsi_peers() {
    // A closed port.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let err = discover(&LoginOptions::discovery(Portal::new("127.0.0.1", port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    // Something that answers with HTTP.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    });
    let err = discover(&LoginOptions::discovery(Portal::new("127.0.0.1", port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotIscsi(_)), "{err}");
}

/// Online resize: a session that is logged in sees CAPACITY DATA HAS
/// CHANGED, then the new size, and can write past the old end; a shrink
/// is refused unless allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lun_grows_under_a_live_session() {
    use iscsi_scsi::initiator::Cdb;
    use iscsi_scsi::{Asc, SenseKey};
    use iscsi_target::server::ResizeError;

    let (server, portal) = start(small()).await;
    let session = login(&LoginOptions::normal(portal, DEFAULT_TARGET))
        .await
        .unwrap();
    session.test_unit_ready(0).await.unwrap();
    assert_eq!(session.read_capacity(0).await.unwrap(), (131_072, 512));
    let before = server
        .resize_lun(DEFAULT_TARGET, 0, 128 << 20, false)
        .unwrap();
    assert_eq!(before, 64 << 20);
    match session
        .run(0, &Cdb::test_unit_ready(), Bytes::new(), 0)
        .await
    {
        Err(Error::Scsi { sense: Some(s), .. }) => assert_eq!(
            (s.key, s.asc),
            (SenseKey::UNIT_ATTENTION, Asc::CAPACITY_DATA_HAS_CHANGED)
        ),
        other => panic!("expected CAPACITY DATA HAS CHANGED, got {other:?}"),
    }
    assert_eq!(session.read_capacity(0).await.unwrap(), (262_144, 512));
    let data = Bytes::from(vec![0x5a; 4096]);
    session
        .write_blocks(0, 200_000, data.clone(), 512)
        .await
        .unwrap();
    assert_eq!(session.read_blocks(0, 200_000, 8, 512).await.unwrap(), data);
    assert!(matches!(
        server.resize_lun(DEFAULT_TARGET, 0, 64 << 20, false),
        Err(ResizeError::Shrink { .. })
    ));
    assert!(matches!(
        server.resize_lun(DEFAULT_TARGET, 0, 1000, true),
        Err(ResizeError::Size { .. })
    ));
    assert!(matches!(
        server.resize_lun(DEFAULT_TARGET, 9, 1 << 20, true),
        Err(ResizeError::UnknownLun { .. })
    ));
    // The configuration read again: a bigger LUN is applied, a smaller
    // one is not.
    let mut config = server.config();
    config.targets[0].luns[0].size = Some(192 << 20);
    let changes = server.reload(&config);
    assert_eq!(changes.len(), 1, "{changes:?}");
    session.test_unit_ready(0).await.unwrap();
    assert_eq!(session.read_capacity(0).await.unwrap(), (393_216, 512));
    config.targets[0].luns[0].size = Some(32 << 20);
    let changes = server.reload(&config);
    assert!(
        changes[0].to_string().starts_with("not applied:"),
        "{changes:?}"
    );
    assert_eq!(session.read_capacity(0).await.unwrap(), (393_216, 512));
    session.logout().await.unwrap();
    server.shutdown().await.unwrap();
}
