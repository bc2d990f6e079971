//! The binary as systemd runs it (`Type=notify`, `ExecReload` with
//! SIGHUP): the notifications arrive on `$NOTIFY_SOCKET` as systemd reads
//! them — READY=1 once the portals listen, RELOADING=1 then READY=1 around
//! a reload, STOPPING=1 at SIGTERM — and the process exits 0.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The next notification datagram, as text.
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("no notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifies_systemd_of_ready_reload_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = dir.path().join("target.toml");
    std::fs::write(
        &config,
        "[[portal]]\naddress = \"127.0.0.1:0\"\n\n[limits]\nshutdown_grace_s = 1\n\n\
         [[target]]\nname = \"iqn.2026-11.rs.iscsi:svc\"\n[[target.lun]]\nid = 0\nsize = \"8M\"\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_iscsi-target"))
        .arg("--config")
        .arg(&config)
        .arg("--admin-socket")
        .arg(dir.path().join("admin.sock"))
        .args(["--log-format", "plain", "--log", "warn"])
        .env("NOTIFY_SOCKET", &notify)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = next(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=serving 1 target(s) on 127.0.0.1:")),
        "{ready:?}"
    );
    // The LUN grows in the file: a reload applies it.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("size = \"8M\"", "size = \"16M\"")).unwrap();
    signal(child.id(), "HUP");
    assert_eq!(next(&socket).trim(), "RELOADING=1");
    assert_eq!(next(&socket).trim(), "READY=1");
    signal(child.id(), "TERM");
    assert_eq!(next(&socket).trim(), "STOPPING=1");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(
        stderr.contains("LUN 0 resized from 8388608 to 16777216 bytes"),
        "{stderr}"
    );
    assert!(!dir.path().join("admin.sock").exists());
}

/// `iscsi-target ctl` against a running target: text and JSON output, and
/// exit codes 0 (done), 1 (refused), 2 (bad command line), 3 (no server).
#[test]
fn ctl_speaks_to_a_running_target() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let server = Command::new(env!("CARGO_BIN_EXE_iscsi-target"))
        .args(["--listen", "127.0.0.1:0", "--size", "8M", "--log", "warn"])
        .arg("--admin-socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ctl = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_iscsi-target"))
            .arg("ctl")
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = ctl(&["target_create", "name=iqn.2026-11.rs.iscsi:ctl", "alias=c"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "target iqn.2026-11.rs.iscsi:ctl created\n")
    );
    let add = [
        "lun_add",
        "target=iqn.2026-11.rs.iscsi:ctl",
        "lun=1",
        "backing=memory",
        "size=16M",
    ];
    let (code, out, _) = ctl(&add);
    assert_eq!(
        (code, out.as_str()),
        (0, "iqn.2026-11.rs.iscsi:ctl LUN 1 added (16M)\n")
    );
    let (code, _, err) = ctl(&add);
    assert_eq!(code, 1);
    assert!(
        err.contains("LUN 1 is in use") && err.contains("(error 1004)"),
        "{err}"
    );
    let (code, _, err) = ctl(&[
        "chap_set",
        "target=iqn.2026-11.rs.iscsi:ctl",
        "user=u",
        "secret=short",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("at least 12"), "{err}");
    let (code, out, _) = ctl(&["--json", "target_list"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let t = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "iqn.2026-11.rs.iscsi:ctl")
        .unwrap();
    assert_eq!(t["luns"][1]["size"], serde_json::json!(16 << 20));
    let (code, out, _) = ctl(&["target_list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("iqn.2026-11.rs.iscsi:ctl (c), 0 session(s)"),
        "{out}"
    );
    assert_eq!(ctl(&["lun_add", "lun"]).0, 2);
    assert_eq!(ctl(&["no_such_method"]).0, 1);
    let out = Command::new(env!("CARGO_BIN_EXE_iscsi-target"))
        .args(["ctl", "--socket"])
        .arg(dir.path().join("nobody.sock"))
        .arg("target_list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    signal(server.id(), "TERM");
    let status = server.wait_with_output().unwrap().status;
    assert!(status.success());
}
