//! `cargo xtask interop --peer linux`: the Linux kernel initiator
//! (open-iscsi + `iscsi_tcp`, in the QEMU guest of [`crate::guest`])
//! against our `iscsi-target` on the host.
//!
//! The target listens on 127.0.0.1:PORT; the guest reaches it as
//! 10.0.2.2:PORT through QEMU's user-mode network. The guest's job
//! (`xtask/guest/linux-initiator.sh`) runs every check and writes one
//! `PASS|FAIL NAME: detail` line per check to `checks.txt` in the share;
//! each becomes a step here. While the job runs, this side answers its
//! requests (`host.N` files): kill -9 and restart the target, SIGTERM and
//! restart it, count the connections the target still holds.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::guest::{self, Guest, RunOptions};
use crate::interop::{build_binaries, target_dir};
use crate::peers::{
    CHAP_IQN, CHAP_SECRET, CHAP_USER, FILE_GROWN, FILE_IQN, FILE_SIZE, LINUX_TARGETS, MUTUAL_IQN,
    OurTarget, Peer, RAM_IQN, RAM4K_IQN, TARGET_SECRET, TARGET_USER,
};
use crate::util::{Result, Steps};

/// The guest's job script.
const JOB: &str = include_str!("../guest/linux-initiator.sh");
/// Its file name in the share.
const JOB_NAME: &str = "linux-initiator.sh";

/// `--peer linux`; `quick` makes the fio runs smaller.
pub(crate) fn run(build: bool, quick: bool) -> Result<String> {
    let dir = target_dir().join("interop").join("linux");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut steps = Steps::new();
    let started = Instant::now();

    let mut binary = None;
    steps.step("build iscsi-target and iscsi", || {
        let (binaries, detail) = build_binaries(build)?;
        binary = Some(binaries.target);
        Ok(detail)
    });
    let mut image = None;
    steps.step("guest: build", || {
        let (i, detail) = guest::build(false)?;
        image = Some(i);
        Ok(detail)
    });

    let mut target: Option<OurTarget> = None;
    steps.step("ours: start", || {
        let path = binary
            .as_ref()
            .ok_or("no iscsi-target binary (see the build step)")?;
        let t = OurTarget::start_serving(
            path,
            &dir,
            &LINUX_TARGETS,
            // Portal group 2 is the non-optimized path of dm-multipath.
            &["active_non_optimized"],
            "info",
        )?;
        let port = t.port();
        let detail = format!(
            "pid {} on 127.0.0.1:{port} and :{} (portal groups 1 active/optimized, 2 active/non-optimized; the guest dials 10.0.2.2), config {}",
            t.pid(),
            t.exposed().extra_ports.first().copied().unwrap_or(0),
            dir.join("target.toml").display()
        );
        target = Some(t);
        Ok(detail)
    });

    let mut checks = String::new();
    steps.step("linux: boot the guest and run the job", || {
        let image = image.as_ref().ok_or("no guest image (see guest: build)")?;
        let target = target.as_mut().ok_or("our target did not start")?;
        let share = dir.join("share");
        fs::create_dir_all(&share)
            .map_err(|e| format!("cannot create {}: {e}", share.display()))?;
        fs::write(share.join(JOB_NAME), JOB).map_err(|e| format!("cannot write the job: {e}"))?;
        let port2 = target.exposed().extra_ports.first().copied().unwrap_or(0);
        fs::write(share.join("params"), params(target.port(), port2, quick))
            .map_err(|e| format!("cannot write params: {e}"))?;
        let mut options = RunOptions::new(&share, JOB_NAME);
        options.timeout = Duration::from_secs(900);
        let mut guest = Guest::start(image, &options)?;
        let mut answered = 0;
        while guest.is_running() {
            answered += serve_requests(&share, answered, target)?;
            thread::sleep(Duration::from_millis(100));
        }
        let outcome = guest.wait();
        checks = fs::read_to_string(share.join("checks.txt")).unwrap_or_default();
        let outcome = outcome?;
        Ok(format!(
            "job exited {} after {:.1} s (log: {})",
            outcome.rc,
            outcome.wall.as_secs_f64(),
            share.join(format!("{JOB_NAME}.log")).display()
        ))
    });
    let results = parse_checks(&checks);
    if results.is_empty() {
        steps.step("linux: checks", || {
            Err("the guest reported no check (see the job's log)".to_owned())
        });
    }
    for (name, outcome) in results {
        steps.step(&format!("linux: {name}"), || outcome);
    }

    steps.step("ours: stop (SIGTERM)", || {
        target.take().ok_or("our target was not running")?.stop()
    });
    steps.finish("cargo xtask interop --peer linux")?;
    Ok(format!(
        "the Linux kernel initiator passed every check in {:.0} s",
        started.elapsed().as_secs_f64()
    ))
}

