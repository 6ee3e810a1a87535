//! `relive check DIR`: load once, run the tests and report; the CI gate.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::{EXIT_ERROR, EXIT_FAILED, EXIT_NO_TESTS, EXIT_OK, Format};
use relive::{LoadReport, Outcome, Reloader, Totals};

/// The exit codes, shown by `relive check --help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  every script loaded and every test passed
  1  a script failed to load or a test failed
  2  relive could not do what was asked (bad arguments, a missing folder, a taken
     namespace, a report it could not write)
  5  no test was found anywhere (as pytest); --allow-no-tests (or --no-tests) makes it 0

Settings may also come from [tool.relive] in pyproject.toml (see the README). The rules
relive keeps (L1, T4, ... in reports) are explained in docs/semantics.md of the relive
repository.";

/// The version of the JSON document's layout; it changes when a field changes meaning or
/// goes away (new fields may appear without a change).
const SCHEMA_VERSION: u32 = 1;

/// Arguments of `relive check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    common: super::config::Common,
    /// Output format: readable text, or one JSON document on stdout (what scripts print
    /// goes to stderr).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Keep the scripts that load when others fail (they still fail the check).
    #[arg(long)]
    partial: bool,
    /// Exit 0 rather than 5 when no test is found anywhere.
    #[arg(long)]
    allow_no_tests: bool,
    /// Also write the results as JUnit XML to FILE (its folder is created); written
    /// whatever the outcome.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

/// The JSON document: the load report with a schema version and totals.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    totals: Totals,
    #[serde(flatten)]
    report: &'a LoadReport,
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    super::init_logging("warn");
    let started = (SystemTime::now(), Instant::now());
    let loaded = load(&args);
    let junit_run = relive::junit::Run {
        started: started.0,
        duration: started.1.elapsed(),
        directory: args.common.dir.clone(),
    };
    let (report, tests) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => {
            if let Some(path) = &args.junit {
                write_error_junit(path, &args, &err, &junit_run);
            }
            return Err(err);
        }
    };
    let written =
        args.junit.as_deref().map(|path| write_junit(path, &relive::junit::load_report(&report, &junit_run)));
    print_report(&report, args.format)?;
    if let Some(Err(err)) = written {
        eprintln!("error: {err:#}");
        return Ok(EXIT_ERROR);
    }
    let code = exit_code(&report, !tests || args.allow_no_tests);
    if code == EXIT_NO_TESTS {
        eprintln!("no test found in {} (exit 5; --allow-no-tests accepts that)", args.common.dir.display());
    }
    Ok(code)
}

/// Builds the reloader and loads the directory; with `--format json`, what scripts print
/// goes to stderr.
fn load(args: &CheckArgs) -> anyhow::Result<(LoadReport, bool)> {
    let settings = args.common.settings()?;
    super::venv::activate()?;
    let mut reloader = Reloader::builder()
        .partial(args.partial)
        .tests(settings.tests)
        .test_timeout(settings.test_timeout)
        .build()?;
    let redirect = match args.format {
        Format::Json => Some(super::stdout::StdoutToStderr::start()?),
        Format::Human => None,
    };
    let report = super::load(&mut reloader, &args.common.dir, settings.namespace.as_deref());
    if let Some(redirect) = redirect {
        redirect.restore()?;
    }
    let report = report?;
    if let Some(hint) = super::hint::namespace_hint(&report, &args.common.dir, settings.namespace.is_none()) {
        eprintln!("{hint}");
    }
    Ok((report, settings.tests))
}

fn print_report(report: &LoadReport, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Human => super::emit::emit(&format!("{report}{}\n", report.totals()))?,
        Format::Json => {
            let document = Document { schema_version: SCHEMA_VERSION, totals: report.totals(), report };
            super::emit::emit(&format!("{}\n", serde_json::to_string_pretty(&document)?))?;
        }
    }
    Ok(())
}

/// 0, 1 or 5 (see [`EXIT_CODES`]).
fn exit_code(report: &LoadReport, no_tests_allowed: bool) -> u8 {
    let totals = report.totals();
    if report.outcome != Outcome::Loaded || report.failures().next().is_some() || totals.failed > 0 {
        EXIT_FAILED
    } else if totals.tests_found == 0 && !no_tests_allowed {
        EXIT_NO_TESTS
    } else {
        EXIT_OK
    }
}

/// The JUnit file of a run relive could not do (exit 2). The error that stopped the run is
/// the one to report: a failure to write the file on top of it only goes to stderr.
fn write_error_junit(path: &Path, args: &CheckArgs, err: &anyhow::Error, run: &relive::junit::Run) {
    let name = args.common.namespace.clone().unwrap_or_else(|| args.common.dir.display().to_string());
    let text = relive::junit::relive_error(&name, &format!("{err:#}"), run);
    if let Err(write) = write_junit(path, &text) {
        eprintln!("error: {write:#}");
    }
}

/// Writes the JUnit file, creating its folder.
fn write_junit(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
