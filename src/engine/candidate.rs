//! Checking a candidate before anything goes live (R1, T2): execute its module-level code,
//! then run its tests, both bounded by the per-script timeout (T6).
//!
//! Used alike by loads (`load_step`: [`Gate::check`], each script with its own view) and batches
//! (`batch_build`: [`Gate::exec`], then `batch_test`: [`Tester::test`] once every member ran), so a script meets
//! the same gate on its first load and on every change; a test file waiting for a relive
//! name blocks its script the same way in both (`test_file_wait`, L6).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
    Done {
        elapsed: Duration,
        /// What it exported when it joined the view (L4), when it did.
        exports: Option<Vec<String>>,
    },
    /// Its module-level code raised (a blocked import is told apart by the caller).
    Raised(PyErr),
    /// A validate callback rejected it, or the timeout expired.
    Failed(ScriptProblem),
}

/// How a script's tests fared: a report (none when tests are off), or the problem that
/// rejects it with the report so far.
pub(crate) type Tested = Result<Option<TestReport>, (ScriptProblem, Option<TestReport>)>;

/// What running a candidate needs, owned, so that a load's members (`load_step.rs`) and a
/// batch's builds (`batch_build.rs`) can run on the worker thread one after the other
/// (issue 17).
pub(crate) struct Gate {
    tests: bool,
    validate: Py<PyAny>,
    registry: Py<PyAny>,
    tester: Tester,
}

/// What running a script's tests needs, owned, so that a batch's test runs can go to the
/// worker thread together (`batch_test.rs`).
pub(crate) struct Tester {
    /// The per-script timeout (T6), as reports name it.
    timeout: Duration,
    namespaces: Vec<String>,
    test_files: Arc<TestFileCache>,
    stop: Arc<AtomicBool>,
}

impl Gate {
    /// Every relive namespace when the gate was made, sorted.
    pub(crate) fn namespaces(&self) -> &[String] {
        &self.tester.namespaces
    }

    /// The stop flag (W4).
    pub(crate) fn stop(&self) -> Arc<AtomicBool> {
        self.tester.stop()
    }

