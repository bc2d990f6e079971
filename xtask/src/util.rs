//! Helpers shared by the xtask commands: finding the workspace, running
//! commands with a visible command line, installing missing tools.

use std::env;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A failed step, with what to tell the user.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.clone(), Path::to_path_buf)
}

/// The cargo that runs us (so that the pinned toolchain is used).
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Plain `cargo` through rustup, for `+nightly` invocations.
pub(crate) fn rustup_cargo(toolchain: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{toolchain}"));
    cmd.env_remove("RUSTUP_TOOLCHAIN");
    cmd.env_remove("CARGO");
    cmd.current_dir(root());
    cmd
}

/// Prints a command line the way a user would type it.
pub(crate) fn show(cmd: &Command) -> String {
    let mut line = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            let _ = write!(line, "{}={} ", k.to_string_lossy(), v.to_string_lossy());
        }
    }
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_else(|| OsStr::new("?"))
        .to_string_lossy()
        .into_owned();
    line.push_str(&program);
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` with inherited output; an error names the command.
pub(crate) fn run(cmd: &mut Command) -> Result {
    let line = show(cmd);
    eprintln!("$ {line}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{line}`: {e}"))?;
    check(status, &line)
}

/// Runs `cmd` and returns its stdout; stderr is inherited.
pub(crate) fn output(cmd: &mut Command) -> Result<String> {
    let line = show(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start `{line}`: {e}"))?;
    check(out.status, &line)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(status: ExitStatus, line: &str) -> Result {
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed with {status}"))
    }
}

/// A command's exit status and output.
pub(crate) struct Captured {
    /// The command line, as [`show`] prints it.
    pub(crate) line: String,
    /// Exit status.
    pub(crate) status: ExitStatus,
    /// Standard output (lossy UTF-8).
    pub(crate) stdout: String,
    /// Standard error (lossy UTF-8).
    pub(crate) stderr: String,
}

impl Captured {
    /// Standard output followed by standard error.
    pub(crate) fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The last non-empty output line (at most 200 characters), for errors.
    pub(crate) fn last_line(&self) -> String {
        let text = self.text();
        let line = text
            .split(['\n', '\r'])
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("(no output)");
        line.chars().take(200).collect()
    }

    /// `Ok` when the command exited 0; otherwise an error naming the
    /// command, its status and its last output line.
    pub(crate) fn success(&self) -> Result {
        if self.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{}` failed with {}{}: {}",
                self.line,
                self.status,
                if self.status.code() == Some(124) {
                    " (timed out)"
                } else {
                    ""
                },
                self.last_line()
            ))
        }
    }
}

/// Runs `cmd` with no input and collects its status and output; `Err` only
/// when it cannot start. Wrap it in [`timed`] so that it cannot hang.
pub(crate) fn capture(cmd: &mut Command) -> Result<Captured> {
    let line = show(cmd);
    eprintln!("$ {line}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start `{line}`: {e}"))?;
    Ok(Captured {
        line,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `timeout -k 5 SECS PROGRAM`: the program gets SIGTERM after `secs`
/// seconds and SIGKILL 5 s later; `timeout` then exits 124.
pub(crate) fn timed(secs: u64, program: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &secs.to_string(), program]);
    cmd
}

/// True when `program` is on PATH (or, given as an absolute path, exists).
pub(crate) fn have(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).exists();
    }
    env::var_os("PATH").is_some_and(|paths| {
        env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
        })
    })
}

/// True when this process runs as root.
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs a cargo subcommand with `cargo install` when it is missing.
pub(crate) fn ensure_cargo_tool(binary: &str, krate: &str) -> Result {
    if have(binary) {
        return Ok(());
    }
    eprintln!(
        "{binary} is missing: installing it with `cargo install --locked {krate}` (cached in ~/.cargo/bin)"
    );
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    run(cmd.args(["install", "--locked", krate]))
}

/// Installs Debian packages whose programs are missing. `pairs` maps a
/// program to the package that provides it. Without root or apt-get the
/// error says what to install.
pub(crate) fn ensure_debian_packages(pairs: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = pairs
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages = missing.clone();
    packages.sort_unstable();
    packages.dedup();
    let list = packages.join(" ");
    if !is_root() || !have("apt-get") {
        return Err(format!(
            "missing Debian packages: {list}. Install them with `sudo apt-get install -y {list}`"
        ));
    }
    eprintln!("installing missing Debian packages: {list}");
    if packages.contains(&"tshark") {
        let mut preseed = Command::new("sh");
        preseed.args([
            "-c",
            "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections",
        ]);
        run(&mut preseed)?;
    }
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q"])
        .args(&packages))
}

/// Whether a rustup toolchain is installed.
pub(crate) fn have_toolchain(name: &str) -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with(name))
        })
}

/// A step's outcome for the summary.
pub(crate) struct StepResult {
    /// Step name.
    pub(crate) name: String,
    /// Wall time.
    pub(crate) elapsed: Duration,
    /// Error, if it failed.
    pub(crate) error: Option<String>,
    /// One-line detail (counts, figures).
    pub(crate) detail: String,
}

/// Runs named steps in order, prints one summary line per step, and fails
/// when any step failed (all steps run, so one run reports every problem).
pub(crate) struct Steps {
    results: Vec<StepResult>,
    notes: Vec<String>,
}

impl Steps {
    /// No steps yet.
    pub(crate) const fn new() -> Self {
        Self {
            results: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a line the summary prints under the steps: what was not run or
    /// not compared, so that a reader never takes it for a pass.
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Runs one step; `f` returns a detail line on success.
    pub(crate) fn step(&mut self, name: &str, f: impl FnOnce() -> Result<String>) {
        eprintln!("\n==> {name}");
        let start = Instant::now();
        let outcome = f();
        let elapsed = start.elapsed();
        let (error, detail) = match outcome {
            Ok(detail) => (None, detail),
            Err(e) => (Some(e), String::new()),
        };
        let result = StepResult {
            name: name.to_owned(),
            elapsed,
            error,
            detail,
        };
        eprintln!("{}", summary_line(&result));
        self.results.push(result);
    }

    /// Prints the summary; `Err` when a step failed.
    pub(crate) fn finish(self, title: &str) -> Result {
        eprintln!("\n{title} summary:");
        for r in &self.results {
            eprintln!("  {}", summary_line(r));
        }
        for note in &self.notes {
            eprintln!("  NOTE {note}");
        }
        let failed: Vec<&str> = self
            .results
            .iter()
            .filter(|r| r.error.is_some())
            .map(|r| r.name.as_str())
            .collect();
        if failed.is_empty() {
            eprintln!("{title}: all {} steps passed", self.results.len());
            Ok(())
        } else {
            Err(format!("{title}: failed steps: {}", failed.join(", ")))
        }
    }
}

fn summary_line(r: &StepResult) -> String {
    let secs = r.elapsed.as_secs_f64();
    match &r.error {
        None if r.detail.is_empty() => format!("PASS {:<28} {secs:7.1} s", r.name),
        None => format!("PASS {:<28} {secs:7.1} s  {}", r.name, r.detail),
        Some(e) => format!("FAIL {:<28} {secs:7.1} s  {e}", r.name),
    }
}
