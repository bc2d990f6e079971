//! `cargo xtask interop --peer targetcli`: our initiator (the `iscsi` tool,
//! and its HTTP probe service) and libiscsi's tools against LIO, the Linux
//! kernel target, configured with targetcli.
//!
//! Where this host's kernel has LIO, the host's is used ([`Lio`]);
//! otherwise LIO runs in the QEMU guest of [`crate::guest`] ([`GuestLio`]),
//! reached through a forward 127.0.0.1:PORT -> guest :3260. Inside the
//! guest every portal is 127.0.0.1:PORT with a DNAT from eth0:3260, so
//! SendTargets advertises the address the host itself uses and no client
//! ever follows a TargetAddress off this machine.
//!
//! Both configurations come from [`peers::lio_commands`]: a 256 MiB
//! ramdisk behind an open target, a 64 MiB fileio LUN behind a CHAP and a
//! mutual-CHAP target, each with an ACL for [`peers::LIO_INITIATOR`].

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::guest::{self, Guest, Image, RunOptions};
use crate::initiator::{INITIATOR_CHECKS, chap_probe, exit_with, json, keep};
use crate::interop::{Check, Session, build_binaries, expect_text, ls_listing, run_ok, target_dir};
use crate::peers::{
    self, CHAP_SECRET, CHAP_USER, Exposed, LIO_INITIATOR, Lio, OurTarget, Peer, TARGET_SECRET,
    TARGET_USER,
};
use crate::util::{self, Result, Steps};

/// The guest's job script.
const JOB: &str = include_str!("../guest/lio-target.sh");
/// Its file name in the share.
const JOB_NAME: &str = "lio-target.sh";
/// Where the fileio LUN's file lives inside the guest (tmpfs).
const GUEST_IMAGE: &str = "/dev/shm/xtask-interop-lio.img";
/// An initiator name no ACL of LIO's admits.
const OUTSIDER: &str = "iqn.2026-11.rs.iscsi:not-in-the-acl";

/// LIO in the QEMU guest; [`GuestLio::stop`] lets the guest finish.
pub(crate) struct GuestLio {
    guest: Guest,
    port: u16,
    exposed: Exposed,
}

