//! The transcript of a scenario run (scenarios.md): per step its outcomes, test results,
//! log lines and checks; stable across runs and machines, so it can be snapshot-tested.
//!
//! The normaliser is an ordered list of named steps; new steps go at the end so saved
//! snapshots stay valid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One check and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The expression.
    pub expression: String,
    /// Whether it held.
    pub ok: bool,
    /// For a failing check: the values of the names in it, or what it raised.
    pub detail: String,
}

/// One step of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTranscript {
    /// The step's name.
    pub name: String,
    /// The action word.
    pub action: String,
    /// Outcome per script path (or `<dir>` for load and remove), sorted.
    pub outcomes: Vec<(String, String)>,
    /// Test results per script: `path: summary`, then one line per test.
    pub tests: Vec<String>,
    /// Log lines at INFO and above, normalised.
    pub log: Vec<String>,
    /// The checks.
    pub checks: Vec<CheckResult>,
    /// What did not hold: expectations, log matches, run errors.
    pub failures: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Rules it covers.
    pub covers: Vec<String>,
    /// The steps.
    pub steps: Vec<StepTranscript>,
    /// A failure before or outside the steps (a scenario file error, a crash).
    pub error: Option<String>,
    /// Why the scenario did not run on this Python (its `python` key); no steps then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Transcript {
    /// Whether every expectation, log match and check held. A skipped scenario did not
    /// pass: callers report it as skipped ([`Transcript::skipped`]).
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.skipped.is_none()
            && self.steps.iter().all(|s| s.failures.is_empty() && s.checks.iter().all(|c| c.ok))
    }

    /// Every failure, one per line, for reports.
    pub fn failures(&self) -> Vec<String> {
        let mut failures: Vec<String> = self.error.iter().cloned().collect();
        for (i, step) in self.steps.iter().enumerate() {
            for failure in &step.failures {
                failures.push(format!("step {} ({}): {failure}", i + 1, step.name));
            }
            for check in step.checks.iter().filter(|c| !c.ok) {
                failures.push(format!(
                    "step {} ({}): check failed: {}  [{}]",
                    i + 1,
                    step.name,
                    check.expression,
                    check.detail
                ));
            }
        }
        failures
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario: {}", self.name)?;
        writeln!(f, "covers: {}", self.covers.join(", "))?;
        if let Some(error) = &self.error {
            writeln!(f, "error: {error}")?;
        }
        if let Some(reason) = &self.skipped {
            writeln!(f, "skipped: {reason}")?;
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f)?;
            writeln!(f, "step {}: {} [{}]", i + 1, step.name, step.action)?;
            for (path, outcome) in &step.outcomes {
                writeln!(f, "  {path}: {outcome}")?;
            }
            for line in &step.tests {
                writeln!(f, "  tests {line}")?;
            }
            for line in &step.log {
                writeln!(f, "  log {line}")?;
            }
            for check in &step.checks {
                let mark = if check.ok { "ok  " } else { "FAIL" };
                write!(f, "  check {mark} {}", check.expression.trim())?;
                if !check.ok {
                    write!(f, "  [{}]", check.detail)?;
                }
                writeln!(f)?;
            }
            for failure in &step.failures {
                writeln!(f, "  FAILED {failure}")?;
            }
        }
        Ok(())
    }
}

/// The normaliser's steps, applied in this order. New steps go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Normalise {
    /// The scenario's temp folder becomes `<dir>`.
    TempDir,
    /// `0x7f...` addresses become `0x…`.
    Addresses,
    /// `\` path separators become `/`.
    Separators,
}

const STEPS: [Normalise; 3] = [Normalise::TempDir, Normalise::Addresses, Normalise::Separators];

/// Normalises one line of output for the transcript. `dirs` are the spellings of the
/// temp folder (as given and canonical).
pub fn normalise(line: &str, dirs: &[String]) -> String {
    let mut line = line.to_string();
    for step in STEPS {
        line = match step {
            Normalise::TempDir => {
                let mut out = line;
                for dir in dirs.iter().filter(|d| !d.is_empty()) {
                    out = out.replace(dir.as_str(), "<dir>");
                }
                out
            }
            Normalise::Addresses => remove_addresses(&line),
            Normalise::Separators => line.replace('\\', "/"),
        };
    }
    line
}

fn remove_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'0' && bytes.get(i + 1) == Some(&b'x') {
            let hex = bytes[i + 2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if hex >= 6 {
                out.push_str("0x…");
                i += 2 + hex;
                continue;
            }
        }
        let ch = line[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dir_becomes_a_placeholder() {
        let dirs = vec!["/x/.tmpAbc".to_string()];
        assert_eq!(normalise("loaded /x/.tmpAbc/a.py", &dirs), "loaded <dir>/a.py");
    }

    #[test]
    fn addresses_are_removed_but_small_hex_numbers_stay() {
        assert_eq!(normalise("<P object at 0x7f3a2b1c9d00>", &[]), "<P object at 0x…>");
        assert_eq!(normalise("value 0x1f", &[]), "value 0x1f");
    }

    #[test]
    fn separators_become_slashes() {
        assert_eq!(normalise("ai\\brain.py", &[]), "ai/brain.py");
    }
}
