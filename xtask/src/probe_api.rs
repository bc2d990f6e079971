//! The HTTP probe service (`iscsi probe-server`) in `cargo xtask interop`:
//! a check that drives it with curl against a peer target (discover, CHAP
//! login, a wrong secret), and a schemathesis run against its
//! `/openapi.json`: no 500, every response matching the schema.
//!
//! schemathesis sends whatever host names it invents, so it runs, with a
//! probe server and our target of its own, inside a network namespace that
//! has only a loopback interface (`unshare --net`): nothing it makes up can
//! leave the machine, not even a DNS query.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::interop::Session;
use crate::peers::{self, CHAP_SECRET, CHAP_USER, Peer};
use crate::util::{self, Result};

/// The schemathesis release the run installs (PyPI).
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// The hooks module with the `no_internal_server_error` check.
const HOOKS_DIR: &str = "xtask/interop";

/// `iscsi probe-server` on a free loopback port; killed on drop.
struct ProbeServer {
    child: Child,
    port: u16,
}

impl ProbeServer {
    fn start(iscsi: &Path, log: &Path) -> Result<Self> {
        let port = peers::free_port()?;
        let out =
            fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = Command::new(iscsi)
            .args(["probe-server", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start {} probe-server: {e}", iscsi.display()))?;
        let mut server = Self { child, port };
        peers::wait_for_port(port, Duration::from_secs(10), || {
            peers::child_alive(&mut server.child, "the probe server", log)
        })?;
        Ok(server)
    }
}

impl Drop for ProbeServer {
    fn drop(&mut self) {
        peers::kill_child(&mut self.child);
    }
}

/// `curl` POSTs `body` to the probe server; the HTTP status and JSON body.
fn post(port: u16, path: &str, body: &Value) -> Result<(u16, Value)> {
    let out = util::capture(
        util::timed(70, "curl")
            .args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
            .args(["-H", "Content-Type: application/json", "-d"])
            .arg(body.to_string())
            .arg(format!("http://127.0.0.1:{port}{path}")),
    )?;
    out.success()?;
    let (json_text, status) = out
        .stdout
        .rsplit_once('\n')
        .ok_or_else(|| format!("curl printed no status: {}", out.last_line()))?;
    let status: u16 = status
        .trim()
        .parse()
        .map_err(|_| format!("curl printed no status: {}", out.last_line()))?;
    let v = serde_json::from_str(json_text)
        .map_err(|e| format!("{path} answered {status} without JSON ({e}): {json_text}"))?;
    Ok((status, v))
}

/// The probe server against `peer`: discovery, a CHAP login and a wrong
/// secret, answers saved as `probe-server-*-PEER.json`.
pub(crate) fn check_probe_server(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("curl", "curl")])?;
    let iscsi = session
        .iscsi
        .clone()
        .ok_or("no iscsi binary (see the build step)")?;
    let server = ProbeServer::start(
        &iscsi,
        &session
            .dir
            .join(format!("probe-server-{}.log", peer.label())),
    )?;
    let exposed = peer.exposed().clone();
    let chap = exposed.chap.clone().ok_or("the peer has no CHAP target")?;
    let keep = |name: &str, v: &Value| {
        let path = session
            .dir
            .join(format!("probe-server-{name}-{}.json", peer.label()));
        let _ = fs::write(&path, serde_json::to_string_pretty(v).unwrap_or_default());
    };
    let mut base = json!({ "host": "127.0.0.1", "port": peer.port() });
    if let Some(name) = exposed.initiator_name {
        base["initiatorName"] = json!(name);
    }

    let (status, v) = post(server.port, "/api/iscsi/discover", &base)?;
    keep("discover", &v);
    if status != 200 || v["success"] != true {
        return Err(format!("/api/iscsi/discover answered {status}: {v}"));
    }
    let count = v["targetCount"].as_u64().unwrap_or(0);

    let mut login = base.clone();
    login["targetName"] = json!(chap.iqn);
    login["username"] = json!(CHAP_USER);
    login["password"] = json!(CHAP_SECRET);
    let (status, v) = post(server.port, "/api/iscsi/login", &login)?;
    keep("login-chap", &v);
    if status != 200 || v["chap"] != true || v["sessionType"] != "Normal" {
        return Err(format!("/api/iscsi/login with CHAP answered {status}: {v}"));
    }
    if v.to_string().contains(CHAP_SECRET) {
        return Err("/api/iscsi/login echoed the password".to_owned());
    }
    let algorithm = v["chapAlgorithm"].as_str().unwrap_or("?").to_owned();

