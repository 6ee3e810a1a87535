//! The scenario file format (scenarios.md) and its validation into a [`Scenario`].
//!
//! The on-disk format is serde types with `deny_unknown_fields`; they are converted once
//! into the runtime model. Every problem (unknown keys, wrong types, a bad or missing
//! `expect`, `check`/`run` code that does not compile) is an [`Error`] with file, line and
//! column, found before anything runs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::python_range::PythonRange;
use crate::engine::Mode;
use crate::report::Outcome;

/// A scenario file that cannot be run, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct Error {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    description: String,
    #[serde(default)]
    covers: Vec<String>,
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "yes")]
    tests: bool,
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    partial: bool,
    #[serde(default = "ten")]
    test_timeout: f64,
    python: Option<Spanned<String>>,
    step: Vec<Spanned<RawStep>>,
}

fn default_namespace() -> String {
    "game".into()
}
fn yes() -> bool {
    true
}
fn ten() -> f64 {
    10.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWrite {
    path: Spanned<String>,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncoded {
    encoding: String,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    #[serde(default)]
    writes: Vec<RawWrite>,
    #[serde(default)]
    write: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    write_encoded: BTreeMap<Spanned<String>, RawEncoded>,
    #[serde(default)]
    delete: Vec<Spanned<String>>,
    #[serde(default)]
    rename: BTreeMap<Spanned<String>, Spanned<String>>,
    action: Option<Spanned<Action>>,
    expect: Option<Spanned<toml::Value>>,
    run: Option<Spanned<String>>,
    #[serde(default)]
    check: Vec<Spanned<String>>,
    gc: Option<GcSetting>,
    #[serde(default)]
    log: Vec<String>,
    #[serde(default)]
    no_log: Vec<String>,
}

/// What a step asks of the reloader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `add_directory`.
    Load,
    /// Hand the step's changed files to the reloader as one batch.
    Reload,
    /// Apply the watcher's events (pump until every changed file is handled).
    Watch,
    /// `remove_directory`.
    Remove,
    /// No reloader call.
    None,
}

impl Action {
    /// The word in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Load => "load",
            Action::Reload => "reload",
            Action::Watch => "watch",
            Action::Remove => "remove",
            Action::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GcSetting {
    Disabled,
}

/// A file operation of a step, in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    /// Write bytes to a path (relative to the temp folder).
    Write {
        /// The path.
        path: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Write text encoded with a Python codec.
    WriteEncoded {
        /// The path.
        path: String,
        /// The codec.
        encoding: String,
        /// The text.
        text: String,
    },
    /// Delete a file.
    Delete(String),
    /// Rename a file.
    Rename(String, String),
}

/// The expected outcome of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// One outcome for every script the step handled (or for the directory).
    All(Outcome),
    /// One outcome per script path.
    PerScript(BTreeMap<String, Outcome>),
}

/// Python code from the scenario, with where it starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The source.
    pub text: String,
    /// Its line in the scenario file.
    pub line: usize,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its name (default `step N`).
    pub name: String,
    /// File operations, in order.
    pub files: Vec<FileOp>,
    /// The reloader call.
    pub action: Action,
    /// The expected outcome, required unless the action is `none`.
    pub expect: Option<Expect>,
    /// Code run in the session before the checks.
    pub run: Option<Code>,
    /// Expressions that must be true.
    pub checks: Vec<Code>,
    /// Keep the cyclic gc disabled during the reloader call.
    pub gc_disabled: bool,
    /// Substrings some log line of the step must contain.
    pub log: Vec<String>,
    /// Substrings no log line of the step may contain.
    pub no_log: Vec<String>,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file.
    pub file: PathBuf,
    /// Its name: the path relative to the scenarios folder, without `.toml`.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Rules it covers.
    pub covers: Vec<String>,
    /// Base namespace of the temp folder.
    pub namespace: String,
    /// Update or overwrite.
    pub mode: Mode,
    /// Tests on or off.
    pub tests: bool,
    /// Prune instead of leak.
    pub prune: bool,
    /// Partial loads.
    pub partial: bool,
    /// Per-script timeout in seconds.
    pub test_timeout: f64,
    /// The Python versions it is for (`None`: every version).
    pub python: Option<PythonRange>,
    /// The steps.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether any step uses the watcher.
    pub fn watches(&self) -> bool {
        self.steps.iter().any(|s| s.action == Action::Watch)
    }
}

/// Checks that Python code compiles: `(code, is_expression)` → `Err((line, column, message))`
/// relative to the code.
pub type Compiles = dyn Fn(&str, bool) -> Result<(), (usize, usize, String)>;

