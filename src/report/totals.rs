//! Counts over a whole load, for `relive check`'s closing line and JSON document: a script
//! that failed to load for a reason its tests do not show counts as one failure.

use std::fmt;

use serde::Serialize;

use super::{LoadReport, ScriptLoad, ScriptProblem};

impl LoadReport {
    /// The counts a closing line and the JSON document give: failed tests plus scripts that
    /// failed to load for a reason their tests do not show.
    pub fn totals(&self) -> Totals {
        let (passed, failed_tests, skipped) = self.test_totals();
        let load_errors = self.scripts.iter().filter(|s| s.load_error().is_some()).count();
        Totals {
            scripts: self.scripts.len(),
            scripts_failed: self.failures().count(),
            load_errors,
            tests_found: self.scripts.iter().filter_map(|s| s.tests.as_ref()).map(|t| t.found).sum(),
            passed,
            failed: failed_tests + load_errors,
            skipped,
        }
    }
}

impl ScriptLoad {
    /// Why the script failed when its tests do not already say it (a syntax error, a
    /// blocked import, a timeout in module-level code): counted as one failure of its own.
    pub fn load_error(&self) -> Option<&ScriptProblem> {
        let tests_explain_it = self.tests.as_ref().is_some_and(|t| !t.is_green());
        self.problem.as_ref().filter(|_| !tests_explain_it)
    }
}

/// Counts over a whole load, for the closing line and the JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    /// Scripts seen.
    pub scripts: usize,
    /// Scripts that did not load.
    pub scripts_failed: usize,
    /// Scripts that failed for a reason other than their tests (each counted in `failed`).
    pub load_errors: usize,
    /// Tests discovered over every script.
    pub tests_found: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed or errored, plus `load_errors`.
    pub failed: usize,
    /// Tests skipped.
    pub skipped: usize,
}

impl fmt::Display for Totals {
    /// `N passed, N failed` (`, N skipped` when some were).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}
