//! Checks of our target as a running service: a real Prometheus server
//! scrapes its metrics and returns the values known I/O caused, and a
//! storm of admin calls from several clients runs while libiscsi and fio
//! I/O goes on on other targets.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::interop::{Session, run_ok};
use crate::peers::{self, Peer, RAM_IQN};
use crate::util::{self, Result};

/// One JSON-RPC call to the admin socket: the result or the error message.
pub(crate) fn rpc(socket: &Path, method: &str, params: Value) -> Result<Value> {
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    writeln!(stream, "{request}").map_err(|e| format!("{method}: cannot send: {e}"))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| format!("{method}: no answer: {e}"))?;
    let reply: Value =
        serde_json::from_str(&line).map_err(|e| format!("{method}: answer not JSON: {e}"))?;
    match reply.get("error") {
        Some(e) => Err(format!("{method} {params}: {e}")),
        None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// A child process killed when the guard goes.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value of a PromQL expression from Prometheus's HTTP API (`None`
/// when it has no sample).
fn promql(port: u16, query: &str) -> Result<Option<f64>> {
    let out = util::capture(
        util::timed(10, "curl")
            .args(["-sS", "--get", "--data-urlencode"])
            .arg(format!("query={query}"))
            .arg(format!("http://127.0.0.1:{port}/api/v1/query")),
    )?;
    out.success()?;
    let v: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("Prometheus answered no JSON ({e}): {}", out.stdout))?;
    if v["status"] != "success" {
        return Err(format!("Prometheus refused {query}: {}", out.stdout));
    }
    Ok(v["data"]["result"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(|s| s["value"][1].as_str())
        .and_then(|s| s.parse().ok()))
}

/// Polls `query` until `pred` holds of its value (30 s at most).
fn wait_for(port: u16, query: &str, pred: impl Fn(f64) -> bool) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = promql(port, query)?;
        if let Some(v) = last
            && pred(v)
        {
            return Ok(v);
        }
        thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "Prometheus: {query} is {last:?} after 30 s, not what the I/O caused"
    ))
}

/// A real Prometheus server scrapes our `/metrics` once a second; after a
/// qemu-io write of 1 MiB and read of 512 KiB and a login to a target that
/// does not exist, its HTTP API returns exactly those increases.
pub(crate) fn check_prometheus(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    util::ensure_debian_packages(&[("prometheus", "prometheus"), ("curl", "curl")])?;
    peers::ensure_qemu_iscsi(false)?;
    let url = peer.url(&peer.exposed().data.clone(), None);
    let iscsi_port = peer.port();
    let ours = peer.ours().ok_or("only our target serves metrics")?;
    let metrics = ours.metrics();
    let dir = session.dir.join("prometheus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: iscsi-target\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let port = peers::free_port()?;
    let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    eprintln!("$ {}", util::show(&cmd));
    let _prometheus = Guard(
        cmd.spawn()
            .map_err(|e| format!("cannot start prometheus: {e}"))?,
    );
    let version = util::capture(util::timed(10, "prometheus").arg("--version"))?
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let target = format!("target=\"{RAM_IQN}\",lun=\"0\"");
    wait_for(port, "up{job=\"iscsi-target\"}", |v| v == 1.0)?;
    let written_q = format!("sum(iscsi_lu_written_bytes_total{{{target}}})");
    let read_q = format!("sum(iscsi_lu_read_bytes_total{{{target}}})");
    let missing_q = "sum(iscsi_logins_total{status=\"0x0203\"}) or vector(0)";
    let written0 = wait_for(port, &written_q, |_| true)?;
    let read0 = wait_for(port, &read_q, |_| true)?;
    let missing0 = wait_for(port, missing_q, |_| true)?;
    // What the test causes.
    let out = run_ok(
        util::timed(60, "qemu-io")
            .args([
                "-f",
                "raw",
                "-c",
                "write -P 0x5c 8M 1M",
                "-c",
                "read -P 0x5c 8M 512k",
            ])
            .arg(&url),
    )?;
    if out.text().contains("Pattern verification failed") {
        return Err("qemu-io: Pattern verification failed".to_owned());
    }
    let refused = util::capture(util::timed(15, "iscsi-inq").arg(format!(
        "iscsi://127.0.0.1:{iscsi_port}/iqn.2026-11.rs.iscsi:no-such-target/0"
    )))?;
    if refused.status.success() {
        return Err("iscsi-inq logged in to a target that does not exist".to_owned());
    }
    let written = wait_for(port, &written_q, |v| v >= written0 + 1_048_576.0)?;
    let read = wait_for(port, &read_q, |v| v >= read0 + 524_288.0)?;
    let missing = wait_for(port, missing_q, |v| v >= missing0 + 1.0)?;
    // Nothing else ran meanwhile: the increases are exactly what was done.
    if (written - written0, read - read0, missing - missing0) != (1_048_576.0, 524_288.0, 1.0) {
        return Err(format!(
            "Prometheus shows +{} bytes written, +{} read, +{} logins with 0x0203; \
             the test wrote 1048576, read 524288 and made 1 such login",
            written - written0,
            read - read0,
            missing - missing0
        ));
    }
    let latency = promql(
        port,
        &format!("sum(iscsi_lu_command_seconds_count{{{target},op=\"write\"}})"),
    )?
    .unwrap_or(0.0);
    if latency < 1.0 {
        return Err("Prometheus has no write latency sample".to_owned());
    }
    Ok(format!(
        "{version} scraped http://{metrics}/metrics each second; its API returned \
         iscsi_lu_written_bytes_total +1048576, iscsi_lu_read_bytes_total +524288, \
         iscsi_logins_total{{status=\"0x0203\"}} +1, {latency} write latency samples"
    ))
}

/// Open file descriptors of process `pid`.
fn fds(pid: u32) -> Result<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .map_err(|e| format!("cannot list /proc/{pid}/fd: {e}"))
}

