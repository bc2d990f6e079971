//! `cargo xtask interop [--peer ours|tgt|linux|targetcli|rbd|all] [--quick] [--no-build]`:
//! real third-party peers against our stack, on 127.0.0.1 only.
//!
//! - `ours`: our `iscsi-target` (built in release mode, started with a
//!   generated configuration of three targets) against libiscsi's tools
//!   (iscsi-ls, iscsi-inq, iscsi-readcapacity16, iscsi-perf, CHAP, mutual
//!   CHAP, header digests), qemu-img/qemu-io and the conformance suite
//!   iscsi-test-cu.
//! - `tgt`: tgtd with a thick 1 GiB LUN on /dev/shm, as the reference the
//!   conformance results are compared with (later: the target of our
//!   initiator's checks).
//! - `linux`: the Linux kernel initiator (open-iscsi, in a QEMU guest)
//!   against our target (`crate::linux`).
//! - `targetcli`: our initiator and libiscsi against LIO, the host's where
//!   the kernel has it, else in a QEMU guest (`crate::lio`).
//! - `all` (default): ours and tgt with the comparison, then linux and
//!   targetcli.
//!
//! Every check is a named step; all run and the command fails when any
//! failed. A peer that is missing is installed when running as root on
//! Debian, otherwise its checks fail with the install command: nothing
//! skipped is reported as passing. See `shared/PEERS.md` for the peers.

use std::env;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cunit::{self, Class, Counts, FamilyRun, Report};
use crate::initiator::INITIATOR_CHECKS;
use crate::peers::{
    self, CHAP_SECRET, CHAP_USER, OurTarget, Peer, TARGET_SECRET, TARGET_USER, Tgtd,
};
use crate::util::{self, Result, Steps};

/// Tests our target must keep passing, one `Suite.Test` per line.
const EXPECTATIONS: &str = "xtask/interop/iscsi-test-cu-pass.txt";

/// SCSI suites of a `--quick` conformance run.
const QUICK_SCSI: &str = "SCSI.Inquiry,SCSI.ReadCapacity16,SCSI.Read10,SCSI.Write10";

const USAGE: &str =
    "usage: cargo xtask interop [--peer ours|tgt|linux|targetcli|rbd|all] [--quick] [--no-build]

  --peer ours       our iscsi-target against libiscsi tools, qemu-img/qemu-io, iscsi-test-cu
  --peer tgt        tgtd and the conformance suite against it
  --peer linux      the Linux kernel initiator (open-iscsi, in a QEMU guest) against our target
  --peer targetcli  our initiator and libiscsi against LIO configured with targetcli
                    (the host's LIO where the kernel has it, else LIO in the QEMU guest)
  --peer rbd        our iscsi-target with its LUNs on Ceph RBD images (a one-node
                    cluster on 127.0.0.1, up for the run): libiscsi, qemu-img,
                    iscsi-test-cu, rbd export and rbd resize
  --peer all        every peer: ours and tgt with the conformance comparison,
                    then linux, targetcli and rbd (default)
  --quick           conformance: the iSCSI family and SCSI Inquiry, ReadCapacity16,
                    Read10, Write10 only; no tgtd run with --peer all; smaller
                    fio runs with --peer linux
  --no-build        use target/release/iscsi-target as it is (no cargo build)
";

/// Which peers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerChoice {
    /// Our target only.
    Ours,
    /// tgtd only.
    Tgt,
    /// LIO via targetcli (on the host, or in the guest).
    Targetcli,
    /// The Linux kernel initiator (in the guest) against our target.
    Linux,
    /// Our target with LUNs on Ceph RBD images (a one-node cluster).
    Rbd,
    /// Every peer: ours and tgtd, then linux and targetcli.
    All,
}

/// Command-line options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// Peers to run.
    pub(crate) peer: PeerChoice,
    /// The short conformance selection.
    pub(crate) quick: bool,
    /// Run `cargo build --release -p iscsi-target` first.
    pub(crate) build: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            peer: PeerChoice::All,
            quick: false,
            build: true,
        }
    }
}

/// Parses the arguments after `interop`; `Ok(None)` for `--help`.
pub(crate) fn parse_args(args: &[String]) -> Result<Option<Options>> {
    let mut options = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        match flag {
            "--peer" => {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .ok_or("--peer needs ours, tgt, linux, targetcli, rbd or all")?
                        .clone(),
                };
                options.peer = match value.as_str() {
                    "ours" => PeerChoice::Ours,
                    "tgt" | "tgtd" => PeerChoice::Tgt,
                    "targetcli" | "lio" => PeerChoice::Targetcli,
                    "linux" | "open-iscsi" => PeerChoice::Linux,
                    "rbd" | "ceph" => PeerChoice::Rbd,
                    "all" => PeerChoice::All,
                    other => {
                        return Err(format!(
                            "--peer {other:?}: expected ours, tgt, linux, targetcli, rbd or all"
                        ));
                    }
                };
            }
            "--quick" if inline.is_none() => options.quick = true,
            "--no-build" if inline.is_none() => options.build = false,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

/// `cargo xtask interop`.
pub(crate) fn main(args: &[String]) -> Result {
    let Some(options) = parse_args(args)? else {
        eprint!("{USAGE}");
        return Ok(());
    };
    run(options).map(|detail| eprintln!("cargo xtask interop: {detail}"))
}

/// State shared by the checks of one run.
pub(crate) struct Session {
    quick: bool,
    /// `target/interop`: logs, configurations, JSON answers.
    pub(crate) dir: PathBuf,
    /// Our `iscsi` tool, once built.
    pub(crate) iscsi: Option<PathBuf>,
    pub(crate) reports: Vec<Report>,
}

impl Session {
    /// A session writing into `dir`; `quick` selects the short conformance run.
    pub(crate) fn new(dir: PathBuf, quick: bool) -> Self {
        Self {
            quick,
            dir,
            iscsi: None,
            reports: Vec::new(),
        }
    }

    fn report(&self, peer: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.peer == peer)
    }
}

