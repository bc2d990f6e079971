//! Project automation (std and serde_json only), run as `cargo xtask <command>`:
//!
//! - `ci`: fmt, clippy, tests, docs, cargo-deny, layering, fuzz smoke and
//!   interop against real peers.
//! - `interop [--peer ours|tgt|linux|targetcli|rbd|all] [--quick]`: our stack against
//!   third-party iSCSI peers (libiscsi, qemu, tgtd, LIO) on 127.0.0.1.
//! - `bench [--quick] [--micro]`: our target side by side with tgtd under
//!   qemu-img bench, iscsi-perf and our `iscsi bench`; report and chart.
//! - `fuzz [TARGET ...] [--seconds N]`: run the fuzzers for longer.
//! - `guest build | run`: the QEMU guest with Linux's own initiator and
//!   target (open-iscsi, LIO) that interop uses on hosts without them.
//! - `ceph up | down [DIR]`: a throw-away one-node Ceph cluster on
//!   127.0.0.1 for RBD-backed LUNs; `rbd-test`: the librbd binding's tests
//!   against one, under AddressSanitizer.

mod bench;
mod ceph;
mod chart;
mod ci;
mod cunit;
mod fio;
mod fuzz;
mod guest;
mod initiator;
mod interop;
mod linux;
mod lio;
mod live;
mod peers;
mod probe_api;
mod rbd;
mod util;

use std::env;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci [--no-interop]               every check: fmt, clippy, tests, docs, cargo-deny,
                                  layering, fuzz smoke, interop, bench --quick
  interop [--peer ours|tgt|linux|targetcli|rbd|all] [--quick] [--no-build]
                                  our target against libiscsi, qemu and the
                                  iscsi-test-cu suite; tgtd as the reference
  bench [--quick] [--micro] [--rounds N] [--seconds S] [--no-build]
                                  ours vs tgtd: qemu-img bench, iscsi-perf, iscsi bench;
                                  target/bench/report.md and report.png
  fuzz [TARGET ...] [--seconds N] run fuzz targets (all by default; 60 s each)
  guest build [--force]           the Linux guest (Debian kernel, open-iscsi, LIO) for
                                  interop --peer linux|targetcli; cached
  guest run DIR [--job NAME] [--hostfwd H:G]... [--timeout S] [--shell]
                                  boot it and run DIR/NAME inside; its exit code
  ceph up|down [DIR]              a one-node Ceph cluster (mon + memstore OSD, pool rbd)
                                  on 127.0.0.1 in DIR (target/ceph); up prints CEPH_CONF
  rbd-test                        the librbd binding's tests against such a cluster,
                                  under AddressSanitizer
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "bench" => bench::main(rest),
        "ceph" => ceph::main(rest),
        "ci" => ci::main(rest),
        "fuzz" => fuzz::main(rest),
        "guest" => guest::main(rest),
        "interop" => interop::main(rest),
        "rbd-test" => ceph::rbd_test().map(|summary| eprintln!("rbd-test: {summary}")),
        "-h" | "--help" | "help" => {
            eprint!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
