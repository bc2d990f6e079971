//! Our initiator (the `iscsi` tool) against a peer target: discovery with
//! continued SendTargets answers, `iscsi ls`, probes with no authentication, CHAP, a
//! wrong CHAP secret and mutual CHAP, INQUIRY, READ CAPACITY, digests, a
//! 64 MiB `dd` in and out compared by SHA-256, a short benchmark, and the
//! HTTP probe service in front of it all.
//!
//! The same list runs against our target, tgtd and (where the kernel has
//! it) LIO; the peer's [`Exposed`] says which targets and secrets to use.
//! The JSON answers are kept in `target/interop/` for the issue notes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::interop::{Check, Session, first_difference, random_file};
use crate::peers::{CHAP_SECRET, CHAP_USER, Exposed, LunRef, Peer, TARGET_SECRET, TARGET_USER};
use crate::util::{self, Captured, Result};

/// The checks, in order.
pub(crate) const INITIATOR_CHECKS: &[Check] = &[
    Check {
        name: "iscsi discover",
        run: check_discover,
    },
    Check {
        name: "iscsi ls",
        run: check_ls,
    },
    Check {
        name: "iscsi probe",
        run: check_probe,
    },
    Check {
        name: "iscsi probe CHAP",
        run: check_probe_chap,
    },
    Check {
        name: "iscsi probe wrong CHAP",
        run: check_probe_wrong_chap,
    },
    Check {
        name: "iscsi probe mutual CHAP",
        run: check_probe_mutual,
    },
    Check {
        name: "iscsi inquiry",
        run: check_inquiry,
    },
    Check {
        name: "iscsi readcap",
        run: check_readcap,
    },
    Check {
        name: "iscsi digests",
        run: check_digests,
    },
    Check {
        name: "iscsi dd 64 MiB",
        run: check_dd,
    },
    Check {
        name: "iscsi bench",
        run: check_bench,
    },
    Check {
        name: "iscsi probe-server",
        run: crate::probe_api::check_probe_server,
    },
];

/// MaxRecvDataSegmentLength the discovery check declares: the smallest
/// allowed, so that a long SendTargets answer needs continuation.
const SMALL_MRDSL: u32 = 512;

/// `timeout -k 5 SECS iscsi [--initiator-name NAME] ARGS` with `env` set
/// and no CHAP secrets inherited from the caller.
pub(crate) fn iscsi(
    session: &Session,
    peer: &dyn Peer,
    secs: u64,
    args: &[&str],
) -> Result<Command> {
    let binary = session
        .iscsi
        .as_ref()
        .ok_or("no iscsi binary (see the build step)")?;
    let mut cmd = util::timed(secs, &binary.to_string_lossy());
    cmd.env_remove("ISCSI_SECRET")
        .env_remove("ISCSI_TARGET_SECRET");
    if let Some(name) = peer.exposed().initiator_name {
        cmd.args(["--initiator-name", name]);
    }
    cmd.args(args);
    Ok(cmd)
}

/// Runs `cmd` and requires exit status `code`.
pub(crate) fn exit_with(cmd: &mut Command, code: i32) -> Result<Captured> {
    let out = util::capture(cmd)?;
    if out.status.code() == Some(code) {
        Ok(out)
    } else {
        Err(format!(
            "`{}` exited {} (wanted {code}): {}",
            out.line,
            out.status,
            out.last_line()
        ))
    }
}

/// The JSON `out` printed.
pub(crate) fn json(out: &Captured) -> Result<Value> {
    serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`{}` printed no JSON ({e}): {}", out.line, out.last_line()))
}

/// Saves a JSON answer as `target/interop/NAME-PEER.json` for the notes.
pub(crate) fn keep(session: &Session, peer: &dyn Peer, name: &str, out: &Captured) -> PathBuf {
    let path = session.dir.join(format!("{name}-{}.json", peer.label()));
    if let Err(e) = fs::write(&path, &out.stdout) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    path
}

