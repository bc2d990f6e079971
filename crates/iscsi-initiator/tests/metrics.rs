//! The target's metrics endpoint: after known I/O, logins and task
//! management, `/metrics` has exactly the counts they caused.

use std::io::{Read, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use iscsi_initiator::client::{LoginOptions, login};
use iscsi_initiator::url::Portal;
use iscsi_pdu::{LoginStatus, TmfFunction};
use iscsi_target::config::{Config, DEFAULT_TARGET};
use iscsi_target::server::Server;

/// `GET /metrics` over a plain TCP connection: the body.
fn scrape(address: SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(address).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// The value of the sample `name{labels}` (labels as the exposition
/// writes them, sorted by name), or 0 when it is absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_sessions_did() {
    let mut config = Config::embedded_default();
    config.portals[0].address = "127.0.0.1:0".parse().unwrap();
    config.targets[0].luns[0].size = Some(64 << 20);
    config.limits.shutdown_grace_s = 1;
    let server = Server::start(config).await.unwrap();
    let metrics = server
        .serve_metrics("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let portal = Portal::new("127.0.0.1", server.addresses()[0].port());

    let session = login(&LoginOptions::normal(portal.clone(), DEFAULT_TARGET))
        .await
        .unwrap();
    session.test_unit_ready(0).await.unwrap();
    // 3 writes of 1 MiB (more than FirstBurstLength: R2Ts), 5 reads of 64 KiB.
    for i in 0..3u64 {
        session
            .write_blocks(0, i * 2048, Bytes::from(vec![1u8; 1 << 20]), 512)
            .await
            .unwrap();
    }
    for i in 0..5u64 {
        session.read_blocks(0, i * 128, 128, 512).await.unwrap();
    }
    // A read past the end: ILLEGAL REQUEST.
    assert!(session.read_blocks(0, 131_072, 1, 512).await.is_err());
    session
        .task_management(TmfFunction::LOGICAL_UNIT_RESET, 0, None)
        .await
        .unwrap();
    // A login to a target that does not exist: 0x0203.
    let err = login(&LoginOptions::normal(portal.clone(), "iqn.2026-11.x:none"))
        .await
        .unwrap_err();
    assert_eq!(err.login_status(), Some(LoginStatus::NOT_FOUND));

    let text = scrape(metrics);
    let lu = format!("lun=\"0\",op=\"write\",target=\"{DEFAULT_TARGET}\"");
    assert_eq!(
        sample(&text, &format!("iscsi_lu_commands_total{{{lu}}}")),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("iscsi_lu_command_seconds_count{{{lu}}}")),
        3.0
    );
    let lu_read = format!("lun=\"0\",op=\"read\",target=\"{DEFAULT_TARGET}\"");
    assert_eq!(
        sample(&text, &format!("iscsi_lu_commands_total{{{lu_read}}}")),
        6.0
    );
    let lu0 = format!("lun=\"0\",target=\"{DEFAULT_TARGET}\"");
    assert_eq!(
        sample(&text, &format!("iscsi_lu_written_bytes_total{{{lu0}}}")),
        f64::from(3 << 20)
    );
    assert_eq!(
        sample(&text, &format!("iscsi_lu_read_bytes_total{{{lu0}}}")),
        f64::from(5 * 65536)
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "iscsi_lu_check_conditions_total{{lun=\"0\",sense_key=\"ILLEGAL REQUEST\",target=\"{DEFAULT_TARGET}\"}}"
            )
        ),
        1.0,
        "{text}"
    );
    assert!(sample(&text, "iscsi_r2ts_total") >= 3.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "iscsi_logins_total{mib=\"iscsiTgtLoginAccepts\",status=\"0x0000\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "iscsi_logins_total{mib=\"iscsiTgtLoginOtherFails\",status=\"0x0203\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "iscsi_task_management_total{function=\"LOGICAL UNIT RESET\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("iscsi_sessions{{target=\"{DEFAULT_TARGET}\"}}")
        ),
        1.0
    );
    assert_eq!(sample(&text, "iscsi_digest_errors_total"), 0.0);
    assert!(text.contains("# HELP iscsi_digest_errors_total"), "{text}");
    session.logout().await.unwrap();
    server.shutdown().await.unwrap();
}