    /// Executes `compiled` into `globals` and runs the script's tests against it, in `view`
    /// (a load attempt: one script, its own view). `own`: the names its version in effect
    /// contributes. `run` carries the job out (on the worker thread either way).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
        own: Vec<String>,
        view: &View,
        run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
    ) -> Result<Checked, Error> {
        let tests = self.tests;
        let test_file = if tests { compile_test_file(py, found, &self.tester.test_files) } else { None };
        let (test_file, broken) = match test_file {
            Some(Ok(file)) => (Some(file), None),
            Some(Err(report)) => (None, Some(report)),
            None => (None, None),
        };
        // Without tests nothing runs in the view: it joins none.
        let (view_if, test) = (tests.then_some(view), (test_file.as_ref(), tests && broken.is_none()));
        let finished = self.execute(py, found, compiled, globals, own, view_if, test, run).map(|(f, _)| f);
        view.release(py, std::slice::from_ref(globals)).map_err(|e| Error::python(py, &e))?;
        Ok(self.checked(py, found, globals, finished?, broken))
    }

    /// Executes a batch member's candidate into `globals` inside the batch's `view`, which
    /// it joins once it ran and was validated (R15); its tests run later ([`Tester::test`]).
    /// `own`: the names its version in effect contributes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn exec(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
        own: Vec<String>,
        view: &View,
        run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
    ) -> Result<Ran, Error> {
        let started = Instant::now();
        let (finished, exports) =
            self.execute(py, found, compiled, globals, own, Some(view), (None, false), run)?;
        Ok(self.ran(py, found, finished, started.elapsed(), exports))
    }

    /// The one job of a candidate: its module-level code runs into `globals` (inside `view`,
    /// which it joins once it ran), is validated (its R8a/R8b snapshots taken first), and,
    /// when `tests` says so (its test file, and whether its tests run), is tested in the
    /// same job.
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
        own: Vec<String>,
        view: Option<&View>,
        (test_file, tests): (Option<&TestFile>, bool),
        run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
    ) -> Result<(Finished, Option<Vec<String>>), Error> {
        let validate =
            validate_with_snapshots(py, self.validate.bind(py), compiled, globals, &self.tester.namespaces)?;
        let join =
            joining(py, self.registry.bind(py), found, compiled, own).map_err(|e| Error::python(py, &e))?;
        let job = Job {
            view: view.map(|v| v.clone_ref(py)),
            join: view.map(|_| &join),
            namespaces: self.tester.namespaces.clone(),
            validate: Some(validate.unbind()),
            code: Some(compiled.code.clone_ref(py).into_any()),
            globals: globals.clone().unbind(),
            test_file,
            tests,
            timeout: self.tester.timeout,
            display_path: found.path.as_str(),
            stop: self.tester.stop(),
        };
        let finished = run(py, job).map_err(|e| Error::python(py, &e))?;
        let exported = join.exported(py).map_err(|e| Error::python(py, &e))?;
        Ok((finished, exported))
    }

    /// How a batch member's module-level code fared, from how its job finished after
    /// `elapsed`.
    pub(crate) fn ran(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        finished: Finished,
        elapsed: Duration,
        exports: Option<Vec<String>>,
    ) -> Ran {
        match finished {
            Finished::Ran(_) => Ran::Done { elapsed, exports },
            Finished::Raised(err) => Ran::Raised(err),
            Finished::Invalid(err) => {
                let failure = PyFailure::locate(py, &err, Some(&found.file.to_string_lossy()));
                Ran::Failed(ScriptProblem::Validate { failure: Box::new(failure) })
            }
            Finished::TimedOut { phase, abandoned, stopped, .. } => {
                Ran::Failed(timeout_problem(self.tester.timeout, phase, abandoned, stopped))
            }
        }
    }

    /// The registry of contributed objects (L4).
    pub(crate) fn registry<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.registry.bind(py).clone()
    }

    /// How a load attempt fared, from how its job finished; `broken`: its test file did not
    /// compile.
    pub(crate) fn checked(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        globals: &Bound<'_, PyDict>,
        finished: Finished,
        broken: Option<TestReport>,
    ) -> Checked {
        if !matches!((&finished, &broken), (Finished::Ran(Some(r)), None) if r.is_green())
            && !matches!((&finished, &broken), (Finished::Ran(None), None))
        {
            // R1, R8b: a failed load attempt takes back what it registered elsewhere.
            super::update::undo_contribution(py, globals);
        }
        match (finished, broken) {
            (Finished::Raised(err), _) => Checked::Raised(err),
            (Finished::Invalid(err), _) => {
                let failure = PyFailure::locate(py, &err, Some(&found.file.to_string_lossy()));
                Checked::Failed(ScriptProblem::Validate { failure: Box::new(failure) }, None)
            }
            (Finished::TimedOut { phase, abandoned, stopped, tests }, _) => {
                Checked::Failed(timeout_problem(self.tester.timeout, phase, abandoned, stopped), tests)
            }
            (Finished::Ran(_), Some(report)) => {
                log::info!("{}: {}", found.path, crate::testing::result::tests_found(0));
                Checked::Failed(tests_problem(&report), Some(report))
            }
            (Finished::Ran(Some(report)), None) if !report.is_green() => {
                Checked::Failed(tests_problem(&report), Some(report))
            }
            (Finished::Ran(report), None) => Checked::Passed(report),
        }
    }
}

impl Tester {
    /// The stop flag (W4).
    pub(crate) fn stop(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Runs the tests of `globals` (a candidate, or the code in effect) with the script's
    /// test file, inside `view` when given, bounded by `timeout` (T5, T6, R15). `run`
    /// carries the job out (on the worker thread either way).
    pub(crate) fn test(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        globals: &Bound<'_, PyDict>,
        view: Option<&View>,
        timeout: Duration,
        run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
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
            namespaces: self.namespaces.clone(),
            validate: None,
            code: None,
            globals: globals.clone().unbind(),
            test_file: test_file.as_ref(),
            tests: true,
            timeout,
            display_path: found.path.as_str(),
            stop: self.stop(),
        };
        Ok(self.tested(py, run(py, job).map_err(|e| Error::python(py, &e))?))
    }

