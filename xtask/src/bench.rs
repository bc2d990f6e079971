//! `cargo xtask bench [--quick] [--micro] [--rounds N] [--seconds S] [--no-build]`:
//! our target side by side with tgtd, driven by the same third-party
//! clients, on 127.0.0.1 only.
//!
//! Both targets serve a 1 GiB RAM-backed LUN (ours: the memory backend;
//! tgtd: a thick file in /dev/shm), written once in full before measuring
//! so that neither reads never-written blocks. Each round runs every case
//! against ours then tgtd (A B A B ...); the report gives the median of the
//! rounds with min–max beside, the ratio ours/tgtd, the server's CPU
//! seconds per GB and per 100 K I/Os (from `/proc/PID/stat`), the loopback
//! TCP limit (iperf3, one stream) and, with `--micro`, the criterion
//! medians of the crates. Output: `target/bench/report.md` and
//! `target/bench/report.png`.
//!
//! `--quick` (one round, about a second per case) only shows that the
//! harness works: `cargo xtask ci` runs it, and its figures are never
//! compared with the goals.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::chart::{self, Bar};
use crate::interop::{self, Binaries};
use crate::peers::{self, OurTarget, Peer, Tgtd};
use crate::util::{self, Result, Steps};

const USAGE: &str =
    "usage: cargo xtask bench [--quick] [--micro] [--rounds N] [--seconds S] [--no-build]

  --quick       one round, ~1 s per case: a smoke test of the harness (no goals)
  --micro       also run the criterion benchmarks and add their medians
  --rounds N    rounds of A B alternation (default 3)
  --seconds S   length of each case in seconds (default 5)
  --no-build    use target/release/{iscsi-target,iscsi} as they are
  --rbd         both targets on one Ceph RBD image (ours: librbd; tgtd: tgt-rbd's
                bs_rbd) of a one-node cluster up for the run; report in
                target/bench-rbd/
";

/// Command-line options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Options {
    quick: bool,
    /// LUNs on an RBD image instead of RAM.
    rbd: bool,
    micro: bool,
    rounds: usize,
    seconds: f64,
    build: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            quick: false,
            rbd: false,
            micro: false,
            rounds: 3,
            seconds: 5.0,
            build: true,
        }
    }
}

impl Options {
    /// The `--quick` smoke run `cargo xtask ci` uses.
    pub(crate) fn quick() -> Self {
        Self {
            quick: true,
            rounds: 1,
            seconds: 1.0,
            ..Self::default()
        }
    }
}

/// Parses the arguments after `bench`; `Ok(None)` for `--help`.
pub(crate) fn parse_args(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options::default();
    let mut it = args.iter();
    let mut explicit_rounds = false;
    let mut explicit_seconds = false;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match flag {
            "--quick" => o.quick = true,
            "--micro" => o.micro = true,
            "--rbd" => o.rbd = true,
            "--no-build" => o.build = false,
            "--rounds" => {
                o.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or("--rounds takes 1 to 20")?;
                explicit_rounds = true;
            }
            "--seconds" => {
                o.seconds = value("--seconds")?
                    .parse()
                    .ok()
                    .filter(|s: &f64| (0.2..=600.0).contains(s))
                    .ok_or("--seconds takes 0.2 to 600")?;
                explicit_seconds = true;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    if o.quick {
        if !explicit_rounds {
            o.rounds = 1;
        }
        if !explicit_seconds {
            o.seconds = 1.0;
        }
    }
    Ok(Some(o))
}

/// `cargo xtask bench`.
pub(crate) fn main(args: &[String]) -> Result {
    let Some(options) = parse_args(args)? else {
        eprint!("{USAGE}");
        return Ok(());
    };
    run(options).map(|path| eprintln!("cargo xtask bench: report at {path}"))
}

/// The clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    /// `qemu-img bench` (libiscsi through QEMU's block layer).
    QemuImg,
    /// libiscsi's `iscsi-perf` (random reads for a fixed time).
    IscsiPerf,
    /// Our `iscsi bench`.
    Ours,
}

impl Client {
    const fn short(self) -> &'static str {
        match self {
            Self::QemuImg => "qemu-img",
            Self::IscsiPerf => "iscsi-perf",
            Self::Ours => "iscsi",
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::QemuImg => "qemu-img bench",
            Self::IscsiPerf => "iscsi-perf",
            Self::Ours => "iscsi bench (ours)",
        }
    }
}

