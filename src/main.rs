//! The `relive` command line: `check` (more commands join as they land).
//!
//! Exit codes: 0 success, 1 a script failed, 2 relive could not do what was asked (usage
//! errors, a missing folder, a taken namespace).

use std::process::ExitCode;

fn main() -> ExitCode {
    // The CLI lives in the library (feature `cli`) so `python -m relive` runs the same one.
    ExitCode::from(relive::cli::main(std::env::args_os()))
}
