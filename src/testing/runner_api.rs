//! `runner.py` behind typed calls: its arguments by name, its answers (`Outcome`, `Tests`,
//! `Record`) read as `FromPyObject` structs, its `Deadline` and `ScriptTimeout` typed (T2,
//! T6, W1). The worker and the timeout that use them are in `run.rs`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::result::{TestFileWait, TestOutcome, TestReport, TestResult};
use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("runner.py"), c"src/testing/runner.py", c"_relive_runner");

// `runner.py`'s exception raised in the worker when the timeout expires (T6); the helper is
// loaded (by `runner`) before any check against it.
pyo3::import_exception!(_relive_runner, ScriptTimeout);

/// The runner helper; `plain.py`, which it imports, is loaded first.
pub(super) fn runner(py: Python<'_>) -> &Bound<'_, pyo3::types::PyModule> {
    super::plain::module(py);
    // `runner.py` imports it to leave relive's frames out of tracebacks.
    crate::python::failure_module(py).expect("the failure helper loads");
    HELPER.module(py)
}

/// The arguments of `runner.py`'s `run`, by name: execute a candidate, validate it, test it.
#[derive(IntoPyObject)]
pub(super) struct RunArgs {
    pub(super) code: Py<PyAny>,
    pub(super) candidate: Py<PyDict>,
    pub(super) test_code: Option<Py<PyAny>>,
    pub(super) test_path: Option<String>,
    pub(super) tests_enabled: bool,
    pub(super) deadline: Py<PyAny>,
    pub(super) validate: Option<Py<PyAny>>,
    pub(super) view: Option<Py<PyAny>>,
    pub(super) join: Option<Py<PyAny>>,
    pub(super) namespaces: Vec<String>,
}

/// The arguments of `runner.py`'s `retest`, by name: test the code in effect (T5) or a
/// candidate that ran already.
#[derive(IntoPyObject)]
pub(super) struct RetestArgs {
    pub(super) g: Py<PyDict>,
    pub(super) test_code: Option<Py<PyAny>>,
    pub(super) test_path: Option<String>,
    pub(super) deadline: Py<PyAny>,
    pub(super) view: Option<Py<PyAny>>,
    pub(super) namespaces: Vec<String>,
}

/// One call into `runner.py`, made on the worker thread.
pub(super) enum RunnerCall {
    Run(RunArgs),
    Retest(RetestArgs),
}

impl RunnerCall {
    /// Calls the runner; answers its `Outcome` (read as [`RunOutcome`]).
    pub(super) fn call(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let helper = runner(py);
        let (function, kwargs) = match self {
            RunnerCall::Run(args) => (pyo3::intern!(py, "run"), args.into_pyobject(py)?),
            RunnerCall::Retest(args) => (pyo3::intern!(py, "retest"), args.into_pyobject(py)?),
        };
        helper.call_method(function, (), Some(&kwargs.cast_into::<PyDict>()?))
    }
}

/// `runner.py`'s `Deadline`, shared by the worker and the waiting thread (T6).
pub(super) struct Deadline(pub(super) Py<PyAny>);

impl Deadline {
    pub(super) fn new(py: Python<'_>) -> PyResult<Deadline> {
        Ok(Deadline(runner(py).getattr(pyo3::intern!(py, "Deadline"))?.call0()?.unbind()))
    }

    /// The run ended because a stop was requested, not because time ran out (W4).
    pub(super) fn set_stopped(&self, py: Python<'_>) -> PyResult<()> {
        self.0.bind(py).setattr(pyo3::intern!(py, "stopped"), true)
    }

    /// The worker left its run.
    pub(super) fn finished(&self, py: Python<'_>) -> PyResult<bool> {
        self.0.bind(py).getattr(pyo3::intern!(py, "finished"))?.extract()
    }

    /// Whether the waiting thread marked it expired (the timeout or a stop interrupted it).
    pub(super) fn expired(&self, py: Python<'_>) -> PyResult<bool> {
        self.0.bind(py).getattr(pyo3::intern!(py, "expired"))?.extract()
    }

    /// Marks the deadline expired: the run stops after the current test.
    pub(super) fn expire(&self, py: Python<'_>) -> PyResult<()> {
        self.0.bind(py).setattr(pyo3::intern!(py, "expired"), true)
    }
}

/// Where a run was, or ended (`runner.py`'s `phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunPhase {
    Exec,
    Validate,
    Tests,
}