/// Admin clients at once.
const CLIENTS: usize = 4;
/// How long the clients keep going, while the I/O runs.
const CHURN: Duration = Duration::from_secs(8);
/// How long the I/O runs (it starts before the clients and ends after).
const IO_SECONDS: u32 = 12;

/// One client's rounds for [`CHURN`]: create a target, add and resize
/// LUNs, change its ACL and CHAP, log in to it (libiscsi's iscsi-inq)
/// every third round while it exists, then remove it all. Counts the calls
/// and logins.
fn churn(
    socket: &Path,
    port: u16,
    client: usize,
    calls: &AtomicU64,
    logins: &AtomicU64,
) -> Result<()> {
    let call = |method: &str, params: Value| {
        calls.fetch_add(1, Ordering::Relaxed);
        rpc(socket, method, params)
    };
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < CHURN {
        round += 1;
        let name = format!("iqn.2026-11.rs.iscsi:churn-{client}-{round}");
        call("target_create", json!({"name": name}))?;
        call(
            "lun_add",
            json!({"target": name, "lun": 1, "backing": "memory", "size": "8M"}),
        )?;
        call(
            "lun_add",
            json!({"target": name, "lun": 2, "backing": "memory", "size": "4M"}),
        )?;
        call(
            "lun_resize",
            json!({"target": name, "lun": 1, "size": "16M"}),
        )?;
        call("target_list", json!({}))?;
        call("session_list", json!({}))?;
        if round % 3 == 0 {
            let out = util::capture(
                util::timed(15, "iscsi-inq").arg(format!("iscsi://127.0.0.1:{port}/{name}/1")),
            )?;
            out.success()?;
            logins.fetch_add(1, Ordering::Relaxed);
        }
        call(
            "acl_add",
            json!({"target": name, "initiator": "iqn.2026-11.rs.iscsi:someone"}),
        )?;
        call(
            "chap_set",
            json!({"target": name, "user": "u", "secret": "churn-secret-0123"}),
        )?;
        call("lun_remove", json!({"target": name, "lun": 2}))?;
        call("target_delete", json!({"name": name, "force": true}))?;
    }
    Ok(())
}