    login["password"] = json!("wrong-secret-0000");
    let (status, v) = post(server.port, "/api/iscsi/login", &login)?;
    keep("login-wrong-chap", &v);
    if status != 502 || v["loginStatusClass"] != 2 || v["loginStatusDetail"] != 1 {
        return Err(format!("a wrong CHAP secret answered {status}: {v}"));
    }
    Ok(format!(
        "discover 200 ({count} targets), CHAP {algorithm} login 200, wrong secret 502 with status 0x0201 (JSON in {})",
        session.dir.display()
    ))
}

/// A venv in `dir` with schemathesis; its `schemathesis` program.
fn ensure_schemathesis(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("schemathesis-venv");
    let program = venv.join("bin/schemathesis");
    if program.is_file() {
        return Ok(program);
    }
    util::ensure_debian_packages(&[("python3", "python3")])?;
    let venv_works = Command::new("python3")
        .args(["-m", "venv", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !venv_works {
        util::ensure_debian_packages(&[("pip3", "python3-venv")])?;
    }
    util::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    util::run(
        util::timed(600, &venv.join("bin/pip").to_string_lossy()).args([
            "install",
            "--quiet",
            SCHEMATHESIS,
        ]),
    )?;
    if program.is_file() {
        Ok(program)
    } else {
        Err(format!("pip installed no {}", program.display()))
    }
}

/// The shell script run inside the namespace: loopback up, our target on
/// 127.0.0.1:3260 (the port of the OpenAPI examples), the probe server on
/// 127.0.0.1:8260, then schemathesis.
fn namespace_script(target: &Path, iscsi: &Path, schemathesis: &Path, report: &Path) -> String {
    format!(
        r#"set -u
ip link set lo up || exit 97
'{target}' --listen 127.0.0.1:3260 --size 64M --log warn &
T=$!
'{iscsi}' probe-server --listen 127.0.0.1:8260 &
P=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/8260) 2>/dev/null && break; sleep 0.1; done
timeout 900 '{schemathesis}' run http://127.0.0.1:8260/openapi.json \
  --checks no_internal_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples 60 --request-timeout 70 --report junit --report-dir '{report}'
rc=$?
kill $T $P
wait
exit $rc
"#,
        target = target.display(),
        iscsi = iscsi.display(),
        schemathesis = schemathesis.display(),
        report = report.display(),
    )
}

/// schemathesis against the probe server's `/openapi.json`, in a network
/// namespace of its own.
pub(crate) fn run_schemathesis(dir: &Path, target: &Path, iscsi: &Path) -> Result<String> {
    peers::require(&[("unshare", "util-linux"), ("ip", "iproute2")])?;
    if !util::is_root() {
        return Err(
            "schemathesis runs in a network namespace of its own: run as root (unshare --net)"
                .to_owned(),
        );
    }
    let schemathesis = ensure_schemathesis(dir)?;
    let report = dir.join("schemathesis");
    let script = namespace_script(target, iscsi, &schemathesis, &report);
    let hooks = util::root().join(HOOKS_DIR);
    let out = util::capture(
        util::timed(1000, "unshare")
            .args(["--net", "bash", "-c", &script])
            .current_dir(dir)
            .env("PYTHONPATH", &hooks)
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks"),
    )?;
    let log = dir.join("schemathesis.log");
    let _ = fs::write(&log, out.text());
    if out.status.code() == Some(97) {
        return Err("cannot bring up loopback in the new network namespace".to_owned());
    }
    let summary = out
        .stdout
        .lines()
        .find(|l| l.contains(" generated,"))
        .map(str::trim)
        .unwrap_or("no summary")
        .to_owned();
    if !out.status.success() {
        return Err(format!(
            "schemathesis failed ({summary}); see {}",
            log.display()
        ));
    }
    Ok(format!(
        "{summary}: no 500, responses match /openapi.json ({SCHEMATHESIS}; log {})",
        log.display()
    ))
}
