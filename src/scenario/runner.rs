//! Running one scenario in this process (scenarios.md): a fresh temp folder, the steps'
//! file operations, the reloader calls, expectations, session code, checks and log matches.
//!
//! Isolation comes from the caller: `relive scenario` and the test harness start one process
//! per scenario (`run_isolated` in `mod.rs`), so `sys.modules`, gc counts and logging never
//! leak between scenarios. The session code runs through `session_api` (`session.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::deadline;
use super::error::{FileAction, ScenarioError};
pub use super::log_capture::LogCapture;
use super::model::{Action, Expect, FileOp, Scenario, Step};
use super::python_range::PythonVersion;
use super::session_api::{Checked, Published, ScenarioTimeout, SessionApi};
use super::transcript::{CheckResult, StepTranscript, Transcript, normalise};
use crate::engine::{Event, Reloader};
use crate::python::{self, PyFailure};
use crate::report::{LoadReport, Outcome, ReloadReport};
use crate::testing::TestReport;

/// How long a `watch` step pumps before it fails.
const WATCH_LIMIT: Duration = Duration::from_secs(5);

/// Runs `scenario` here, in this process; returns its transcript.
pub fn run(scenario: &Scenario) -> Transcript {
    let mut transcript = Transcript {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        covers: scenario.covers.clone(),
        ..Transcript::default()
    };
    if let Some(reason) = scenario.python.as_ref().and_then(|r| r.skip_reason(PythonVersion::running())) {
        transcript.skipped = Some(reason);
        return transcript;
    }
    if let Err(error) =
        Session::start(scenario).and_then(|mut session| session.run_steps(scenario, &mut transcript))
    {
        transcript.error = Some(error.to_string());
    }
    transcript
}

struct Session {
    dir: tempfile::TempDir,
    dirs: Vec<String>,
    reloader: Reloader,
    events: Arc<Mutex<Vec<Event>>>,
    globals: Py<PyDict>,
    owned: Vec<String>,
    last_tests: BTreeMap<String, (usize, usize)>,
    watch_pending: BTreeSet<String>,
    /// Bounds each `run` and `check` (the scenario's `test_timeout`).
    code_timeout: Duration,
}

