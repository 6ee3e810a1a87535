//! JUnit XML for CI systems: one test suite per script, one test case per test (T4), and
//! a script that failed without tests running (a syntax error, a blocked import) as an
//! erroring case of its own, so a CI system shows every reason a check failed.
//!
//! Test cases carry `file` and `line` (where CI annotations point), suites their time and
//! the run's timestamp; a load failure's `<error>` holds its traceback.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::{LoadReport, ScriptLoad, ScriptProblem};
use crate::testing::{TestOutcome, TestResult};

/// When and for how long a run went, and where its scripts are.
#[derive(Debug, Clone)]
pub struct Run {
    /// When the run started.
    pub started: SystemTime,
    /// Its wall time.
    pub duration: Duration,
    /// The script directory as given on the command line: `file` attributes of load
    /// failures are this joined with the script's path.
    pub directory: PathBuf,
}

impl Run {
    fn timestamp(&self) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::<chrono::Utc>::from(self.started).fixed_offset()
    }
}

/// The JUnit document for a `relive check` run.
pub fn load_report(report: &LoadReport, run: &Run) -> String {
    let mut junit = Report::new(format!("relive check {}", report.namespace));
    junit.set_timestamp(run.timestamp()).set_time(run.duration);
    for script in &report.scripts {
        junit.add_test_suite(script_suite(script, run));
    }
    junit.to_string().expect("a report of plain strings serialises")
}

/// The JUnit document when relive could not do what was asked (exit 2): one erroring case
/// saying why, so a CI system that expects the file finds it and shows the reason.
pub fn relive_error(name: &str, message: &str, run: &Run) -> String {
    let mut junit = Report::new(format!("relive check {name}"));
    junit.set_timestamp(run.timestamp()).set_time(run.duration);
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(message);
    let mut case = TestCase::new("relive", status);
    case.set_classname("relive");
    let mut suite = TestSuite::new("relive");
    suite.set_timestamp(run.timestamp()).set_time(run.duration);
    suite.add_test_case(case);
    junit.add_test_suite(suite);
    junit.to_string().expect("a report of plain strings serialises")
}

fn script_suite(script: &ScriptLoad, run: &Run) -> TestSuite {
    let mut suite = TestSuite::new(script.path.as_str());
    let mut time = Duration::ZERO;
    if let Some(tests) = &script.tests {
        for result in &tests.results {
            time += duration(result);
            suite.add_test_case(test_case(result, script.path.as_str()));
        }
    }
    if let Some(problem) = script.load_error() {
        suite.add_test_case(load_case(script, problem, run));
    }
    suite.set_timestamp(run.timestamp()).set_time(time);
    suite
}

/// The erroring case of a script that failed for a reason its tests do not show.
fn load_case(script: &ScriptLoad, problem: &ScriptProblem, run: &Run) -> TestCase {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(problem.to_string());
    let failure = match problem {
        ScriptProblem::Error { failure }
        | ScriptProblem::Blocked { failure, .. }
        | ScriptProblem::Validate { failure } => Some(failure),
        _ => None,
    };
    if let Some(failure) = failure {
        status.set_type(failure.kind.as_str());
        status.set_description(failure.traceback.as_str());
    }
    let mut case = TestCase::new("load", status);
    case.set_classname(script.path.as_str());
    let file = run.directory.join(script.path.as_str());
    case.extra.insert("file".into(), shown_path(&file).into());
    if let Some(line) = failure.and_then(|f| f.line) {
        case.extra.insert("line".into(), line.to_string().into());
    }
    case
}

fn test_case(result: &TestResult, script: &str) -> TestCase {
    let status = match result.outcome {
        TestOutcome::Pass | TestOutcome::Xfail => TestCaseStatus::success(),
        TestOutcome::Skip => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(result.message.as_str());
            status
        }
        TestOutcome::Fail | TestOutcome::UnexpectedSuccess => non_success(NonSuccessKind::Failure, result),
        TestOutcome::Error => non_success(NonSuccessKind::Error, result),
    };
    // `game.ai.BrainTest.test_moves`; ids relive makes up (`test_a.py (loading the test
    // file)`, a fixture's name) are not dotted names and stay whole, in the script's class.
    let dotted = !result.id.contains(' ');
    let (classname, name) = match result.id.rsplit_once('.') {
        Some((classname, name)) if dotted => (classname, name),
        _ => (script, result.id.as_str()),
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    case.set_time(duration(result));
    if let Some(file) = &result.file {
        case.extra.insert("file".into(), shown_path(Path::new(file)).into());
    }
    if let Some(line) = result.line {
        case.extra.insert("line".into(), line.to_string().into());
    }
    if !result.stdout.is_empty() {
        case.set_system_out(result.stdout.as_str());
    }
    if !result.stderr.is_empty() {
        case.set_system_err(result.stderr.as_str());
    }
    case
}

fn duration(result: &TestResult) -> Duration {
    Duration::from_secs_f64(result.duration_ms.max(0.0) / 1000.0)
}

fn non_success(kind: NonSuccessKind, result: &TestResult) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(result.message.as_str());
    status.set_description(result.traceback.as_str());
    status
}

/// A path as CI annotations want it: relative to the working directory when under it.
fn shown_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let relative =
        std::env::current_dir().ok().and_then(|cwd| absolute.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative.unwrap_or(absolute).to_string_lossy().replace('\\', "/")
}
