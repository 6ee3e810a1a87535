//! `relive check DIR`: load once and report; the CI gate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Format;
use relive::{Outcome, Reloader};

/// Arguments of `relive check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The script directory.
    dir: PathBuf,
    /// Base namespace (default: the directory's name).
    #[arg(long, short)]
    namespace: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Keep the scripts that load when others fail (they still fail the check).
    #[arg(long)]
    partial: bool,
    /// Do not discover or run the scripts' unit tests (T7).
    #[arg(long)]
    no_tests: bool,
    /// Per-script timeout in seconds for module-level code plus tests (T6).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    test_timeout: f64,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let test_timeout = super::positive_seconds("--test-timeout", args.test_timeout)?;
    let mut reloader =
        Reloader::builder().partial(args.partial).tests(!args.no_tests).test_timeout(test_timeout).build()?;
    let report = super::load(&mut reloader, &args.dir, args.namespace.as_deref())?;
    if let Some(path) = &args.junit {
        std::fs::write(path, relive::junit::load_report(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    match args.format {
        Format::Human => {
            print!("{report}");
            let (passed, failed, skipped) = report.test_totals();
            let skipped = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
            println!("{passed} passed, {failed} failed{skipped}");
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let ok = report.outcome == Outcome::Loaded && report.failures().next().is_none();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
