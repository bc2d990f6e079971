//! `cargo xtask fuzz [TARGET ...] [--seconds N]`: build and run the
//! cargo-fuzz targets of `fuzz/`, each with its committed seeds
//! (`fuzz/seeds/TARGET`) and the dictionary `fuzz/iscsi.dict`.
//!
//! libFuzzer needs `-Z` flags for AddressSanitizer, so the nightly toolchain
//! is used when rustup has one (`cargo +nightly fuzz run`); otherwise the
//! pinned stable toolchain runs with `--sanitizer none` (the fuzzed crates
//! forbid `unsafe`, so ASan adds little there).

use std::fs;
use std::process::{Command, Stdio};

use crate::util::{self, Result};

/// Seconds each target runs in the CI smoke run unless `--seconds` says otherwise.
pub(crate) fn default_seconds(target: &str) -> u64 {
    match target {
        // The stateful targets get longer; 30 s each keeps `cargo xtask ci`
        // within its 25 minutes (`cargo xtask fuzz` runs 60 s by default).
        "login_target" | "login_initiator" | "target_connection" | "initiator_connection" => 30,
        _ => 10,
    }
}

/// The targets declared in `fuzz/Cargo.toml`, in file order.
pub(crate) fn targets() -> Result<Vec<String>> {
    let manifest = util::root().join("fuzz/Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(rest) = line.strip_prefix("name") {
            let name = rest
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            out.push(name.to_owned());
        }
    }
    if out.is_empty() {
        return Err(format!("no [[bin]] targets in {}", manifest.display()));
    }
    Ok(out)
}

/// How cargo-fuzz is invoked on this machine.
pub(crate) struct Fuzzer {
    nightly: bool,
}

impl Fuzzer {
    /// Installs cargo-fuzz when missing and picks the toolchain.
    pub(crate) fn new() -> Result<Self> {
        util::ensure_cargo_tool("cargo-fuzz", "cargo-fuzz")?;
        Ok(Self {
            nightly: util::have_toolchain("nightly"),
        })
    }

    fn cargo_fuzz(&self, subcommand: &str) -> Command {
        let mut cmd = if self.nightly {
            util::rustup_cargo("nightly")
        } else {
            util::cargo()
        };
        cmd.args(["fuzz", subcommand]);
        if !self.nightly {
            cmd.args(["--sanitizer", "none"]);
        }
        cmd
    }

    /// Describes the toolchain and sanitizer in use.
    pub(crate) fn describe(&self) -> &'static str {
        if self.nightly {
            "nightly toolchain, AddressSanitizer"
        } else {
            "pinned stable toolchain, no sanitizer (no nightly installed)"
        }
    }

    /// Builds every target once.
    pub(crate) fn build(&self) -> Result {
        util::run(&mut self.cargo_fuzz("build"))
    }

    /// Runs `target` for `seconds`; returns libFuzzer's run count.
    pub(crate) fn run(&self, target: &str, seconds: u64) -> Result<u64> {
        let root = util::root();
        let corpus = root.join("fuzz/corpus").join(target);
        let seeds = root.join("fuzz/seeds").join(target);
        fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let logs = root.join("target/fuzz-logs");
        fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let log_path = logs.join(format!("{target}.log"));
        let log =
            fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;

        let mut cmd = self.cargo_fuzz("run");
        cmd.arg(target).arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--");
        cmd.arg(format!("-max_total_time={seconds}"));
        let dict = root.join("fuzz/iscsi.dict");
        if dict.is_file() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        cmd.arg("-print_final_stats=1");
        let line = util::show(&cmd);
        eprintln!("$ {line}  (log: {})", log_path.display());
        let status = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .map_err(|e| format!("could not start `{line}`: {e}"))?;
        if !status.success() {
            eprintln!("{}", crate::peers::log_tail(&log_path, 40));
            return Err(format!(
                "fuzz target {target} failed ({status}); see {}",
                log_path.display()
            ));
        }
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        runs_from_log(&text).ok_or_else(|| {
            format!(
                "fuzz target {target} printed no run count; see {}",
                log_path.display()
            )
        })
    }
}

/// libFuzzer's final "Done N runs in S second(s)" line.
fn runs_from_log(text: &str) -> Option<u64> {
    text.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("Done ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `cargo xtask fuzz`.
pub(crate) fn main(args: &[String]) -> Result {
    let mut seconds = None;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = it.next().ok_or("--seconds needs a number")?;
                seconds = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("--seconds: {value:?} is not a number"))?,
                );
            }
            "-h" | "--help" => {
                eprintln!("usage: cargo xtask fuzz [TARGET ...] [--seconds N]");
                return Ok(());
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => chosen.push(other.to_owned()),
        }
    }
    let all = targets()?;
    for t in &chosen {
        if !all.contains(t) {
            return Err(format!(
                "unknown fuzz target {t}; targets: {}",
                all.join(", ")
            ));
        }
    }
    if chosen.is_empty() {
        chosen = all;
    }
    let fuzzer = Fuzzer::new()?;
    eprintln!("fuzzing with the {}", fuzzer.describe());
    fuzzer.build()?;
    let mut report = Vec::new();
    for target in &chosen {
        let secs = seconds.unwrap_or_else(|| default_seconds(target).max(60));
        let runs = fuzzer.run(target, secs)?;
        report.push(format!("{target}: {runs} runs in {secs} s, no crash"));
    }
    for line in report {
        eprintln!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_count_is_read_from_the_libfuzzer_log() {
        let log =
            "#1024 pulse\nDone 96241 runs in 11 second(s)\nstat::number_of_executed_units: 96241\n";
        assert_eq!(super::runs_from_log(log), Some(96241));
        assert_eq!(super::runs_from_log("crash"), None);
    }
}
