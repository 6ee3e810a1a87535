//! Checking a candidate before anything goes live (R1, T2): execute its module-level code,
//! then run its tests, both bounded by the per-script timeout (T6).
//!
//! Used alike by loads (`load`: `check_candidate`, one script at a time) and batches
//! (`batch`: `exec_in_view`, then `test_in_view` once every member ran), so a script meets
//! the same gate on its first load and on every change; a test file waiting for a relive
//! name blocks its script the same way in both (`test_file_wait`, L6).

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::directory::FoundScript;
use super::script::{self, Compiled};
use super::{Error, Reloader};
use crate::layout;
use crate::python::PyFailure;
use crate::report::{ScriptProblem, Wait};
use crate::testing::TestReport;
use crate::testing::run::{self, Finished, Job, Phase, TestFile};
use crate::testing::view::{Join, Joining, View};

/// How a candidate fared.
pub(crate) enum Checked {
    /// It ran, and its tests (if on) passed.
    Passed(Option<TestReport>),
    /// Its module-level code raised (a blocked import is told apart by the caller).
    Raised(PyErr),
    /// Its tests failed, or the timeout expired.
    Failed(ScriptProblem, Option<TestReport>),
}

/// How a batch member's module-level code fared (R15: tests run later, for the batch).
pub(crate) enum Ran {
    /// It ran and was validated, and joined the view; it took `elapsed` of its timeout.
    Done { elapsed: Duration },
    /// Its module-level code raised (a blocked import is told apart by the caller).
    Raised(PyErr),
    /// A validate callback rejected it, or the timeout expired.
    Failed(ScriptProblem),
}

/// How a script's tests fared: a report (none when tests are off), or the problem that
/// rejects it with the report so far.
pub(crate) type Tested = Result<Option<TestReport>, (ScriptProblem, Option<TestReport>)>;

