//! `cargo xtask ci`: every check the project has, in one command, with one
//! summary line per step. Missing tools are installed first. The last
//! steps are `cargo xtask interop` (every peer, full conformance run; the
//! kernel initiator and LIO in the QEMU guest) and a
//! `cargo xtask bench --quick` smoke run, unless `--no-interop` is given.

use std::env;

use crate::util::{self, Result, Steps};
use crate::{bench, ceph, fuzz, interop};

/// Crates that must not depend on tokio or async-trait (sans-IO cores).
pub(crate) const CORE_CRATES: &[&str] = &["iscsi-pdu", "iscsi-login", "iscsi-scsi"];

/// `cargo xtask ci`.
pub(crate) fn main(args: &[String]) -> Result {
    let skip_interop = args.iter().any(|a| a == "--no-interop");
    let mut steps = Steps::new();

    steps.step("tools", || {
        util::ensure_cargo_tool("cargo-deny", "cargo-deny")?;
        util::ensure_cargo_tool("cargo-fuzz", "cargo-fuzz")?;
        Ok("cargo-deny, cargo-fuzz present".to_owned())
    });

    steps.step("fmt", || {
        util::run(util::cargo().args(["fmt", "--all", "--", "--check"]))?;
        util::run(util::cargo().args([
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--",
            "--check",
        ]))?;
        Ok(String::new())
    });

    steps.step("clippy", || {
        util::run(util::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))?;
        util::run(util::cargo().args([
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))?;
        Ok(String::new())
    });

    steps.step("test", || {
        // --all-features takes in iscsi-rbd's cluster tests: they get a
        // cluster of their own (2 s).
        let out = ceph::with_cluster("ceph-test", |cluster| {
            util::output(
                util::cargo()
                    .args([
                        "test",
                        "--workspace",
                        "--all-features",
                        "--all-targets",
                        "--locked",
                    ])
                    .env("CEPH_CONF", cluster.conf()),
            )
        })?;
        let counts = test_counts(&out);
        let doc = util::output(util::cargo().args([
            "test",
            "--workspace",
            "--all-features",
            "--doc",
            "--locked",
        ]))?;
        let doc_counts = test_counts(&doc);
        Ok(format!(
            "{} passed, {} failed, {} ignored; doc tests: {} passed",
            counts.0, counts.1, counts.2, doc_counts.0
        ))
    });

    steps.step("rbd (AddressSanitizer)", ceph::rbd_test);

    steps.step("systemd unit", check_systemd_unit);

    steps.step("doc", || {
        util::run(util::cargo().env("RUSTDOCFLAGS", "-D warnings").args([
            "doc",
            "--workspace",
            "--all-features",
            "--no-deps",
            "--locked",
        ]))?;
        Ok(String::new())
    });

    steps.step("deny", || {
        util::run(util::cargo().args([
            "deny",
            "--all-features",
            "check",
            "licenses",
            "bans",
            "sources",
        ]))?;
        Ok("licenses, bans, sources".to_owned())
    });

    steps.step("layering", || {
        for krate in CORE_CRATES {
            check_no_runtime(krate, "--all-features")?;
        }
        // The runtime crates without their default features are their
        // sans-IO engines: they build, and pull in no runtime.
        let mut check = util::cargo();
        check.args(["check", "--lib", "--no-default-features"]);
        for krate in LIBRARIES {
            check.args(["-p", krate]);
        }
        util::run(&mut check)?;
        for krate in LIBRARIES {
            check_no_runtime(krate, "--no-default-features")?;
        }
        for krate in LEAN_LIBRARIES {
            check_no_binary_dependencies(krate)?;
        }
        let modules = check_sans_io_sources()?;
        Ok(format!(
            "no tokio/async-trait in {}; every library builds with --no-default-features \
             and then has no runtime; {} pull in no binary-only crate with default features; \
             {modules} sans-IO modules use no tokio, std::net, std::time, threads or async",
            CORE_CRATES.join(", "),
            LEAN_LIBRARIES.join(", ")
        ))
    });

    steps.step("fuzz smoke", || {
        let fuzzer = fuzz::Fuzzer::new()?;
        fuzzer.build()?;
        let mut lines = Vec::new();
        for target in fuzz::targets()? {
            let secs = env::var("XTASK_FUZZ_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| fuzz::default_seconds(&target));
            let runs = fuzzer.run(&target, secs)?;
            lines.push(format!("{target} {runs} runs/{secs}s"));
        }
        Ok(format!("{} ({})", lines.join(", "), fuzzer.describe()))
    });

    if skip_interop {
        steps.note(
            "--no-interop: the interop suite and the bench smoke run were not run; \
             this is not a full CI pass",
        );
    } else {
        // The full conformance run (about 2 minutes here), not --quick.
        steps.step("interop", || {
            interop::run_userspace(interop::Options::default())
        });
        // The kernel's peers in the QEMU guest (built on first use, ~1 min):
        // open-iscsi against our target (short fio runs), our initiator
        // and libiscsi against LIO.
        let kernel = interop::Options {
            build: false,
            quick: true,
            ..interop::Options::default()
        };
        steps.step("interop --peer linux", || {
            interop::run(interop::Options {
                peer: interop::PeerChoice::Linux,
                ..kernel
            })
        });
        steps.step("interop --peer targetcli", || {
            interop::run(interop::Options {
                peer: interop::PeerChoice::Targetcli,
                ..kernel
            })
        });
        // LUNs on Ceph RBD images: a one-node cluster for the run, the
        // full conformance run against it.
        steps.step("interop --peer rbd", || {
            interop::run(interop::Options {
                peer: interop::PeerChoice::Rbd,
                build: false,
                ..interop::Options::default()
            })
        });
        // Only that the harness works: --quick figures meet no goals.
        steps.step("bench --quick", || {
            bench::run(bench::Options::quick()).map(|report| format!("harness works; {report}"))
        });
    }

    steps.finish("cargo xtask ci")
}

/// Every library crate of the workspace.
const LIBRARIES: &[&str] = &[
    "iscsi-pdu",
    "iscsi-login",
    "iscsi-scsi",
    "iscsi-target",
    "iscsi-initiator",
];

/// Libraries whose default features carry no binary-only dependency. Not
/// iscsi-target: its binary is `cargo run -p iscsi-target`, and cargo has
/// no per-binary dependencies, so clap and the allocator ride on its
/// default `runtime` feature.
const LEAN_LIBRARIES: &[&str] = &["iscsi-pdu", "iscsi-login", "iscsi-scsi", "iscsi-initiator"];

/// Crates only a binary needs: argument parsing, the HTTP service, progress
/// bars, the allocator, log output.
const BINARY_ONLY: &[&str] = &[
    "clap",
    "axum",
    "indicatif",
    "mimalloc",
    "tracing-subscriber",
    "serde_json",
];

/// Fails when `krate` with its default features depends on a crate of
/// [`BINARY_ONLY`].
fn check_no_binary_dependencies(krate: &str) -> Result {
    let tree = util::output(
        util::cargo().args(["tree", "-e", "normal", "--prefix", "none", "-p", krate]),
    )?;
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if BINARY_ONLY.contains(&name) {
            return Err(format!(
                "{krate} depends on {name} with its default features: binary-only crates belong in iscsi-cli"
            ));
        }
    }
    Ok(())
}