/// A named check against a peer.
pub(crate) struct Check {
    /// Step name (prefixed with the peer's label).
    pub(crate) name: &'static str,
    /// Returns a detail line, or why it failed.
    pub(crate) run: fn(&mut Session, &mut dyn Peer) -> Result<String>,
}

/// The checks, one constant each; the lists below pick from them.
const LS: Check = Check {
    name: "iscsi-ls",
    run: check_ls,
};
const INQ: Check = Check {
    name: "iscsi-inq",
    run: check_inq,
};
const READCAPACITY: Check = Check {
    name: "iscsi-readcapacity16",
    run: check_readcapacity,
};
const CHAP: Check = Check {
    name: "CHAP",
    run: check_chap,
};
const MUTUAL_CHAP: Check = Check {
    name: "mutual CHAP",
    run: check_mutual_chap,
};
const HEADER_DIGEST: Check = Check {
    name: "header digest",
    run: check_header_digest,
};
const PERF: Check = Check {
    name: "iscsi-perf",
    run: check_perf,
};
const QEMU_IMG: Check = Check {
    name: "qemu-img round trip",
    run: check_qemu_img,
};
const QEMU_IO: Check = Check {
    name: "qemu-io pattern",
    run: check_qemu_io,
};
const CONFORMANCE: Check = Check {
    name: "iscsi-test-cu",
    run: check_conformance,
};
const CONFORMANCE_EXPECTATIONS: Check = Check {
    name: "iscsi-test-cu expectations",
    run: check_expectations,
};
const STILL_ANSWERS: Check = Check {
    name: "answers after the suite",
    run: check_still_answers,
};
const PROMETHEUS: Check = Check {
    name: "metrics scraped by Prometheus",
    run: crate::live::check_prometheus,
};
const ADMIN_CHURN: Check = Check {
    name: "admin churn under I/O",
    run: crate::live::check_admin_churn,
};

/// External initiators against our target.
const TARGET_CHECKS: &[Check] = &[
    LS,
    INQ,
    READCAPACITY,
    CHAP,
    MUTUAL_CHAP,
    HEADER_DIGEST,
    PERF,
    QEMU_IMG,
    QEMU_IO,
    CONFORMANCE,
    CONFORMANCE_EXPECTATIONS,
    STILL_ANSWERS,
    PROMETHEUS,
    ADMIN_CHURN,
];

/// Our target with RBD-backed LUNs (`--peer rbd`): what concerns the
/// storage, not logins or the live administration. The conformance run
/// comes while the image is still unwritten (see [`rbd_conformance_plan`]).
pub(crate) const RBD_CHECKS: &[Check] = &[
    LS,
    INQ,
    READCAPACITY,
    PERF,
    CONFORMANCE,
    CONFORMANCE_EXPECTATIONS,
    QEMU_IMG,
    QEMU_IO,
    STILL_ANSWERS,
];

/// A reference target (tgtd, LIO): the conformance run for comparison.
/// Our initiator's checks ([`INITIATOR_CHECKS`]) follow it.
const REFERENCE_CHECKS: &[Check] = &[CONFORMANCE];

/// Runs `checks` against `peer` as steps named `LABEL: CHECK`; when the
/// peer did not start, each check fails (none is silently dropped).
pub(crate) fn run_checks(
    steps: &mut Steps,
    session: &mut Session,
    label: &str,
    mut peer: Option<&mut dyn Peer>,
    checks: &[Check],
) {
    for check in checks {
        steps.step(&format!("{label}: {}", check.name), || {
            match peer.as_deref_mut() {
                Some(p) => (check.run)(session, p),
                None => Err(format!(
                    "not run: {label} did not start (see `{label}: start`)"
                )),
            }
        });
    }
}

/// Runs the selected peers; `Ok` holds a one-line summary. `all` runs the
/// userspace peers (ours, tgtd), then the kernel's (linux, targetcli), and
/// fails when any of them failed.
pub(crate) fn run(options: Options) -> Result<String> {
    match options.peer {
        PeerChoice::Targetcli => crate::lio::run(options.build),
        PeerChoice::Linux => crate::linux::run(options.build, options.quick),
        PeerChoice::Rbd => crate::rbd::run(options.build, options.quick),
        PeerChoice::Ours | PeerChoice::Tgt => run_userspace(options),
        PeerChoice::All => {
            let results = [
                run_userspace(options),
                // The binaries were built (or not) by the first run.
                crate::linux::run(false, options.quick),
                crate::lio::run(false),
                crate::rbd::run(false, options.quick),
            ];
            let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
            if failed.is_empty() {
                Ok(ok.into_iter().flatten().collect::<Vec<_>>().join("; "))
            } else {
                Err(failed
                    .into_iter()
                    .filter_map(std::result::Result::err)
                    .collect::<Vec<_>>()
                    .join("; "))
            }
        }
    }
}