    /// How a test run fared, from how its job finished.
    #[allow(clippy::result_large_err)] // `Tested` is what a batch keeps per member, built once per run
    pub(crate) fn tested(&self, py: Python<'_>, finished: Finished) -> Tested {
        match finished {
            Finished::Ran(Some(report)) if report.is_green() => Ok(Some(report)),
            Finished::Ran(Some(report)) => Err((tests_problem(&report), Some(report))),
            Finished::Ran(None) => Ok(Some(TestReport::default())),
            Finished::TimedOut { phase, abandoned, stopped, tests } => {
                Err((timeout_problem(self.timeout, phase, abandoned, stopped), tests))
            }
            Finished::Raised(err) | Finished::Invalid(err) => {
                let failure = PyFailure::from_err(py, &err);
                Err((ScriptProblem::Error { failure: Box::new(failure) }, None))
            }
        }
    }
}

/// The validate callbacks, wrapped so that the candidate's R8a and R8b snapshots are taken
/// right after its module-level code ran, before validate and tests.
fn validate_with_snapshots<'py>(
    py: Python<'py>,
    validate: &Bound<'py, PyAny>,
    compiled: &Compiled,
    globals: &Bound<'py, PyDict>,
    namespaces: &[String],
) -> Result<Bound<'py, PyAny>, Error> {
    let source = compiled.source.bind(py);
    super::update::snapshot_before(py, validate, &compiled.imported, globals, source, namespaces.to_vec())
        .map_err(|e| Error::python(py, &e))
}

/// How a candidate of `found` joins a view (T1): its exports replace `own`, its version's.
fn joining(
    py: Python<'_>,
    registry: &Bound<'_, PyAny>,
    found: &FoundScript,
    compiled: &Compiled,
    own: Vec<String>,
) -> PyResult<Joining> {
    let exports = script::exports_function(py, compiled, &found.namespace, registry)?;
    Ok(Joining::new(Join { namespace: found.namespace.clone(), exports, own }))
}

impl Reloader {
    /// What checking a load attempt needs, owned (see [`Gate`]).
    pub(crate) fn gate(&self, py: Python<'_>) -> Result<Gate, Error> {
        let validate = self.callbacks.validate_function(py).map_err(|e| Error::python(py, &e))?;
        Ok(Gate {
            tests: self.config.tests,
            validate: validate.into_any().unbind(),
            registry: self.registry.clone_ref(py),
            tester: self.tester(),
        })
    }

    /// What running a script's tests needs, owned (see [`Tester`]).
    pub(crate) fn tester(&self) -> Tester {
        Tester {
            timeout: self.config.test_timeout,
            namespaces: self.namespace_names(),
            test_files: self.test_files.clone(),
            stop: self.stop.flag(),
        }
    }

    /// The names the version in effect of `found` contributes (none for a new script).
    pub(crate) fn own_names(&self, found: &FoundScript) -> Vec<String> {
        self.scripts.get(&found.file).map(|s| s.contributions.clone()).unwrap_or_default()
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
        joining(py, self.registry.bind(py), found, compiled, self.own_names(found))
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
        self.tester().test(py, found, globals, view, timeout, run::run)
    }
}

fn timeout_problem(timeout: Duration, phase: Phase, abandoned: bool, stopped: bool) -> ScriptProblem {
    let during = match phase {
        Phase::Exec => "module-level code".to_string(),
        Phase::Tests => "tests".to_string(),
    };
    if stopped {
        return ScriptProblem::Stopped { during };
    }
    ScriptProblem::Timeout { seconds: timeout.as_secs_f64(), during, abandoned }
}

/// A script's bytes read (W1) and compiled (E1): a candidate as a load or a retry of a
/// pending script builds it; the problem that stops it otherwise.
pub(crate) fn build(
    py: Python<'_>,
    file: &std::path::Path,
    size_limit: u64,
) -> Result<(Vec<u8>, Compiled), ScriptProblem> {
    let bytes = script::read(file, size_limit)?;
    let compiled = script::compile(py, file, &bytes, None)?;
    Ok((bytes, compiled))
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