/// The `params` file the job sources.
fn params(port: u16, port2: u16, quick: bool) -> String {
    format!(
        "PORT={port}\nPORT2={port2}\nIQN_RAM={RAM_IQN}\nIQN_4K={RAM4K_IQN}\nIQN_FILE={FILE_IQN}\n\
         IQN_CHAP={CHAP_IQN}\nIQN_MUTUAL={MUTUAL_IQN}\nCHAP_USER={CHAP_USER}\n\
         CHAP_SECRET={CHAP_SECRET}\nTARGET_USER={TARGET_USER}\nTARGET_SECRET={TARGET_SECRET}\n\
         FIO_SIZE_MB={}\nFILE_GROWN_MB={}\n",
        if quick { 16 } else { 32 },
        FILE_GROWN.trim_end_matches('M')
    )
}

/// Answers the job's requests `host.N` for N > `answered`; returns how
/// many it answered.
fn serve_requests(share: &Path, answered: u32, target: &mut OurTarget) -> Result<u32> {
    let mut n = answered;
    loop {
        let request = share.join(format!("host.{}", n + 1));
        let Ok(word) = fs::read_to_string(&request) else {
            return Ok(n - answered);
        };
        n += 1;
        let word = word.trim();
        eprintln!("guest asks: {word}");
        let answer = match word {
            "kill9-restart" => kill_and_restart(target),
            "sigterm-restart" => terminate_and_restart(target),
            "connections" => std::iter::once(target.port())
                .chain(target.exposed().extra_ports.clone())
                .map(established)
                .sum::<Result<usize>>()
                .map(|n| n.to_string()),
            "grow-file" => target.resize(FILE_IQN, FILE_SIZE, FILE_GROWN),
            other => Err(format!("unknown request {other:?}")),
        };
        let text = answer.unwrap_or_else(|e| format!("FAILED: {e}"));
        eprintln!("answer: {text}");
        let done = share.join(format!("host.{n}.done"));
        let tmp = share.join(format!("host.{n}.tmp-done"));
        fs::write(&tmp, &text)
            .and_then(|()| fs::rename(&tmp, &done))
            .map_err(|e| format!("cannot write {}: {e}", done.display()))?;
    }
}

fn kill_and_restart(target: &mut OurTarget) -> Result<String> {
    target.kill9()?;
    // Long enough for the initiator to see the connection fail.
    thread::sleep(Duration::from_secs(1));
    let up = target.restart()?;
    Ok(format!(
        "killed with SIGKILL, started again on the same port after 1 s (listening {:.2} s later)",
        up.as_secs_f64()
    ))
}

fn terminate_and_restart(target: &mut OurTarget) -> Result<String> {
    let stopped = target.terminate()?;
    let up = target.restart()?;
    Ok(format!(
        "SIGTERM: {stopped} (shutdown_grace_s 5); started again, listening {:.2} s later",
        up.as_secs_f64()
    ))
}

/// ESTABLISHED TCP connections whose local port is `port` (/proc/net/tcp).
fn established(port: u16) -> Result<usize> {
    let text = fs::read_to_string("/proc/net/tcp")
        .map_err(|e| format!("cannot read /proc/net/tcp: {e}"))?;
    Ok(count_established(&text, port))
}

fn count_established(proc_net_tcp: &str, port: u16) -> usize {
    let want = format!(":{port:04X}");
    proc_net_tcp
        .lines()
        .skip(1)
        .filter(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1).unwrap_or("");
            let state = f.nth(1).unwrap_or("");
            local.ends_with(&want) && state == "01"
        })
        .count()
}

/// The job's `checks.txt`: `(name, Ok(detail) | Err(detail))` per line.
fn parse_checks(text: &str) -> Vec<(String, Result<String>)> {
    text.lines()
        .filter_map(|line| {
            let (verdict, rest) = line.split_once(' ')?;
            let (name, detail) = rest.split_once(": ").unwrap_or((rest, ""));
            let detail = detail.to_owned();
            match verdict {
                "PASS" => Some((name.to_owned(), Ok(detail))),
                "FAIL" => Some((name.to_owned(), Err(detail))),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{count_established, params, parse_checks};

    #[test]
    fn checks_are_read_line_by_line() {
        let r = parse_checks(
            "PASS login AuthMethod=None: /dev/sda, session state LOGGED_IN\n\
             FAIL wrong CHAP secret refused: the login succeeded\nnoise\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "login AuthMethod=None");
        assert_eq!(r[0].1, Ok("/dev/sda, session state LOGGED_IN".to_owned()));
        assert_eq!(r[1].1, Err("the login succeeded".to_owned()));
    }

    #[test]
    fn established_connections_are_counted_by_local_port() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:9C40 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
   2: 0100007F:D2F0 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        assert_eq!(count_established(text, 40000), 1);
        assert_eq!(count_established(text, 3260), 0);
    }

    #[test]
    fn params_name_every_target() {
        let p = params(40000, 40001, true);
        assert!(p.starts_with("PORT=40000\nPORT2=40001\n"));
        for key in [
            "IQN_RAM=",
            "IQN_4K=",
            "IQN_FILE=",
            "IQN_CHAP=",
            "IQN_MUTUAL=",
            "FIO_SIZE_MB=16",
            "FILE_GROWN_MB=384",
        ] {
            assert!(p.contains(key), "{key}");
        }
    }
}
