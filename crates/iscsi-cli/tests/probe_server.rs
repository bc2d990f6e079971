//! `iscsi probe-server` end to end: our target and the probe server on
//! 127.0.0.1:0, every endpoint called with a real HTTP client (ureq). No
//! test names an address outside 127.0.0.0/8.

use std::io::{Read, Write};
use std::net::SocketAddr;

use iscsi_cli::probe_server::{ServerConfig, serve};
use iscsi_login::{ChapCredentials, Secret};
use iscsi_target::config::{Config, DEFAULT_TARGET};
use iscsi_target::server::Server;
use serde_json::{Value, json};

const CHAP_TARGET: &str = "iqn.2026-11.rs.iscsi:chap";
const MUTUAL_TARGET: &str = "iqn.2026-11.rs.iscsi:mutual";

async fn start_target() -> (Server, u16) {
    let mut config = Config::embedded_default();
    config.portals[0].address = "127.0.0.1:0".parse().unwrap();
    config.limits.shutdown_grace_s = 1;
    config.targets[0].luns[0].size = Some(16 << 20);
    let mut chap = config.targets[0].clone();
    chap.name = CHAP_TARGET.to_owned();
    chap.chap = Some(ChapCredentials::new(
        "alice",
        Secret::new(b"alice-secret-1".to_vec()).unwrap(),
    ));
    let mut mutual = chap.clone();
    mutual.name = MUTUAL_TARGET.to_owned();
    mutual.mutual_chap = Some(ChapCredentials::new(
        "target",
        Secret::new(b"target-secret-2".to_vec()).unwrap(),
    ));
    config.targets.push(chap);
    config.targets.push(mutual);
    let server = Server::start(config).await.unwrap();
    let port = server.addresses()[0].port();
    (server, port)
}

/// The probe server on 127.0.0.1:0; dropped with the runtime.
async fn start_probe_server(config: ServerConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, config, std::future::pending()));
    addr
}

/// `METHOD path` with `body`, off the runtime's threads; status and JSON.
async fn call(
    server: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    let url = format!("http://{server}{path}");
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = match (method, body) {
            ("GET", _) => agent.get(&url).call().unwrap(),
            (_, Some(b)) => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b)
                .unwrap(),
            (_, None) => agent.post(&url).send_empty().unwrap(),
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
        (status, value)
    })
    .await
    .unwrap()
}