/// Parses `text` (the contents of `file`, named `name`) into a scenario. `compiles`
/// checks that Python code compiles: `(code, is_expression)` → `Err((line, column, message))`
/// relative to the code.
pub fn parse(file: &Path, name: &str, text: &str, compiles: &Compiles) -> Result<Scenario, Error> {
    let at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((1, 1));
        Error { file: file.to_path_buf(), line, column, message }
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;
    if raw.step.is_empty() {
        return Err(at(None, "a scenario needs at least one [[step]]".into()));
    }
    if !(raw.test_timeout > 0.0 && raw.test_timeout.is_finite()) {
        return Err(at(None, "test_timeout must be a positive number of seconds".into()));
    }
    let python = match &raw.python {
        Some(range) => Some(PythonRange::parse(range.get_ref()).map_err(|m| at(Some(range.span()), m))?),
        None => None,
    };
    let mut steps = Vec::new();
    for (index, spanned) in raw.step.into_iter().enumerate() {
        let span = spanned.span();
        let step = spanned.into_inner();
        let default_action = if index == 0 { Action::Load } else { Action::Reload };
        let action = step.action.as_ref().map(|a| *a.get_ref()).unwrap_or(default_action);
        let expect = match (&step.expect, action) {
            (Some(e), Action::None) => {
                return Err(at(Some(e.span()), "expect is not allowed with action = \"none\"".into()));
            }
            (None, Action::None) => None,
            (None, _) => {
                return Err(at(
                    Some(span),
                    format!("step {} needs expect (action {})", index + 1, action.as_str()),
                ));
            }
            (Some(e), action) => Some(parse_expect(e, action).map_err(|m| at(Some(e.span()), m))?),
        };
        let code = |spanned: &Spanned<String>, expression: bool| -> Result<Code, Error> {
            let (start, skip_newline) = content_start(text, spanned.span());
            let (line, column) = line_column(text, start);
            compiles(spanned.get_ref(), expression).map_err(|(l, c, message)| Error {
                file: file.to_path_buf(),
                line: line + l.saturating_sub(1),
                column: if l <= 1 && !skip_newline { column + c.saturating_sub(1) } else { c.max(1) },
                message,
            })?;
            Ok(Code { text: spanned.get_ref().clone(), line })
        };
        // Every path stays inside the temp folder (scenarios.md), checked before anything runs.
        let path = |spanned: Spanned<String>| -> Result<String, Error> {
            let span = spanned.span();
            let path = spanned.into_inner();
            check_confined(&path).map_err(|m| at(Some(span), m))?;
            Ok(path)
        };
        let mut files = Vec::new();
        for w in step.writes {
            files.push(FileOp::Write { path: path(w.path)?, bytes: w.text.into_bytes() });
        }
        for (p, text) in step.write {
            files.push(FileOp::Write { path: path(p)?, bytes: text.into_bytes() });
        }
        for (p, e) in step.write_encoded {
            files.push(FileOp::WriteEncoded { path: path(p)?, encoding: e.encoding, text: e.text });
        }
        for p in step.delete {
            files.push(FileOp::Delete(path(p)?));
        }
        for (from, to) in step.rename {
            files.push(FileOp::Rename(path(from)?, path(to)?));
        }
        steps.push(Step {
            name: step.name.unwrap_or_else(|| format!("step {}", index + 1)),
            files,
            action,
            expect,
            run: step.run.as_ref().map(|r| code(r, false)).transpose()?,
            checks: step.check.iter().map(|c| code(c, true)).collect::<Result<_, _>>()?,
            gc_disabled: step.gc.is_some(),
            log: step.log,
            no_log: step.no_log,
        });
    }
    Ok(Scenario {
        file: file.to_path_buf(),
        name: name.to_string(),
        description: raw.description,
        covers: raw.covers,
        namespace: raw.namespace,
        mode: raw.mode,
        tests: raw.tests,
        prune: raw.prune,
        partial: raw.partial,
        test_timeout: raw.test_timeout,
        python,
        steps,
    })
}

/// A path of a file operation: relative, and its `..` parts never lead outside the temp
/// folder (scenarios.md).
fn check_confined(path: &str) -> Result<(), String> {
    use std::path::Component;
    let mut depth = 0usize;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir => {
                return Err(format!("path {path:?} leads outside the scenario's temp folder"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path {path:?} is absolute; paths are relative to the temp folder"));
            }
        }
    }
    if depth == 0 {
        return Err(format!("path {path:?} names the temp folder itself, not a file in it"));
    }
    Ok(())
}

fn parse_expect(value: &Spanned<toml::Value>, action: Action) -> Result<Expect, String> {
    let outcome = |v: &toml::Value| -> Result<Outcome, String> {
        let word = v.as_str().ok_or_else(|| format!("an outcome is a string, not {}", v.type_str()))?;
        parse_outcome(word)
    };
    let allowed = |o: Outcome| match action {
        Action::Load => matches!(o, Outcome::Loaded | Outcome::LoadFailed),
        Action::Remove => o == Outcome::Removed,
        _ => o != Outcome::LoadFailed,
    };
    let check = |o: Outcome| {
        if allowed(o) { Ok(o) } else { Err(format!("{o} is not an outcome of action {}", action.as_str())) }
    };
    match value.get_ref() {
        toml::Value::Table(table) if matches!(action, Action::Reload | Action::Watch) => table
            .iter()
            .map(|(path, v)| Ok((path.clone(), check(outcome(v)?)?)))
            .collect::<Result<_, String>>()
            .map(Expect::PerScript),
        toml::Value::Table(_) => Err(format!("action {} takes one outcome, not a table", action.as_str())),
        other => Ok(Expect::All(check(outcome(other)?)?)),
    }
}