impl GuestLio {
    /// Boots the guest, configures LIO with targetcli and waits until it
    /// serves on 127.0.0.1:PORT (forwarded).
    pub(crate) fn start(image: &Image, dir: &Path) -> Result<Self> {
        let port = peers::free_port()?;
        let share = dir.join("share");
        let _ = fs::remove_dir_all(&share);
        fs::create_dir_all(&share)
            .map_err(|e| format!("cannot create {}: {e}", share.display()))?;
        let commands: String = peers::lio_commands(port, Path::new(GUEST_IMAGE))
            .iter()
            .map(|args| format!("{}\n", args.join(" ")))
            .collect();
        let write = |name: &str, text: &str| {
            fs::write(share.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
        };
        write("targetcli.txt", &commands)?;
        write("params", &format!("HOST_PORT={port}\n"))?;
        write(JOB_NAME, JOB)?;
        let mut options = RunOptions::new(&share, JOB_NAME);
        options.hostfwd.push((port, 3260));
        options.timeout = Duration::from_secs(1500);
        let mut guest = Guest::start(image, &options)?;
        guest.wait_for_file("ready", Duration::from_secs(180))?;
        let mut lio = Self {
            guest,
            port,
            exposed: peers::lio_exposed(),
        };
        peers::wait_for_port(port, Duration::from_secs(20), || lio.check_alive())?;
        Ok(lio)
    }

    /// LIO's version line (configfs).
    pub(crate) fn version(&self) -> String {
        fs::read_to_string(self.guest.share().join("lio-version.txt"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// Tells the guest the checks are over and waits for it to power off.
    pub(crate) fn stop(self) -> Result<String> {
        let share = self.guest.share().to_path_buf();
        fs::write(share.join("done"), "").map_err(|e| format!("cannot write done: {e}"))?;
        let outcome = self.guest.wait()?;
        if outcome.rc != 0 {
            return Err(format!(
                "the guest's job exited {} (log: {})",
                outcome.rc,
                share.join(format!("{JOB_NAME}.log")).display()
            ));
        }
        Ok(format!(
            "guest powered off after {:.1} s; LIO's sessions and dmesg in {}",
            outcome.wall.as_secs_f64(),
            share.display()
        ))
    }
}

impl Peer for GuestLio {
    fn label(&self) -> &'static str {
        "lio"
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn exposed(&self) -> &Exposed {
        &self.exposed
    }

    fn check_alive(&mut self) -> Result {
        self.guest.check_alive()
    }
}

/// Checks only LIO gets, before [`INITIATOR_CHECKS`].
const LIO_CHECKS: &[Check] = &[
    Check {
        name: "libiscsi iscsi-ls",
        run: check_libiscsi_ls,
    },
    Check {
        name: "libiscsi and iscsi agree",
        run: check_same_answers,
    },
    Check {
        name: "libiscsi mutual CHAP",
        run: check_libiscsi_mutual,
    },
    Check {
        name: "iscsi CHAP_A SHA-256",
        run: check_sha256,
    },
    Check {
        name: "iscsi outside the ACL",
        run: check_acl,
    },
];

/// `--peer targetcli`.
pub(crate) fn run(build: bool) -> Result<String> {
    let on_host = peers::detect_lio().is_ok();
    let dir = target_dir().join("interop").join("lio");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut session = Session::new(dir.clone(), true);
    let mut steps = Steps::new();
    steps.step("setup", || {
        peers::install(peers::LIBISCSI_TOOLS)?;
        peers::install(&[("curl", "curl")])?;
        Ok("libiscsi-bin, curl present".to_owned())
    });
    let mut target_binary = None;
    steps.step("build iscsi-target and iscsi", || {
        let (binaries, detail) = build_binaries(build)?;
        session.iscsi = Some(binaries.iscsi);
        target_binary = Some(binaries.target);
        Ok(detail)
    });
    let mut host_lio: Option<Lio> = None;
    let mut guest_lio: Option<GuestLio> = None;
    if on_host {
        steps.step("lio: configure (targetcli, this host's kernel)", || {
            let l = Lio::start()?;
            let detail = format!("{} on 127.0.0.1:{}", peers::LIO_IQN, l.port());
            host_lio = Some(l);
            Ok(detail)
        });
    } else {
        let mut image = None;
        steps.step("guest: build", || {
            let (i, detail) = guest::build(false)?;
            image = Some(i);
            Ok(format!(
                "this kernel has no LIO: LIO runs in the QEMU guest; {detail}"
            ))
        });
        steps.step("lio: boot the guest and configure (targetcli)", || {
            let image = image.as_ref().ok_or("no guest image (see guest: build)")?;
            let l = GuestLio::start(image, &dir)?;
            let detail = format!(
                "LIO {} in the guest; targets on 127.0.0.1:{} (forwarded), advertised as such",
                l.version(),
                l.port()
            );
            guest_lio = Some(l);
            Ok(detail)
        });
    }
    for checks in [LIO_CHECKS, INITIATOR_CHECKS] {
        let peer: Option<&mut dyn Peer> = match (host_lio.as_mut(), guest_lio.as_mut()) {
            (Some(l), _) => Some(l),
            (None, Some(l)) => Some(l),
            (None, None) => None,
        };
        crate::interop::run_checks(&mut steps, &mut session, "lio", peer, checks);
    }
    // Coming from LIO: targetcli's saved configuration, converted by
    // `iscsi-target import-lio` and served by ours, passes LIO's checks.
    let mut imported: Option<OurTarget> = None;
    steps.step("ours: import-lio of LIO's saveconfig.json", || {
        let binary = target_binary
            .as_ref()
            .ok_or("no iscsi-target binary (see the build step)")?;
        let (saveconfig, lio_port) = match (host_lio.as_ref(), guest_lio.as_ref()) {
            (Some(l), _) => {
                let path = dir.join("saveconfig.json");
                util::run(util::timed(120, "targetcli").arg("saveconfig").arg(&path))?;
                (path, l.port())
            }
            (None, Some(l)) => (dir.join("share").join("saveconfig.json"), l.port()),
            (None, None) => return Err("LIO did not start".to_owned()),
        };
        let (t, detail) = import_and_serve(binary, &saveconfig, &dir, lio_port)?;
        imported = Some(t);
        Ok(detail)
    });
    crate::interop::run_checks(
        &mut steps,
        &mut session,
        "ours (from LIO)",
        imported.as_mut().map(|t| t as &mut dyn Peer),
        LIO_CHECKS,
    );
    if let Some(t) = imported.take() {
        steps.step("ours (from LIO): stop", || t.stop());
    }
    if let Some(l) = guest_lio.take() {
        steps.step("lio: stop the guest", || l.stop());
    }
    drop(host_lio);
    steps.finish("cargo xtask interop --peer targetcli")?;
    Ok(format!(
        "our initiator and libiscsi passed every check against LIO ({})",
        if on_host {
            "this host's"
        } else {
            "in the QEMU guest"
        }
    ))
}

fn check_libiscsi_ls(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let out = run_ok(
        util::timed(60, "iscsi-ls")
            .args(["-i", LIO_INITIATOR])
            .arg(peer.portal_url()),
    )?;
    let listed = ls_listing(&out.stdout);
    let names = peer.exposed().names();
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !listed.iter().any(|(l, _)| l == *n))
        .collect();
    if !missing.is_empty() {
        return Err(format!("iscsi-ls did not list {missing:?}: {}", out.stdout));
    }
    let portals: Vec<&str> = out
        .stdout
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("Portal:"))
        .collect();
    if let Some(p) = portals.iter().find(|p| !p.starts_with("127.")) {
        return Err(format!(
            "LIO advertised the portal {p}, outside 127.0.0.0/8"
        ));
    }
    // -s logs into each target at its advertised portal (safe: all on
    // loopback) with one set of credentials: the open and the CHAP target
    // take them; it stops at the mutual-CHAP one (no target secret).
    let url = format!(
        "iscsi://{CHAP_USER}%{CHAP_SECRET}@127.0.0.1:{}",
        peer.port()
    );
    let shown = util::capture(
        util::timed(60, "iscsi-ls")
            .args(["-i", LIO_INITIATOR, "-s"])
            .arg(url),
    )?;
    let with_lun0: Vec<String> = ls_listing(&shown.stdout)
        .into_iter()
        .filter(|(_, luns)| luns.contains(&0))
        .map(|(n, _)| n)
        .collect();
    let data = &peer.exposed().data.iqn;
    if !with_lun0.contains(data) {
        return Err(format!(
            "iscsi-ls -s showed no LUN 0 under {data} (exit {}): {}",
            shown.status,
            shown.text()
        ));
    }
    Ok(format!(
        "{} targets, every portal on loopback ({}); -s logged in and showed LUN 0 of {} target(s) (exit {})",
        listed.len(),
        portals.first().copied().unwrap_or("?"),
        with_lun0.len(),
        shown.status.code().unwrap_or(-1)
    ))
}

/// `iscsi-target import-lio SAVECONFIG`, then ours serving the result on
/// a free port (LIO's portal is the guest's forward) with the fileio LUN's
/// file in `dir`.
fn import_and_serve(
    binary: &Path,
    saveconfig: &Path,
    dir: &Path,
    lio_port: u16,
) -> Result<(OurTarget, String)> {
    let config = dir.join("lio-import.toml");
    let out = util::capture(
        util::timed(30, &binary.to_string_lossy())
            .arg("import-lio")
            .arg(saveconfig)
            .arg("-o")
            .arg(&config),
    )?;
    out.success()?;
    let notes_path = dir.join("lio-import.notes");
    fs::write(&notes_path, &out.stderr)
        .map_err(|e| format!("cannot write {}: {e}", notes_path.display()))?;
    let notes = out.stderr.matches("not carried over:").count();
    let port = peers::free_port()?;
    let image = dir.join("lio-import.img");
    let text = fs::read_to_string(&config)
        .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    let lio_portal = format!("127.0.0.1:{lio_port}");
    if !text.contains(&lio_portal) || !text.contains(GUEST_IMAGE) {
        return Err(format!(
            "{} lacks LIO's portal {lio_portal} or the fileio file {GUEST_IMAGE}",
            config.display()
        ));
    }
    let text = text
        .replace(&lio_portal, &format!("127.0.0.1:{port}"))
        .replace(GUEST_IMAGE, &image.to_string_lossy());
    fs::write(&config, &text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let targets = text.matches("[[target]]").count();
    let luns = text.matches("[[target.lun]]").count();
    let mut exposed = peers::lio_exposed();
    exposed.vendor = "RSISCSI";
    let target = OurTarget::start_with(
        binary,
        &config,
        port,
        "warn",
        exposed,
        &dir.join("lio-import.log"),
    )?;
    Ok((
        target,
        format!(
            "{targets} targets and {luns} LUNs (ACLs, CHAP, mutual CHAP, serials) carried over into {}; \
             {notes} notes of what was not ({}); serving it on 127.0.0.1:{port}",
            config.display(),
            notes_path.display()
        ),
    ))
}

/// The value after `key` on a line of libiscsi's output (`Key:value`).
pub(crate) fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .map(str::trim)
}

fn check_same_answers(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let inq = run_ok(util::timed(60, "iscsi-inq").args(["-i", LIO_INITIATOR, &url]))?;
    let cap = run_ok(util::timed(60, "iscsi-readcapacity16").args(["-i", LIO_INITIATOR, &url]))?;
    let vendor = field(&inq.stdout, "Vendor:").unwrap_or("?").to_owned();
    let product = field(&inq.stdout, "Product:").unwrap_or("?").to_owned();
    let total: u64 = field(&cap.stdout, "Total size:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("iscsi-readcapacity16 printed no Total size: {}", cap.stdout))?;
    let ours = json(&exit_with(
        &mut crate::initiator::iscsi(session, peer, 60, &["--json", "inquiry", &url])?,
        0,
    )?)?;
    let ours_cap = json(&exit_with(
        &mut crate::initiator::iscsi(session, peer, 60, &["--json", "readcap", &url])?,
        0,
    )?)?;
    let mismatch =
        |what: &str, a: &str, b: &Value| format!("{what}: libiscsi says {a:?}, iscsi says {b}");
    if ours["vendor"].as_str().map(str::trim) != Some(vendor.as_str()) {
        return Err(mismatch("vendor", &vendor, &ours["vendor"]));
    }
    if ours["product"].as_str().map(str::trim) != Some(product.as_str()) {
        return Err(mismatch("product", &product, &ours["product"]));
    }
    if ours_cap["bytes"].as_u64() != Some(total) || total != data.size {
        return Err(mismatch("capacity", &total.to_string(), &ours_cap["bytes"]));
    }
    Ok(format!(
        "INQUIRY {vendor} {product} and READ CAPACITY(16) {total} bytes ({} blocks of {}) from both",
        ours_cap["blocks"], ours_cap["blockSize"]
    ))
}

fn check_libiscsi_mutual(_: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let lun = peer
        .exposed()
        .mutual
        .clone()
        .ok_or("no mutual-CHAP target")?;
    let url = format!(
        "{}?target_user={TARGET_USER}&target_password={TARGET_SECRET}",
        peer.url(&lun, Some((CHAP_USER, CHAP_SECRET)))
    );
    let out = run_ok(
        util::timed(60, "iscsi-inq")
            .args(["-i", LIO_INITIATOR])
            .arg(url),
    )?;
    expect_text(&out, "Vendor:")?;
    Ok(
        "iscsi-inq logged in with mutual CHAP (MD5, libiscsi's only offer) and read INQUIRY"
            .to_owned(),
    )
}

fn check_sha256(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let mut cmd = chap_probe(session, peer, "chap", CHAP_SECRET, None)?;
    let out = exit_with(cmd.args(["--chap-algorithms", "SHA256,MD5"]), 0)?;
    let path = keep(session, peer, "probe-chap-sha256", &out);
    let v = json(&out)?;
    if v["chapAlgorithm"] != "SHA-256" {
        return Err(format!(
            "chapAlgorithm is {} (offered SHA-256 first; the target computes CHAP_A=7 correctly): {v}",
            v["chapAlgorithm"]
        ));
    }
    Ok(format!(
        "--chap-algorithms SHA256,MD5: the target chose CHAP_A 7, chapAlgorithm \"SHA-256\", login in {} ms (JSON: {})",
        v["rtt"],
        path.display()
    ))
}

fn check_acl(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let binary = session
        .iscsi
        .as_ref()
        .ok_or("no iscsi binary (see the build step)")?;
    let lun = peer.exposed().chap.clone().ok_or("no CHAP target")?;
    let portal = format!("127.0.0.1:{}", peer.port());
    let mut cmd = util::timed(60, &binary.to_string_lossy());
    cmd.env("ISCSI_SECRET", CHAP_SECRET)
        .env_remove("ISCSI_TARGET_SECRET")
        .args(["--initiator-name", OUTSIDER, "--json", "probe", &portal])
        .args(["--target", &lun.iqn, "--chap", CHAP_USER]);
    let out = exit_with(&mut cmd, 5)?;
    let path = keep(session, peer, "probe-outside-acl", &out);
    let v = json(&out)?;
    let status = v["loginStatus"].as_str().unwrap_or("");
    if !status.starts_with("0x0202") {
        return Err(format!("loginStatus {status:?}, wanted 0x0202: {v}"));
    }
    Ok(format!(
        "{OUTSIDER}: exit 5, loginStatus {status:?} (JSON: {})",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn libiscsi_fields() {
        let out = "Type:DIRECT_ACCESS\nVendor:LIO-ORG\nProduct:xtask_interop_r\n";
        assert_eq!(field(out, "Vendor:"), Some("LIO-ORG"));
        assert_eq!(field(out, "Revision:"), None);
        assert_eq!(
            field("Total size:268435456\n", "Total size:"),
            Some("268435456")
        );
    }
}