/// `value[key]` must equal `want`.
fn expect(value: &Value, key: &str, want: &Value) -> Result {
    if &value[key] == want {
        Ok(())
    } else {
        Err(format!(
            "{key} is {} (wanted {want}) in {value}",
            value[key]
        ))
    }
}

fn lun_of<'a>(exposed: &'a Exposed, which: &str) -> Result<&'a LunRef> {
    match which {
        "chap" => exposed.chap.as_ref(),
        "mutual" => exposed.mutual.as_ref(),
        _ => Some(&exposed.data),
    }
    .ok_or_else(|| format!("the peer has no {which} target configured"))
}

fn check_discover(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let exposed = peer.exposed().clone();
    let mut wanted: Vec<&str> = exposed.names();
    wanted.extend(exposed.others.iter().map(String::as_str));
    let mrdsl = SMALL_MRDSL.to_string();
    let mut ports = vec![peer.port()];
    ports.extend(&exposed.extra_ports);
    let mut details = Vec::new();
    for port in ports {
        let portal = format!("127.0.0.1:{port}");
        let out = exit_with(
            &mut iscsi(
                session,
                peer,
                60,
                &[
                    "--json",
                    "--max-recv-data-segment-length",
                    &mrdsl,
                    "discover",
                    &portal,
                ],
            )?,
            0,
        )?;
        let v = json(&out)?;
        let targets = v["targets"].as_array().cloned().unwrap_or_default();
        let listed: Vec<&str> = targets.iter().filter_map(|t| t["name"].as_str()).collect();
        let missing: Vec<&&str> = wanted.iter().filter(|n| !listed.contains(n)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "discovery through {portal} did not list {missing:?}; listed {listed:?}"
            ));
        }
        // Every target answers with TargetName and TargetAddress: the
        // ordered pairs must keep every duplicate key.
        let pairs = v["textPairs"].as_array().cloned().unwrap_or_default();
        let names = pairs.iter().filter(|p| p[0] == "TargetName").count();
        let addresses = pairs.iter().filter(|p| p[0] == "TargetAddress").count();
        if names != listed.len() || addresses < names {
            return Err(format!(
                "{names} TargetName and {addresses} TargetAddress pairs for {} targets",
                listed.len()
            ));
        }
        let unreachable: Vec<&Value> = targets
            .iter()
            .filter(|t| {
                !t["addresses"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|a| a.as_str().is_some_and(|a| a.starts_with("127.0.0.1:")))
                })
            })
            .collect();
        if !unreachable.is_empty() {
            return Err(format!(
                "targets without a 127.0.0.1 address: {unreachable:?}"
            ));
        }
        let text_bytes: usize = pairs
            .iter()
            .map(|p| p[0].as_str().map_or(0, str::len) + p[1].as_str().map_or(0, str::len) + 2)
            .sum();
        details.push(format!(
            "{portal}: {} targets, {text_bytes} bytes of SendTargets text ({} Text Responses at least)",
            listed.len(),
            text_bytes.div_ceil(SMALL_MRDSL as usize)
        ));
    }
    Ok(format!(
        "MaxRecvDataSegmentLength {SMALL_MRDSL}; {}",
        details.join("; ")
    ))
}

