//! `cargo xtask interop --peer rbd`: our target with its conformance LUNs
//! on Ceph RBD images of a throw-away one-node cluster (`ceph.rs`), checked
//! by the same third-party peers as the RAM LUN (libiscsi's tools,
//! iscsi-test-cu, qemu-img), plus what only an RBD LUN has: the data is in
//! the image, and `rbd resize` reaches the initiator. The cluster is up for
//! the run only; nothing is left running.

use std::fs;
use std::path::Path;

use crate::ceph::{self, Cluster};
use crate::interop::{self, Session};
use crate::peers::{self, ConfigTarget, Exposed, OUR_TARGETS, OurTarget, Peer, READ_ONLY_IQN};
use crate::util::{self, Result, Steps};

/// The conformance LUN (1 GiB, 512-byte blocks on 4096-byte physical
/// blocks, as the RAM LUN of `--peer ours`) and the read-only LUN on RBD
/// images; the CHAP targets stay in RAM (they test logins, not storage).
const RBD_TARGETS: [ConfigTarget; 4] = [
    ConfigTarget {
        alias: "interop-rbd",
        rbd: true,
        ..OUR_TARGETS[0]
    },
    OUR_TARGETS[1],
    OUR_TARGETS[2],
    ConfigTarget {
        name: READ_ONLY_IQN,
        alias: "interop-rbd-ro",
        rbd: true,
        ..OUR_TARGETS[3]
    },
];

/// Our target serving [`RBD_TARGETS`]; reported as `rbd`.
struct RbdTarget(OurTarget);

impl Peer for RbdTarget {
    fn label(&self) -> &'static str {
        "rbd"
    }
    fn port(&self) -> u16 {
        self.0.port()
    }
    fn exposed(&self) -> &Exposed {
        self.0.exposed()
    }
    fn check_alive(&mut self) -> Result {
        self.0.check_alive()
    }
    fn storage_only(&self) -> bool {
        true
    }
    fn ours(&mut self) -> Option<&mut OurTarget> {
        Some(&mut self.0)
    }
}