/// Sources that must stay sans-IO besides every file of [`CORE_CRATES`]:
/// the engines and connection machines of the runtime crates, each with
/// the submodules in the directory of its name.
const SANS_IO_MODULES: &[&str] = &[
    "crates/iscsi-target/src/engine.rs",
    "crates/iscsi-target/src/connection.rs",
    "crates/iscsi-initiator/src/session.rs",
    "crates/iscsi-initiator/src/connection.rs",
];

/// What a sans-IO module must not use (outside comments).
const RUNTIME_WORDS: &[&str] = &[
    "tokio",
    "std::net",
    "std::time",
    "std::thread",
    "async ",
    ".await",
];

/// Fails when a sans-IO source (every `.rs` under a core crate's `src/`,
/// and [`SANS_IO_MODULES`]) names a runtime, socket, clock or thread.
/// Returns how many files were checked.
fn check_sans_io_sources() -> Result<usize> {
    let root = util::root();
    let mut files = Vec::new();
    for module in SANS_IO_MODULES {
        // `engine.rs` and its submodules under `engine/`.
        let file = root.join(module);
        let dir = file.with_extension("");
        files.push(file);
        if dir.is_dir() {
            rust_files(&dir, &mut files)?;
        }
    }
    for krate in CORE_CRATES {
        rust_files(&root.join("crates").join(krate).join("src"), &mut files)?;
    }
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        if let Some((n, line, word)) = runtime_use(&text) {
            return Err(format!(
                "{}:{n}: `{word}` in a sans-IO module: {}",
                file.display(),
                line.trim()
            ));
        }
    }
    Ok(files.len())
}

/// Every `.rs` file under `dir`, recursively, appended to `files`.
fn rust_files(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    Ok(())
}