/// `iscsi --json ls PORTAL`: every target listed; the open one logged
/// into through the given portal (never an advertised address), with its
/// LUN, size and vendor; the CHAP targets refuse a login without secrets.
fn check_ls(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let exposed = peer.exposed().clone();
    let portal = format!("127.0.0.1:{}", peer.port());
    let out = exit_with(
        &mut iscsi(session, peer, 120, &["--json", "ls", &portal])?,
        0,
    )?;
    let path = keep(session, peer, "ls", &out);
    let v = json(&out)?;
    let targets = v.as_array().cloned().unwrap_or_default();
    let wanted = exposed.names().len() + exposed.others.len();
    if targets.len() != wanted {
        return Err(format!(
            "{} targets listed, wanted {wanted}: {v}",
            targets.len()
        ));
    }
    let data = targets
        .iter()
        .find(|t| t["name"] == exposed.data.iqn.as_str())
        .ok_or_else(|| format!("{} is not listed: {v}", exposed.data.iqn))?;
    let lun = data["luns"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["lun"] == exposed.data.lun))
        .ok_or_else(|| {
            format!(
                "no LUN {} under {}: {data}",
                exposed.data.lun, exposed.data.iqn
            )
        })?;
    if lun["bytes"] != exposed.data.size
        || lun["vendor"].as_str().map(str::trim) != Some(exposed.vendor)
    {
        return Err(format!(
            "LUN {} of {}: {lun} (wanted {} bytes, vendor {})",
            exposed.data.lun, exposed.data.iqn, exposed.data.size, exposed.vendor
        ));
    }
    let refused = targets.iter().filter(|t| !t["error"].is_null()).count();
    Ok(format!(
        "{} targets; LUN {} of {}: {} bytes, {} {}; {refused} refused a login without secrets (JSON: {})",
        targets.len(),
        exposed.data.lun,
        exposed.data.iqn,
        lun["bytes"],
        exposed.vendor,
        lun["product"].as_str().unwrap_or("?").trim(),
        path.display()
    ))
}

fn check_probe(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let portal = format!("127.0.0.1:{}", peer.port());
    let out = exit_with(
        &mut iscsi(session, peer, 60, &["--json", "probe", &portal])?,
        0,
    )?;
    let path = keep(session, peer, "probe", &out);
    let v = json(&out)?;
    expect(&v, "success", &Value::Bool(true))?;
    expect(&v, "isISCSI", &Value::Bool(true))?;
    expect(&v, "loginStatusClass", &Value::from(0))?;
    expect(&v, "sessionType", &Value::from("Discovery"))?;
    let isid = v["sessionId"].as_str().unwrap_or("");
    if isid.len() != 12 || !isid.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("sessionId {isid:?} is not 12 hex digits"));
    }
    let count = v["targetCount"].as_u64().unwrap_or(0);
    let wanted = peer.exposed().names().len() + peer.exposed().others.len();
    if count != wanted as u64 {
        return Err(format!("targetCount {count}, wanted {wanted}"));
    }
    Ok(format!(
        "login {} in {} ms, TSIH {}, ISID {isid}, {count} targets (JSON: {})",
        v["loginStatus"].as_str().unwrap_or("?"),
        v["rtt"],
        v["tsih"],
        path.display()
    ))
}

/// `probe PORTAL --target IQN --chap USER [--target-user TUSER]` with the
/// secrets in the environment.
pub(crate) fn chap_probe(
    session: &Session,
    peer: &dyn Peer,
    which: &str,
    secret: &str,
    target_secret: Option<&str>,
) -> Result<Command> {
    let lun = lun_of(peer.exposed(), which)?.clone();
    let portal = format!("127.0.0.1:{}", peer.port());
    let mut args = vec![
        "--json", "probe", &portal, "--target", &lun.iqn, "--chap", CHAP_USER,
    ];
    if target_secret.is_some() {
        args.extend(["--target-user", TARGET_USER]);
    }
    let mut cmd = iscsi(session, peer, 60, &args)?;
    cmd.env("ISCSI_SECRET", secret);
    if let Some(ts) = target_secret {
        cmd.env("ISCSI_TARGET_SECRET", ts);
    }
    Ok(cmd)
}

fn check_probe_chap(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let out = exit_with(
        &mut chap_probe(session, peer, "chap", CHAP_SECRET, None)?,
        0,
    )?;
    let path = keep(session, peer, "probe-chap", &out);
    let v = json(&out)?;
    expect(&v, "success", &Value::Bool(true))?;
    expect(&v, "chap", &Value::Bool(true))?;
    expect(&v, "sessionType", &Value::from("Normal"))?;
    Ok(format!(
        "CHAP {} login in {} ms (JSON: {})",
        v["chapAlgorithm"].as_str().unwrap_or("?"),
        v["rtt"],
        path.display()
    ))
}

