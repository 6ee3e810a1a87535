//! `relive scenario [PATH...]`: run scenario files, each in its own process, in parallel;
//! compare transcripts with their snapshots; exit 0 only when every scenario passed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;
use relive::scenario::snapshot::{self, Snapshot, Update};
use relive::scenario::{self, Found, Transcript};
use serde::Serialize;

use super::Format;

/// Arguments of `relive scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Scenario files or folders (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Accept the transcripts as the new snapshots (after reviewing the diffs).
    #[arg(long, conflicts_with = "no_snapshot")]
    update_snapshots: bool,
    /// Check expectations only; read and write no snapshot.
    #[arg(long)]
    no_snapshot: bool,
    /// Run one scenario in this process and print its transcript as JSON (used internally
    /// to give each scenario a fresh interpreter).
    #[arg(long, hide = true, requires = "name")]
    in_process: bool,
    /// The scenario's name, with --in-process.
    #[arg(long, hide = true)]
    name: Option<String>,
    /// Where --in-process writes the transcript (JSON).
    #[arg(long, hide = true, requires = "in_process")]
    transcript: Option<PathBuf>,
}

/// One scenario's result.
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    passed: bool,
    failures: Vec<String>,
    snapshot: String,
    /// Why it did not run on this Python (its `python` key); neither passed nor failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    #[serde(skip)]
    transcript: Transcript,
}

pub fn run(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    if args.in_process {
        return run_in_process(&args);
    }
    // Snapshot comparisons report their own failures; no panic noise on the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let paths = if args.paths.is_empty() { vec![PathBuf::from("scenarios")] } else { args.paths.clone() };
    let found = scenario::discover(&paths).context("cannot list the scenarios")?;
    let relive = std::env::current_exe().context("cannot find the relive binary")?;
    let update = if args.no_snapshot {
        Update::Never
    } else if args.update_snapshots {
        Update::Accept
    } else {
        Update::Compare
    };
    let started = std::time::Instant::now();
    let outcomes = run_all(&relive, &found, update);
    let passed = outcomes.iter().filter(|o| o.passed).count();
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let failed = outcomes.len() - passed - skipped;
    match args.format {
        Format::Human => {
            let mut text = String::new();
            for outcome in &outcomes {
                if let Some(reason) = &outcome.skipped {
                    writeln!(text, "skip {}: {reason}", outcome.name)?;
                    continue;
                }
                let mark = if outcome.passed { "ok  " } else { "FAIL" };
                writeln!(text, "{mark} {}{}", outcome.name, snapshot_note(&outcome.snapshot))?;
                for failure in &outcome.failures {
                    for line in failure.lines() {
                        writeln!(text, "       {line}")?;
                    }
                }
            }
            if outcomes.iter().any(|o| o.snapshot == "pending") {
                writeln!(
                    text,
                    "new transcripts were written as .snap.new files: review them with `cargo insta review`, or accept with --update-snapshots"
                )?;
            }
            let skipped = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
            let seconds = started.elapsed().as_secs_f64();
            writeln!(text, "{passed} passed, {failed} failed{skipped} ({seconds:.1} s)")?;
            super::emit::emit(&text)?;
        }
        Format::Json => super::emit::emit(&format!("{}\n", serde_json::to_string_pretty(&outcomes)?))?,
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&outcomes)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn snapshot_note(snapshot: &str) -> String {
    match snapshot {
        "pending" => " (new snapshot pending review)".into(),
        "written" => " (snapshot written)".into(),
        _ => String::new(),
    }
}

/// Runs every scenario, as many at once as there are cores.
fn run_all(relive: &std::path::Path, found: &[Found], update: Update) -> Vec<Outcome> {
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(found.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(item) = found.get(index) else { return };
                    let outcome = run_one(relive, item, update);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push((index, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, outcome)| outcome).collect()
}

fn run_one(relive: &std::path::Path, found: &Found, update: Update) -> Outcome {
    let transcript = scenario::run_isolated(relive, found);
    if let Some(reason) = transcript.skipped.clone() {
        let (name, snapshot) = (found.name.clone(), "not compared".into());
        return Outcome {
            name,
            passed: false,
            failures: Vec::new(),
            snapshot,
            skipped: Some(reason),
            transcript,
        };
    }
    let mut failures = transcript.failures();
    let snapshot = if transcript.error.is_some() {
        "skipped".to_string()
    } else {
        let text = transcript.to_string();
        match snapshot::check(
            &found.snapshots,
            &found.name,
            &transcript.description,
            &found.file,
            &text,
            update,
        ) {
            Snapshot::Matches => "matches".into(),
            Snapshot::Pending => "pending".into(),
            Snapshot::Written => "written".into(),
            Snapshot::Skipped => "skipped".into(),
            Snapshot::Differs(diff) => {
                failures.push(format!("the transcript differs from its snapshot:\n{diff}"));
                "differs".into()
            }
        }
    };
    Outcome {
        name: found.name.clone(),
        passed: failures.is_empty(),
        failures,
        snapshot,
        skipped: None,
        transcript,
    }
}

fn run_in_process(args: &ScenarioArgs) -> anyhow::Result<ExitCode> {
    let file = args.paths.first().context("--in-process needs one scenario file")?;
    let name = args.name.clone().unwrap_or_default();
    relive::scenario::runner::LogCapture::install().ok();
    let transcript = match relive::scenario::runner::load(file, &name) {
        Ok(scenario) => relive::scenario::runner::run(&scenario),
        Err(error) => Transcript { name, error: Some(error.to_string()), ..Transcript::default() },
    };
    let json = serde_json::to_string(&transcript)?;
    match &args.transcript {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => super::emit::emit(&format!("{json}\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn junit(outcomes: &[Outcome]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("relive scenario");
    let mut suite = TestSuite::new("scenarios");
    for outcome in outcomes {
        let status = if let Some(reason) = &outcome.skipped {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        } else if outcome.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(outcome.failures.first().cloned().unwrap_or_default());
            status.set_description(outcome.failures.join("\n"));
            status
        };
        let mut case = TestCase::new(outcome.name.as_str(), status);
        case.set_system_out(outcome.transcript.to_string());
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}