impl<'a, 'py> FromPyObject<'a, 'py> for RunPhase {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<RunPhase> {
        let word: pyo3::pybacked::PyBackedStr = obj.extract()?;
        match &*word {
            "exec" => Ok(RunPhase::Exec),
            "validate" => Ok(RunPhase::Validate),
            "tests" => Ok(RunPhase::Tests),
            other => Err(pyo3::exceptions::PyValueError::new_err(format!("unknown run phase {other:?}"))),
        }
    }
}

/// What the worker's `Deadline` holds when the worker is abandoned.
#[derive(FromPyObject)]
pub(super) struct DeadlineState {
    pub(super) phase: RunPhase,
    pub(super) found: usize,
    pub(super) current: Option<String>,
    /// The results recorded so far.
    pub(super) records: Vec<Record>,
}

/// `runner.py`'s `Outcome`: how a run ended.
#[derive(FromPyObject)]
pub(super) struct RunOutcome<'py> {
    pub(super) phase: RunPhase,
    /// The exception that ended the run.
    pub(super) error: Option<Bound<'py, PyAny>>,
    pub(super) tests: Option<RawTests<'py>>,
}

/// `runner.py`'s `Tests`.
#[derive(FromPyObject)]
pub(super) struct RawTests<'py> {
    /// `None` when the test file failed to load.
    pub(super) found: Option<usize>,
    pub(super) records: Vec<Record>,
    /// The tests the test file itself defines.
    pub(super) test_file_found: Option<usize>,
    /// What a test file that failed on a relive name waits for (L6).
    pub(super) wait: Bound<'py, PyAny>,
    /// That failure's (type name, message).
    pub(super) error: Option<(String, String)>,
}

impl RawTests<'_> {
    pub(super) fn into_report(self) -> PyResult<TestReport> {
        let timed_out = self.records.iter().any(|r| r.timed_out);
        let results = self.records.into_iter().map(Record::into_result).collect::<PyResult<_>>()?;
        Ok(TestReport {
            found: self.found.unwrap_or(0),
            results,
            timed_out,
            test_file_failed: self.found.is_none(),
            test_file_found: self.test_file_found,
            waiting: match (crate::engine::read_wait(&self.wait)?, self.error) {
                (Some(wait), Some((kind, message))) => Some(TestFileWait { wait, kind, message }),
                _ => None,
            },
        })
    }
}

/// `runner.py`'s `Record`: one test's result.
#[derive(FromPyObject)]
pub(super) struct Record {
    pub(super) id: String,
    pub(super) outcome: String,
    pub(super) duration_ms: f64,
    pub(super) message: String,
    pub(super) traceback: String,
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) parent: Option<String>,
    pub(super) file: Option<String>,
    pub(super) line: Option<u32>,
    /// The timeout (or a stop request) ended this test (T6).
    pub(super) timed_out: bool,
}

impl Record {
    pub(super) fn into_result(self) -> PyResult<TestResult> {
        let outcome = self.outcome.parse::<TestOutcome>().map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("runner.py recorded {}: {e}", self.id))
        })?;
        Ok(TestResult {
            id: self.id,
            outcome,
            duration_ms: self.duration_ms,
            message: self.message,
            traceback: self.traceback,
            stdout: self.stdout,
            stderr: self.stderr,
            parent: self.parent,
            file: self.file,
            line: self.line,
        })
    }
}

/// Files candidate code or tests opened for writing since the last call, resolved (W1: a
/// script that rewrites its own file is not reloaded in a loop).
pub(crate) fn take_written(py: Python<'_>) -> PyResult<Vec<PathBuf>> {
    HELPER.module(py).call_method0("take_written")?.extract()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(runner(py).hasattr("run").unwrap()));
    }
}