fn check_probe_wrong_chap(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let out = exit_with(
        &mut chap_probe(session, peer, "chap", "wrong-secret-0000", None)?,
        5,
    )?;
    let path = keep(session, peer, "probe-wrong-chap", &out);
    let v = json(&out)?;
    expect(&v, "success", &Value::Bool(false))?;
    expect(&v, "isISCSI", &Value::Bool(true))?;
    expect(&v, "loginStatusClass", &Value::from(2))?;
    expect(&v, "loginStatusDetail", &Value::from(1))?;
    let status = v["loginStatus"].as_str().unwrap_or("");
    if !status.starts_with("0x0201") {
        return Err(format!("loginStatus {status:?}, wanted 0x0201"));
    }
    Ok(format!(
        "exit 5, loginStatus {status:?} (JSON: {})",
        path.display()
    ))
}

fn check_probe_mutual(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let out = exit_with(
        &mut chap_probe(session, peer, "mutual", CHAP_SECRET, Some(TARGET_SECRET))?,
        0,
    )?;
    let path = keep(session, peer, "probe-mutual-chap", &out);
    let v = json(&out)?;
    expect(&v, "success", &Value::Bool(true))?;
    expect(&v, "mutualChap", &Value::Bool(true))?;
    let wrong = exit_with(
        &mut chap_probe(
            session,
            peer,
            "mutual",
            CHAP_SECRET,
            Some("wrong-target-000"),
        )?,
        5,
    )?;
    let w = json(&wrong)?;
    Ok(format!(
        "mutual CHAP {} login, target proved itself (JSON: {}); a wrong target secret: exit 5, {}",
        v["chapAlgorithm"].as_str().unwrap_or("?"),
        path.display(),
        w["error"].as_str().unwrap_or("?")
    ))
}

fn check_inquiry(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let exposed = peer.exposed().clone();
    let url = peer.url(&exposed.data, None);
    let v = json(&exit_with(
        &mut iscsi(session, peer, 60, &["--json", "inquiry", &url])?,
        0,
    )?)?;
    expect(&v, "vendor", &Value::from(exposed.vendor))?;
    expect(&v, "peripheralDeviceType", &Value::from(0))?;
    let ids = exit_with(
        &mut iscsi(session, peer, 60, &["inquiry", &url, "--vpd", "0x83"])?,
        0,
    )?;
    let designators = ids.stdout.lines().count();
    if designators == 0 {
        return Err("VPD page 0x83 listed no designator".to_owned());
    }
    Ok(format!(
        "vendor {}, product {}, VPD 0x83: {designators} designators",
        exposed.vendor,
        v["product"].as_str().unwrap_or("?")
    ))
}

fn check_readcap(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let v = json(&exit_with(
        &mut iscsi(session, peer, 60, &["--json", "readcap", &url])?,
        0,
    )?)?;
    expect(&v, "bytes", &Value::from(data.size))?;
    Ok(format!(
        "{} blocks of {} bytes = {} bytes",
        v["blocks"], v["blockSize"], data.size
    ))
}

fn check_digests(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let digests = ["--header-digest", "--data-digest"];
    let mut write = iscsi(session, peer, 60, &digests)?;
    write.args([
        "write",
        &url,
        "--lba",
        "8192",
        "--blocks",
        "2048",
        "--pattern",
        "0x5a",
    ]);
    exit_with(&mut write, 0)?;
    let file = session.dir.join("digests.bin");
    let mut read = iscsi(session, peer, 60, &digests)?;
    read.args(["read", &url, "--lba", "8192", "--blocks", "2048", "-o"])
        .arg(&file);
    exit_with(&mut read, 0)?;
    let back = fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let _ = fs::remove_file(&file);
    if back.len() != 2048 * 512 || back.iter().any(|b| *b != 0x5a) {
        return Err(format!(
            "1 MiB of 0x5a written with CRC32C digests read back as {} other bytes",
            back.iter().filter(|b| **b != 0x5a).count()
        ));
    }
    Ok("HeaderDigest and DataDigest CRC32C: 1 MiB written and read back".to_owned())
}

