//! Reports: what a load (and later a reload or a test run) did, as plain data.
//!
//! Reports hold strings, numbers, enums and relative paths only, never Python objects, so
//! they cannot keep a candidate alive (R12). Each renders for people through `Display` and
//! for machines through `Serialize`; neither is derived from the other. Nothing here prints.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::layout::ScriptPath;
use crate::python::PyFailure;
use crate::testing::TestReport;

mod reload;
mod totals;
pub use reload::{Changes, RejectReason, ReloadReport, Timings};
pub use totals::Totals;

/// The outcome words of the contract, shared by reports and scenario expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// A directory, or a new or formerly pending script, went live.
    Loaded,
    /// A load failed; nothing of it was kept (L7).
    LoadFailed,
    /// A new script could not load yet and waits (W2, L7 `partial`).
    Pending,
    /// A reload was applied.
    Reloaded,
    /// A reload was rejected; the old code keeps running.
    Rejected,
    /// Only a test file changed; its script's tests ran again (T5).
    Retested,
    /// A script or directory was removed.
    Removed,
    /// The file's bytes equal the version in effect (R11).
    Unchanged,
}

impl Outcome {
    /// Every outcome, in the contract's order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Loaded,
        Outcome::LoadFailed,
        Outcome::Pending,
        Outcome::Reloaded,
        Outcome::Rejected,
        Outcome::Retested,
        Outcome::Removed,
        Outcome::Unchanged,
    ];

    /// The contract's word for this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Loaded => "loaded",
            Outcome::LoadFailed => "load-failed",
            Outcome::Pending => "pending",
            Outcome::Reloaded => "reloaded",
            Outcome::Rejected => "rejected",
            Outcome::Retested => "retested",
            Outcome::Removed => "removed",
            Outcome::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the contract's outcomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown outcome {0:?}: expected one of loaded, load-failed, pending, reloaded, rejected, retested, removed, unchanged"
)]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(word: &str) -> Result<Outcome, UnknownOutcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word).ok_or_else(|| UnknownOutcome(word.to_string()))
    }
}

/// What a blocked script waits for (L6).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Wait {
    /// A name in a relive namespace: `game.ai.Brain`.
    Name {
        /// Dotted namespace name.
        namespace: String,
        /// The missing name.
        name: String,
    },
    /// A namespace that does not exist (an `import game.nothing`).
    Namespace {
        /// Dotted namespace name.
        namespace: String,
    },
    /// Something in a relive namespace that could not be told from the error.
    Anything {
        /// The namespace the error was about.
        namespace: String,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::Name { namespace, name } => write!(f, "{namespace}.{name}"),
            Wait::Namespace { namespace } => write!(f, "namespace {namespace}"),
            Wait::Anything { namespace } => write!(f, "something new in {namespace}"),
        }
    }
}

/// Why a script did not load.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ScriptProblem {
    /// The file could not be read.
    Unreadable {
        /// The I/O error.
        message: String,
    },
    /// The bytes could not be decoded as Python source (PEP 263).
    Undecodable {
        /// Python's decoding error.
        message: String,
    },
    /// Compiling or executing the script raised (syntax errors included).
    Error {
        /// The exception, as text.
        failure: Box<PyFailure>,
    },
    /// The script waits for a name no script of the directory exports (L6).
    Blocked {
        /// What it waits for.
        waits_for: Wait,
        /// The import error it last raised, as text.
        failure: Box<PyFailure>,
    },
    /// The script's folder cannot be a namespace (L1).
    Folder {
        /// The error, naming the folder.
        message: String,
    },
    /// A validate callback rejected the candidate (R13).
    Validate {
        /// What it raised.
        failure: Box<PyFailure>,
    },
    /// The script's tests failed, errored or unexpectedly succeeded (T4).
    Tests {
        /// How many tests were found.
        found: usize,
        /// How many failed.
        failed: usize,
        /// The first failing test's id and message.
        first: String,
    },
    /// The script's test file could not be loaded, so its tests never ran (T3).
    TestFile {
        /// The test file's error: its id and message.
        error: String,
    },
    /// The per-script timeout expired (T6, E2).
    Timeout {
        /// The timeout.
        seconds: f64,
        /// `module-level code` or `tests`.
        during: String,
        /// Whether the worker thread was abandoned, blocked inside C.
        abandoned: bool,
    },
    /// A stop was requested while the candidate or its tests ran: interrupted (W4).
    Stopped {
        /// `module-level code` or `tests`.
        during: String,
    },
    /// The script is blocked on a name bound by another blocked script, in a cycle (L6).
    Cycle {
        /// What it waits for.
        waits_for: Wait,
        /// The cycle, starting and ending at the smallest path: `a.py -> b.py -> a.py`.
        cycle: String,
    },
}