/// One workload of one client.
#[derive(Clone, Copy, Debug)]
struct Case {
    client: Client,
    write: bool,
    random: bool,
    block: u64,
    depth: u32,
    /// Throughput (MB/s) is the figure of merit; otherwise IOPS.
    throughput: bool,
    /// The goal ours/tgtd must reach, if any.
    goal: Option<f64>,
}

impl Case {
    fn label(&self) -> String {
        format!(
            "{} KiB {}{} QD{}",
            self.block / 1024,
            if self.random { "random " } else { "" },
            if self.write { "write" } else { "read" },
            self.depth
        )
    }

    fn unit(&self) -> &'static str {
        if self.throughput { "MB/s" } else { "IOPS" }
    }

    fn figure(&self, r: &Run) -> f64 {
        if self.throughput {
            r.bytes_per_s / 1e6
        } else {
            r.iops
        }
    }
}

const fn case(
    client: Client,
    write: bool,
    random: bool,
    block: u64,
    depth: u32,
    goal: Option<f64>,
) -> Case {
    Case {
        client,
        write,
        random,
        block,
        depth,
        throughput: block >= 65_536,
        goal,
    }
}

/// Every case. qemu-img bench has no random mode (it steps through the LUN
/// sequentially); on a RAM-backed LUN the order of offsets does not matter.
const CASES: [Case; 9] = [
    case(Client::QemuImg, false, false, 4096, 32, Some(2.0)),
    case(Client::QemuImg, true, false, 4096, 32, Some(2.0)),
    case(Client::QemuImg, false, false, 131_072, 16, Some(1.5)),
    case(Client::QemuImg, true, false, 131_072, 16, Some(1.5)),
    case(Client::IscsiPerf, false, true, 4096, 32, None),
    case(Client::Ours, false, true, 4096, 32, None),
    case(Client::Ours, true, true, 4096, 32, None),
    case(Client::Ours, false, false, 131_072, 16, None),
    case(Client::Ours, true, false, 131_072, 16, None),
];

/// The cases on an RBD image (issue 15's goals: ours ≥ 1.5× tgt's
/// bs_rbd): the same client for both targets, random 4 KiB at QD32 and
/// sequential 128 KiB.
const RBD_CASES: [Case; 5] = [
    case(Client::Ours, false, true, 4096, 32, Some(1.5)),
    case(Client::Ours, true, true, 4096, 32, Some(1.5)),
    case(Client::IscsiPerf, false, true, 4096, 32, None),
    case(Client::QemuImg, false, false, 131_072, 16, Some(1.5)),
    case(Client::QemuImg, true, false, 131_072, 16, Some(1.5)),
];

/// The image both targets serve with `--rbd`.
const RBD_IMAGE: &str = "bench";

/// One measurement.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    iops: f64,
    bytes_per_s: f64,
    ios: f64,
    bytes: f64,
    /// Server CPU seconds (user + system) during the run.
    cpu_s: f64,
}

/// A target under test with the URL of its data LUN and its server pid.
struct Side<'a> {
    label: &'static str,
    url: String,
    pid: u32,
    peer: &'a mut dyn Peer,
}

