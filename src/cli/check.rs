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
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let namespace = match args.namespace {
        Some(namespace) => namespace,
        None => super::default_namespace(&args.dir)?,
    };
    let mut reloader = Reloader::builder().partial(args.partial).build()?;
    let report = reloader
        .add_directory(&namespace, &args.dir)
        .with_context(|| format!("cannot load {}", args.dir.display()))?;
    match args.format {
        Format::Human => print!("{report}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let ok = report.outcome == Outcome::Loaded && report.failures().next().is_none();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