/// Runs the checks; `Ok` holds a one-line summary.
pub(crate) fn run(build: bool, quick: bool) -> Result<String> {
    let dir = interop::target_dir().join("interop-rbd");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut session = Session::new(dir.clone(), quick);
    let mut steps = Steps::new();

    let mut cluster: Option<Cluster> = None;
    steps.step("ceph: up", || {
        let c = ceph::up(&dir.join("ceph"))?;
        for t in RBD_TARGETS.iter().filter(|t| t.rbd) {
            c.rbd(&["create", "--size", t.size, &format!("rbd/{}", t.alias)])?;
        }
        let detail = format!(
            "one mon, one memstore OSD on 127.0.0.1; images rbd/interop-rbd (1 GiB), rbd/interop-rbd-ro; {}",
            c.conf().display()
        );
        cluster = Some(c);
        Ok(detail)
    });

    let mut binary = None;
    steps.step("build iscsi-target and iscsi", || {
        let (binaries, detail) = interop::build_binaries(build)?;
        session.iscsi = Some(binaries.iscsi);
        binary = Some(binaries.target);
        Ok(detail)
    });

    let mut target: Option<RbdTarget> = None;
    steps.step("rbd: start", || {
        cluster.as_ref().ok_or("no cluster (see `ceph: up`)")?;
        let path = binary
            .as_ref()
            .ok_or("no iscsi-target binary (see the build step)")?;
        let t = OurTarget::start_serving(path, &dir, &RBD_TARGETS, &["active_optimized"], "warn")?;
        let detail = format!(
            "pid {} on 127.0.0.1:{}, config {}",
            t.pid(),
            t.port(),
            dir.join("target.toml").display()
        );
        target = Some(RbdTarget(t));
        Ok(detail)
    });
    interop::run_checks(
        &mut steps,
        &mut session,
        "rbd",
        target.as_mut().map(|t| t as &mut dyn Peer),
        interop::RBD_CHECKS,
    );
    steps.step("rbd: the data is in the image", || {
        let (t, c) = (
            target.as_ref().ok_or("our target is not running")?,
            cluster.as_ref().ok_or("no cluster")?,
        );
        data_in_image(&dir, t, c)
    });
    steps.step("rbd: rbd resize reaches the initiator", || {
        let (t, c) = (
            target.as_ref().ok_or("our target is not running")?,
            cluster.as_ref().ok_or("no cluster")?,
        );
        resize(t, c)
    });
    steps.step("rbd: stop (SIGTERM)", || {
        target.take().ok_or("our target was not running")?.0.stop()
    });
    steps.step("ceph: down", || {
        let c = cluster.take().ok_or("no cluster was up")?;
        let pids = c.pids();
        drop(c);
        let left: Vec<u32> = pids
            .into_iter()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists() && !ceph::is_zombie(*p))
            .collect();
        if !left.is_empty() {
            return Err(format!("Ceph daemons still running: {left:?}"));
        }
        if dir.join("ceph").exists() {
            return Err(format!("{} is still there", dir.join("ceph").display()));
        }
        Ok("daemons killed, directory removed; nothing left running".to_owned())
    });

    let summary = session
        .reports
        .iter()
        .map(|r| {
            format!(
                "rbd {} clean passes",
                r.totals().get(crate::cunit::Class::Pass)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if !session.reports.is_empty() {
        let reports: Vec<_> = session.reports.iter().collect();
        eprintln!("{}", crate::cunit::table(&reports));
    }
    steps.finish("cargo xtask interop --peer rbd")?;
    Ok(if summary.is_empty() {
        "all checks passed".to_owned()
    } else {
        format!("all checks passed; {summary}")
    })
}

/// 16 MiB written through iSCSI with qemu-img are what `rbd export` reads
/// from the image.
fn data_in_image(dir: &Path, target: &RbdTarget, cluster: &Cluster) -> Result<String> {
    const SIZE: u64 = 16 << 20;
    peers::ensure_qemu_iscsi(false)?;
    let input = dir.join("rbd-in.raw");
    let exported = dir.join("rbd-export.raw");
    interop::random_file(&input, SIZE)?;
    let url = target.url(&target.exposed().data.clone(), None);
    interop::run_ok(
        util::timed(120, "qemu-img")
            .args(["convert", "-n", "-f", "raw", "-O", "raw"])
            .arg(&input)
            .arg(&url),
    )?;
    let _ = fs::remove_file(&exported);
    cluster.rbd(&["export", "rbd/interop-rbd", &exported.display().to_string()])?;
    // The export is the whole image: compare its first 16 MiB.
    let whole = fs::read(&exported).map_err(|e| format!("cannot read the export: {e}"))?;
    let written = fs::read(&input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let _ = fs::remove_file(&exported);
    let _ = fs::remove_file(&input);
    let head = whole
        .get(..written.len())
        .ok_or("the export is shorter than 16 MiB")?;
    match head.iter().zip(&written).position(|(a, b)| a != b) {
        Some(at) => Err(format!(
            "rbd export differs from what qemu-img wrote through iSCSI at byte {at}"
        )),
        None => Ok(
            "16 MiB written by qemu-img over iSCSI = the first 16 MiB of `rbd export`".to_owned(),
        ),
    }
}

/// `rbd resize` of the data image, then READ CAPACITY(16) through iSCSI
/// answers the new size (the target saw it through its watch).
fn resize(target: &RbdTarget, cluster: &Cluster) -> Result<String> {
    let url = target.url(&target.exposed().data.clone(), None);
    let last_lba = || -> Result<u64> {
        let out = interop::run_ok(util::timed(30, "iscsi-readcapacity16").arg(&url))?;
        crate::lio::field(&out.stdout, "RETURNED LOGICAL BLOCK ADDRESS:")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no LBA in iscsi-readcapacity16's output: {}", out.stdout))
    };
    let before = last_lba()?;
    cluster.rbd(&["resize", "--size", "1280M", "rbd/interop-rbd"])?;
    let want = (1280u64 << 20) / 512 - 1;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = last_lba()?;
        if now == want {
            return Ok(format!(
                "last LBA {before} → {now} after `rbd resize --size 1280M` (no restart, no admin call)"
            ));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "READ CAPACITY(16) still says last LBA {now} 10 s after `rbd resize` to {want}"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
