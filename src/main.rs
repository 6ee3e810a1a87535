//! The `relive` command line: `check` (more commands join as they land).
//!
//! Exit codes: 0 success, 1 a script failed, 2 relive could not do what was asked (usage
//! errors, a missing folder, a taken namespace).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