/// `sha256sum PATH`: the hex digest.
fn sha256(path: &Path) -> Result<String> {
    let out = util::capture(util::timed(60, "sha256sum").arg(path))?;
    out.success()?;
    out.stdout
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{}` printed no digest", out.line))
}

/// The "(N MiB/s)" figure of a `dd` summary line.
fn dd_rate(out: &Captured) -> String {
    out.stdout
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or_else(|| "?".to_owned(), |(rate, _)| rate.to_owned())
}

fn check_dd(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    const SIZE: u64 = 64 << 20;
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let input = session.dir.join("dd-in.raw");
    let output = session.dir.join("dd-out.raw");
    let _ = fs::remove_file(&output);
    random_file(&input, SIZE)?;
    let mut write = iscsi(session, peer, 120, &["dd", "bs=1M", "--verify"])?;
    write
        .arg(format!("if={}", input.display()))
        .arg(format!("of={url}"));
    let wrote = exit_with(&mut write, 0)?;
    let mut read = iscsi(session, peer, 120, &["dd", "bs=1M", "count=64"])?;
    read.arg(format!("if={url}"))
        .arg(format!("of={}", output.display()));
    let read_back = exit_with(&mut read, 0)?;
    let (a, b) = (sha256(&input)?, sha256(&output)?);
    if a != b {
        let at = first_difference(&input, &output)?;
        return Err(format!(
            "SHA-256 {a} written, {b} read back (first difference at byte {at:?}; files kept: {}, {})",
            input.display(),
            output.display()
        ));
    }
    let _ = fs::remove_file(&input);
    let _ = fs::remove_file(&output);
    Ok(format!(
        "64 MiB in ({}, verified) and out ({}), SHA-256 {}… both ways",
        dd_rate(&wrote),
        dd_rate(&read_back),
        a.get(..16).unwrap_or(&a)
    ))
}

fn check_bench(session: &mut Session, peer: &mut dyn Peer) -> Result<String> {
    let data = peer.exposed().data.clone();
    let url = peer.url(&data, None);
    let mut figures = Vec::new();
    for (rw, bs, qd, seconds) in [
        ("randread", "4k", "16", "3"),
        ("randwrite", "4k", "16", "2"),
        ("read", "128k", "8", "2"),
    ] {
        let out = exit_with(
            &mut iscsi(
                session,
                peer,
                60,
                &[
                    "--json",
                    "bench",
                    &url,
                    "--rw",
                    rw,
                    "--bs",
                    bs,
                    "--qd",
                    qd,
                    "--seconds",
                    seconds,
                ],
            )?,
            0,
        )?;
        keep(session, peer, &format!("bench-{rw}-{bs}"), &out);
        let v = json(&out)?;
        if v["ios"].as_u64().unwrap_or(0) == 0 || v["errors"] != 0 {
            return Err(format!("bench {rw} {bs}: {v}"));
        }
        figures.push(format!(
            "{rw} {bs} QD{qd}: {:.0} IOPS, {:.0} MB/s, p50 {} µs, p99 {} µs",
            v["iops"].as_f64().unwrap_or(0.0),
            v["bytesPerSecond"].as_f64().unwrap_or(0.0) / 1e6,
            v["latencyUs"]["p50"],
            v["latencyUs"]["p99"]
        ));
    }
    Ok(figures.join("; "))
}

#[cfg(test)]
mod tests {
    use super::{Captured, dd_rate};

    #[test]
    fn dd_rate_is_read_from_the_summary_line() {
        let out = Captured {
            line: "iscsi dd".to_owned(),
            status: std::process::ExitStatus::default(),
            stdout: "67108864 bytes copied in 0.19 s (344.4 MiB/s), verified\n".to_owned(),
            stderr: String::new(),
        };
        assert_eq!(dd_rate(&out), "344.4 MiB/s");
    }
}
