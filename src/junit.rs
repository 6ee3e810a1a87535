//! JUnit XML for CI systems: one test suite per script, one test case per test (T4), and
//! a script that failed without tests running (a syntax error, a blocked import) as an
//! erroring case of its own, so a CI system shows every reason a check failed.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::LoadReport;
use crate::testing::{TestOutcome, TestResult};

/// The JUnit document for a `relive check` run.
pub fn load_report(report: &LoadReport) -> String {
    let mut junit = Report::new(format!("relive check {}", report.namespace));
    for script in &report.scripts {
        let mut suite = TestSuite::new(script.path.as_str());
        if let Some(tests) = &script.tests {
            suite.add_test_cases(tests.results.iter().map(test_case));
        }
        let tests_explain_it = script.tests.as_ref().is_some_and(|t| !t.is_green());
        if let Some(problem) = script.problem.as_ref().filter(|_| !tests_explain_it) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(problem.to_string());
            let mut case = TestCase::new("load", status);
            case.set_classname(script.path.as_str());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a report of plain strings serialises")
}

fn test_case(result: &TestResult) -> TestCase {
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
    let (classname, name) = result.id.rsplit_once('.').unwrap_or(("", result.id.as_str()));
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    case.set_time(Duration::from_secs_f64(result.duration_ms / 1000.0));
    if !result.stdout.is_empty() {
        case.set_system_out(result.stdout.as_str());
    }
    if !result.stderr.is_empty() {
        case.set_system_err(result.stderr.as_str());
    }
    case
}

fn non_success(kind: NonSuccessKind, result: &TestResult) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(result.message.as_str());
    status.set_description(result.traceback.as_str());
    status
}
