//! What a reload did: [`ReloadReport`], why a change was rejected, and what changed.

use std::fmt;

use serde::Serialize;

use super::{Outcome, ScriptPath, ScriptProblem, Wait};
use crate::python::PyFailure;
use crate::testing::TestReport;

/// Why a reload was rejected (R1, R2, R7, R14).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RejectReason {
    /// The file could not be read or decoded, or did not compile or execute.
    Script {
        /// What went wrong with the script.
        problem: ScriptProblem,
    },
    /// A change relive does not apply in place (R7): one line naming the class and change.
    Shape {
        /// The message, e.g. `class P: __slots__ changed ('x',) -> ('x', 'y')`.
        message: String,
    },
    /// Applying failed half-way; every change was undone (R2).
    Apply {
        /// The exception, as text.
        failure: Box<PyFailure>,
    },
    /// The candidate needs a name a rejected script of the same batch was adding (R14).
    NeedsRejected {
        /// What it waits for.
        waits_for: Wait,
        /// The rejected script.
        script: ScriptPath,
    },
    /// The candidate was built against a script of the same batch that was rejected (R15).
    DependsOnRejected {
        /// The rejected script.
        script: ScriptPath,
    },
    /// A script that depends on this one failed against its candidate (R15): the change
    /// breaks it.
    BreaksDependent {
        /// The dependent.
        dependent: ScriptPath,
        /// Why the dependent failed (its failing test, first).
        problem: String,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Script { problem } => write!(f, "{problem}"),
            RejectReason::Shape { message } => write!(f, "{message}"),
            RejectReason::Apply { failure } => write!(f, "applying failed and was undone: {failure}"),
            RejectReason::NeedsRejected { waits_for, script } => {
                write!(f, "needs {waits_for}, which the rejected {script} was adding")
            }
            RejectReason::DependsOnRejected { script } => {
                write!(f, "depends on {script}, which was rejected")
            }
            RejectReason::BreaksDependent { dependent, problem } => {
                write!(f, "breaks its dependent {dependent}: {problem}")
            }
        }
    }
}

/// What changed in the live program when a reload was applied (R3–R10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Classes updated in place, by qualified name.
    pub classes_updated: Vec<String>,
    /// Classes new in this version.
    pub classes_created: Vec<String>,
    /// Functions whose code was replaced in place (R5).
    pub functions_rebound: Vec<String>,
    /// Functions whose free variables changed: old references forward to the new one (R5).
    pub functions_forwarded: Vec<String>,
    /// Module-level values replaced (R8).
    pub values_replaced: Vec<String>,
    /// Module-level values kept because their statement did not change (R8).
    pub values_kept: Vec<String>,
    /// Names whose kind changed (`name: class -> function`, R9).
    pub kind_changed: Vec<String>,
    /// Names the new version no longer defines, left in place (R10).
    pub leaked: Vec<String>,
    /// Names removed because of `prune` (R10).
    pub pruned: Vec<String>,
    /// Leaked names this version defines again (R10).
    pub reclaimed: Vec<String>,
}

/// What happened to one script in a reload (R1–R14, O1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    /// Path relative to the script directory.
    pub path: ScriptPath,
    /// Dotted namespace name.
    pub namespace: String,
    /// `reloaded`, `rejected`, `unchanged`, `loaded`, `pending` or `removed`.
    pub outcome: Outcome,
    /// The version in effect afterwards (`None` for a removed or pending script).
    pub version: Option<u32>,
    /// What changed, for applied reloads.
    pub changes: Option<Changes>,
    /// Why it was rejected (or why a new script is pending).
    pub reason: Option<RejectReason>,
    /// The tests that ran against the candidate (or, for `retested`, the code in effect).
    pub tests: Option<TestReport>,
    /// For a rejection: the new version's code ran, so effects it had outside its own
    /// globals (appending to another script's registry, configuring logging) may exist and
    /// are not undone (R1).
    pub outside_effects: bool,
    /// The script joined the batch as a dependent (R15): its file did not change, it was
    /// rebuilt or retested because it imports from a script that did. Its file on disk is
    /// the code in effect, rejected or not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dependent: bool,
    /// Wall time of the whole reload in milliseconds, from reading the file to the report
    /// (not part of transcripts).
    pub duration_ms: f64,
    /// Where `duration_ms` went (not part of transcripts).
    pub timings: Timings,
}

/// Where a reload's time went, in milliseconds: the parts add up to `duration_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Reading the file, W1's wait for a writer to finish included.
    pub read_ms: f64,
    /// Decoding, parsing and compiling it.
    pub compile_ms: f64,
    /// Running the candidate's module-level code and taking its exports.
    pub execute_ms: f64,
    /// Its tests.
    pub test_ms: f64,
    /// The rest: dependents, planning and committing the apply (R8, R8a), bookkeeping.
    pub apply_ms: f64,
}

impl Timings {
    /// These timings with `apply_ms` set to what `total_ms` leaves after the other parts.
    pub(crate) fn rest_of(self, total_ms: f64) -> Timings {
        let parts = self.read_ms + self.compile_ms + self.execute_ms + self.test_ms;
        Timings { apply_ms: (total_ms - parts).max(0.0), ..self }
    }
}

impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {:.1} + compile {:.1} + execute {:.1} + test {:.1} + apply {:.1} ms",
            self.read_ms, self.compile_ms, self.execute_ms, self.test_ms, self.apply_ms
        )
    }
}

impl ReloadReport {
    /// What the report says after its path and outcome: the version, the reason, the tests
    /// and the changes (`" (version 2); 1 test found: ..."`), for output that shows the path
    /// and the outcome in its own way.
    pub fn details(&self) -> impl fmt::Display + '_ {
        ReloadDetails(self)
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}{}", self.path, self.outcome, self.details())
    }
}

struct ReloadDetails<'a>(&'a ReloadReport);

impl fmt::Display for ReloadDetails<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        if let Some(version) = report.version.filter(|_| report.outcome == Outcome::Reloaded) {
            write!(f, " (version {version})")?;
        }
        if let Some(reason) = &report.reason {
            write!(f, ": {reason}")?;
        }
        if let Some(tests) = &report.tests {
            write!(f, "; {tests}")?;
        }
        if report.outside_effects {
            write!(f, "; effects the new code had outside its globals may exist and are not undone")?;
        }
        if let Some(changes) = &report.changes {
            let parts = [
                ("classes updated", &changes.classes_updated),
                ("classes created", &changes.classes_created),
                ("functions rebound", &changes.functions_rebound),
                ("functions forwarded", &changes.functions_forwarded),
                ("values replaced", &changes.values_replaced),
                ("leaked", &changes.leaked),
                ("pruned", &changes.pruned),
                ("reclaimed", &changes.reclaimed),
                ("kind changed", &changes.kind_changed),
            ];
            let described: Vec<String> = parts
                .iter()
                .filter(|(_, names)| !names.is_empty())
                .map(|(label, names)| format!("{label}: {}", names.join(", ")))
                .collect();
            if !described.is_empty() {
                write!(f, "; {}", described.join("; "))?;
            }
        }
        Ok(())
    }
}