/// Ours and/or tgtd (libiscsi, qemu, iscsi-test-cu, our initiator); `All`
/// here means both of them.
pub(crate) fn run_userspace(options: Options) -> Result<String> {
    let ours = matches!(options.peer, PeerChoice::Ours | PeerChoice::All);
    let tgt =
        options.peer == PeerChoice::Tgt || (options.peer == PeerChoice::All && !options.quick);
    let dir = target_dir().join("interop");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut session = Session {
        quick: options.quick,
        dir,
        iscsi: None,
        reports: Vec::new(),
    };
    let mut steps = Steps::new();

    steps.step("setup", || setup(ours, tgt));

    let mut binary = None;
    steps.step("build iscsi-target and iscsi", || {
        let (binaries, detail) = build_binaries(options.build)?;
        session.iscsi = Some(binaries.iscsi);
        binary = Some(binaries.target);
        Ok(detail)
    });

    if ours {
        let mut target: Option<OurTarget> = None;
        steps.step("ours: start", || {
            let path = binary
                .as_ref()
                .ok_or("no iscsi-target binary (see the build step)")?;
            let t = OurTarget::start(path, &session.dir)?;
            let detail = format!(
                "pid {} on 127.0.0.1:{}, config {}",
                t.pid(),
                t.port(),
                session.dir.join("target.toml").display()
            );
            target = Some(t);
            Ok(detail)
        });
        run_checks(
            &mut steps,
            &mut session,
            "ours",
            target.as_mut().map(|t| t as &mut dyn Peer),
            TARGET_CHECKS,
        );
        run_checks(
            &mut steps,
            &mut session,
            "ours",
            target.as_mut().map(|t| t as &mut dyn Peer),
            INITIATOR_CHECKS,
        );
        steps.step("probe-server: schemathesis", || {
            let target = binary
                .as_ref()
                .ok_or("no iscsi-target binary (see the build step)")?;
            let iscsi = session
                .iscsi
                .as_ref()
                .ok_or("no iscsi binary (see the build step)")?;
            crate::probe_api::run_schemathesis(&session.dir, target, iscsi)
        });
        steps.step("ours: stop (SIGTERM)", || {
            target.take().ok_or("our target was not running")?.stop()
        });
    }

    if tgt {
        let mut tgtd: Option<Tgtd> = None;
        steps.step("tgtd: start", || {
            peers::require(peers::TGT_TOOLS)?;
            let t = Tgtd::start(&session.dir)?;
            let detail = format!("127.0.0.1:{}, {}", t.port(), t.describe());
            tgtd = Some(t);
            Ok(detail)
        });
        run_checks(
            &mut steps,
            &mut session,
            "tgtd",
            tgtd.as_mut().map(|t| t as &mut dyn Peer),
            REFERENCE_CHECKS,
        );
        run_checks(
            &mut steps,
            &mut session,
            "tgtd",
            tgtd.as_mut().map(|t| t as &mut dyn Peer),
            INITIATOR_CHECKS,
        );
        steps.step("tgtd: stop", || {
            tgtd.take().ok_or("tgtd was not running")?.stop()
        });
    } else if options.quick && ours {
        steps.note("--quick: tgtd's conformance run was skipped; ours was not compared with tgtd");
    }

    let mut summary = String::new();
    if let (Some(ours), Some(tgtd)) = (session.report("ours"), session.report("tgtd")) {
        steps.step("conformance: ours vs tgtd", || compare(ours, tgtd));
    } else if options.peer == PeerChoice::Ours {
        steps.note("--peer ours: no tgtd run, so no conformance comparison with tgtd");
    } else if options.peer == PeerChoice::Tgt {
        steps.note("--peer tgt: our target was not run, so no conformance comparison");
    }
    if !session.reports.is_empty() {
        let reports: Vec<&Report> = session.reports.iter().collect();
        print_conformance(&reports, &session.dir);
        summary = reports
            .iter()
            .map(|r| format!("{} {} clean passes", r.peer, r.totals().get(Class::Pass)))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if options.quick {
        steps.note(format!(
            "--quick: conformance limited to the iSCSI family and {QUICK_SCSI}"
        ));
    }
    steps.finish("cargo xtask interop")?;
    Ok(if summary.is_empty() {
        "all checks passed".to_owned()
    } else {
        format!("all checks passed; {summary}")
    })
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `ROOT/target`).
pub(crate) fn target_dir() -> PathBuf {
    let root = util::root();
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(d))
}

/// Installs what the selected peers need (root on Debian).
fn setup(ours: bool, tgt: bool) -> Result<String> {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("timeout", "coreutils"),
        ("kill", "procps"),
        ("fallocate", "util-linux"),
    ];
    pairs.extend_from_slice(peers::LIBISCSI_TOOLS);
    if tgt {
        pairs.extend_from_slice(peers::TGT_TOOLS);
    }
    let mut problems = Vec::new();
    if let Err(e) = peers::install(&pairs) {
        problems.push(e);
    }
    let mut detail = format!(
        "{} present",
        if tgt {
            "libiscsi-bin, tgt"
        } else {
            "libiscsi-bin"
        }
    );
    if ours {
        match peers::ensure_qemu_iscsi(true) {
            Ok(d) => detail = format!("{detail}; qemu: {d}"),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(detail)
    } else {
        Err(problems.join("; "))
    }
}