impl fmt::Display for ScriptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptProblem::Unreadable { message } => write!(f, "cannot read file: {message}"),
            ScriptProblem::Undecodable { message } => write!(f, "cannot decode source: {message}"),
            ScriptProblem::Error { failure } => match failure.location() {
                Some(at) => write!(f, "{failure} (at {at})"),
                None => write!(f, "{failure}"),
            },
            ScriptProblem::Blocked { waits_for, failure } => {
                write!(f, "blocked: waits for {waits_for} ({failure})")
            }
            ScriptProblem::Folder { message } => write!(f, "{message}"),
            ScriptProblem::Validate { failure } => write!(f, "a validate callback rejected it: {failure}"),
            ScriptProblem::TestFile { error } => write!(f, "its test file did not load ({error})"),
            ScriptProblem::Tests { found, failed, first } => {
                write!(f, "tests failed: {failed} of {found} ({first})")
            }
            ScriptProblem::Timeout { seconds, during, abandoned } => {
                write!(f, "timed out after {seconds} s in {during}")?;
                if *abandoned {
                    write!(f, "; the worker thread was abandoned, blocked inside C")?;
                }
                Ok(())
            }
            ScriptProblem::Cycle { waits_for, cycle } => {
                write!(f, "blocked in a cycle: waits for {waits_for}; cycle: {cycle}")
            }
            ScriptProblem::Stopped { during } => write!(f, "stopped: a stop was requested during {during}"),
        }
    }
}

/// One script's part in a load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptLoad {
    /// Path relative to the script directory.
    pub path: ScriptPath,
    /// Dotted name of the namespace the script contributes to.
    pub namespace: String,
    /// `loaded`, `load-failed`, or `pending` (partial loads).
    pub outcome: Outcome,
    /// How many times the script's module-level code ran during this load (L6).
    pub executions: u32,
    /// Names the script exports into its namespace, sorted (L4); duplicates excluded.
    pub contributions: Vec<String>,
    /// Why it did not load, when it did not.
    pub problem: Option<ScriptProblem>,
    /// Its tests, from the execution that got furthest (T3); `None` with tests off.
    pub tests: Option<TestReport>,
}

/// A name exported by two scripts of one namespace, or by a script and a sub-namespace (L5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// Dotted namespace name.
    pub namespace: String,
    /// The duplicated name.
    pub name: String,
    /// The winner: the script first in sorted path order, or the sub-namespace.
    pub kept: String,
    /// The script whose export was dropped.
    pub ignored: ScriptPath,
}

impl fmt::Display for Duplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "duplicate name {}.{}: {} ignored, {} kept",
            self.namespace, self.name, self.ignored, self.kept
        )
    }
}

/// What `add_directory` did (L1–L8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// Base namespace of the directory.
    pub namespace: String,
    /// The directory as given.
    pub directory: String,
    /// `loaded` or `load-failed`.
    pub outcome: Outcome,
    /// Whether the load kept what succeeded (L7 `partial`).
    pub partial: bool,
    /// Namespaces the directory owns after the load (none after a failed load), sorted.
    pub namespaces: Vec<String>,
    /// Every script, sorted by path.
    pub scripts: Vec<ScriptLoad>,
    /// Duplicated names (L5), sorted.
    pub duplicates: Vec<Duplicate>,
    /// Import cycles among blocked scripts (L6): `a.py -> c.py -> b.py -> a.py`.
    pub cycles: Vec<String>,
    /// Total executions of module-level code (L6: close to the number of scripts).
    pub executions: u32,
}

impl LoadReport {
    /// The scripts that did not load.
    pub fn failures(&self) -> impl Iterator<Item = &ScriptLoad> {
        self.scripts.iter().filter(|s| s.problem.is_some())
    }