/// Runs the benchmark; `Ok` holds the report path.
pub(crate) fn run(options: Options) -> Result<String> {
    let dir = interop::target_dir().join(if options.rbd { "bench-rbd" } else { "bench" });
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut steps = Steps::new();
    steps.step("setup", setup);
    let mut cluster = None;
    if options.rbd {
        steps.step("ceph: up", || {
            let c = crate::ceph::up(&dir.join("ceph"))?;
            c.rbd(&["create", "--size", "1G", &format!("rbd/{RBD_IMAGE}")])?;
            cluster = Some(c);
            Ok(format!("image rbd/{RBD_IMAGE}, 1 GiB"))
        });
    }
    let mut binaries: Option<Binaries> = None;
    steps.step("build iscsi-target and iscsi", || {
        let (b, detail) = interop::build_binaries(options.build)?;
        binaries = Some(b);
        Ok(detail)
    });
    let Some(binaries) = binaries else {
        steps.finish("cargo xtask bench")?;
        return Err("no binaries".to_owned());
    };

    let mut iperf = None;
    steps.step("iperf3 loopback", || {
        let bps = iperf3(if options.quick { 1 } else { 3 })?;
        iperf = Some(bps);
        Ok(format!("{:.2} GB/s one TCP stream", bps / 1e9))
    });

    let mut ours: Option<OurTarget> = None;
    steps.step("ours: start", || {
        let t = if options.rbd {
            let lun = peers::ConfigTarget {
                alias: RBD_IMAGE,
                rbd: true,
                ..peers::OUR_TARGETS[0]
            };
            OurTarget::start_serving(&binaries.target, &dir, &[lun], &[], "warn")?
        } else {
            OurTarget::start(&binaries.target, &dir)?
        };
        let detail = format!("pid {} on 127.0.0.1:{}", t.pid(), t.port());
        ours = Some(t);
        Ok(detail)
    });
    let mut tgtd: Option<Tgtd> = None;
    steps.step("tgtd: start", || {
        peers::require(peers::TGT_TOOLS)?;
        let t = match &cluster {
            Some(c) => Tgtd::start_rbd(&dir, &format!("rbd/{RBD_IMAGE}"), &c.conf())?,
            None => Tgtd::start(&dir)?,
        };
        let detail = format!("pid {} on 127.0.0.1:{}", t.pid().unwrap_or(0), t.port());
        tgtd = Some(t);
        Ok(detail)
    });

    let cases: &[Case] = if options.rbd { &RBD_CASES } else { &CASES };
    let mut results: Vec<(Case, Vec<Run>, Vec<Run>)> =
        cases.iter().map(|c| (*c, Vec::new(), Vec::new())).collect();
    if let (Some(o), Some(t)) = (ours.as_mut(), tgtd.as_mut()) {
        let ours_pid = o.pid();
        let tgtd_pid = t.pid().unwrap_or(0);
        let mut sides = [
            Side {
                label: "ours",
                url: o.url(&o.exposed().data.clone(), None),
                pid: ours_pid,
                peer: o,
            },
            Side {
                label: "tgtd",
                url: t.url(&t.exposed().data.clone(), None),
                pid: tgtd_pid,
                peer: t,
            },
        ];
        for side in &sides {
            steps.step(&format!("{}: fill the LUN", side.label), || fill(&side.url));
        }
        for round in 1..=options.rounds {
            for (case, ours_runs, tgtd_runs) in &mut results {
                for side in &mut sides {
                    let name = format!(
                        "round {round}: {} {} on {}",
                        case.client.name(),
                        case.label(),
                        side.label
                    );
                    steps.step(&name, || {
                        side.peer.check_alive()?;
                        let r = measure(case, side, &binaries.iscsi, options.seconds)?;
                        let detail = format!(
                            "{:.0} {} (server CPU {:.2} s)",
                            case.figure(&r),
                            case.unit(),
                            r.cpu_s
                        );
                        if side.label == "ours" {
                            ours_runs.push(r);
                        } else {
                            tgtd_runs.push(r);
                        }
                        Ok(detail)
                    });
                }
            }
        }
    }
    steps.step("ours: stop", || {
        ours.take().ok_or("our target was not running")?.stop()
    });
    steps.step("tgtd: stop", || {
        tgtd.take().ok_or("tgtd was not running")?.stop()
    });
    if options.rbd {
        steps.step("ceph: down", || {
            drop(cluster.take().ok_or("no cluster was up")?);
            Ok("daemons killed, directory removed".to_owned())
        });
    }

    let mut micro = Vec::new();
    if options.micro {
        steps.step("criterion micro-benchmarks", || {
            micro = criterion_medians(options.quick)?;
            Ok(format!("{} benchmarks", micro.len()))
        });
    }

    let report = dir.join("report.md");
    let png = dir.join("report.png");
    steps.step("report", || {
        let text = render(&results, iperf, &micro, options);
        fs::write(&report, &text).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
        eprintln!("\n{text}");
        chart::bars(
            &png,
            &chart_bars(&results),
            "ours / tgtd (median); 1.0 = tgtd",
        )?;
        Ok(format!("{} and {}", report.display(), png.display()))
    });
    if options.quick {
        steps.note("--quick: one short round to check the harness; figures are not compared with the goals");
    }
    steps.finish("cargo xtask bench")?;
    Ok(report.display().to_string())
}