impl Session {
    fn start(scenario: &Scenario) -> Result<Session, ScenarioError> {
        let dir = tempfile::tempdir().map_err(ScenarioError::TempFolder)?;
        let canonical = dir.path().canonicalize().map_err(ScenarioError::TempFolder)?;
        let dirs = vec![canonical.to_string_lossy().into_owned(), dir.path().to_string_lossy().into_owned()];
        let mut reloader = Reloader::builder()
            .mode(scenario.mode)
            .tests(scenario.tests)
            .prune(scenario.prune)
            .partial(scenario.partial)
            .test_timeout(Duration::from_secs_f64(scenario.test_timeout))
            .build()?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        reloader.on_event(move |event| sink.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone()));
        let globals =
            python::attach(|py| -> PyResult<Py<PyDict>> { Ok(SessionApi::get(py).new_session()?.unbind()) })
                .map_err(python_error)?;
        Ok(Session {
            dir,
            dirs,
            reloader,
            events,
            globals,
            owned: Vec::new(),
            last_tests: BTreeMap::new(),
            watch_pending: BTreeSet::new(),
            code_timeout: Duration::from_secs_f64(scenario.test_timeout),
        })
    }

    fn run_steps(&mut self, scenario: &Scenario, transcript: &mut Transcript) -> Result<(), ScenarioError> {
        for step in &scenario.steps {
            LogCapture::take();
            self.events.lock().unwrap_or_else(|p| p.into_inner()).clear();
            let mut out = StepTranscript {
                name: step.name.clone(),
                action: step.action.as_str().into(),
                ..Default::default()
            };
            let changed = self.apply_files(step)?;
            let written = changed.clone();
            let outcomes = self.act(scenario, step, changed, &mut out)?;
            out.outcomes = outcomes.iter().map(|(p, o)| (p.clone(), o.to_string())).collect();
            if let Some(expect) = &step.expect {
                check_expect(expect, &outcomes, &written, &mut out.failures);
            }
            self.session_code(step, &mut out)?;
            let log: Vec<String> = LogCapture::take()
                .into_iter()
                .map(|(level, line)| normalise(&format!("{level} {line}"), &self.dirs))
                .collect();
            for wanted in &step.log {
                if !log.iter().any(|l| l.contains(wanted.as_str())) {
                    out.failures.push(format!("no log line contains {wanted:?}"));
                }
            }
            for unwanted in &step.no_log {
                if let Some(line) = log.iter().find(|l| l.contains(unwanted.as_str())) {
                    out.failures.push(format!("a log line contains {unwanted:?}: {line}"));
                }
            }
            out.log = log;
            transcript.steps.push(out);
        }
        Ok(())
    }

    /// Applies the step's file operations; returns the paths they touched.
    fn apply_files(&self, step: &Step) -> Result<Vec<String>, ScenarioError> {
        let mut changed = Vec::new();
        let root = self.dir.path();
        let make_parent = |file: &Path, path: &str| match file.parent() {
            Some(parent) => {
                std::fs::create_dir_all(parent).map_err(file_error(FileAction::CreateFolders, path))
            }
            None => Ok(()),
        };
        let write = |path: &str, bytes: &[u8]| -> Result<(), ScenarioError> {
            let file = inside(root, path)?;
            make_parent(&file, path)?;
            std::fs::write(&file, bytes).map_err(file_error(FileAction::Write, path))
        };
        for op in &step.files {
            match op {
                FileOp::Write { path, bytes } => {
                    write(path, bytes)?;
                    changed.push(path.clone());
                }
                FileOp::WriteEncoded { path, encoding, text } => {
                    let bytes = python::attach(|py| -> PyResult<Vec<u8>> {
                        py.import("builtins")?
                            .getattr("str")?
                            .call_method1("encode", (text, encoding))?
                            .extract()
                    })
                    .map_err(|e| ScenarioError::Encode {
                        path: path.clone(),
                        encoding: encoding.clone(),
                        message: e.to_string(),
                    })?;
                    write(path, &bytes)?;
                    changed.push(path.clone());
                }
                FileOp::Delete(path) => {
                    std::fs::remove_file(inside(root, path)?)
                        .map_err(file_error(FileAction::Delete, path))?;
                    changed.push(path.clone());
                }
                FileOp::Rename(from, to) => {
                    let target = inside(root, to)?;
                    make_parent(&target, to)?;
                    std::fs::rename(inside(root, from)?, target)
                        .map_err(file_error(FileAction::Rename, from))?;
                    changed.push(from.clone());
                    changed.push(to.clone());
                }
            }
        }
        Ok(changed)
    }

    /// Runs the action; returns the outcome per script (or per directory).
    fn act(
        &mut self,
        scenario: &Scenario,
        step: &Step,
        changed: Vec<String>,
        out: &mut StepTranscript,
    ) -> Result<Vec<(String, Handled)>, ScenarioError> {
        let gc_was = if step.gc_disabled { Some(set_gc(false)) } else { None };
        let result = match step.action {
            Action::Load => match self.reloader.add_directory(&scenario.namespace, self.dir.path()) {
                Ok(report) => {
                    self.record_load(&report, out);
                    if report.outcome == Outcome::Loaded && scenario.watches() && !self.reloader.is_watching()
                    {
                        self.reloader.watch()?;
                    }
                    Ok(vec![("<dir>".to_string(), Handled::Outcome(report.outcome))])
                }
                Err(err) => Ok(vec![("<dir>".to_string(), self.error(&err))]),
            },
            Action::Remove => match self.reloader.remove_directory(self.dir.path()) {
                Ok(_) => Ok(vec![("<dir>".to_string(), Handled::Outcome(Outcome::Removed))]),
                Err(err) => Ok(vec![("<dir>".to_string(), Handled::Error(err.to_string()))]),
            },
            Action::Reload => {
                let files: Vec<PathBuf> = changed.iter().map(|p| self.dir.path().join(p)).collect();
                match self.reloader.reload_batch(&files) {
                    Ok(reports) => Ok(self.record_reloads(&reports, out)),
                    Err(err) => Ok(vec![("<batch>".to_string(), self.error(&err))]),
                }
            }
            Action::Watch => {
                self.watch_pending.extend(changed);
                self.pump_watch(out)
            }
            Action::None => {
                if self.reloader.is_watching() {
                    self.watch_pending.extend(changed);
                }
                Ok(Vec::new())
            }
        };
        if let Some(was) = gc_was {
            set_gc(was);
        }
        result
    }

    /// Pumps until every file changed since the last watch step is handled (or 5 s).
    fn pump_watch(&mut self, out: &mut StepTranscript) -> Result<Vec<(String, Handled)>, ScenarioError> {
        let expected: BTreeSet<String> = std::mem::take(&mut self.watch_pending)
            .into_iter()
            .map(|path| self.subject_of(&path))
            .filter(|path| crate::layout::is_script_relative_path(path))
            .collect();
        let deadline = Instant::now() + WATCH_LIMIT;
        let mut reports: BTreeMap<String, ReloadReport> = BTreeMap::new();
        while !expected.iter().all(|p| reports.contains_key(p)) {
            let now = Instant::now();
            if now >= deadline {
                let missing: Vec<&String> = expected.iter().filter(|p| !reports.contains_key(*p)).collect();
                out.failures.push(format!("the watcher did not handle {missing:?} within {WATCH_LIMIT:?}"));
                break;
            }
            let batch = self.reloader.wait_for_changes((deadline - now).min(Duration::from_millis(100)))?;
            // Dependents (R15) come in the batch of the change that pulled them in.
            let handled = batch.iter().any(|r| expected.contains(r.path.as_str()));
            for report in batch {
                let dependent = handled
                    && matches!(report.outcome, Outcome::Reloaded | Outcome::Retested | Outcome::Rejected);
                if dependent || expected.contains(report.path.as_str()) {
                    reports.insert(report.path.to_string(), report);
                }
            }
        }
        let reports: Vec<ReloadReport> = reports.into_values().collect();
        Ok(self.record_reloads(&reports, out))
    }

    /// The script a changed path stands for: a test file's script when that exists (T5).
    fn subject_of(&self, path: &str) -> String {
        let (folder, name) =
            path.rsplit_once('/').map(|(f, n)| (format!("{f}/"), n)).unwrap_or((String::new(), path));
        match crate::layout::tested_script_name(name) {
            Some(script) if self.dir.path().join(format!("{folder}{script}")).is_file() => {
                format!("{folder}{script}")
            }
            _ => path.to_string(),
        }
    }

    fn record_load(&mut self, report: &LoadReport, out: &mut StepTranscript) {
        for script in &report.scripts {
            if let Some(tests) = &script.tests {
                self.record_tests(script.path.as_str(), tests, out);
            }
            if let Some(problem) = &script.problem {
                out.tests.push(normalise(&format!("{}: problem: {problem}", script.path), &self.dirs));
            }
        }
    }

    fn record_reloads(
        &mut self,
        reports: &[ReloadReport],
        out: &mut StepTranscript,
    ) -> Vec<(String, Handled)> {
        let mut outcomes = Vec::new();
        for report in reports {
            outcomes.push((report.path.to_string(), Handled::Outcome(report.outcome)));
            if let Some(tests) = &report.tests {
                self.record_tests(report.path.as_str(), tests, out);
            }
            if let Some(reason) = &report.reason {
                out.tests.push(normalise(&format!("{}: reason: {reason}", report.path), &self.dirs));
            }
        }
        outcomes.sort_by(|a, b| a.0.cmp(&b.0));
        outcomes
    }

    /// An engine error as a step's outcome, with the temp folder's paths normalised.
    fn error(&self, err: &crate::Error) -> Handled {
        Handled::Error(normalise(&err.to_string(), &self.dirs))
    }

    fn record_tests(&mut self, path: &str, tests: &TestReport, out: &mut StepTranscript) {
        self.last_tests.insert(path.to_string(), (tests.found, tests.failed()));
        out.tests.push(format!("{path}: {tests}"));
        for result in &tests.results {
            let mut line = format!("{path}:   {} {}", result.outcome, result.id);
            if result.outcome.is_failure() {
                line.push_str(&format!(": {}", result.message));
            }
            out.tests.push(normalise(&line, &self.dirs));
        }
    }

    /// Publishes the reloader's state, binds namespaces, runs `run`, evaluates checks.
    fn session_code(&mut self, step: &Step, out: &mut StepTranscript) -> Result<(), ScenarioError> {
        let owned: Vec<String> =
            self.reloader.namespaces().into_iter().filter(|n| !n.contains('.')).collect();
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let result = python::attach(|py| -> PyResult<()> {
            let session = SessionApi::get(py);
            self.publish(py, &session, &events)?;
            let globals = self.globals.bind(py);
            session.bind_namespaces(globals, &owned, &self.owned)?;
            let timeout_kind = py.get_type::<ScenarioTimeout>().into_any();
            let timed_out = format!(
                "timed out after {} s (the scenario's test_timeout)",
                self.code_timeout.as_secs_f64()
            );
            if let Some(run) = &step.run {
                let code =
                    session.compile(&run.text, &format!("<scenario run, line {}>", run.line), false)?;
                let exec = py.import("builtins")?.getattr("exec")?;
                match deadline::bounded(py, self.code_timeout, &timeout_kind, || exec.call1((code, globals)))
                {
                    Err(err) if err.is_instance_of::<ScenarioTimeout>(py) => {
                        out.failures.push(format!("run {timed_out}"));
                    }
                    Err(err) => {
                        let failure = PyFailure::from_err(py, &err);
                        out.failures.push(normalise(&format!("run raised {failure}"), &self.dirs));
                    }
                    Ok(_) => {}
                }
            }
            for check in &step.checks {
                let code =
                    session.compile(&check.text, &format!("<scenario check, line {}>", check.line), true)?;
                let checked = deadline::bounded(py, self.code_timeout, &timeout_kind, || {
                    session.check(check.text.as_str(), &code, globals)
                });
                let Checked { ok, detail } = match checked {
                    Err(err) if err.is_instance_of::<ScenarioTimeout>(py) => {
                        Checked { ok: false, detail: timed_out.clone() }
                    }
                    other => other?,
                };
                out.checks.push(CheckResult {
                    expression: check.text.clone(),
                    ok,
                    detail: normalise(&detail, &self.dirs),
                });
            }
            Ok(())
        });
        self.owned = owned;
        result.map_err(python_error)
    }

    fn publish(&self, py: Python<'_>, session: &SessionApi<'_>, events: &[Event]) -> PyResult<()> {
        let root = self.dir.path();
        let globals = PyDict::new(py);
        let versions = PyDict::new(py);
        for (_, path) in self.reloader.scripts() {
            let file = root.join(path.as_str());
            if let Some(g) = self.reloader.script_globals(py, &file) {
                globals.set_item(path.as_str(), g)?;
            }
            versions.set_item(path.as_str(), self.reloader.version(&file))?;
        }
        let tests = PyDict::new(py);
        for (path, (found, failed)) in &self.last_tests {
            tests.set_item(path, (found, failed))?;
        }
        let leaks = PyList::empty(py);
        for leak in self.reloader.leaks() {
            leaks.append((leak.namespace, leak.name))?;
        }
        let tuples = PyList::empty(py);
        for event in events {
            let tuple = match event {
                Event::ClassCreated { qualname, .. } => {
                    PyTuple::new(py, ["class_created", qualname.as_str()])?
                }
                Event::ClassUpdated { qualname, .. } => {
                    PyTuple::new(py, ["class_updated", qualname.as_str()])?
                }
                Event::Applied { path, version } => ("applied", path.as_str(), *version).into_pyobject(py)?,
                Event::Rejected { path, reason } => {
                    ("rejected", path.as_str(), reason.as_str()).into_pyobject(py)?
                }
            };
            tuples.append(tuple)?;
        }
        session.publish(Published {
            namespaces: self.reloader.namespaces(),
            globals,
            versions,
            tests,
            leaks,
            events: tuples,
        })
    }
}

