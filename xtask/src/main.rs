//! Project automation (std only), run as `cargo xtask <command>`:
//!
//! - `ci`: fmt, clippy, tests, docs, cargo-deny, layering, fuzz smoke
//!   (and, as the stack grows, interop against real peers).
//! - `fuzz [TARGET ...] [--seconds N]`: run the fuzzers for longer.

mod ci;
mod fuzz;
mod util;

use std::env;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci [--no-interop]               every check: fmt, clippy, tests, docs, cargo-deny,
                                  layering, fuzz smoke
  fuzz [TARGET ...] [--seconds N] run fuzz targets (all by default; 60 s each)
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "ci" => ci::main(rest),
        "fuzz" => fuzz::main(rest),
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
