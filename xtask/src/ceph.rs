//! `cargo xtask ceph up|down [DIR]`: a throw-away one-node Ceph cluster
//! (one mon, one memstore OSD, no mgr, no authentication) on 127.0.0.1
//! only, for RBD-backed LUNs. Debian 12's Ceph 16.2 (Pacific); the recipe
//! and its measurements are `../shared/ceph/`: up in about 2 s, down in
//! 0.02 s. Everything lives under DIR (default `target/ceph`): the
//! configuration, the daemons' data, logs, sockets and `pids`; nothing
//! goes to /etc/ceph or /var/lib/ceph.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Result};

/// The Debian packages of the daemons and the command-line tools.
const PACKAGES: &[(&str, &str)] = &[
    ("ceph-mon", "ceph-mon"),
    ("ceph-osd", "ceph-osd"),
    ("ceph", "ceph-common"),
    ("rbd", "ceph-common"),
    ("monmaptool", "ceph-common"),
];

/// The pool the cluster makes, for RBD images.
pub(crate) const POOL: &str = "rbd";
/// The image `cargo xtask ceph up` makes in it.
const IMAGE: &str = "img";

/// A running cluster; dropping it kills its daemons and removes its
/// directory (unless [`Cluster::keep`] was called).
pub(crate) struct Cluster {
    dir: PathBuf,
    children: Vec<Child>,
    keep: bool,
}

impl Cluster {
    /// `DIR/ceph.conf`: what clients (`CEPH_CONF`, librados) read.
    pub(crate) fn conf(&self) -> PathBuf {
        self.dir.join("ceph.conf")
    }

    /// Leaves the daemons running and the directory in place when the
    /// guard goes (`cargo xtask ceph up`); `down` stops them by their pids.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.dir.clone()
    }

    /// `ceph`/`rbd` with this cluster's configuration, bounded in time.
    pub(crate) fn tool(&self, secs: u64, program: &str) -> Command {
        let mut cmd = util::timed(secs, program);
        cmd.env("CEPH_CONF", self.conf());
        cmd
    }

    /// Runs `rbd ARGS` and returns its standard output.
    pub(crate) fn rbd(&self, args: &[&str]) -> Result<String> {
        let out = util::capture(self.tool(60, "rbd").args(args))?;
        out.success()?;
        Ok(out.stdout)
    }

    /// The daemons' pids.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    fn alive(&mut self) -> Result {
        for c in &mut self.children {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(format!(
                    "a Ceph daemon (pid {}) exited with {status}; logs in {}",
                    c.id(),
                    self.dir.join("log").display()
                ));
            }
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // The cluster is throw-away: SIGKILL, OSD first (0.02 s).
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A random UUID from the kernel.
fn uuid() -> Result<String> {
    fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("cannot read a UUID from the kernel: {e}"))
}

/// The cluster's configuration (see `../shared/ceph/README.md` for why each
/// key is there).
fn conf(dir: &Path, fsid: &str, mon_port: u16, store_bytes: u64) -> String {
    let d = dir.display();
    let mut out = String::new();
    let _ = write!(
        out,
        "[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_port}]
mon initial members = a
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind msgr2 = true
ms bind port min = {pmin}
ms bind port max = {pmax}
ms bind retry count = 1
auth cluster required = none
auth service required = none
auth client required = none
run dir = {d}/run
crash dir = {d}/crash
admin socket = {d}/run/$name.asok
pid file = {d}/run/$name.pid
log file = {d}/log/$name.log
log to stderr = false
mon cluster log file = default={d}/log/ceph.$channel.log cluster={d}/log/ceph.log
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 0
mon memory target = 268435456
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = {d}/mon/$name

[osd]
osd data = {d}/osd/$name
osd objectstore = memstore
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1
osd crush update on start = true
osd check max object name len on startup = false
memstore device bytes = {store_bytes}
memstore page set = true

[client]
admin socket =
log file =
",
        pmin = mon_port + 2,
        pmax = mon_port + 60,
    );
    out
}

/// Starts a daemon in the foreground (`-f`), its output in `log`.
fn spawn(program: &str, args: &[&str], conf: &Path, log: &Path) -> Result<Child> {
    let file = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "19", program])
        .args(args)
        .env("CEPH_CONF", conf)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err);
    eprintln!("$ {}", util::show(&cmd));
    cmd.spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))
}

/// Waits (`secs` at most) until `ready` holds, failing at once when a
/// daemon exits.
fn wait_until(
    cluster: &mut Cluster,
    secs: u64,
    what: &str,
    ready: impl Fn(&Cluster) -> bool,
) -> Result {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        cluster.alive()?;
        if ready(cluster) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "{what} within {secs} s; logs in {}",
        cluster.dir.join("log").display()
    ))
}