impl Reloader {
    /// The validate callbacks, wrapped so that the candidate's R8a and R8b snapshots are
    /// taken right after its module-level code ran, before validate and tests.
    fn validate_with_snapshots<'py>(
        &self,
        py: Python<'py>,
        compiled: &Compiled,
        globals: &Bound<'py, PyDict>,
    ) -> Result<Bound<'py, PyAny>, Error> {
        let validate = self.callbacks.validate_function(py).map_err(|e| Error::python(py, &e))?;
        let source = compiled.source.bind(py);
        let names = self.namespace_names();
        super::update::snapshot_before(py, validate.as_any(), &compiled.imported, globals, source, names)
            .map_err(|e| Error::python(py, &e))
    }

    /// Executes `compiled` into `globals` and runs the script's tests against it (a load
    /// attempt: one script, its own view).
    pub(crate) fn check_candidate(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
    ) -> Result<Checked, Error> {
        let tests = self.config.tests;
        let test_file = if tests { compile_test_file(py, found, &self.test_files) } else { None };
        let (test_file, broken) = match test_file {
            Some(Ok(file)) => (Some(file), None),
            Some(Err(report)) => (None, Some(report)),
            None => (None, None),
        };
        let validate = self.validate_with_snapshots(py, compiled, globals)?;
        let view = View::new(py).map_err(|e| Error::python(py, &e))?;
        let join = self.join(py, found, compiled).map_err(|e| Error::python(py, &e))?;
        let job = Job {
            view: tests.then(|| view.clone_ref(py)),
            join: tests.then_some(&join),
            namespaces: self.namespace_names(),
            validate: Some(validate.unbind()),
            code: Some(compiled.code.clone_ref(py).into_any()),
            globals: globals.clone().unbind(),
            test_file: test_file.as_ref(),
            tests: tests && broken.is_none(),
            timeout: self.config.test_timeout,
            display_path: found.path.as_str(),
            stop: self.stop.flag(),
        };
        let finished = run::run(py, job);
        view.release(py, std::slice::from_ref(globals)).map_err(|e| Error::python(py, &e))?;
        let finished = finished.map_err(|e| Error::python(py, &e))?;
        if !matches!((&finished, &broken), (Finished::Ran(Some(r)), None) if r.is_green())
            && !matches!((&finished, &broken), (Finished::Ran(None), None))
        {
            // R1, R8b: a failed load attempt takes back what it registered elsewhere.
            super::update::undo_contribution(py, globals);
        }
        Ok(match (finished, broken) {
            (Finished::Raised(err), _) => Checked::Raised(err),
            (Finished::Invalid(err), _) => {
                let failure = PyFailure::locate(py, &err, Some(&found.file.to_string_lossy()));
                Checked::Failed(ScriptProblem::Validate { failure: Box::new(failure) }, None)
            }
            (Finished::TimedOut { phase, abandoned, stopped, tests }, _) => {
                Checked::Failed(self.timeout_problem(phase, abandoned, stopped), tests)
            }
            (Finished::Ran(_), Some(report)) => {
                log::info!("{}: {}", found.path, crate::testing::result::tests_found(0));
                Checked::Failed(tests_problem(&report), Some(report))
            }
            (Finished::Ran(Some(report)), None) if !report.is_green() => {
                Checked::Failed(tests_problem(&report), Some(report))
            }
            (Finished::Ran(report), None) => Checked::Passed(report),
        })
    }

    /// Runs the tests of a candidate whose module-level code ran already, with it in view
    /// (L6: its test file waited for a name that is exported now).
    pub(crate) fn test_candidate(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
    ) -> Result<Checked, Error> {
        let view = View::new(py).map_err(|e| Error::python(py, &e))?;
        let join = self.join(py, found, compiled).map_err(|e| Error::python(py, &e))?;
        let tested = view
            .add(py, &join, globals)
            .map_err(|e| Error::python(py, &e))
            .and_then(|()| self.test_in_view(py, found, globals, Some(&view), self.config.test_timeout));
        view.release(py, std::slice::from_ref(globals)).map_err(|e| Error::python(py, &e))?;
        Ok(match tested? {
            Ok(tests) => Checked::Passed(tests),
            Err((problem, tests)) => Checked::Failed(problem, tests),
        })
    }

    /// Every relive namespace, sorted.
    pub(crate) fn namespace_names(&self) -> Vec<String> {
        self.namespaces.names().map(str::to_string).collect()
    }

    /// How a candidate of `found` joins a view (T1): its exports replace its version's.
    fn join(&self, py: Python<'_>, found: &FoundScript, compiled: &Compiled) -> PyResult<Joining> {
        let registry = self.registry.bind(py);
        let own = self.scripts.get(&found.file).map(|s| s.contributions.clone()).unwrap_or_default();
        let exports = script::exports_function(py, compiled, &found.namespace, registry)?;
        Ok(Joining::new(Join { namespace: found.namespace.clone(), exports, own }))
    }

    /// Executes a batch member's candidate into `globals` inside the batch's `view`, which
    /// it joins once it ran and was validated (R15); its tests run later ([`Self::test_in_view`]).
    pub(crate) fn exec_in_view(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
        view: &View,
    ) -> Result<Ran, Error> {
        let validate = self.validate_with_snapshots(py, compiled, globals)?;
        let join = self.join(py, found, compiled).map_err(|e| Error::python(py, &e))?;
        let job = Job {
            view: Some(view.clone_ref(py)),
            join: Some(&join),
            namespaces: self.namespace_names(),
            validate: Some(validate.unbind()),
            code: Some(compiled.code.clone_ref(py).into_any()),
            globals: globals.clone().unbind(),
            test_file: None,
            tests: false,
            timeout: self.config.test_timeout,
            display_path: found.path.as_str(),
            stop: self.stop.flag(),
        };
        let started = Instant::now();
        Ok(match run::run(py, job).map_err(|e| Error::python(py, &e))? {
            Finished::Ran(_) => Ran::Done { elapsed: started.elapsed() },
            Finished::Raised(err) => Ran::Raised(err),
            Finished::Invalid(err) => {
                let failure = PyFailure::locate(py, &err, Some(&found.file.to_string_lossy()));
                Ran::Failed(ScriptProblem::Validate { failure: Box::new(failure) })
            }
            Finished::TimedOut { phase, abandoned, stopped, .. } => {
                Ran::Failed(self.timeout_problem(phase, abandoned, stopped))
            }
        })
    }

    /// Runs the tests of `globals` (a candidate, or the code in effect) with the script's
    /// test file, inside `view` when given, bounded by `timeout` (T5, T6, R15).
    pub(crate) fn test_in_view(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        globals: &Bound<'_, PyDict>,
        view: Option<&View>,
        timeout: Duration,
    ) -> Result<Tested, Error> {
        let test_file = match compile_test_file(py, found, &self.test_files) {
            Some(Ok(file)) => Some(file),
            Some(Err(report)) => {
                log::info!("{}: {}", found.path, crate::testing::result::tests_found(0));
                return Ok(Err((tests_problem(&report), Some(report))));
            }
            None => None,
        };
        let job = Job {
            view: view.map(|v| v.clone_ref(py)),
            join: None,
            namespaces: self.namespace_names(),
            validate: None,
            code: None,
            globals: globals.clone().unbind(),
            test_file: test_file.as_ref(),
            tests: true,
            timeout,
            display_path: found.path.as_str(),
            stop: self.stop.flag(),
        };
        match run::run(py, job).map_err(|e| Error::python(py, &e))? {
            Finished::Ran(Some(report)) if report.is_green() => Ok(Ok(Some(report))),
            Finished::Ran(Some(report)) => Ok(Err((tests_problem(&report), Some(report)))),
            Finished::Ran(None) => Ok(Ok(Some(TestReport::default()))),
            Finished::TimedOut { phase, abandoned, stopped, tests } => {
                Ok(Err((self.timeout_problem(phase, abandoned, stopped), tests)))
            }
            Finished::Raised(err) | Finished::Invalid(err) => {
                let failure = PyFailure::from_err(py, &err);
                Ok(Err((ScriptProblem::Error { failure: Box::new(failure) }, None)))
            }
        }
    }

    fn timeout_problem(&self, phase: Phase, abandoned: bool, stopped: bool) -> ScriptProblem {
        let during = match phase {
            Phase::Exec => "module-level code".to_string(),
            Phase::Tests => "tests".to_string(),
        };
        if stopped {
            return ScriptProblem::Stopped { during };
        }
        ScriptProblem::Timeout { seconds: self.config.test_timeout.as_secs_f64(), during, abandoned }
    }
}