/// `root.join(path)`, refused when a link on the way leads outside `root` (the model
/// already refused absolute paths and `..` that climb out; this catches links made by a
/// step's `run` code).
fn inside(root: &Path, path: &str) -> Result<PathBuf, ScenarioError> {
    let file = root.join(path);
    let escapes = || ScenarioError::Escapes { path: path.to_string() };
    let root = root.canonicalize().map_err(ScenarioError::TempFolder)?;
    if let Ok(target) = file.canonicalize()
        && !target.starts_with(&root)
    {
        return Err(escapes());
    }
    let mut existing = file.parent();
    while let Some(folder) = existing {
        if let Ok(folder) = folder.canonicalize() {
            return if folder.starts_with(&root) { Ok(file) } else { Err(escapes()) };
        }
        existing = folder.parent();
    }
    Err(escapes())
}

/// Turns the file system's refusal of `action` on `path` into a scenario error.
fn file_error(action: FileAction, path: &str) -> impl FnOnce(std::io::Error) -> ScenarioError + '_ {
    move |source| ScenarioError::File { action, path: path.to_string(), source }
}

/// A failure of the harness's own Python code.
fn python_error(err: PyErr) -> ScenarioError {
    ScenarioError::Python(python::attach(|py| PyFailure::from_err(py, &err).to_string()))
}