/// The release binaries the checks run.
pub(crate) struct Binaries {
    /// `iscsi-target`.
    pub(crate) target: PathBuf,
    /// `iscsi`, our initiator tool.
    pub(crate) iscsi: PathBuf,
}

/// The build command of the binaries.
const BUILD: &str = "cargo build --release -p iscsi-target -p iscsi-cli --locked";

/// Builds `iscsi-target` and `iscsi` in release mode (unless `build` is false).
pub(crate) fn build_binaries(build: bool) -> Result<(Binaries, String)> {
    let release = target_dir().join("release");
    let binaries = Binaries {
        target: release.join("iscsi-target"),
        iscsi: release.join("iscsi"),
    };
    if build {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", "1800"])
            .arg(cargo)
            .args(BUILD.split_whitespace().skip(1))
            .current_dir(util::root());
        util::run(&mut cmd)?;
    }
    for binary in [&binaries.target, &binaries.iscsi] {
        if !binary.is_file() {
            return Err(format!(
                "{} is missing: run without --no-build, or `{BUILD}`",
                binary.display()
            ));
        }
    }
    let detail = if build {
        format!("{} and iscsi built ({BUILD})", binaries.target.display())
    } else {
        format!(
            "--no-build: using {} and iscsi as they are",
            binaries.target.display()
        )
    };
    Ok((binaries, detail))
}

// ---------------------------------------------------------------- checks

/// Runs `cmd` (already under `timeout`) and requires exit status 0.
pub(crate) fn run_ok(cmd: &mut Command) -> Result<util::Captured> {
    let out = util::capture(cmd)?;
    out.success()?;
    Ok(out)
}

/// Requires `needle` in the output of `out`.
pub(crate) fn expect_text(out: &util::Captured, needle: &str) -> Result {
    if out.text().contains(needle) {
        Ok(())
    } else {
        Err(format!(
            "`{}` printed no {needle:?}; last line: {}",
            out.line,
            out.last_line()
        ))
    }
}

/// The targets of an `iscsi-ls` listing, each with the LUNs listed under it.
pub(crate) fn ls_listing(stdout: &str) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("Target:") {
            let name = rest.split_whitespace().next().unwrap_or("");
            out.push((name.to_owned(), Vec::new()));
        } else if let Some(rest) = line.strip_prefix("Lun:")
            && let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
            && let Some((_, luns)) = out.last_mut()
        {
            luns.push(n);
        }
    }
    out
}

fn check_ls(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-ls", "libiscsi-bin")])?;
    let exposed = peer.exposed().clone();
    let plain = run_ok(util::timed(30, "iscsi-ls").arg(peer.portal_url()))?;
    let listed = ls_listing(&plain.stdout);
    let missing: Vec<&str> = exposed
        .names()
        .into_iter()
        .filter(|n| !listed.iter().any(|(name, _)| name == n))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "SendTargets did not list {}; listed: {}",
            missing.join(", "),
            listed
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    // `-s` logs in to each target in turn and stops at the first failed
    // login: the CHAP targets fail (iscsi-ls takes no per-target secrets).
    let shown = util::capture(util::timed(30, "iscsi-ls").arg("-s").arg(peer.portal_url()))?;
    let luns = ls_listing(&shown.stdout)
        .into_iter()
        .find(|(name, _)| *name == exposed.data.iqn)
        .map(|(_, luns)| luns)
        .unwrap_or_default();
    if !luns.contains(&exposed.data.lun) {
        return Err(format!(
            "`{}` showed no LUN {} under {} (exit {}; last line: {})",
            shown.line,
            exposed.data.lun,
            exposed.data.iqn,
            shown.status,
            shown.last_line()
        ));
    }
    let note = if shown.status.success() {
        ""
    } else if exposed.chap.is_some() && shown.text().contains("Authentication failure") {
        "; -s then stopped at a CHAP target (iscsi-ls has no per-target secrets)"
    } else {
        shown.success()?;
        ""
    };
    Ok(format!(
        "{} targets listed; -s shows LUN {} of {}{note}",
        listed.len(),
        exposed.data.lun,
        exposed.data.iqn
    ))
}