/// Brings a cluster up in `dir` (wiped first; refused while daemons of an
/// earlier `up` run there), with pool [`POOL`] initialised for RBD.
pub(crate) fn up(dir: &Path) -> Result<Cluster> {
    util::ensure_debian_packages(PACKAGES)?;
    if let Ok(pids) = fs::read_to_string(dir.join("pids")) {
        for pid in pids.lines().filter(|l| !l.is_empty()) {
            if Path::new(&format!("/proc/{pid}")).exists() && is_ceph(pid) {
                return Err(format!(
                    "{} has a running Ceph daemon (pid {pid}): run `cargo xtask ceph down` first",
                    dir.display()
                ));
            }
        }
    }
    let start = Instant::now();
    let _ = fs::remove_dir_all(dir);
    for sub in ["mon", "osd", "run", "log", "crash"] {
        fs::create_dir_all(dir.join(sub))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let dir = fs::canonicalize(dir).map_err(|e| e.to_string())?;
    let fsid = uuid()?;
    // The mon's port, and the OSD's above it: a range no other cluster
    // (nor Ceph's default 6800–7300) uses.
    let mon_port = crate::peers::free_port()?;
    let conf_path = dir.join("ceph.conf");
    fs::write(&conf_path, conf(&dir, &fsid, mon_port, 3 << 30))
        .map_err(|e| format!("cannot write {}: {e}", conf_path.display()))?;
    let mut cluster = Cluster {
        dir: dir.clone(),
        children: Vec::new(),
        keep: false,
    };
    let monmap = dir.join("monmap");
    let addr = format!("[v2:127.0.0.1:{mon_port}]");
    util::capture(
        cluster
            .tool(30, "monmaptool")
            .args(["--create", "--fsid", &fsid, "--addv", "a", &addr])
            .arg(&monmap),
    )?
    .success()?;
    util::capture(
        cluster
            .tool(60, "ceph-mon")
            .args(["--mkfs", "-i", "a", "--monmap"])
            .arg(&monmap),
    )?
    .success()?;
    let mon = spawn(
        "ceph-mon",
        &["-i", "a", "-f"],
        &conf_path,
        &dir.join("log/mon.a.out"),
    )?;
    cluster.children.push(mon);
    wait_until(&mut cluster, 20, "the mon did not answer", |c| {
        util::capture(
            c.tool(5, "ceph")
                .args(["--connect-timeout", "1", "mon", "stat"]),
        )
        .is_ok_and(|o| o.status.success())
    })?;
    let osd_uuid = uuid()?;
    let out = util::capture(cluster.tool(30, "ceph").args(["osd", "new", &osd_uuid]))?;
    out.success()?;
    let id = out.stdout.trim().to_owned();
    fs::create_dir_all(dir.join(format!("osd/osd.{id}"))).map_err(|e| e.to_string())?;
    util::capture(cluster.tool(60, "ceph-osd").args([
        "-i",
        &id,
        "--mkfs",
        "--osd-uuid",
        &osd_uuid,
    ]))?
    .success()?;
    let osd = spawn(
        "ceph-osd",
        &["-i", &id, "-f"],
        &conf_path,
        &dir.join(format!("log/osd.{id}.out")),
    )?;
    cluster.children.push(osd);
    let pids: String = cluster
        .children
        .iter()
        .map(|c| format!("{}\n", c.id()))
        .collect();
    fs::write(dir.join("pids"), pids).map_err(|e| e.to_string())?;
    wait_until(&mut cluster, 30, "the OSD did not come up", |c| {
        util::capture(c.tool(10, "ceph").args(["osd", "stat", "-f", "json"]))
            .is_ok_and(|o| o.stdout.contains("\"num_up_osds\":1"))
    })?;
    util::capture(
        cluster
            .tool(60, "ceph")
            .args(["osd", "pool", "create", POOL, "8", "8"]),
    )?
    .success()?;
    util::capture(cluster.tool(60, "rbd").args(["pool", "init", POOL]))?.success()?;
    // No mgr: MGR_DOWN would turn health to WARN after 120 s.
    let _ = util::capture(
        cluster
            .tool(30, "ceph")
            .args(["health", "mute", "MGR_DOWN", "--sticky"]),
    );
    eprintln!(
        "ceph: one mon and one memstore OSD on 127.0.0.1:{mon_port} in {:.1} s ({})",
        start.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(cluster)
}

/// Whether `pid` has exited and waits to be reaped (`kill -0` and
/// `/proc/PID` still see it).
pub(crate) fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Whether `pid` is a Ceph daemon (guards against a reused pid).
fn is_ceph(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("ceph-"))
}

/// Stops the daemons `up` left running in `dir` (SIGKILL, by the pids it
/// wrote) and removes the directory.
pub(crate) fn down(dir: &Path) -> Result<String> {
    let Ok(pids) = fs::read_to_string(dir.join("pids")) else {
        return Ok(format!("no cluster in {}", dir.display()));
    };
    let mut stopped = 0;
    for pid in pids.lines().rev().filter(|l| !l.is_empty()) {
        if is_ceph(pid) {
            util::capture(util::timed(5, "kill").args(["-KILL", pid]))?.success()?;
            stopped += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.lines().any(is_ceph) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    Ok(format!(
        "{stopped} daemon(s) stopped, {} removed",
        dir.display()
    ))
}

/// Runs `f` with a cluster up in `target/NAME` and `CEPH_CONF` pointing
/// at it for the commands `f` starts; the cluster goes when `f` returns.
pub(crate) fn with_cluster<T>(name: &str, f: impl FnOnce(&Cluster) -> Result<T>) -> Result<T> {
    let cluster = up(&crate::interop::target_dir().join(name))?;
    f(&cluster)
}

/// `cargo xtask rbd-test`: the iscsi-rbd tests that need a cluster
/// (`crates/iscsi-rbd/tests/cluster.rs`), under AddressSanitizer (the
/// nightly toolchain's `-Zsanitizer=address`) when rustup has nightly,
/// else as a plain build, which the summary says. Returns the summary.
pub(crate) fn rbd_test() -> Result<String> {
    with_cluster("ceph-rbd-test", |cluster| {
        let asan = util::have_toolchain("nightly");
        let mut cmd = if asan {
            let mut c = util::rustup_cargo("nightly");
            c.env("RUSTFLAGS", "-Zsanitizer=address")
                .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1");
            c.args([
                "test",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--target-dir",
            ])
            .arg(crate::interop::target_dir().join("asan"));
            c
        } else {
            let mut c = util::cargo();
            c.arg("test");
            c
        };
        cmd.args([
            "-p",
            "iscsi-rbd",
            "--features",
            "cluster-tests",
            "--test",
            "cluster",
        ])
        .env("CEPH_CONF", cluster.conf());
        let out = util::output(&mut cmd)?;
        let passed = out
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u32>().ok())
            .sum::<u32>();
        if passed == 0 {
            return Err("the iscsi-rbd cluster tests ran no test".to_owned());
        }
        Ok(format!(
            "{passed} librbd tests passed against a one-node cluster{}",
            if asan {
                " under AddressSanitizer"
            } else {
                " (no nightly toolchain: without AddressSanitizer)"
            }
        ))
    })
}

/// `cargo xtask ceph up|down [DIR]`.
pub(crate) fn main(args: &[String]) -> Result {
    let dir = args
        .get(1)
        .map_or_else(|| crate::interop::target_dir().join("ceph"), PathBuf::from);
    match args.first().map(String::as_str) {
        Some("up") => {
            let cluster = up(&dir)?;
            cluster.rbd(&["create", "--size", "1G", &format!("{POOL}/{IMAGE}")])?;
            let conf = cluster.conf();
            cluster.keep();
            #[allow(clippy::print_stdout, reason = "for `eval $(cargo xtask ceph up)`")]
            {
                println!("export CEPH_CONF={}", conf.display());
            }
            eprintln!("cargo xtask ceph up: image {POOL}/{IMAGE} (1 GiB) made");
            Ok(())
        }
        Some("down") => {
            eprintln!("cargo xtask ceph down: {}", down(&dir)?);
            Ok(())
        }
        _ => Err("usage: cargo xtask ceph up|down [DIR] (DIR: target/ceph)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::conf;

    /// Every address the cluster binds is on loopback, in a port range of
    /// its own above the mon's, and everything it writes is under DIR.
    #[test]
    fn the_cluster_stays_on_loopback_and_in_its_directory() {
        let text = conf(Path::new("/d"), "f", 40000, 1 << 30);
        assert!(text.contains("mon host = [v2:127.0.0.1:40000]"));
        assert!(text.contains("ms bind port min = 40002\nms bind port max = 40060"));
        assert!(text.contains("ms bind ipv6 = false"));
        for line in text.lines() {
            if line.contains("addr =") || line.contains("network =") {
                assert!(line.contains("127.0.0."), "{line}");
            }
            let (key, value) = line.split_once(" = ").unwrap_or_default();
            if value.starts_with('/') || value.contains("=/") {
                assert!(value.contains("/d/"), "{key} outside DIR: {value}");
            }
        }
        assert!(text.contains("auth client required = none"));
        assert!(text.contains("memstore page set = true"));
    }
}