/// What a step's action did to one script (or to the directory, `<dir>`, or the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Handled {
    /// The reloader's outcome.
    Outcome(Outcome),
    /// The reloader refused with an error (its message, paths normalised).
    Error(String),
}

impl std::fmt::Display for Handled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handled::Outcome(outcome) => f.write_str(outcome.as_str()),
            Handled::Error(message) => write!(f, "error: {message}"),
        }
    }
}

fn set_gc(enabled: bool) -> bool {
    python::attach(|py| {
        let gc = py.import("gc").expect("gc is built in");
        let was = gc.call_method0("isenabled").and_then(|v| v.is_truthy()).unwrap_or(true);
        let _ = gc.call_method0(if enabled { "enable" } else { "disable" });
        was
    })
}

/// Whether `path` reads like a dependent that joined the batch (R15) rather than a script
/// the step changed: checked only where a table names it (scenarios.md).
fn is_dependent(path: &str, handled: &Handled, written: &[String]) -> bool {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let tested_here = |w: &String| {
        let (wfolder, wname) = w.rsplit_once('/').unwrap_or(("", w.as_str()));
        wfolder == folder && crate::layout::tested_script_name(wname).as_deref() == Some(name)
    };
    matches!(handled, Handled::Outcome(Outcome::Reloaded | Outcome::Retested | Outcome::Rejected))
        && !written.iter().any(|w| w == path || tested_here(w))
}

