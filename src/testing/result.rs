//! Per-test outcomes as plain text (T4, T6): never TestCase, result or traceback objects,
//! which would keep candidates alive (R12).

use std::fmt;

use serde::Serialize;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TestOutcome {
    /// Passed.
    Pass,
    /// An assertion failed.
    Fail,
    /// The test raised (timeouts, `sys.exit` and `KeyboardInterrupt` included).
    Error,
    /// Skipped.
    Skip,
    /// An expected failure that failed.
    Xfail,
    /// An expected failure that passed: counts as failed (T4).
    UnexpectedSuccess,
}

impl TestOutcome {
    /// Whether this outcome rejects the candidate (T4).
    pub fn is_failure(self) -> bool {
        matches!(self, TestOutcome::Fail | TestOutcome::Error | TestOutcome::UnexpectedSuccess)
    }

    /// Every outcome, in report order.
    pub const ALL: [TestOutcome; 6] = [
        TestOutcome::Pass,
        TestOutcome::Fail,
        TestOutcome::Error,
        TestOutcome::Skip,
        TestOutcome::Xfail,
        TestOutcome::UnexpectedSuccess,
    ];

    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Pass => "pass",
            TestOutcome::Fail => "fail",
            TestOutcome::Error => "error",
            TestOutcome::Skip => "skip",
            TestOutcome::Xfail => "xfail",
            TestOutcome::UnexpectedSuccess => "unexpected-success",
        }
    }
}

/// A word that names no [`TestOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown test outcome {0:?}: expected one of pass, fail, error, skip, xfail, unexpected-success")]
pub struct UnknownTestOutcome(pub String);

impl std::str::FromStr for TestOutcome {
    type Err = UnknownTestOutcome;

    fn from_str(word: &str) -> Result<TestOutcome, UnknownTestOutcome> {
        TestOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == word)
            .ok_or_else(|| UnknownTestOutcome(word.to_string()))
    }
}

impl fmt::Display for TestOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// The unittest id: `game.ai.BrainTest.test_moves`.
    pub id: String,
    /// How it ended.
    pub outcome: TestOutcome,
    /// Wall time in milliseconds (not part of transcripts).
    pub duration_ms: f64,
    /// The assertion or exception message, or the skip reason.
    pub message: String,
    /// The traceback as unittest formats it; empty when it passed.
    pub traceback: String,
    /// What the test printed to stdout.
    pub stdout: String,
    /// What the test printed to stderr.
    pub stderr: String,
    /// For a sub-test, the id of the test it belongs to (T3: counted once with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The file defining the test function, when known (JUnit's `file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line of the test function's `def`, when known (JUnit's `line`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl TestResult {
    /// The test this result counts for: its parent for a sub-test, else itself (T3).
    pub fn test_id(&self) -> &str {
        self.parent.as_deref().unwrap_or(&self.id)
    }
}

/// The tests of one script, from one run (T3, T4).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestReport {
    /// How many tests were discovered.
    pub found: usize,
    /// Every test's result, in run order.
    pub results: Vec<TestResult>,
    /// Whether the per-script timeout expired during the run (T6).
    pub timed_out: bool,
    /// Whether the test file failed to load, so its tests never ran (T3); its error is the
    /// one result.
    pub test_file_failed: bool,
    /// How many tests the test file itself defines, when there is one (T8 warns on 0).
    #[serde(skip)]
    pub test_file_found: Option<usize>,
    /// A test file that failed to load on a relive name not exported yet: what it waits for
    /// (L6), so its script is blocked with it instead of failing.
    #[serde(skip)]
    pub waiting: Option<TestFileWait>,
}

/// A test file that failed to load on a relive name not exported yet (L6).
#[derive(Debug, Clone, PartialEq)]
pub struct TestFileWait {
    /// The name (or namespace) it waits for.
    pub wait: crate::report::Wait,
    /// The exception's type name: `ImportError`.
    pub kind: String,
    /// The exception's message.
    pub message: String,
}

impl TestReport {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| o == TestOutcome::Pass)
    }

    /// Tests that failed, errored or unexpectedly succeeded; a test with failing sub-tests
    /// counts once (T3).
    pub fn failed(&self) -> usize {
        let failing: std::collections::BTreeSet<&str> = self.failures().map(TestResult::test_id).collect();
        failing.len()
    }

    /// Tests skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| o == TestOutcome::Skip)
    }

    /// Expected failures.
    pub fn expected_failures(&self) -> usize {
        self.count(|o| o == TestOutcome::Xfail)
    }

    /// Whether the tests let the candidate through (T4).
    pub fn is_green(&self) -> bool {
        self.failed() == 0 && !self.timed_out
    }

    /// The results that reject the candidate.
    pub fn failures(&self) -> impl Iterator<Item = &TestResult> {
        self.results.iter().filter(|r| r.outcome.is_failure())
    }

    fn count(&self, which: impl Fn(TestOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| which(r.outcome)).count()
    }
}

/// `1 test found`, `3 tests found` (T3).
pub fn tests_found(n: usize) -> String {
    if n == 1 { "1 test found".to_string() } else { format!("{n} tests found") }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} passed, {} failed", tests_found(self.found), self.passed(), self.failed())?;
        if self.skipped() > 0 {
            write!(f, ", {} skipped", self.skipped())?;
        }
        if self.expected_failures() > 0 {
            write!(f, ", {} expected failures", self.expected_failures())?;
        }
        if self.timed_out {
            write!(f, " (timed out)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t4_test_outcomes_read_back_from_their_words_and_an_unknown_word_is_an_error() {
        for outcome in TestOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<TestOutcome>(), Ok(outcome));
        }
        assert_eq!("passed".parse::<TestOutcome>(), Err(UnknownTestOutcome("passed".into())));
    }
}