async fn post(server: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    call(server, "POST", path, Some(body.to_string())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_openapi() {
    let server = start_probe_server(ServerConfig::default()).await;
    let (status, v) = call(server, "GET", "/healthz", None).await;
    assert_eq!((status, v), (200, json!({ "status": "ok" })));
    let (status, v) = call(server, "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(v["openapi"], "3.0.3");
    assert!(v["paths"]["/api/iscsi/login"]["post"].is_object());
    let (status, v) = call(server, "GET", "/nowhere", None).await;
    assert_eq!(status, 404);
    assert!(v["error"].is_string());
    let (status, v) = call(server, "GET", "/api/iscsi/discover", None).await;
    assert_eq!(status, 405);
    assert!(v["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_login_without_and_with_chap() {
    let (target, port) = start_target().await;
    let server = start_probe_server(ServerConfig::default()).await;

    let (status, v) = post(
        server,
        "/api/iscsi/discover",
        &json!({ "host": "127.0.0.1", "port": port }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["isISCSI"], true);
    assert_eq!(v["targetCount"], 3);
    assert_eq!(v["sessionType"], "Discovery");
    assert_eq!(v["sessionId"].as_str().map(str::len), Some(12));
    let names: Vec<&str> = v["textPairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == "TargetName")
        .filter_map(|p| p[1].as_str())
        .collect();
    assert_eq!(names.len(), 3, "every TargetName kept: {v}");

    // "localhost" resolves (through /etc/hosts) to an allowed address.
    let (status, v) = post(
        server,
        "/api/iscsi/login",
        &json!({ "host": "localhost", "port": port, "targetName": DEFAULT_TARGET }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["sessionType"], "Normal");
    assert_eq!(v["host"], "localhost");
    assert_eq!(v["chap"], false);
    assert_eq!(v["targets"][0]["name"], DEFAULT_TARGET);

    let chap = json!({ "host": "127.0.0.1", "port": port, "targetName": CHAP_TARGET,
                       "username": "alice", "password": "alice-secret-1" });
    let (status, v) = post(server, "/api/iscsi/login", &chap).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["chap"].clone(), v["authenticated"].clone()),
        (json!(true), json!(true))
    );
    assert!(
        !v.to_string().contains("alice-secret-1"),
        "the password is echoed"
    );

    let mut wrong = chap.clone();
    wrong["password"] = json!("wrong-secret-9");
    let (status, v) = post(server, "/api/iscsi/login", &wrong).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["loginStatusClass"], 2);
    assert_eq!(v["loginStatusDetail"], 1);
    assert_eq!(v["success"], false);
    assert!(!v.to_string().contains("wrong-secret-9"));

    let mutual = json!({ "host": "127.0.0.1", "port": port, "targetName": MUTUAL_TARGET,
                         "username": "alice", "password": "alice-secret-1",
                         "targetUsername": "target", "targetPassword": "target-secret-2" });
    let (status, v) = post(server, "/api/iscsi/login", &mutual).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["mutualChap"], true);

    let (status, v) = post(
        server,
        "/api/iscsi/login",
        &json!({ "host": "127.0.0.1", "port": port, "targetName": "iqn.2026-11.rs.iscsi:nobody" }),
    )
    .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(
        (
            v["loginStatusClass"].clone(),
            v["loginStatusDetail"].clone()
        ),
        (json!(2), json!(3))
    );
    target.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_are_not_targets() {
    let server = start_probe_server(ServerConfig::default()).await;
    // Something that answers HTTP.
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = http.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (status, v) = post(
        server,
        "/api/iscsi/discover",
        &json!({ "host": "127.0.0.1", "port": http_port }),
    )
    .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["isISCSI"], false);
    assert_eq!(v["errorKind"], "not-iscsi");

    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let (status, v) = post(
        server,
        "/api/iscsi/discover",
        &json!({ "host": "127.0.0.1", "port": closed_port }),
    )
    .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["errorKind"], "unreachable");

    // A peer that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let (status, v) = post(
        server,
        "/api/iscsi/discover",
        &json!({ "host": "127.0.0.1", "port": silent_port, "timeout": 300 }),
    )
    .await;
    assert_eq!(status, 504, "{v}");
    assert_eq!(v["errorKind"], "timeout");
    drop(held.join());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_before_any_connection() {
    let server = start_probe_server(ServerConfig::default()).await;
    for (path, body) in [
        ("/api/iscsi/discover", json!({})),
        ("/api/iscsi/discover", json!({ "host": "" })),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "port": 0 }),
        ),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "port": 65_536 }),
        ),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "port": "3260" }),
        ),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "timeout": 99 }),
        ),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "timeout": 60_001 }),
        ),
        (
            "/api/iscsi/discover",
            json!({ "host": "127.0.0.1", "targetName": "x" }),
        ),
        (
            "/api/iscsi/login",
            json!({ "host": "127.0.0.1", "username": "only-a-user" }),
        ),
        (
            "/api/iscsi/login",
            json!({ "host": "127.0.0.1", "targetUsername": "t", "targetPassword": "p" }),
        ),
        (
            "/api/iscsi/login",
            json!({ "host": "127.0.0.1", "surprise": true }),
        ),
        ("/api/iscsi/login", json!(["host"])),
        (
            "/api/iscsi/login",
            json!({ "host": "127.0.0.1", "timeout": null }),
        ),
        ("/api/iscsi/login", json!({ "host": "<bad host>" })),
        (
            "/api/iscsi/login",
            json!({ "host": "127.0.0.1", "username": "u", "password": "same-secret-12",
                    "targetUsername": "t", "targetPassword": "same-secret-12" }),
        ),
    ] {
        let (status, v) = post(server, path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    let (status, v) = call(
        server,
        "POST",
        "/api/iscsi/discover",
        Some("{\"host\":".to_owned()),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let big = json!({ "host": "127.0.0.1", "initiatorName": "x".repeat(20_000) });
    let (status, v) = post(server, "/api/iscsi/discover", &big).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_outside_the_allow_list_are_refused_without_a_connection() {
    let mut config = ServerConfig::default();
    config.allow = vec!["127.0.0.1/32".parse().unwrap()];
    let server = start_probe_server(config).await;
    // A listener on 127.0.0.2 that would see any connection attempt.
    let watch = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let port = watch.local_addr().unwrap().port();
    watch.set_nonblocking(true).unwrap();
    let (status, v) = post(
        server,
        "/api/iscsi/login",
        &json!({ "host": "127.0.0.2", "port": port }),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("127.0.0.2"));
    assert!(
        watch.accept().is_err(),
        "the probe connected to a refused host"
    );
    // The allowed address is still probed (and refused: nothing listens).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let (status, _) = post(
        server,
        "/api/iscsi/discover",
        &json!({ "host": "127.0.0.1", "port": closed_port }),
    )
    .await;
    assert_eq!(status, 502);
}