fn check_inq(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-inq", "libiscsi-bin")])?;
    let exposed = peer.exposed().clone();
    let url = peer.url(&exposed.data, None);
    let standard = run_ok(util::timed(30, "iscsi-inq").arg(&url))?;
    expect_text(&standard, &format!("Vendor:{}", exposed.vendor))?;

    let serial = run_ok(util::timed(30, "iscsi-inq").args(["-e", "1", "-c", "128", &url]))?;
    let number = serial
        .stdout
        .split("Unit Serial Number:[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("`{}` printed no unit serial number", serial.line))?
        .to_owned();

    let ids = run_ok(util::timed(30, "iscsi-inq").args(["-e", "1", "-c", "131", &url]))?;
    expect_text(&ids, "DEVICE_IDENTIFICATION")?;
    let designators = ids.stdout.matches("Designator:[").count();
    if designators == 0 {
        return Err(format!("`{}` printed no designator", ids.line));
    }

    let limits = run_ok(util::timed(30, "iscsi-inq").args(["-e", "1", "-c", "176", &url]))?;
    expect_text(&limits, "maximum transfer length:")?;
    Ok(format!(
        "vendor {}, VPD 0x80 serial {number}, 0x83 {designators} designators, 0xB0 limits",
        exposed.vendor
    ))
}

fn check_readcapacity(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-readcapacity16", "libiscsi-bin")])?;
    let data = peer.exposed().data.clone();
    let out = run_ok(util::timed(30, "iscsi-readcapacity16").arg(peer.url(&data, None)))?;
    expect_text(&out, &format!("Total size:{}\n", data.size))?;
    Ok(format!("Total size:{}", data.size))
}

fn check_chap(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-inq", "libiscsi-bin")])?;
    let lun = peer
        .exposed()
        .chap
        .clone()
        .ok_or_else(|| format!("{} has no CHAP target configured", peer.label()))?;
    let good =
        run_ok(util::timed(30, "iscsi-inq").arg(peer.url(&lun, Some((CHAP_USER, CHAP_SECRET)))))?;
    expect_text(&good, "Vendor:")?;
    let wrong = util::capture(
        util::timed(30, "iscsi-inq").arg(peer.url(&lun, Some((CHAP_USER, "wrong-secret-0000")))),
    )?;
    if wrong.status.code() != Some(10) || !wrong.text().contains("Authentication failure") {
        return Err(format!(
            "a wrong secret should exit 10 with \"Authentication failure\"; `{}` exited {}: {}",
            wrong.line,
            wrong.status,
            wrong.last_line()
        ));
    }
    Ok("right secret logs in; wrong secret: exit 10, Authentication failure".to_owned())
}

fn check_mutual_chap(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-inq", "libiscsi-bin")])?;
    let lun = peer
        .exposed()
        .mutual
        .clone()
        .ok_or_else(|| format!("{} has no mutual-CHAP target configured", peer.label()))?;
    let base = peer.url(&lun, Some((CHAP_USER, CHAP_SECRET)));
    let good = run_ok(util::timed(30, "iscsi-inq").arg(format!(
        "{base}?target_user={TARGET_USER}&target_password={TARGET_SECRET}"
    )))?;
    expect_text(&good, "Vendor:")?;
    let wrong = util::capture(util::timed(30, "iscsi-inq").arg(format!(
        "{base}?target_user={TARGET_USER}&target_password=wrong-target-0000"
    )))?;
    if wrong.status.success() || wrong.status.code() == Some(124) {
        return Err(format!(
            "a wrong target password must fail the login; `{}` exited {}",
            wrong.line, wrong.status
        ));
    }
    Ok(format!(
        "target authenticated as {TARGET_USER}; wrong target password rejected ({})",
        wrong.last_line()
    ))
}

fn check_header_digest(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-readcapacity16", "libiscsi-bin")])?;
    let data = peer.exposed().data.clone();
    let url = format!("{}?header_digest=crc32c", peer.url(&data, None));
    let out = run_ok(util::timed(30, "iscsi-readcapacity16").arg(url))?;
    expect_text(&out, &format!("Total size:{}\n", data.size))?;
    Ok("READ CAPACITY(16) with HeaderDigest=CRC32C".to_owned())
}

/// The last "iops average N" figure of iscsi-perf's output.
pub(crate) fn perf_iops(text: &str) -> Option<u64> {
    text.rsplit("iops average ")
        .next()
        .filter(|_| text.contains("iops average "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn check_perf(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-perf", "libiscsi-bin")])?;
    let data = peer.exposed().data.clone();
    let out = run_ok(
        util::timed(15, "iscsi-perf")
            .args(["-m", "32", "-b", "8", "-r", "-t", "3"])
            .arg(peer.url(&data, None)),
    )?;
    let iops =
        perf_iops(&out.stdout).ok_or_else(|| format!("`{}` printed no IOPS figure", out.line))?;
    if iops == 0 {
        return Err("iscsi-perf reported 0 IOPS".to_owned());
    }
    Ok(format!(
        "4 KiB random reads, QD32, 3 s: {iops} IOPS average"
    ))
}

/// 64 MiB of random bytes into `path`.
pub(crate) fn random_file(path: &Path, size: u64) -> Result {
    let mut random =
        File::open("/dev/urandom").map_err(|e| format!("cannot open /dev/urandom: {e}"))?;
    let mut out =
        File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let copied = std::io::copy(&mut std::io::Read::take(&mut random, size), &mut out)
        .map_err(|e| format!("cannot fill {}: {e}", path.display()))?;
    if copied == size {
        Ok(())
    } else {
        Err(format!("/dev/urandom gave {copied} of {size} bytes"))
    }
}

/// The offset of the first difference of two files, if any.
pub(crate) fn first_difference(a: &Path, b: &Path) -> Result<Option<u64>> {
    let read = |p: &Path| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let (x, y) = (read(a)?, read(b)?);
    let common = x.iter().zip(&y).position(|(p, q)| p != q);
    Ok(match common {
        Some(i) => Some(i as u64),
        None if x.len() == y.len() => None,
        None => Some(x.len().min(y.len()) as u64),
    })
}

fn check_qemu_img(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::ensure_qemu_iscsi(false)?;
    const SIZE: u64 = 64 << 20;
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let input = session.dir.join("qemu-in.raw");
    let output = session.dir.join("qemu-out.raw");
    let _ = fs::remove_file(&output);
    random_file(&input, SIZE)?;
    run_ok(
        util::timed(120, "qemu-img")
            .args(["convert", "-n", "-f", "raw", "-O", "raw"])
            .arg(&input)
            .arg(&url),
    )?;
    run_ok(
        util::timed(120, "qemu-img")
            .args(["dd", "-f", "raw", "-O", "raw"])
            .arg(format!("if={url}"))
            .arg(format!("of={}", output.display()))
            .args(["bs=1M", "count=64"]),
    )?;
    if let Some(offset) = first_difference(&input, &output)? {
        return Err(format!(
            "the 64 MiB read back differ from what was written at byte {offset} (files kept: {}, {})",
            input.display(),
            output.display()
        ));
    }
    let _ = fs::remove_file(&input);
    let _ = fs::remove_file(&output);
    Ok("64 MiB random: qemu-img convert in, qemu-img dd out, identical".to_owned())
}

fn check_qemu_io(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::ensure_qemu_iscsi(false)?;
    let data = peer.exposed().data.clone();
    let out = run_ok(
        util::timed(60, "qemu-io")
            .args([
                "-f",
                "raw",
                "-c",
                "write -P 0xab 1M 1M",
                "-c",
                "read -P 0xab 1M 1M",
            ])
            .arg(peer.url(&data, None)),
    )?;
    let text = out.text();
    if text.contains("Pattern verification failed") {
        return Err("qemu-io: Pattern verification failed".to_owned());
    }
    expect_text(&out, "wrote 1048576/1048576 bytes")?;
    expect_text(&out, "read 1048576/1048576 bytes")?;
    Ok("1 MiB of 0xab written and read back".to_owned())
}

/// One iscsi-test-cu invocation of a conformance run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CuRun {
    /// The family its results count in (`SCSI`, `iSCSI`).
    family: &'static str,
    /// The log name and the step's label.
    name: &'static str,
    /// The `-t` selection.
    selection: String,
    /// Which LUN URLs it is given.
    urls: CuUrls,
    /// Timeout, seconds.
    secs: u64,
}

/// The URLs of a [`CuRun`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CuUrls {
    /// The data LUN.
    Data,
    /// The data LUN through the first and the second portal (multipath).
    TwoPortals,
    /// The read-only LUN.
    ReadOnly,
}

/// The conformance runs. The SCSI family runs against the data LUN with
/// `-S` (SANITIZE allowed). MultipathIO then runs on its own with two
/// URLs (the same LUN through two portal groups): given to the whole
/// family, the second URL keeps a second session logged in through the
/// other suites, whose set-up and clean-up (Sanitize.Reservations' RESERVE,
/// every suite's PR clean-up) then see that session's reservation and unit
/// attentions. ReadOnly runs against the read-only LUN. Their results
/// replace the SKIPs of the whole-family run, so each test counts once.
fn conformance_plan(quick: bool) -> Vec<CuRun> {
    let run = |family, name, selection: &str, urls, secs| CuRun {
        family,
        name,
        selection: selection.to_owned(),
        urls,
        secs,
    };
    if quick {
        return vec![
            run("SCSI", "SCSI", QUICK_SCSI, CuUrls::Data, 150),
            run("iSCSI", "iSCSI", "iSCSI", CuUrls::Data, 150),
        ];
    }
    vec![
        run("SCSI", "SCSI", "SCSI", CuUrls::Data, 600),
        run(
            "SCSI",
            "SCSI-MultipathIO",
            "SCSI.MultipathIO",
            CuUrls::TwoPortals,
            120,
        ),
        run(
            "SCSI",
            "SCSI-ReadOnly",
            "SCSI.ReadOnly",
            CuUrls::ReadOnly,
            120,
        ),
        run("iSCSI", "iSCSI", "iSCSI", CuUrls::Data, 150),
    ]
}

/// Tests a storage-only peer (`Peer::storage_only`: RBD) leaves to the RAM
/// LUN of `--peer ours`: they test
/// the protocol or the unit's own state, not the storage, and
/// Sanitize.Reset alone sleeps a minute. Left out so that `cargo xtask ci`
/// keeps its 25 minutes.
const NOT_ON_RBD: &[&str] = &["Sanitize.Reset"];

/// The RBD peer's plan: MultipathIO and ReadOnly, then the SCSI family but
/// [`NOT_ON_RBD`] (the list from `iscsi-test-cu -l`); not the iSCSI
/// family.
fn rbd_conformance_plan() -> Result<Vec<CuRun>> {
    let out = util::capture(util::timed(30, "iscsi-test-cu").arg("-l"))?;
    let tests: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("SCSI.") && l.matches('.').count() == 2)
        .filter(|l| !NOT_ON_RBD.iter().any(|t| l.ends_with(&format!(".{t}"))))
        .collect();
    if tests.len() < 100 {
        return Err(format!(
            "iscsi-test-cu -l listed {} SCSI tests; expected the whole suite",
            tests.len()
        ));
    }
    let mut plan = conformance_plan(false);
    plan.retain(|r| r.family == "SCSI");
    if let Some(first) = plan.first_mut() {
        first.selection = tests.join(",");
    }
    // MultipathIO and ReadOnly first, on the unwritten image: the
    // MultipathIO COMPARE AND WRITE test zeroes LBAs 0–255 and then
    // compares LBA 256 with zeros too (libiscsi 1.19), which holds after
    // the RAM run's last test, Sanitize.Reset (a BLOCK ERASE), and on an
    // image nothing has written yet, not after the rest of the family.
    plan.rotate_left(1);
    Ok(plan)
}

/// The URLs `run` gives iscsi-test-cu, or `None` when the peer has no such
/// LUN or portal (the run is then left out and its tests stay SKIP).
fn cu_urls(peer: &dyn Peer, run: CuUrls) -> Option<Vec<String>> {
    let exposed = peer.exposed();
    let data = peer.url(&exposed.data, None);
    Some(match run {
        CuUrls::Data => vec![data],
        CuUrls::TwoPortals => {
            let port = exposed.extra_ports.first()?;
            let second = data.replacen(
                &format!("127.0.0.1:{}/", peer.port()),
                &format!("127.0.0.1:{port}/"),
                1,
            );
            vec![data, second]
        }
        CuUrls::ReadOnly => vec![peer.url(exposed.read_only.as_ref()?, None)],
    })
}

/// iscsi-test-cu against the peer's LUNs, one log per run in
/// `target/interop/LABEL-RUN.log`; the report is kept for the table.
fn check_conformance(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peers::require(&[("iscsi-test-cu", "libiscsi-bin")])?;
    let label = peer.label();
    let mut report = Report {
        peer: label.to_owned(),
        families: Vec::new(),
    };
    let mut problems = Vec::new();
    let plan = if peer.storage_only() && !session.quick {
        rbd_conformance_plan()?
    } else {
        conformance_plan(session.quick)
    };
    for run in plan {
        let CuRun {
            family,
            name,
            ref selection,
            secs,
            ..
        } = run;
        let Some(urls) = cu_urls(peer, run.urls) else {
            eprintln!("{label} {name}: not run ({label} has no such LUN or portal)");
            continue;
        };
        let log = session.dir.join(format!("{label}-{name}.log"));
        let (file, err) = peers::log_files(&log)?;
        let mut cmd = util::timed(secs, "iscsi-test-cu");
        cmd.args(["-d", "-S", "-t", selection.as_str()])
            .args(&urls)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        let line = util::show(&cmd);
        eprintln!("$ {line}  (log: {})", log.display());
        let status = cmd
            .status()
            .map_err(|e| format!("could not start `{line}`: {e}"))?;
        let bytes = fs::read(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
        let results = cunit::parse(&String::from_utf8_lossy(&bytes));
        eprintln!(
            "{label} {name}: {} tests, {}",
            results.len(),
            Counts::of(&results).describe()
        );
        if status.code() == Some(124) || status.code() == Some(137) {
            problems.push(format!("{name}: killed by timeout after {secs} s"));
        } else if results.is_empty() {
            problems.push(format!(
                "{name}: no test ran ({status}): {}",
                peers::log_tail(&log, 1)
            ));
        }
        if let Some(whole) = report.families.iter_mut().find(|f| f.family == family) {
            // A run of some suites of a family already run: its results
            // replace theirs, but a SKIP (a test this run could not do)
            // replaces nothing.
            for r in results {
                match whole.results.iter_mut().find(|w| w.id() == r.id()) {
                    Some(w) if r.class != Class::Skip => *w = r,
                    Some(_) => {}
                    None => whole.results.push(r),
                }
            }
        } else {
            report.families.push(FamilyRun {
                family: family.to_owned(),
                results,
            });
        }
        if let Err(e) = peer.check_alive() {
            problems.push(format!("{label} died during the {name} run: {e}"));
            break;
        }
    }
    let totals = report.totals();
    session.reports.retain(|r| r.peer != label);
    session.reports.push(report);
    if problems.is_empty() {
        Ok(format!("{} tests: {}", totals.total(), totals.describe()))
    } else {
        Err(problems.join("; "))
    }
}

/// Ours: no INCOMPLETE test, and every test of the expectation file passes.
fn check_expectations(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let report = session
        .report(peer.label())
        .ok_or("no conformance results (see the iscsi-test-cu step)")?;
    let path = util::root().join(EXPECTATIONS);
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut expected = cunit::parse_expectations(&text);
    let total = expected.len();
    let storage_only = peer.storage_only();
    if session.quick || storage_only {
        // Only the suites that ran.
        expected.retain(|id| {
            let suite = id.split('.').next().unwrap_or("");
            report.results().any(|r| r.suite == suite)
        });
    }
    if storage_only {
        expected.retain(|id| !NOT_ON_RBD.contains(&id.as_str()));
    }
    let mut problems = Vec::new();
    let incomplete: Vec<String> = report
        .results()
        .filter(|r| r.class == Class::Incomplete)
        .map(cunit::TestResult::id)
        .collect();
    if !incomplete.is_empty() {
        problems.push(format!("INCOMPLETE: {}", incomplete.join(", ")));
    }
    let unmet = cunit::unmet(&expected, report);
    for (id, what) in &unmet.not_passing {
        problems.push(format!("{id} is expected to PASS: {what}"));
    }
    if !unmet.absent.is_empty() {
        problems.push(format!(
            "expected but not in the log: {}",
            unmet.absent.join(", ")
        ));
    }
    // The current passes, to refresh the expectation file from.
    let passes: Vec<String> = report
        .results()
        .filter(|r| r.class == Class::Pass)
        .map(cunit::TestResult::id)
        .collect();
    let artifact = session.dir.join(format!("{}-pass.txt", peer.label()));
    let _ = fs::write(&artifact, passes.join("\n") + "\n");
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let scope = if session.quick {
        format!("{} of {total} (the suites of --quick)", expected.len())
    } else if storage_only {
        format!(
            "{} of {total} (the storage's: not the iSCSI family, nor {})",
            expected.len(),
            NOT_ON_RBD.join(", ")
        )
    } else {
        total.to_string()
    };
    Ok(format!(
        "{scope} expected passes hold ({}); no INCOMPLETE",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ))
}

fn check_still_answers(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    peer.check_alive()?;
    peers::require(&[("iscsi-ls", "libiscsi-bin")])?;
    let out = run_ok(util::timed(30, "iscsi-ls").arg(peer.portal_url()))?;
    let data = peer.exposed().data.iqn.clone();
    if !ls_listing(&out.stdout)
        .iter()
        .any(|(name, _)| *name == data)
    {
        return Err(format!("iscsi-ls no longer lists {data}"));
    }
    Ok("iscsi-ls still lists the targets".to_owned())
}

/// Ours must have at least as many clean passes as tgtd.
fn compare(ours: &Report, tgtd: &Report) -> Result<String> {
    let (a, b) = (
        ours.totals().get(Class::Pass),
        tgtd.totals().get(Class::Pass),
    );
    if a < b {
        return Err(format!("ours has {a} clean passes, fewer than tgtd's {b}"));
    }
    Ok(format!("clean passes: ours {a} >= tgtd {b}"))
}

/// Prints the family × class table and our non-PASS tests.
fn print_conformance(reports: &[&Report], dir: &Path) {
    eprintln!(
        "\niscsi-test-cu conformance (classified like shared/tools/parse_cu.py; logs in {}):",
        dir.display()
    );
    for line in cunit::table(reports).lines() {
        eprintln!("  {line}");
    }
    for report in reports.iter().filter(|r| r.peer == "ours") {
        let others: Vec<&cunit::TestResult> = report
            .results()
            .filter(|r| r.class != Class::Pass)
            .collect();
        eprintln!("ours, not PASS ({}):", others.len());
        for r in others {
            eprintln!("  {:<10} {:<45} {}", r.class.label(), r.id(), r.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Options, PeerChoice, conformance_plan, ls_listing, parse_args, perf_iops};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options() {
        assert_eq!(parse_args(&[]), Ok(Some(Options::default())));
        let o = parse_args(&args(&["--peer", "tgt", "--quick"]))
            .expect("valid")
            .expect("some");
        assert_eq!(o.peer, PeerChoice::Tgt);
        assert!(o.quick && o.build);
        let o = parse_args(&args(&["--peer=ours", "--no-build"]))
            .expect("valid")
            .expect("some");
        assert_eq!(o.peer, PeerChoice::Ours);
        assert!(!o.build);
        for (name, peer) in [
            ("linux", PeerChoice::Linux),
            ("targetcli", PeerChoice::Targetcli),
            ("all", PeerChoice::All),
        ] {
            let o = parse_args(&args(&["--peer", name]))
                .expect("valid")
                .expect("some");
            assert_eq!(o.peer, peer);
        }
        assert!(parse_args(&args(&["--peer", "istgt"])).is_err());
        assert!(parse_args(&args(&["--peer"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
        assert_eq!(parse_args(&args(&["--help"])), Ok(None));
    }

    #[test]
    fn quick_runs_fewer_suites() {
        let full = conformance_plan(false);
        assert_eq!(full[0].selection, "SCSI");
        // Every run after the first of a family is a subset of it.
        assert!(
            full.iter()
                .skip(1)
                .all(|r| r.family != "SCSI" || r.selection.starts_with("SCSI."))
        );
        assert_eq!(full.last().map(|r| r.selection.as_str()), Some("iSCSI"));
        let quick = conformance_plan(true);
        assert!(quick[0].selection.starts_with("SCSI.Inquiry,"));
        assert_eq!(quick[1].selection, "iSCSI");
        assert_eq!(quick.len(), 2);
    }

    #[test]
    fn reads_iscsi_ls_output() {
        let out = "Target:iqn.2026-11.rs.iscsi:interop-ram Portal:127.0.0.1:39833,1\n\
                   Lun:0    Type:DIRECT_ACCESS (Size:1023M)\n\
                   Target:iqn.2026-11.rs.iscsi:interop-mutual Portal:127.0.0.1:39833,1\n";
        let listing = ls_listing(out);
        assert_eq!(listing.len(), 2);
        assert_eq!(listing[0].0, "iqn.2026-11.rs.iscsi:interop-ram");
        assert_eq!(listing[0].1, [0]);
        assert!(listing[1].1.is_empty());
    }

    #[test]
    fn reads_iscsi_perf_output() {
        let out = "00:00:01 - lba 383581, iops current 82905 (323 MB/s), iops average 84000 (328 MB/s), in_flight 32, busy 0 \
                   \r iops average 94098 (367 MB/s)   \n\nfinished.\n";
        assert_eq!(perf_iops(out), Some(94098));
        assert_eq!(perf_iops("connected\n"), None);
    }
}
