//! The `iscsi` tool as a user runs it: a subprocess against our own target,
//! in process on 127.0.0.1:0, checking output, JSON fields and exit codes.

use std::io::{Read, Write};
use std::process::{Command, Output};

use iscsi_login::{ChapCredentials, Secret};
use iscsi_target::config::{Config, DEFAULT_TARGET};
use iscsi_target::server::Server;

async fn start(config: Config) -> (Server, u16) {
    let mut config = config;
    config.portals[0].address = "127.0.0.1:0".parse().unwrap();
    config.limits.shutdown_grace_s = 1;
    config.targets[0].luns[0].size = Some(16 << 20);
    let server = Server::start(config).await.unwrap();
    let port = server.addresses()[0].port();
    (server, port)
}

/// Runs `iscsi ARGS` off the runtime's worker threads (the target shares them).
async fn iscsi(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_iscsi"))
            .args(&args)
            .env_remove("ISCSI_SECRET")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_json_has_every_portofcall_field() {
    let (server, port) = start(Config::embedded_default()).await;
    let portal = format!("127.0.0.1:{port}");
    let out = iscsi(&["--json", "probe", &portal], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    for field in [
        "success",
        "host",
        "port",
        "rtt",
        "isISCSI",
        "loginStatus",
        "loginStatusClass",
        "loginStatusDetail",
        "versionMax",
        "versionActive",
        "tsih",
        "sessionId",
        "authenticated",
        "chap",
        "negotiatedParams",
        "targets",
        "targetCount",
        "textPairs",
        "error",
    ] {
        assert!(v.get(field).is_some(), "{field} missing from {v}");
    }
    assert_eq!(v["success"], true);
    assert_eq!(v["isISCSI"], true);
    assert_eq!(v["port"], port);
    assert_eq!(v["loginStatusClass"], 0);
    assert_eq!(v["sessionType"], "Discovery");
    assert_eq!(v["targetCount"], 1);
    assert_eq!(v["targets"][0]["name"], DEFAULT_TARGET);
    assert_eq!(v["targets"][0]["addresses"][0], format!("{portal},1"));
    assert_eq!(v["textPairs"][0][0], "TargetName");
    assert_eq!(v["textPairs"][1][0], "TargetAddress");
    assert_eq!(v["negotiatedParams"]["HeaderDigest"], "None");
    let isid = v["sessionId"].as_str().unwrap();
    assert_eq!(isid.len(), 12, "{isid}");
    // A second probe uses another ISID.
    let again = json(&iscsi(&["--json", "probe", &portal], &[]).await);
    assert_ne!(again["sessionId"], v["sessionId"]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_failures_apart() {
    let mut config = Config::embedded_default();
    config.targets[0].chap = Some(ChapCredentials::new(
        "alice",
        Secret::new(b"alice-secret-1".to_vec()).unwrap(),
    ));
    let (server, port) = start(config).await;
    let portal = format!("127.0.0.1:{port}");

    // Port outside 1-65535: an argument error before any connection.
    let out = iscsi(&["probe", "127.0.0.1:70000"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("70000"));

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = iscsi(
        &["--json", "probe", &format!("127.0.0.1:{closed_port}")],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(json(&out)["errorKind"], "unreachable");

    // A peer that speaks HTTP, and one that never answers.
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = http.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let out = iscsi(&["--json", "probe", &format!("127.0.0.1:{http_port}")], &[]).await;
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(json(&out)["isISCSI"], false);
    let out = iscsi(
        &[
            "--json",
            "--timeout",
            "300",
            "probe",
            &format!("127.0.0.1:{silent_port}"),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(json(&out)["errorKind"], "timeout");
    drop(held.join());

    // CHAP: right secret, wrong secret, none.
    let args = [
        "--json",
        "probe",
        &portal,
        "--target",
        DEFAULT_TARGET,
        "--chap",
        "alice",
    ];
    let out = iscsi(&args, &[("ISCSI_SECRET", "alice-secret-1")]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["chap"], true);
    assert_eq!(v["chapAlgorithm"], "SHA3-256");
    assert_eq!(v["sessionType"], "Normal");
    // --chap-algorithms: the offer, in order (LIO takes the first it knows).
    for (list, want) in [("sha256,md5", "SHA-256"), ("5", "MD5"), ("SHA1", "SHA-1")] {
        let mut chosen = vec!["--chap-algorithms", list];
        chosen.extend(args);
        let out = iscsi(&chosen, &[("ISCSI_SECRET", "alice-secret-1")]).await;
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(json(&out)["chapAlgorithm"], want, "{list}");
    }
    let mut bad = vec!["--chap-algorithms", "sha512"];
    bad.extend(args);
    let out = iscsi(&bad, &[("ISCSI_SECRET", "alice-secret-1")]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a CHAP algorithm"));
    let out = iscsi(&args, &[("ISCSI_SECRET", "wrong-secret-9")]).await;
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let v = json(&out);
    assert_eq!(v["success"], false);
    assert_eq!(v["isISCSI"], true);
    assert_eq!(v["loginStatusClass"], 2);
    assert_eq!(v["loginStatusDetail"], 1);
    assert!(v["loginStatus"].as_str().unwrap().starts_with("0x0201"));
    let out = iscsi(&["probe", &portal, "--target", DEFAULT_TARGET], &[]).await;
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0x0201"));
    // A secret missing from the environment is an argument error.
    let out = iscsi(&args, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dd_read_write_and_bench_move_real_data() {
    let (server, port) = start(Config::embedded_default()).await;
    let url = format!("iscsi://127.0.0.1:{port}/{DEFAULT_TARGET}/0");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let back = dir.path().join("back");
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).unwrap();

    let out = iscsi(
        &[
            "dd",
            &format!("if={}", src.display()),
            &format!("of={url}"),
            "bs=256k",
            "--verify",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("4194304 bytes copied"));
    let out = iscsi(
        &[
            "dd",
            &format!("if={url}"),
            &format!("of={}", back.display()),
            "bs=1M",
            "count=4",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        std::fs::read(&back).unwrap() == data,
        "dd read back other bytes"
    );

    let out = iscsi(&["--json", "readcap", &url], &[]).await;
    let v = json(&out);
    assert_eq!(
        (v["blocks"].as_u64(), v["blockSize"].as_u64()),
        (Some(32_768), Some(512))
    );

    // read: a hex dump of LBA 1.
    let out = iscsi(&["read", &url, "--lba", "1", "--blocks", "1"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let want: Vec<String> = data[512..516].iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        first.starts_with(&format!("00000000  {}", want.join(" "))),
        "{first}"
    );

    // write from a pattern, then read it back to a file.
    let out = iscsi(
        &[
            "write",
            &url,
            "--lba",
            "8",
            "--blocks",
            "2",
            "--pattern",
            "0xa5",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file = dir.path().join("two");
    let out = iscsi(
        &[
            "read",
            &url,
            "--lba",
            "8",
            "--blocks",
            "2",
            "-o",
            &file.display().to_string(),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read(&file).unwrap(), vec![0xa5; 1024]);

    // A read past the end is a SCSI error: exit 7 with the sense.
    let out = iscsi(&["read", &url, "--lba", "32768", "--blocks", "1"], &[]).await;
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOGICAL BLOCK ADDRESS OUT OF RANGE"));

    let out = iscsi(
        &[
            "--json",
            "bench",
            &url,
            "--rw",
            "randread",
            "--bs",
            "4k",
            "--qd",
            "4",
            "--seconds",
            "0.5",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert!(v["ios"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0);
    assert!(v["latencyUs"]["p99"].as_f64().unwrap() >= v["latencyUs"]["p50"].as_f64().unwrap());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_and_inquiry_describe_the_lun() {
    let (server, port) = start(Config::embedded_default()).await;
    let portal = format!("127.0.0.1:{port}");
    let out = iscsi(&["ls", &portal], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(DEFAULT_TARGET) && text.contains("16.0 MiB") && text.contains("RSISCSI"),
        "{text}"
    );
    let url = format!("iscsi://{portal}/{DEFAULT_TARGET}/0");
    let v = json(&iscsi(&["--json", "inquiry", &url], &[]).await);
    assert_eq!(v["vendor"], "RSISCSI");
    assert_eq!(v["peripheralDeviceType"], 0);
    let out = iscsi(&["inquiry", &url, "--vpd", "0x83"], &[]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("iqn.2026-11.rs.iscsi:ram0,t,0x0001"));
    server.shutdown().await.unwrap();
}