/// The first line (1-based) of `text` outside comments that names a
/// runtime word, with the word.
fn runtime_use(text: &str) -> Option<(usize, &str, &'static str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or("");
        RUNTIME_WORDS
            .iter()
            .find(|w| contains_word(code, w))
            .map(|w| (i + 1, line, *w))
    })
}

/// True when `word` occurs in `code` not as part of a longer identifier
/// (`.await` matches, `.awaits_session` does not).
fn contains_word(code: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let starts = word.chars().next().is_some_and(ident);
        let ends = word.chars().next_back().is_some_and(ident);
        let glued_before = starts && before.is_some_and(ident);
        let glued_after = ends && after.is_some_and(ident);
        !glued_before && !glued_after
    })
}

/// Fails when `krate`'s normal dependency tree with `features`
/// (`--all-features`, `--no-default-features`) contains a runtime crate.
pub(crate) fn check_no_runtime(krate: &str, features: &str) -> Result {
    let tree = util::output(util::cargo().args([
        "tree", "-e", "normal", features, "--prefix", "none", "-p", krate,
    ]))?;
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if matches!(name, "tokio" | "async-trait" | "mio") {
            return Err(format!(
                "{krate} depends on {name}: the protocol cores must stay sans-IO"
            ));
        }
    }
    Ok(())
}

/// Sums libtest's "test result: ok. P passed; F failed; I ignored" lines.
fn test_counts(output: &str) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for line in output.lines().filter(|l| l.starts_with("test result:")) {
        let number_before = |word: &str| -> u64 {
            let words: Vec<&str> = line.split([' ', ';']).collect();
            words
                .windows(2)
                .find(|w| w[1] == word)
                .and_then(|w| w[0].parse().ok())
                .unwrap_or(0)
        };
        totals.0 += number_before("passed");
        totals.1 += number_before("failed");
        totals.2 += number_before("ignored");
    }
    totals
}

/// The unit file in `contrib/systemd`: `systemd-analyze verify` finds
/// nothing wrong with it (its ExecStart pointed at the binary the tests
/// built) and `systemd-analyze security` rates its exposure at most 3.0.
fn check_systemd_unit() -> Result<String> {
    util::ensure_debian_packages(&[("systemd-analyze", "systemd")])?;
    let root = util::root();
    let unit = root.join("contrib/systemd/iscsi-target.service");
    let text = std::fs::read_to_string(&unit)
        .map_err(|e| format!("cannot read {}: {e}", unit.display()))?;
    let binary = interop::target_dir().join("debug/iscsi-target");
    if !binary.exists() {
        return Err(format!(
            "{} is missing (the test step builds it)",
            binary.display()
        ));
    }
    let dir = interop::target_dir().join("systemd");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let copy = dir.join("iscsi-target.service");
    std::fs::write(
        &copy,
        text.replace("/usr/local/bin/iscsi-target", &binary.to_string_lossy()),
    )
    .map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    let verify = util::capture(
        util::timed(60, "systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&copy),
    )?;
    verify.success()?;
    if !verify.text().trim().is_empty() {
        return Err(format!("systemd-analyze verify: {}", verify.text().trim()));
    }
    let security = util::capture(
        util::timed(60, "systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=30"])
            .arg(&copy),
    )?;
    security.success()?;
    let level = security
        .stdout
        .lines()
        .find_map(|l| l.split("exposure level for iscsi-target.service:").nth(1))
        .map(str::trim)
        .unwrap_or("?")
        .to_owned();
    Ok(format!(
        "systemd-analyze verify: clean; security: exposure {level} (at most 3.0 allowed)"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn runtime_words_outside_comments_are_found() {
        let clean = "//! runs under tokio\nfn f() {} // not std::net\n";
        assert_eq!(super::runtime_use(clean), None);
        let dirty = "fn f() {}\nuse std::time::Instant;\n";
        assert_eq!(
            super::runtime_use(dirty),
            Some((2, "use std::time::Instant;", "std::time"))
        );
        assert!(super::runtime_use("async fn go() {}").is_some());
        assert!(super::runtime_use("x.await;").is_some());
        assert_eq!(super::runtime_use("if login.awaits_session() {}"), None);
        assert_eq!(super::runtime_use("let my_tokio_like = 1;"), None);
    }

    #[test]
    fn counts_libtest_summaries() {
        let out = "test result: ok. 24 passed; 0 failed; 1 ignored; 0 measured\n\
                   test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured\n";
        assert_eq!(super::test_counts(out), (26, 0, 1));
    }
}
