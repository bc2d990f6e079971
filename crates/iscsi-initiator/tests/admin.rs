//! The target's admin interface (JSON-RPC on its Unix socket), every
//! method, with sessions running: what a change does to the sessions it is
//! about (unit attentions, LOGICAL UNIT NOT SUPPORTED, a request to log
//! out, the next login) and that it does nothing to the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use iscsi_initiator::client::{Error, LoginOptions, Session, discover, login};
use iscsi_initiator::url::Portal;
use iscsi_login::{ChapCredentials, InitiatorAuth, Secret};
use iscsi_pdu::LoginStatus;
use iscsi_scsi::initiator::Cdb;
use iscsi_scsi::{Asc, SenseKey};
use iscsi_target::config::{Config, DEFAULT_TARGET};
use iscsi_target::server::Server;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

const T2: &str = "iqn.2026-11.rs.iscsi:t2";
const ME: &str = "iqn.2026-11.rs.iscsi:admin-test";

const FILE: &str = r#"# Written by hand; config_save must keep this.
[[portal]]
address = "127.0.0.1:0"   # any free port

[limits]
shutdown_grace_s = 1

[[target]]
name = "iqn.2026-11.rs.iscsi:ram0"
[[target.lun]]
id = 0
size = "64M"   # the busy LUN
"#;

struct Fixture {
    server: Server,
    portal: Portal,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.toml");
    std::fs::write(&path, FILE).unwrap();
    let config = Config::load(&path).unwrap();
    let server = Server::start(config).await.unwrap();
    let socket = dir.path().join("run/admin.sock");
    server.serve_admin(&socket).unwrap();
    let port = server.addresses()[0].port();
    Fixture {
        server,
        portal: Portal::new("127.0.0.1", port),
        socket,
        dir,
    }
}

/// One call: the result, or the error's code and message.
async fn rpc(socket: &Path, method: &str, params: Value) -> Result<Value, (i64, String)> {
    let reply = raw(
        socket,
        &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string(),
    )
    .await;
    assert_eq!(reply["id"], json!(7), "{reply}");
    match reply.get("error") {
        Some(e) => Err((
            e["code"].as_i64().unwrap(),
            e["message"].as_str().unwrap().to_owned(),
        )),
        None => Ok(reply["result"].clone()),
    }
}

async fn raw(socket: &Path, line: &str) -> Value {
    let stream = UnixStream::connect(socket).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    wr.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    let mut reply = String::new();
    BufReader::new(rd).read_line(&mut reply).await.unwrap();
    serde_json::from_str(&reply).unwrap()
}

async fn ok(socket: &Path, method: &str, params: Value) -> Value {
    rpc(socket, method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e:?}"))
}

async fn code(socket: &Path, method: &str, params: Value) -> i64 {
    match rpc(socket, method, params).await {
        Err((code, _)) => code,
        Ok(v) => panic!("{method} should fail, returned {v}"),
    }
}

fn options(portal: &Portal, target: &str) -> LoginOptions {
    LoginOptions::normal(portal.clone(), target).with_initiator_name(ME)
}

/// The unit attention (or other sense) the next TEST UNIT READY meets.
async fn next_sense(s: &Session, lun: u16) -> Option<(SenseKey, Asc)> {
    match s.run(lun, &Cdb::test_unit_ready(), Bytes::new(), 0).await {
        Ok(_) => None,
        Err(Error::Scsi { sense: Some(x), .. }) => Some((x.key, x.asc)),
        Err(e) => panic!("TEST UNIT READY: {e}"),
    }
}