/// An outcome word of the contract.
pub fn parse_outcome(word: &str) -> Result<Outcome, String> {
    word.parse().map_err(|e: crate::report::UnknownOutcome| e.to_string())
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Where a string's content starts, and whether a newline right after `'''` was skipped.
fn content_start(text: &str, span: Range<usize>) -> (usize, bool) {
    let raw = &text[span.clone()];
    if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        let skip = raw[3..].starts_with('\n');
        (span.start + 3 + usize::from(skip), skip)
    } else {
        (span.start + 1, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_python(_: &str, _: bool) -> Result<(), (usize, usize, String)> {
        Ok(())
    }

    fn parse_text(text: &str) -> Result<Scenario, Error> {
        parse(Path::new("s.toml"), "s", text, &no_python)
    }

    #[test]
    fn defaults_and_actions() {
        let s = parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'reloaded'\n").unwrap();
        assert_eq!((s.namespace.as_str(), s.mode, s.tests), ("game", Mode::Update, true));
        assert_eq!(s.steps[0].action, Action::Load);
        assert_eq!(s.steps[1].action, Action::Reload);
        assert_eq!(s.steps[1].files, [FileOp::Write { path: "a.py".into(), bytes: b"X = 1".to_vec() }]);
    }

    #[test]
    fn an_unknown_key_names_line_and_column() {
        let err = parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\nchek = ['1']\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 1));
        assert!(err.message.contains("chek"), "{}", err.message);
    }

    #[test]
    fn a_missing_or_misplaced_expect_is_an_error() {
        let err = parse_text("description = 'd'\n[[step]]\naction = 'load'\n").unwrap_err();
        assert!(err.message.contains("needs expect"), "{err}");
        let err =
            parse_text("description = 'd'\n[[step]]\naction = 'none'\nexpect = 'loaded'\n").unwrap_err();
        assert_eq!(err.line, 4);
    }

    #[test]
    fn a_bad_outcome_is_an_error() {
        let err = parse_text("description = 'd'\n[[step]]\nexpect = 'reloded'\n").unwrap_err();
        assert!(err.message.contains("unknown outcome \"reloded\""), "{err}");
        let err = parse_text("description = 'd'\n[[step]]\nexpect = 'reloaded'\n").unwrap_err();
        assert!(err.message.contains("not an outcome of action load"), "{err}");
    }

    #[test]
    fn a_wrong_type_is_an_error() {
        let err = parse_text("description = 'd'\ntests = 'yes'\n[[step]]\nexpect = 'loaded'\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn the_python_key_is_a_range_and_a_bad_one_names_its_line() {
        let s = parse_text("description = 'd'\npython = '>=3.12'\n[[step]]\nexpect = 'loaded'\n").unwrap();
        assert_eq!(s.python, Some(PythonRange::parse(">=3.12").unwrap()));
        assert_eq!(parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\n").unwrap().python, None);
        let err =
            parse_text("description = 'd'\npython = '3.12'\n[[step]]\nexpect = 'loaded'\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 10));
        assert!(err.message.contains("needs a comparison"), "{err}");
    }

    #[test]
    fn paths_outside_the_temp_folder_are_errors_with_line_and_column() {
        let err = parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\ndelete = ['a.py', '/etc/x']\n")
            .unwrap_err();
        assert_eq!((err.line, err.column), (4, 19), "{err}");
        assert!(err.message.contains("is absolute"), "{err}");
        let err =
            parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\nwrite.'../../x.py' = 'X = 1'\n")
                .unwrap_err();
        assert_eq!((err.line, err.column), (4, 7), "{err}");
        assert!(err.message.contains("leads outside"), "{err}");
        let err = parse_text(
            "description = 'd'\n[[step]]\nexpect = 'loaded'\nrename = { 'a.py' = 'sub/../../b.py' }\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        let err = parse_text(
            "description = 'd'\n[[step]]\nexpect = 'loaded'\nwrites = [{ path = '.', text = '' }]\n",
        )
        .unwrap_err();
        assert!(err.message.contains("temp folder itself"), "{err}");
        let ok =
            parse_text("description = 'd'\n[[step]]\nexpect = 'loaded'\nwrite.'sub/../a.py' = 'X = 1'\n");
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn code_errors_point_into_the_file() {
        let bad = |code: &str, _: bool| {
            if code.contains("((") { Err((2, 5, "invalid syntax".to_string())) } else { Ok(()) }
        };
        let text = "description = 'd'\n[[step]]\nexpect = 'loaded'\nrun = '''\nx = 1\ny = ((\n'''\n";
        let err = parse(Path::new("s.toml"), "s", text, &bad).unwrap_err();
        assert_eq!((err.line, err.column), (6, 5));
    }
}
