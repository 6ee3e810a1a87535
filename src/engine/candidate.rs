//! Checking a candidate before anything goes live (R1, T2): execute its module-level code,
//! then run its tests, both bounded by the per-script timeout (T6).
//!
//! Used alike by loads (`load`) and reloads (`reload`), so a script meets the same gate on
//! its first load and on every change.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::directory::FoundScript;
use super::script::{self, Compiled};
use super::{Error, Reloader};
use crate::python::PyFailure;
use crate::report::ScriptProblem;
use crate::testing::run::{self, Finished, Job, Phase, TestFile};
use crate::testing::view;
use crate::testing::{TestReport, discover};

/// How a candidate fared.
pub(crate) enum Checked {
    /// It ran, and its tests (if on) passed.
    Passed(Option<TestReport>),
    /// Its module-level code raised (a blocked import is told apart by the caller).
    Raised(PyErr),
    /// Its tests failed, or the timeout expired.
    Failed(ScriptProblem, Option<TestReport>),
}

impl Reloader {
    /// Executes `compiled` into `globals` and runs the script's tests against it.
    pub(crate) fn check_candidate(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
    ) -> Result<Checked, Error> {
        let tests = self.config.tests;
        let test_file = if tests { compile_test_file(py, found) } else { None };
        let (test_file, broken) = match test_file {
            Some(Ok(file)) => (Some(file), None),
            Some(Err(report)) => (None, Some(report)),
            None => (None, None),
        };
        let validate = self.callbacks.validate_function(py).map_err(|e| Error::python(py, &e))?;
        let validate = super::update::snapshot_before(py, validate.as_any(), &compiled.imported)
            .map_err(|e| Error::python(py, &e))?;
        let view = if tests {
            Some(self.candidate_view(py, found, compiled).map_err(|e| Error::python(py, &e))?)
        } else {
            None
        };
        let job = Job {
            view,
            validate: Some(validate.unbind()),
            code: Some(compiled.code.clone_ref(py)),
            globals: globals.clone().unbind(),
            test_file: test_file.as_ref(),
            tests: tests && broken.is_none(),
            timeout: self.config.test_timeout,
            display_path: found.path.as_str(),
            stop: self.stop.flag(),
        };
        let finished = run::run(py, job).map_err(|e| Error::python(py, &e))?;
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

    /// T1: the candidate seen through its namespace while its tests run.
    fn candidate_view(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        compiled: &Compiled,
    ) -> PyResult<Py<PyAny>> {
        let registry = self.registry.bind(py);
        let own = self.scripts.get(&found.file).map(|s| s.contributions.clone()).unwrap_or_default();
        view::candidate_view(
            py,
            view::ViewOf {
                namespace: &found.namespace,
                exports: script::exports_function(py, compiled, &found.namespace, registry)?,
                own,
            },
        )
    }

    /// Runs the tests of the code in effect again (T5): its test file changed.
    pub(crate) fn retest_script(
        &self,
        py: Python<'_>,
        found: &FoundScript,
        globals: &Bound<'_, PyDict>,
    ) -> Result<Result<TestReport, (ScriptProblem, Option<TestReport>)>, Error> {
        let test_file = match compile_test_file(py, found) {
            Some(Ok(file)) => Some(file),
            Some(Err(report)) => {
                log::info!("{}: {}", found.path, crate::testing::result::tests_found(0));
                return Ok(Err((tests_problem(&report), Some(report))));
            }
            None => None,
        };
        let job = Job {
            view: None,
            validate: None,
            code: None,
            globals: globals.clone().unbind(),
            test_file: test_file.as_ref(),
            tests: true,
            timeout: self.config.test_timeout,
            display_path: found.path.as_str(),
            stop: self.stop.flag(),
        };
        match run::run(py, job).map_err(|e| Error::python(py, &e))? {
            Finished::Ran(Some(report)) if report.is_green() => Ok(Ok(report)),
            Finished::Ran(Some(report)) => Ok(Err((tests_problem(&report), Some(report)))),
            Finished::Ran(None) => Ok(Ok(TestReport::default())),
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

fn tests_problem(report: &TestReport) -> ScriptProblem {
    let first = report.failures().next().map(|r| format!("{}: {}", r.id, r.message)).unwrap_or_default();
    if report.test_file_failed {
        return ScriptProblem::TestFile { error: first };
    }
    ScriptProblem::Tests { found: report.found, failed: report.failed(), first }
}

/// The script's test file compiled, or a report of its failure to compile.
fn compile_test_file(py: Python<'_>, found: &FoundScript) -> Option<Result<TestFile, TestReport>> {
    let mut files = discover::test_files_for(&found.file).into_iter();
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
        script::read(&path, script::DEFAULT_SIZE_LIMIT).and_then(|bytes| script::compile(py, &path, &bytes));
    Some(match compiled {
        Ok(compiled) => Ok(TestFile { code: compiled.code, path }),
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