/// Installs qemu's iscsi driver, libiscsi's tools, tgt, iperf3 and a font
/// for the chart (root on Debian).
fn setup() -> Result<String> {
    let mut pairs: Vec<(&str, &str)> = vec![("iperf3", "iperf3"), ("getconf", "libc-bin")];
    pairs.extend_from_slice(peers::LIBISCSI_TOOLS);
    pairs.extend_from_slice(peers::TGT_TOOLS);
    peers::install(&pairs)?;
    if !Path::new(chart::FONT).is_file() {
        util::ensure_debian_packages(&[("fc-list", "fonts-dejavu-core")])?;
        if !Path::new(chart::FONT).is_file() {
            return Err(format!(
                "{} is missing: `apt-get install -y fonts-dejavu-core`",
                chart::FONT
            ));
        }
    }
    let qemu = peers::ensure_qemu_iscsi(true)?;
    Ok(format!("iperf3, libiscsi-bin, tgt present; qemu: {qemu}"))
}

/// Loopback TCP throughput of one iperf3 stream, bytes per second.
fn iperf3(seconds: u32) -> Result<f64> {
    let port = peers::free_port()?;
    let mut server = Command::new("iperf3")
        .args(["-s", "-B", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start iperf3 -s: {e}"))?;
    let result = (|| {
        peers::wait_for_port(port, Duration::from_secs(10), || match server.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("iperf3 -s exited with {status}")),
            Err(e) => Err(format!("cannot query iperf3 -s: {e}")),
        })?;
        // The readiness probe is a connection too: the server may still
        // be finishing with it and answer "busy", or drop the next control
        // connection ("unable to receive control message: Connection reset
        // by peer", seen in CI); the client then asks again.
        let mut last = String::new();
        for _ in 0..10 {
            let out = util::capture(
                util::timed(u64::from(seconds) + 30, "iperf3")
                    .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-J", "-t"])
                    .arg(seconds.to_string()),
            )?;
            let v: Value = serde_json::from_str(&out.stdout)
                .map_err(|e| format!("iperf3 -J printed no JSON ({e}): {}", out.text()))?;
            if let Some(bits) = v["end"]["sum_received"]["bits_per_second"].as_f64() {
                out.success()?;
                return Ok(bits / 8.0);
            }
            last = v["error"].as_str().unwrap_or("no error given").to_owned();
            let transient = ["busy", "reset by peer", "control message"];
            if !transient.iter().any(|t| last.contains(t)) {
                break;
            }
            thread::sleep(Duration::from_millis(300));
        }
        Err(format!(
            "iperf3 -J gave no end.sum_received.bits_per_second: {last}"
        ))
    })();
    peers::kill_child(&mut server);
    result
}

/// Writes the whole 1 GiB LUN once (128 KiB sequential writes).
fn fill(url: &str) -> Result<String> {
    let out = util::capture(
        util::timed(300, "qemu-img")
            .args([
                "bench", "-f", "raw", "-w", "-c", "8192", "-d", "16", "-s", "128k",
            ])
            .arg(url),
    )?;
    out.success()?;
    let secs = completed_seconds(&out.stdout)
        .ok_or_else(|| format!("`{}` printed no run time", out.line))?;
    Ok(format!("1 GiB written in {secs:.2} s"))
}

