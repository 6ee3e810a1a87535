//! The `relive` binary: `check`, `watch` and `scenario`, all in `relive::cli` (feature `cli`).
//!
//! Exit codes (`relive check --help`): 0 everything loaded and passed, 1 a script or test
//! failed, 2 relive could not do what was asked (usage errors, a missing folder, a taken
//! namespace), 5 no test found anywhere (unless `--allow-no-tests`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // The CLI lives in the library (feature `cli`) so `python -m relive` runs the same one.
    ExitCode::from(relive::cli::main(std::env::args_os()))
}