fn check_expect(
    expect: &Expect,
    outcomes: &[(String, Handled)],
    written: &[String],
    failures: &mut Vec<String>,
) {
    match expect {
        Expect::All(outcome) => {
            if outcomes.is_empty() {
                failures.push(format!("expected {outcome}, but nothing was handled"));
            }
            for (path, got) in outcomes {
                if is_dependent(path, got, written) {
                    continue;
                }
                if *got != Handled::Outcome(*outcome) {
                    failures.push(format!("expected {path} {outcome}, got {got}"));
                }
            }
        }
        Expect::PerScript(wanted) => {
            let got: BTreeMap<&str, &Handled> = outcomes.iter().map(|(p, o)| (p.as_str(), o)).collect();
            for (path, outcome) in wanted {
                match got.get(path.as_str()) {
                    Some(Handled::Outcome(o)) if o == outcome => {}
                    Some(o) => failures.push(format!("expected {path} {outcome}, got {o}")),
                    None => failures.push(format!("expected {path} {outcome}, but it was not handled")),
                }
            }
            for (path, o) in &got {
                if !wanted.contains_key(*path) && !is_dependent(path, o, written) {
                    failures.push(format!("{path} was {o}, which the step does not expect"));
                }
            }
        }
    }
}

/// Checks that scenario code compiles, for `model::parse`: `Err((line, column, message))`.
pub fn python_compiles(code: &str, expression: bool) -> Result<(), (usize, usize, String)> {
    python::attach(|py| match SessionApi::get(py).compile(code, "<scenario>", expression) {
        Ok(_) => Ok(()),
        Err(err) => {
            let failure = PyFailure::from_err(py, &err);
            let line = failure.line.unwrap_or(1) as usize;
            let column = failure.column.unwrap_or(1) as usize;
            Err((line, column, format!("{}: {}", failure.kind, failure.message)))
        }
    })
}

/// Reads and validates a scenario file.
///
/// # Errors
/// The file cannot be read, or is not a valid scenario (with file, line and column).
pub fn load(file: &Path, name: &str) -> Result<Scenario, super::model::Error> {
    let text = std::fs::read_to_string(file).map_err(|e| super::model::Error {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    super::model::parse(file, name, &text, &python_compiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_never_meets_an_expected_outcome() {
        let handled = [
            ("a.py".to_string(), Handled::Outcome(Outcome::Reloaded)),
            ("b.py".to_string(), Handled::Error("reloaded".into())),
        ];
        let mut failures = Vec::new();
        let written = ["a.py".to_string(), "b.py".to_string()];
        check_expect(&Expect::All(Outcome::Reloaded), &handled, &written, &mut failures);
        assert_eq!(failures, ["expected b.py reloaded, got error: reloaded"]);
        let wanted = BTreeMap::from([("b.py".to_string(), Outcome::Reloaded)]);
        failures.clear();
        check_expect(&Expect::PerScript(wanted), &handled, &written, &mut failures);
        assert_eq!(
            failures,
            [
                "expected b.py reloaded, got error: reloaded",
                "a.py was reloaded, which the step does not expect"
            ]
        );
    }
}