    /// The script at `path`, if the load saw it.
    pub fn script(&self, path: &str) -> Option<&ScriptLoad> {
        self.scripts.iter().find(|s| s.path.as_str() == path)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        let total = self.scripts.len();
        match self.outcome {
            Outcome::LoadFailed => writeln!(
                f,
                "load failed: {} from {}: {failed} of {total} {} failed; nothing was kept",
                self.namespace,
                self.directory,
                plural(total, "script", "scripts"),
            )?,
            _ => {
                write!(
                    f,
                    "loaded {} from {}: {} {} in {} {} ({})",
                    self.namespace,
                    self.directory,
                    total - failed,
                    plural(total - failed, "script", "scripts"),
                    self.namespaces.len(),
                    plural(self.namespaces.len(), "namespace", "namespaces"),
                    self.namespaces.join(", "),
                )?;
                if failed > 0 {
                    write!(f, "; {failed} pending")?;
                }
                writeln!(f)?
            }
        }
        let width = self.scripts.iter().map(|s| s.path.as_str().len()).max().unwrap_or(0);
        for script in &self.scripts {
            match &script.problem {
                None => {
                    let names = if script.contributions.is_empty() {
                        "(exports nothing)".to_string()
                    } else {
                        script.contributions.join(", ")
                    };
                    let status = if self.outcome == Outcome::LoadFailed { "ran, undone" } else { "ok" };
                    writeln!(
                        f,
                        "  {:width$}  {status:<11}  {}: {names}",
                        script.path.as_str(),
                        script.namespace
                    )?
                }
                Some(problem) => writeln!(
                    f,
                    "  {:width$}  {:<11}  {}",
                    script.path.as_str(),
                    script.outcome.as_str(),
                    indent_lines(&problem.to_string(), &" ".repeat(width + 17)),
                )?,
            }
            if let Some(ScriptProblem::Error { failure } | ScriptProblem::Validate { failure }) =
                &script.problem
            {
                for line in failure.traceback.lines() {
                    writeln!(f, "      {line}")?;
                }
            }
            if let Some(tests) = &script.tests {
                write_tests(f, tests, "      ")?;
            }
        }
        for cycle in &self.cycles {
            writeln!(f, "  cycle: {cycle}")?;
        }
        for duplicate in &self.duplicates {
            writeln!(f, "  warning: {duplicate}")?;
        }
        Ok(())
    }
}

/// A test summary line, then each failing test with its message, its traceback and what
/// it printed, indented under it.
fn write_tests(f: &mut fmt::Formatter<'_>, tests: &TestReport, indent: &str) -> fmt::Result {
    writeln!(f, "{indent}{tests}")?;
    let inner = format!("{indent}  ");
    for failure in tests.failures() {
        writeln!(
            f,
            "{indent}{} {}: {}",
            failure.outcome.as_str().to_uppercase(),
            failure.id,
            indent_lines(&failure.message, &inner)
        )?;
        for line in failure.traceback.lines() {
            writeln!(f, "{inner}{line}")?;
        }
        for (stream, text) in [("stdout", &failure.stdout), ("stderr", &failure.stderr)] {
            if !text.is_empty() {
                writeln!(f, "{inner}captured {stream}:")?;
                for line in text.lines() {
                    writeln!(f, "{inner}  {line}")?;
                }
            }
        }
    }
    Ok(())
}

/// `text` with every line after the first indented by `indent`, so a multi-line message
/// stays under the line that introduces it.
pub fn indent_lines(text: &str, indent: &str) -> String {
    text.trim_end_matches('\n').replace('\n', &format!("\n{indent}"))
}

impl LoadReport {
    /// Totals over every script's tests: (passed, failed, skipped).
    pub fn test_totals(&self) -> (usize, usize, usize) {
        self.scripts
            .iter()
            .filter_map(|s| s.tests.as_ref())
            .fold((0, 0, 0), |(p, f, s), t| (p + t.passed(), f + t.failed(), s + t.skipped()))
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// What `remove_directory` did (L9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoveReport {
    /// Base namespace of the directory.
    pub namespace: String,
    /// The directory as given when it was added.
    pub directory: String,
    /// Namespaces removed, sorted.
    pub namespaces: Vec<String>,
    /// How many scripts were forgotten.
    pub scripts: usize,
}

impl fmt::Display for RemoveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} from {}: {} {}, namespaces {}",
            self.namespace,
            self.directory,
            self.scripts,
            plural(self.scripts, "script", "scripts"),
            self.namespaces.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reads_back_from_its_word_and_serde_agrees() {
        for outcome in Outcome::ALL {
            assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(outcome));
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{outcome}\""));
        }
        assert_eq!("reload".parse::<Outcome>(), Err(UnknownOutcome("reload".into())));
    }
}
