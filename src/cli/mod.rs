//! Argument parsing and dispatch; one file per command.

mod check;
mod config;
mod emit;
mod hint;
mod paint;
mod scenario;
mod stdout;
mod venv;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: everything loaded and every test passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: a script failed to load or a test failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: relive could not do what was asked (bad arguments, a missing folder, a taken
/// namespace, a report it could not write, a virtualenv of another Python).
pub const EXIT_ERROR: u8 = 2;
/// Exit code: no test was found anywhere (as pytest's 5); `--allow-no-tests` makes it 0.
pub const EXIT_NO_TESTS: u8 = 5;

/// Where the rules cited by reports are explained.
const RULES: &str = "The rules relive keeps (L1, T4, R8, ... in reports) are explained in docs/semantics.md \
of the relive repository.";

/// Live-reload directories of Python scripts, gated by their unit tests.
#[derive(Debug, Parser)]
#[command(name = "relive", version, about, after_help = RULES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a script directory once, run its tests and report: the CI gate.
    #[command(after_help = check::EXIT_CODES)]
    Check(check::CheckArgs),
    /// Load a script directory, then reload every change until Ctrl-C.
    Watch(watch::WatchArgs),
    /// Run scenario files (default `scenarios/`) and compare their transcripts with snapshots.
    Scenario(scenario::ScenarioArgs),
}

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Readable text.
    #[default]
    Human,
    /// One JSON document.
    Json,
}

/// The whole command line, shared by the `relive` binary and `python -m relive`: parses
/// `args` (program name first), runs the command, prints any error, and returns the exit
/// code ([`EXIT_OK`], [`EXIT_FAILED`], [`EXIT_ERROR`], [`EXIT_NO_TESTS`]).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // As clap's own `parse()`: help and version exit 0, usage errors 2.
            let _ = err.print();
            return if err.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_ERROR
        }
    }
}

/// Runs the parsed command; returns its exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let code = |c: ExitCode| if c == ExitCode::SUCCESS { EXIT_OK } else { EXIT_FAILED };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Watch(args) => watch::run(args).map(code),
        Command::Scenario(args) => scenario::run(args).map(code),
    }
}

/// Sets up `log` output on stderr; `RELIVE_LOG` (env_logger syntax) overrides `default`.
fn init_logging(default: &str) {
    let env = env_logger::Env::default().filter_or("RELIVE_LOG", default);
    // `try_init`: a Python host may run several commands in one process.
    let _ = env_logger::Builder::from_env(env).format_timestamp(None).format_target(false).try_init();
}

/// Loads `dir` under `namespace` (default: the folder's name), as `check` and `watch` do.
fn load(
    reloader: &mut relive::Reloader,
    dir: &std::path::Path,
    namespace: Option<&str>,
) -> anyhow::Result<relive::LoadReport> {
    use anyhow::Context;
    let name = match namespace {
        Some(namespace) => namespace.to_string(),
        None => default_namespace(dir)?,
    };
    reloader
        .add_directory(&name, dir)
        .map_err(|err| explain_load_error(err, namespace.is_none()))
        .with_context(|| format!("cannot load {}", dir.display()))
}

/// Checks a seconds argument: positive and finite.
fn positive_seconds(flag: &str, value: f64) -> anyhow::Result<std::time::Duration> {
    if value > 0.0 && value.is_finite() {
        Ok(std::time::Duration::from_secs_f64(value))
    } else {
        anyhow::bail!("{flag} must be a positive number of seconds")
    }
}

/// Adds the fix to a load error when the namespace was the folder's name by default.
fn explain_load_error(err: relive::Error, defaulted: bool) -> anyhow::Error {
    match err {
        relive::Error::InvalidNamespace { .. } | relive::Error::NamespaceTaken { .. } if defaulted => {
            anyhow::anyhow!(
                "{err} (the namespace defaults to the folder's name: give one with --namespace NAME)"
            )
        }
        err => anyhow::Error::new(err),
    }
}

/// The namespace for a directory when none is given: its folder name.
fn default_namespace(dir: &std::path::Path) -> anyhow::Result<String> {
    let absolute = std::path::absolute(dir)?;
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("cannot name a namespace after {}: give --namespace", dir.display()))
}