/// Writes and reads back on LUN 0 of the busy session until told to
/// stop; counts rounds and fails on any error or difference.
fn busy(
    session: Arc<Session>,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let data = Bytes::from(vec![(i % 251) as u8; 8192]);
            let lba = (i % 1000) * 16;
            session
                .write_blocks(0, lba, data.clone(), 512)
                .await
                .unwrap();
            assert_eq!(session.read_blocks(0, lba, 16, 512).await.unwrap(), data);
            rounds.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_with_sessions_running() {
    let f = start().await;
    let sock = f.socket.as_path();
    // A session on the first target does I/O all along: no change below
    // is about it, so it must see no error and no unit attention.
    let busy_session = Arc::new(login(&options(&f.portal, DEFAULT_TARGET)).await.unwrap());
    busy_session.test_unit_ready(0).await.unwrap();
    let (stop, rounds) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let io = busy(busy_session.clone(), stop.clone(), rounds.clone());

    // Targets.
    assert_eq!(
        ok(sock, "target_create", json!({"name": T2, "alias": "two"})).await["name"],
        T2
    );
    assert_eq!(code(sock, "target_create", json!({"name": T2})).await, 1002);
    assert_eq!(
        code(sock, "target_create", json!({"name": "not-a-name"})).await,
        1006
    );
    let list = ok(sock, "target_list", json!({})).await;
    let names: Vec<&str> = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [DEFAULT_TARGET, T2]);
    let d = discover(&LoginOptions::discovery(f.portal.clone()))
        .await
        .unwrap();
    assert_eq!(d.targets.len(), 2);

    // LUNs: added, seen by a live session with REPORTED LUNS DATA HAS CHANGED.
    ok(
        sock,
        "lun_add",
        json!({"target": T2, "lun": 1, "backing": "memory", "size": "32M"}),
    )
    .await;
    assert_eq!(
        code(
            sock,
            "lun_add",
            json!({"target": T2, "lun": 1, "backing": "memory", "size": "32M"})
        )
        .await,
        1004
    );
    assert_eq!(
        code(
            sock,
            "lun_add",
            json!({"target": "iqn.2026-11.x:none", "lun": 1, "backing": "memory", "size": "1M"})
        )
        .await,
        1001
    );
    assert_eq!(
        code(
            sock,
            "lun_add",
            json!({"target": T2, "lun": 5, "backing": "tape"})
        )
        .await,
        -32602
    );
    assert_eq!(
        code(
            sock,
            "lun_add",
            json!({"target": T2, "lun": 5, "backing": "memory", "size": 1000})
        )
        .await,
        1006
    );
    let s2 = login(&options(&f.portal, T2)).await.unwrap();
    s2.test_unit_ready(1).await.unwrap();
    s2.test_unit_ready(0).await.unwrap();
    assert_eq!(s2.report_luns().await.unwrap(), [0, 1]);
    let file = f.dir.path().join("lun2.img");
    let r = ok(sock, "lun_add", json!({"target": T2, "lun": 2, "backing": format!("file:{}", file.display()), "size": "16M"})).await;
    assert_eq!(r["size"], json!(16 << 20));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 16 << 20);
    assert_eq!(
        next_sense(&s2, 1).await,
        Some((
            SenseKey::UNIT_ATTENTION,
            Asc::REPORTED_LUNS_DATA_HAS_CHANGED
        ))
    );
    assert_eq!(s2.report_luns().await.unwrap(), [0, 1, 2]);
    s2.test_unit_ready(2).await.unwrap();
    s2.write_blocks(2, 0, Bytes::from(vec![7u8; 4096]), 512)
        .await
        .unwrap();

    // Resize: CAPACITY DATA HAS CHANGED; a shrink needs force.
    let r = ok(
        sock,
        "lun_resize",
        json!({"target": T2, "lun": 1, "size": "64M"}),
    )
    .await;
    assert_eq!(
        (r["from"].as_u64(), r["to"].as_u64()),
        (Some(32 << 20), Some(64 << 20))
    );
    assert_eq!(
        next_sense(&s2, 1).await,
        Some((SenseKey::UNIT_ATTENTION, Asc::CAPACITY_DATA_HAS_CHANGED))
    );
    assert_eq!(s2.read_capacity(1).await.unwrap(), (131_072, 512));
    assert_eq!(
        code(
            sock,
            "lun_resize",
            json!({"target": T2, "lun": 1, "size": "16M"})
        )
        .await,
        1011
    );
    ok(
        sock,
        "lun_resize",
        json!({"target": T2, "lun": 1, "size": "16M", "force": true}),
    )
    .await;
    s2.test_unit_ready(1).await.unwrap();
    assert_eq!(s2.read_capacity(1).await.unwrap(), (32_768, 512));
    assert_eq!(
        code(
            sock,
            "lun_resize",
            json!({"target": T2, "lun": 9, "size": "16M"})
        )
        .await,
        1003
    );

    // Removed: LOGICAL UNIT NOT SUPPORTED, the others see 3F/0E.
    ok(sock, "lun_remove", json!({"target": T2, "lun": 2})).await;
    assert_eq!(
        code(sock, "lun_remove", json!({"target": T2, "lun": 2})).await,
        1003
    );
    assert_eq!(
        code(sock, "lun_remove", json!({"target": T2, "lun": 0})).await,
        1003,
        "the stand-in LUN 0 stays"
    );
    assert_eq!(
        next_sense(&s2, 2).await,
        Some((SenseKey::ILLEGAL_REQUEST, Asc::LOGICAL_UNIT_NOT_SUPPORTED))
    );
    assert_eq!(
        next_sense(&s2, 1).await,
        Some((
            SenseKey::UNIT_ATTENTION,
            Asc::REPORTED_LUNS_DATA_HAS_CHANGED
        ))
    );
    assert_eq!(s2.report_luns().await.unwrap(), [0, 1]);

    // ACL: applies at the next login, never to the live session.
    assert_eq!(
        ok(
            sock,
            "acl_add",
            json!({"target": T2, "initiator": "iqn.2026-11.x:other"})
        )
        .await["added"],
        json!(true)
    );
    assert_eq!(
        ok(
            sock,
            "acl_add",
            json!({"target": T2, "initiator": "iqn.2026-11.x:other"})
        )
        .await["added"],
        json!(false)
    );
    let err = login(&options(&f.portal, T2)).await.unwrap_err();
    assert_eq!(
        err.login_status(),
        Some(LoginStatus::AUTHORIZATION_FAILURE),
        "{err}"
    );
    s2.test_unit_ready(1).await.unwrap();
    ok(sock, "acl_add", json!({"target": T2, "initiator": ME})).await;
    login(&options(&f.portal, T2))
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    ok(sock, "acl_remove", json!({"target": T2, "initiator": ME})).await;
    ok(
        sock,
        "acl_remove",
        json!({"target": T2, "initiator": "iqn.2026-11.x:other"}),
    )
    .await;
    assert_eq!(
        code(sock, "acl_remove", json!({"target": T2, "initiator": ME})).await,
        1007
    );
    let err = login(&options(&f.portal, T2)).await.unwrap_err();
    assert_eq!(
        err.login_status(),
        Some(LoginStatus::AUTHORIZATION_FAILURE),
        "an empty ACL admits no one: {err}"
    );
    ok(sock, "acl_add", json!({"target": T2, "initiator": ME})).await;

    // CHAP: a short secret is refused; then only the next login needs it.
    let (c, message) = rpc(
        sock,
        "chap_set",
        json!({"target": T2, "user": "u", "secret": "short"}),
    )
    .await
    .unwrap_err();
    assert_eq!(c, 1006);
    assert!(message.contains("secret"), "{message}");
    ok(
        sock,
        "chap_set",
        json!({"target": T2, "user": "u", "secret": "u-secret-0123"}),
    )
    .await;
    let err = login(&options(&f.portal, T2).with_auth(InitiatorAuth::None))
        .await
        .unwrap_err();
    assert_eq!(
        err.login_status(),
        Some(LoginStatus::AUTHENTICATION_FAILURE),
        "{err}"
    );
    let chap = ChapCredentials::new("u", Secret::new(*b"u-secret-0123").unwrap());
    login(&options(&f.portal, T2).with_auth(InitiatorAuth::chap(chap)))
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    s2.test_unit_ready(1).await.unwrap();
    ok(sock, "chap_clear", json!({"target": T2})).await;
    login(&options(&f.portal, T2))
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();

    // Portals: a new one serves logins and discovery; removed, it takes no
    // new connection and the session that came through it stays.
    let added = ok(
        sock,
        "portal_add",
        json!({"address": "127.0.0.1:0", "group": 2, "alua_state": "active_non_optimized"}),
    )
    .await;
    let address: std::net::SocketAddr = added["address"].as_str().unwrap().parse().unwrap();
    let portal2 = Portal::new("127.0.0.1", address.port());
    let via2 = login(&options(&portal2, T2)).await.unwrap();
    via2.test_unit_ready(1).await.unwrap();
    let d = discover(&LoginOptions::discovery(f.portal.clone()))
        .await
        .unwrap();
    assert!(
        d.targets.iter().all(|t| t.addresses.len() == 2),
        "{:?}",
        d.targets
    );
    assert_eq!(
        code(
            sock,
            "portal_add",
            json!({"address": address.to_string(), "group": 2})
        )
        .await,
        1009
    );
    ok(
        sock,
        "portal_remove",
        json!({"address": address.to_string()}),
    )
    .await;
    assert_eq!(
        code(
            sock,
            "portal_remove",
            json!({"address": address.to_string()})
        )
        .await,
        1008
    );
    assert!(matches!(
        login(&options(&portal2, T2)).await,
        Err(Error::Unreachable { .. })
    ));
    via2.test_unit_ready(1).await.unwrap();

    // Sessions: listed with what they did; one asked to log out goes.
    // (Sessions that logged out above are gone once their connections
    // close.)
    let mut list = ok(sock, "session_list", json!({})).await;
    for _ in 0..100 {
        if list["sessions"].as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        list = ok(sock, "session_list", json!({})).await;
    }
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    let busy_entry = sessions
        .iter()
        .find(|s| s["target"] == DEFAULT_TARGET)
        .unwrap();
    assert_eq!(busy_entry["initiator"], ME);
    assert!(
        busy_entry["counters"]["write_bytes"].as_u64().unwrap() > 0,
        "{busy_entry}"
    );
    assert!(
        busy_entry["counters"]["read_bytes"].as_u64().unwrap() > 0,
        "{busy_entry}"
    );
    assert_eq!(busy_entry["params"]["auth"]["method"], "none");
    let tsih = via2.params().tsih.0;
    let entry = sessions.iter().find(|s| s["tsih"] == json!(tsih)).unwrap();
    assert_eq!(entry["connections"][0]["portal_group"], json!(2));
    ok(sock, "session_logout", json!({"tsih": tsih})).await;
    assert_eq!(
        code(sock, "session_logout", json!({"tsih": 60000})).await,
        1010
    );
    let mut gone = false;
    for _ in 0..100 {
        let list = ok(sock, "session_list", json!({})).await;
        if list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["tsih"] != json!(tsih))
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the session asked to log out is still there");

    // Delete: refused while sessions run unless forced; then 0x0204.
    assert_eq!(code(sock, "target_delete", json!({"name": T2})).await, 1005);
    assert_eq!(
        ok(sock, "target_delete", json!({"name": T2, "force": true})).await["sessions"],
        json!(1)
    );
    let err = login(&options(&f.portal, T2)).await.unwrap_err();
    assert_eq!(
        err.login_status(),
        Some(LoginStatus::TARGET_REMOVED),
        "{err}"
    );
    assert_eq!(code(sock, "target_delete", json!({"name": T2})).await, 1001);
    // The deleted target's session was asked to log out: it did.
    for _ in 0..100 {
        if f.server.session_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.server.session_count(), 1);
    drop(s2);

    // The busy session never noticed any of it.
    stop.store(true, Ordering::Relaxed);
    io.await.unwrap();
    assert!(rounds.load(Ordering::Relaxed) > 10);
    assert_eq!(next_sense(&busy_session, 0).await, None);
    Arc::try_unwrap(busy_session)
        .ok()
        .unwrap()
        .logout()
        .await
        .unwrap();
    f.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_is_saved_with_its_comments() {
    let f = start().await;
    let sock = f.socket.as_path();
    ok(sock, "target_create", json!({"name": T2})).await;
    ok(
        sock,
        "lun_add",
        json!({"target": T2, "lun": 0, "backing": "memory", "size": "1G", "read_only": true}),
    )
    .await;
    ok(sock, "acl_add", json!({"target": T2, "initiator": ME})).await;
    ok(
        sock,
        "lun_resize",
        json!({"target": DEFAULT_TARGET, "lun": 0, "size": "128M"}),
    )
    .await;
    let got = ok(sock, "config_get", json!({})).await;
    assert_eq!(got["saved"], json!(false));
    let saved = ok(sock, "config_save", json!({})).await;
    let path = f.dir.path().join("target.toml");
    assert_eq!(saved["path"], json!(path.display().to_string()));
    let text = std::fs::read_to_string(&path).unwrap();
    for kept in [
        "# Written by hand; config_save must keep this.",
        "# any free port",
        "# the busy LUN",
        "shutdown_grace_s = 1",
    ] {
        assert!(text.contains(kept), "{kept} lost:\n{text}");
    }
    assert!(text.contains("size = \"128M\""), "{text}");
    let back = Config::load(&path).unwrap();
    assert_eq!(back.targets.len(), 2);
    assert_eq!(back.targets[1].name, T2);
    assert_eq!(back.targets[1].allow, Some(vec![ME.to_owned()]));
    assert!(back.targets[1].luns[0].read_only);
    assert_eq!(back.targets[1].luns[0].size, Some(1 << 30));
    assert_eq!(
        ok(sock, "config_get", json!({})).await["saved"],
        json!(true)
    );
    // A server started from the saved file serves the same.
    f.server.shutdown().await.unwrap();
    let again = Server::start(back).await.unwrap();
    let port = again.addresses()[0].port();
    let s = login(&options(&Portal::new("127.0.0.1", port), T2))
        .await
        .unwrap();
    s.test_unit_ready(0).await.unwrap();
    assert_eq!(s.read_capacity(0).await.unwrap(), (2_097_152, 512));
    s.logout().await.unwrap();
    again.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_and_the_socket() {
    use std::os::unix::fs::PermissionsExt;
    let f = start().await;
    let sock = f.socket.as_path();
    let mode = std::fs::metadata(sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(raw(sock, "{not json").await["error"]["code"], json!(-32700));
    assert_eq!(
        raw(sock, r#"{"jsonrpc":"1.0","id":1,"method":"target_list"}"#).await["error"]["code"],
        json!(-32600)
    );
    assert_eq!(code(sock, "no_such_method", json!({})).await, -32601);
    assert_eq!(
        code(sock, "target_list", json!({"verbose": true})).await,
        -32602
    );
    assert_eq!(
        code(sock, "lun_remove", json!({"target": DEFAULT_TARGET})).await,
        -32602
    );
    assert_eq!(
        code(
            sock,
            "lun_remove",
            json!({"target": DEFAULT_TARGET, "lun": 70000})
        )
        .await,
        -32602
    );
    // A batch gets an array; its notification no answer.
    let reply = raw(sock, r#"[{"jsonrpc":"2.0","id":1,"method":"target_list"},{"jsonrpc":"2.0","method":"target_list"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#).await;
    let replies = reply.as_array().unwrap();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[1]["error"]["code"], json!(-32601));
    // A second server cannot take the socket of a live one.
    let other = Server::start(Config::load(&f.dir.path().join("target.toml")).unwrap())
        .await
        .unwrap();
    let e = other.serve_admin(sock).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    other.shutdown().await.unwrap();
    // The socket goes with the server.
    f.server.shutdown().await.unwrap();
    assert!(!sock.exists());
}

/// SIGHUP's path: the file read again is applied as the admin interface
/// would apply it, and what cannot change live is reported, not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_configuration_is_applied_live() {
    use iscsi_target::config::LunConfig;
    use iscsi_target::server::ReloadChange;
    let f = start().await;
    let session = login(&options(&f.portal, DEFAULT_TARGET)).await.unwrap();
    session.test_unit_ready(0).await.unwrap();
    let mut config = f.server.config();
    // A new target with a LUN, a second LUN and an ACL on the first, a
    // grown LUN 0, a changed alias (not live), limits (not live).
    let mut t2 = config.targets[0].clone();
    t2.name = T2.to_owned();
    t2.luns = vec![LunConfig::memory(3, 4 << 20)];
    config.targets.push(t2);
    config.targets[0].luns[0].size = Some(96 << 20);
    config.targets[0].luns.push(LunConfig::memory(1, 8 << 20));
    config.targets[0].allow = Some(vec![ME.to_owned()]);
    config.targets[0].alias = Some("renamed".to_owned());
    config.limits.queue_depth = 7;
    let changes = f.server.reload(&config);
    let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
    for expected in [
        "target iqn.2026-11.rs.iscsi:t2 created",
        "iqn.2026-11.rs.iscsi:t2 LUN 3 added",
        "iqn.2026-11.rs.iscsi:ram0 LUN 1 added",
        "iqn.2026-11.rs.iscsi:ram0 LUN 0 resized from 67108864 to 100663296 bytes",
    ] {
        assert!(
            text.iter().any(|t| t == expected),
            "{expected} not in {text:?}"
        );
    }
    assert!(
        text.iter()
            .any(|t| t.starts_with("target iqn.2026-11.rs.iscsi:ram0 ACL now")),
        "{text:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, ReloadChange::NotApplied(why) if why.contains("alias"))),
        "{text:?}"
    );
    // The live session sees the new LUN and size, and stays.
    let mut seen = Vec::new();
    while let Some((_, asc)) = next_sense(&session, 0).await {
        seen.push(asc);
    }
    assert_eq!(
        seen,
        [
            Asc::CAPACITY_DATA_HAS_CHANGED,
            Asc::REPORTED_LUNS_DATA_HAS_CHANGED
        ]
    );
    assert_eq!(session.report_luns().await.unwrap(), [0, 1]);
    assert_eq!(session.read_capacity(0).await.unwrap(), (196_608, 512));
    login(&options(&f.portal, T2))
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    // The ACL applies to the next login only.
    let other = LoginOptions::normal(f.portal.clone(), DEFAULT_TARGET)
        .with_initiator_name("iqn.2026-11.x:other");
    let err = login(&other).await.unwrap_err();
    assert_eq!(err.login_status(), Some(LoginStatus::AUTHORIZATION_FAILURE));
    // Reading the original file again undoes it all: the target goes (its
    // sessions asked to log out), LUN 1 goes, the ACL opens.
    let original = Config::load(&f.dir.path().join("target.toml")).unwrap();
    let changes = f.server.reload(&original);
    let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("target iqn.2026-11.rs.iscsi:t2 deleted")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t == "iqn.2026-11.rs.iscsi:ram0 LUN 1 removed"),
        "{text:?}"
    );
    login(&other).await.unwrap().logout().await.unwrap();
    assert_eq!(
        next_sense(&session, 0).await.map(|s| s.1),
        Some(Asc::REPORTED_LUNS_DATA_HAS_CHANGED)
    );
    assert_eq!(session.report_luns().await.unwrap(), [0]);
    session.logout().await.unwrap();
    f.server.shutdown().await.unwrap();
}