/// [`CLIENTS`] admin clients create, change and delete targets in
/// parallel while fio (libiscsi engine, random writes with CRC32C
/// verification) and iscsi-perf run on the targets the calls do not touch:
/// every call is answered, the I/O sees no error, and afterwards no target,
/// session or file descriptor is left over.
pub(crate) fn check_admin_churn(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let fio = crate::fio::ensure()?;
    peers::require(&[
        ("iscsi-perf", "libiscsi-bin"),
        ("iscsi-inq", "libiscsi-bin"),
    ])?;
    let data_url = peer.url(&peer.exposed().data.clone(), None);
    let port = peer.port();
    let ours = peer
        .ours()
        .ok_or("only our target has the admin interface")?;
    let socket = ours.admin_socket();
    let pid = ours.pid();
    let targets_before = rpc(&socket, "target_list", json!({}))?["targets"]
        .as_array()
        .map_or(0, Vec::len);
    let fds_before = fds(pid)?;
    let started = Instant::now();
    // fio's libiscsi engine reads the URL from the file name, with ':'
    // escaped.
    let fio_target = data_url.replace(':', "\\:");
    let mut fio_cmd = util::timed(120, &fio.display().to_string());
    fio_cmd.args([
        "--name=churn-io",
        "--ioengine=libiscsi",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=16",
        "--size=64m",
        "--offset=256m",
        "--verify=crc32c",
        "--verify_backlog=512",
        "--verify_fatal=1",
        // No verify state file in the working directory.
        "--verify_state_save=0",
        "--time_based",
        "--output-format=json",
    ]);
    fio_cmd.arg(format!("--runtime={IO_SECONDS}"));
    fio_cmd.arg(format!("--filename={fio_target}"));
    fio_cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("$ {}", util::show(&fio_cmd));
    let fio_child = fio_cmd
        .spawn()
        .map_err(|e| format!("cannot start fio: {e}"))?;
    let mut perf_cmd = util::timed(60, "iscsi-perf");
    perf_cmd
        .args(["-m", "16", "-b", "8", "-r", "-t", &IO_SECONDS.to_string()])
        .arg(&data_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("$ {}", util::show(&perf_cmd));
    let perf_child = perf_cmd
        .spawn()
        .map_err(|e| format!("cannot start iscsi-perf: {e}"))?;
    // The clients start once both I/O sessions are logged in.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rpc(&socket, "session_list", json!({}))?["sessions"]
        .as_array()
        .map_or(0, Vec::len)
        < 2
    {
        if Instant::now() > deadline {
            return Err("fio and iscsi-perf did not both log in within 10 s".to_owned());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let churn_started = Instant::now();
    let calls = Arc::new(AtomicU64::new(0));
    let logins = Arc::new(AtomicU64::new(0));
    let socket_arc: Arc<PathBuf> = Arc::new(socket.clone());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (calls, logins, socket) = (calls.clone(), logins.clone(), socket_arc.clone());
            thread::spawn(move || churn(&socket, port, client, &calls, &logins))
        })
        .collect();
    let mut problems = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        match c.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(format!("client {i}: {e}")),
            Err(_) => problems.push(format!("client {i} panicked")),
        }
    }
    let churn_secs = churn_started.elapsed().as_secs_f64();
    let io_running = rpc(&socket, "session_list", json!({}))?["sessions"]
        .as_array()
        .map_or(0, Vec::len);
    if io_running < 2 {
        problems.push(format!(
            "the I/O ended before the clients did ({io_running} session(s) left): the churn did not overlap it"
        ));
    }
    let fio_out = fio_child
        .wait_with_output()
        .map_err(|e| format!("fio: {e}"))?;
    let perf_out = perf_child
        .wait_with_output()
        .map_err(|e| format!("iscsi-perf: {e}"))?;
    if !fio_out.status.success() {
        problems.push(format!(
            "fio failed ({}): {}",
            fio_out.status,
            String::from_utf8_lossy(&fio_out.stderr)
        ));
    }
    // fio prints notes before its JSON.
    let fio_text = String::from_utf8_lossy(&fio_out.stdout);
    let fio_json: Value = fio_text
        .find('{')
        .and_then(|i| serde_json::from_str(&fio_text[i..]).ok())
        .unwrap_or(Value::Null);
    let job = &fio_json["jobs"][0];
    if job["error"].as_i64() != Some(0) {
        problems.push(format!("fio reported error {}", job["error"]));
    }
    let fio_iops = job["write"]["iops"].as_f64().unwrap_or(0.0);
    let perf_text = String::from_utf8_lossy(&perf_out.stdout).into_owned();
    let perf_iops = crate::interop::perf_iops(&perf_text).unwrap_or(0);
    if !perf_out.status.success() || perf_iops == 0 {
        problems.push(format!(
            "iscsi-perf failed ({}): {}{}",
            perf_out.status,
            perf_text,
            String::from_utf8_lossy(&perf_out.stderr)
        ));
    }
    ours.check_alive()?;
    // Every session the I/O and the logins made has ended, every target
    // made has gone, and the descriptors are back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut sessions, mut targets, mut fds_after);
    loop {
        sessions = rpc(&socket, "session_list", json!({}))?["sessions"]
            .as_array()
            .map_or(0, Vec::len);
        targets = rpc(&socket, "target_list", json!({}))?["targets"]
            .as_array()
            .map_or(0, Vec::len);
        fds_after = fds(pid)?;
        if (sessions == 0 && targets == targets_before && fds_after <= fds_before)
            || Instant::now() > deadline
        {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    if sessions != 0 {
        problems.push(format!(
            "{sessions} session(s) left after the clients ended"
        ));
    }
    if targets != targets_before {
        problems.push(format!("{targets} targets left, {targets_before} before"));
    }
    if fds_after > fds_before {
        problems.push(format!(
            "{fds_after} file descriptors open, {fds_before} before"
        ));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(format!(
        "{} admin calls from {CLIENTS} clients in {churn_secs:.1} s, every one answered, \
         with {} libiscsi logins to targets that came and went; all the while fio (libiscsi, \
         4 KiB random writes, CRC32C verify) {fio_iops:.0} IOPS and iscsi-perf {perf_iops} IOPS \
         on an untouched target, no error; afterwards {targets} targets, 0 sessions, \
         {fds_after} fds ({fds_before} before); {:.1} s in all",
        calls.load(Ordering::Relaxed),
        logins.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    ))
}