/// What a test file that failed to load on a relive name waits for, and its error (L6): its
/// script is blocked with it, on a load as on a reload.
pub(crate) fn test_file_wait(report: &TestReport) -> Option<(Wait, PyFailure)> {
    let waiting = report.waiting.as_ref().filter(|_| report.test_file_failed)?;
    let error = report.results.first()?;
    let failure = PyFailure {
        kind: waiting.kind.clone(),
        message: format!("{} (in its test file)", waiting.message),
        file: None,
        line: None,
        column: None,
        traceback: error.traceback.clone(),
    };
    Some((waiting.wait.clone(), failure))
}

fn tests_problem(report: &TestReport) -> ScriptProblem {
    let first = report.failures().next().map(|r| format!("{}: {}", r.id, r.message)).unwrap_or_default();
    if report.test_file_failed {
        return ScriptProblem::TestFile { error: first };
    }
    ScriptProblem::Tests { found: report.found, failed: report.failed(), first }
}

/// The script's test file compiled, or a report of its failure to compile.
fn compile_test_file(
    py: Python<'_>,
    found: &FoundScript,
    cache: &TestFileCache,
) -> Option<Result<TestFile, TestReport>> {
    let mut files = layout::test_files_for(&found.file).into_iter();
    let path = files.next()?;
    for ignored in files {
        // T8: nothing that looks like a test is ignored without a word.
        let name =
            |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        log::warn!(
            "{}: {} is not run: {} is this script's test file (a script has one test file)",
            found.path,
            name(&ignored),
            name(&path)
        );
    }
    let display = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let compiled =
        script::read(&path, script::DEFAULT_SIZE_LIMIT).and_then(|bytes| cache.compiled(py, &path, bytes));
    Some(match compiled {
        Ok(code) => Ok(TestFile { code, path }),
        Err(problem) => {
            let failure = match problem {
                ScriptProblem::Error { failure } => *failure,
                other => PyFailure {
                    kind: "TestFileError".into(),
                    message: other.to_string(),
                    file: Some(path.to_string_lossy().into_owned()),
                    line: None,
                    column: None,
                    traceback: String::new(),
                },
            };
            Err(run::test_file_error(&display, &failure))
        }
    })
}

/// Compiled test files by path, with the bytes each was compiled from: a test file that did
/// not change is not decoded, parsed and compiled again (R15 tests many scripts per batch).
/// One entry per test file, replaced when its bytes change: it does not grow with reloads.
#[derive(Debug, Default)]
pub(crate) struct TestFileCache(std::sync::Mutex<CompiledTestFiles>);

/// Test file path -> (the bytes compiled, the code object).
type CompiledTestFiles = std::collections::BTreeMap<std::path::PathBuf, (Vec<u8>, Py<PyAny>)>;

impl TestFileCache {
    /// Forgets the test files under `root` (its directory was removed, L9).
    pub(crate) fn forget_under(&self, root: &std::path::Path) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).retain(|path, _| !path.starts_with(root));
    }

    fn compiled(
        &self,
        py: Python<'_>,
        path: &std::path::Path,
        bytes: Vec<u8>,
    ) -> Result<Py<PyAny>, ScriptProblem> {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, code)) = cache.get(path)
            && *cached == bytes
        {
            return Ok(code.clone_ref(py));
        }
        let code = script::compile(py, path, &bytes, None)?.code.into_any();
        cache.insert(path.to_path_buf(), (bytes, code.clone_ref(py)));
        Ok(code)
    }
}