/// The "Run completed in X seconds." figure of qemu-img bench.
fn completed_seconds(text: &str) -> Option<f64> {
    text.split("Run completed in ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Server CPU seconds (user + system, all threads) of `pid` so far.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    let ticks = clock_ticks();
    parse_cpu_ticks(&stat)
        .map(|t| t as f64 / ticks)
        .ok_or_else(|| format!("/proc/{pid}/stat has no utime/stime"))
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in ticks.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK` (100 on Linux when it cannot be read).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs one case against one side and measures it.
fn measure(case: &Case, side: &Side<'_>, iscsi: &Path, seconds: f64) -> Result<Run> {
    let cpu_before = cpu_seconds(side.pid)?;
    let mut run = match case.client {
        Client::QemuImg => qemu_img(case, &side.url, seconds)?,
        Client::IscsiPerf => iscsi_perf(case, &side.url, seconds)?,
        Client::Ours => ours(case, &side.url, iscsi, seconds)?,
    };
    run.cpu_s = cpu_seconds(side.pid)? - cpu_before;
    Ok(run)
}

fn qemu_img(case: &Case, url: &str, seconds: f64) -> Result<Run> {
    // A count that takes about `seconds` at 60 K IOPS (4 KiB) or 2 GB/s.
    let rate = if case.throughput {
        2e9 / case.block as f64
    } else {
        60_000.0
    };
    let count = ((rate * seconds) as u64).max(1000);
    let mut cmd = util::timed(60 + (seconds * 20.0) as u64, "qemu-img");
    cmd.args(["bench", "-f", "raw", "-c", &count.to_string()])
        .args(["-d", &case.depth.to_string()])
        .args(["-s", &case.block.to_string()]);
    if case.write {
        cmd.arg("-w");
    }
    let out = util::capture(cmd.arg(url))?;
    out.success()?;
    let secs = completed_seconds(&out.stdout)
        .filter(|s| *s > 0.0)
        .ok_or_else(|| format!("`{}` printed no run time", out.line))?;
    let ios = count as f64;
    Ok(Run {
        iops: ios / secs,
        bytes_per_s: ios * case.block as f64 / secs,
        ios,
        bytes: ios * case.block as f64,
        cpu_s: 0.0,
    })
}

fn iscsi_perf(case: &Case, url: &str, seconds: f64) -> Result<Run> {
    let secs = seconds.ceil().max(1.0) as u64;
    let blocks = (case.block / 512).to_string();
    let out = util::capture(
        util::timed(secs + 30, "iscsi-perf")
            .args(["-m", &case.depth.to_string(), "-b", &blocks, "-r", "-t"])
            .arg(secs.to_string())
            .arg(url),
    )?;
    out.success()?;
    let iops = interop::perf_iops(&out.stdout)
        .ok_or_else(|| format!("`{}` printed no IOPS figure", out.line))? as f64;
    let ios = iops * secs as f64;
    Ok(Run {
        iops,
        bytes_per_s: iops * case.block as f64,
        ios,
        bytes: ios * case.block as f64,
        cpu_s: 0.0,
    })
}

fn ours(case: &Case, url: &str, iscsi: &Path, seconds: f64) -> Result<Run> {
    let rw = match (case.random, case.write) {
        (true, false) => "randread",
        (true, true) => "randwrite",
        (false, false) => "read",
        (false, true) => "write",
    };
    let out = util::capture(
        util::timed(60 + seconds as u64, &iscsi.to_string_lossy())
            .args(["--json", "bench", url, "--rw", rw])
            .args(["--bs", &case.block.to_string()])
            .args(["--qd", &case.depth.to_string()])
            .args(["--seconds", &seconds.to_string()]),
    )?;
    out.success()?;
    let v: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`{}` printed no JSON: {e}", out.line))?;
    if v["errors"] != 0 {
        return Err(format!("iscsi bench reported errors: {v}"));
    }
    let ios = v["ios"].as_f64().unwrap_or(0.0);
    Ok(Run {
        iops: v["iops"].as_f64().unwrap_or(0.0),
        bytes_per_s: v["bytesPerSecond"].as_f64().unwrap_or(0.0),
        ios,
        bytes: ios * case.block as f64,
        cpu_s: 0.0,
    })
}

/// Median, minimum and maximum.
fn stats(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    };
    Some((median, v[0], v[n - 1]))
}

/// A table cell: the median with `decimals` places and, over several
/// rounds, min–max beside it.
fn cell(values: &[f64], decimals: usize) -> String {
    match stats(values) {
        Some((m, lo, hi)) if values.len() > 1 => {
            format!("{m:.decimals$} ({lo:.decimals$}–{hi:.decimals$})")
        }
        Some((m, _, _)) => format!("{m:.decimals$}"),
        None => "–".to_owned(),
    }
}

fn median_of(case: &Case, runs: &[Run]) -> Option<f64> {
    let v: Vec<f64> = runs.iter().map(|r| case.figure(r)).collect();
    stats(&v).map(|s| s.0)
}

/// The markdown report.
fn render(
    results: &[(Case, Vec<Run>, Vec<Run>)],
    iperf: Option<f64>,
    micro: &[(String, f64)],
    options: Options,
) -> String {
    let mut out = String::from(if options.rbd {
        "# cargo xtask bench --rbd\n\n"
    } else {
        "# cargo xtask bench\n\n"
    });
    out.push_str(&format!(
        "{} round(s) of {} s per case, ours then tgtd in each; medians with min–max. \
         {} Client and servers share this machine's {} CPUs.{}\n\n",
        options.rounds,
        options.seconds,
        if options.rbd {
            "Both targets serve the same 1 GiB Ceph RBD image (ours: iscsi-rbd over librbd; \
             tgtd: tgt-rbd's bs_rbd), on a one-node cluster (one mon, one memstore OSD) on \
             this machine too, filled once through each before measuring."
        } else {
            "Both LUNs are 1 GiB in RAM (ours: memory backend; tgtd: thick file in /dev/shm), \
             filled once before measuring."
        },
        thread::available_parallelism().map_or(0, std::num::NonZero::get),
        if options.quick {
            " **--quick: a smoke run, not a measurement.**"
        } else {
            ""
        }
    ));
    out.push_str("| client | workload | unit | ours | tgtd | ours/tgtd | goal |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for (case, o, t) in results {
        let fo: Vec<f64> = o.iter().map(|r| case.figure(r)).collect();
        let ft: Vec<f64> = t.iter().map(|r| case.figure(r)).collect();
        let ratio = match (stats(&fo), stats(&ft)) {
            (Some((a, _, _)), Some((b, _, _))) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let goal = match (case.goal, ratio) {
            (Some(g), _) if options.quick => format!("≥ {g} (not checked: --quick)"),
            (Some(g), Some(r)) if r >= g => format!("≥ {g}: met"),
            (Some(g), Some(_)) => format!("≥ {g}: **missed**"),
            (Some(g), None) => format!("≥ {g}: no figure"),
            (None, _) => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {goal} |\n",
            case.client.name(),
            case.label(),
            case.unit(),
            cell(&fo, 0),
            cell(&ft, 0),
            ratio.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"))
        ));
    }

    out.push_str("\n## Server CPU\n\n| client | workload | ours CPU s/GB | tgtd CPU s/GB | ours CPU s/100K I/O | tgtd CPU s/100K I/O |\n|---|---|---|---|---|---|\n");
    for (case, o, t) in results {
        // CPU seconds per `unit` of what `amount` counts; three decimals,
        // as the figures are small.
        let cpu_per = |runs: &[Run], amount: fn(&Run) -> f64, unit: f64| {
            cell(
                &runs
                    .iter()
                    .filter(|r| amount(r) > 0.0)
                    .map(|r| r.cpu_s / (amount(r) / unit))
                    .collect::<Vec<_>>(),
                3,
            )
        };
        let per_gb = |runs: &[Run]| cpu_per(runs, |r| r.bytes, 1e9);
        let per_io = |runs: &[Run]| cpu_per(runs, |r| r.ios, 1e5);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            case.client.name(),
            case.label(),
            per_gb(o),
            per_gb(t),
            per_io(o),
            per_io(t)
        ));
    }

    out.push_str("\n## Loopback and initiators\n\n");
    match iperf {
        Some(bps) => {
            out.push_str(&format!(
                "- iperf3, one TCP stream on 127.0.0.1: {:.2} GB/s.\n",
                bps / 1e9
            ));
            // On RBD the storage is the limit, not the network.
            if let Some((case, o, _)) = results
                .iter()
                .filter(|_| !options.rbd)
                .find(|(c, _, _)| c.client == Client::QemuImg && c.throughput && !c.write)
                && let Some(m) = median_of(case, o)
            {
                let share = m * 1e6 / bps;
                out.push_str(&format!(
                    "- Our target, qemu-img bench {}: {:.0} MB/s = {:.0}% of iperf3 (goal ≥ 60%{}).\n",
                    case.label(),
                    m,
                    share * 100.0,
                    if options.quick {
                        ", not checked: --quick"
                    } else if share >= 0.6 {
                        ": met"
                    } else {
                        ": **missed**"
                    }
                ));
            }
        }
        None => out.push_str("- iperf3 gave no figure.\n"),
    }
    for (write, label) in [(false, "read"), (true, "write")] {
        let find = |client: Client| {
            results.iter().find(|(c, _, _)| {
                c.client == client && c.block == 4096 && c.write == write && c.depth == 32
            })
        };
        if let (Some((qc, qo, _)), Some((oc, oo, _))) = (find(Client::QemuImg), find(Client::Ours))
            && let (Some(q), Some(o)) = (median_of(qc, qo), median_of(oc, oo))
        {
            out.push_str(&format!(
                "- 4 KiB {label} QD32 against our target: our `iscsi bench` {o:.0} IOPS, \
                 qemu-img bench {q:.0} IOPS: ratio {:.2}{}.\n",
                o / q,
                if options.quick || write {
                    ""
                } else if o >= q {
                    " (goal ≥ 1: met)"
                } else {
                    " (goal ≥ 1: **missed**)"
                }
            ));
        }
    }
    if !micro.is_empty() {
        out.push_str(
            "\n## Criterion micro-benchmarks (median)\n\n| benchmark | median |\n|---|---|\n",
        );
        for (name, ns) in micro {
            out.push_str(&format!("| {name} | {} |\n", human_ns(*ns)));
        }
    }
    out
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// One bar per case: the ratio ours/tgtd of the medians.
fn chart_bars(results: &[(Case, Vec<Run>, Vec<Run>)]) -> Vec<Bar> {
    results
        .iter()
        .filter_map(|(case, o, t)| {
            let (a, b) = (median_of(case, o)?, median_of(case, t)?);
            (b > 0.0).then(|| Bar {
                label: format!(
                    "{} {}K {}{}",
                    case.client.short(),
                    case.block / 1024,
                    if case.random { "rand " } else { "" },
                    if case.write { "write" } else { "read" }
                ),
                value: a / b,
                note: format!("{a:.0} vs {b:.0} {}", case.unit()),
                goal: case.goal,
            })
        })
        .collect()
}

/// Runs the criterion benchmarks of the crates and reads their medians
/// (ns) from `target/criterion/*/new/estimates.json`.
fn criterion_medians(quick: bool) -> Result<Vec<(String, f64)>> {
    let mut cmd = util::cargo();
    cmd.args([
        "bench",
        "-p",
        "iscsi-pdu",
        "-p",
        "iscsi-scsi",
        "--",
        "--noplot",
    ]);
    if quick {
        cmd.args(["--warm-up-time", "0.2", "--measurement-time", "0.5"]);
    }
    util::run(&mut cmd)?;
    let root = interop::target_dir().join("criterion");
    let mut out = Vec::new();
    collect_estimates(&root, &root, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        return Err(format!("no estimates.json under {}", root.display()));
    }
    Ok(out)
}

fn collect_estimates(root: &Path, dir: &Path, out: &mut Vec<(String, f64)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let estimates = path.join("new/estimates.json");
        if let Ok(text) = fs::read_to_string(&estimates)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Some(ns) = v["median"]["point_estimate"].as_f64()
        {
            let name = path
                .strip_prefix(root)
                .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
            out.push((name, ns));
        } else if path
            .file_name()
            .is_some_and(|n| n != "report" && n != "new" && n != "base")
        {
            collect_estimates(root, &path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Options, completed_seconds, parse_args, parse_cpu_ticks, stats};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options() {
        assert_eq!(parse_args(&[]).unwrap(), Some(Options::default()));
        let q = parse_args(&args(&["--quick"])).unwrap().unwrap();
        assert_eq!(q, Options::quick());
        let o = parse_args(&args(&[
            "--rounds",
            "5",
            "--seconds=2.5",
            "--micro",
            "--no-build",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (o.rounds, o.seconds, o.micro, o.build),
            (5, 2.5, true, false)
        );
        assert!(parse_args(&args(&["--rounds", "0"])).is_err());
        assert!(parse_args(&args(&["--seconds"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
        assert_eq!(parse_args(&args(&["--help"])).unwrap(), None);
        assert!(
            parse_args(&args(&["--rbd"]))
                .unwrap()
                .is_some_and(|o| o.rbd)
        );
    }

    #[test]
    fn figures_are_read_from_tool_output() {
        assert_eq!(
            completed_seconds("Sending 1000 read requests...\nRun completed in 1.234 seconds.\n"),
            Some(1.234)
        );
        assert_eq!(completed_seconds("nothing"), None);
        let stat = "1234 (iscsi target) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert_eq!(stats(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&[4.0, 1.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&[]), None);
    }
}
