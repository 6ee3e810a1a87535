//! Running a candidate and its tests on a worker thread, bounded by the per-script timeout
//! (T2, T6, E2).
//!
//! The caller detaches from the interpreter while it waits. When the timeout expires, a
//! `ScriptTimeout` is raised in the worker, which stops Python code at its next bytecode;
//! a worker still busy one second later (blocked inside C) is abandoned and logged at ERROR.
//! The calls into `runner.py` and its answers, typed, are in `runner_api.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::result::{TestOutcome, TestReport, TestResult, tests_found};
pub(crate) use super::runner_api::take_written;
use super::runner_api::{
    Deadline, DeadlineState, RawTests, Record, RetestArgs, RunArgs, RunOutcome, RunPhase, RunnerCall,
    ScriptTimeout,
};
use super::view::{Joining, View};
use crate::python::PyFailure;

/// A compiled test file.
pub(crate) struct TestFile {
    /// Its code object.
    pub(crate) code: Py<PyAny>,
    /// Its path, for `__file__` and messages.
    pub(crate) path: PathBuf,
}

/// What to run.
pub(crate) struct Job<'a> {
    /// The candidate's code; `None` to only run tests against `globals` (T5 retest).
    pub(crate) code: Option<Py<PyAny>>,
    /// The globals to execute into (a candidate) or to test (the code in effect).
    pub(crate) globals: Py<PyDict>,
    /// The script's test file, compiled, when it has one.
    pub(crate) test_file: Option<&'a TestFile>,
    /// Whether tests run at all (T7).
    pub(crate) tests: bool,
    /// The per-script timeout (T6).
    pub(crate) timeout: Duration,
    /// The script's path relative to its directory, for the T3 log line.
    pub(crate) display_path: &'a str,
    /// Called with the candidate's globals after it ran, before its tests (R13).
    pub(crate) validate: Option<Py<PyAny>>,
    /// The batch's candidates seen through their namespaces while this one runs and is
    /// tested (T1, R15): a `BatchView` of `view.py`.
    pub(crate) view: Option<View>,
    /// How the candidate joins the view once it ran.
    pub(crate) join: Option<&'a Joining>,
    /// Every relive namespace, to tell what a test file that failed to load waits for (L6).
    pub(crate) namespaces: Vec<String>,
    /// Set when a stop is requested: the run is interrupted like a timeout (W4).
    pub(crate) stop: Arc<AtomicBool>,
}

/// Where a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Module-level code.
    Exec,
    /// The tests.
    Tests,
}

/// How a run ended.
pub(crate) enum Finished {
    /// Module-level code ran; tests (if on) ran and are in the report.
    Ran(Option<TestReport>),
    /// Module-level code raised.
    Raised(PyErr),
    /// A validate callback raised (R13).
    Invalid(PyErr),
    /// The timeout expired (T6), or a stop was requested (`stopped`, W4). `abandoned` when
    /// the worker did not stop within a second.
    TimedOut { phase: Phase, abandoned: bool, stopped: bool, tests: Option<TestReport> },
}

/// The worker's answer: the runner's result.
type Done = PyResult<Py<PyAny>>;

/// When the worker started a job: the per-script timeout counts from there (T6), not from
/// when the job was handed over, and the caller is not woken to learn it.
#[derive(Default)]
struct Started(Mutex<Option<Instant>>);

impl Started {
    fn mark(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn at(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(super) type Work = Box<dyn FnOnce(Python<'_>) + Send>;

/// The long-lived worker thread that runs candidates: it stays attached to the interpreter
/// (detached only while it waits for work), so a job costs no thread or thread-state set-up.
struct Worker {
    jobs: mpsc::Sender<Work>,
    /// `threading.get_ident()` of the worker, for `PyThreadState_SetAsyncExc`.
    ident: u64,
}

/// The current worker; replaced when one is abandoned, blocked inside C (T6).
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);

fn spawn_worker() -> PyResult<Worker> {
    let (jobs, queue) = mpsc::channel::<Work>();
    let (ready, ident) = mpsc::channel();
    std::thread::Builder::new()
        .name("relive-worker".into())
        .spawn(move || {
            Python::attach(|py| {
                let ident = py
                    .import("threading")
                    .and_then(|t| t.call_method0("get_ident"))
                    .and_then(|i| i.extract::<u64>())
                    .unwrap_or(0);
                let _ = ready.send(ident);
                let mut queue = queue;
                loop {
                    let (work, rest) = py.detach(move || (queue.recv(), queue));
                    queue = rest;
                    match work {
                        Ok(work) => work(py),
                        Err(_) => return,
                    }
                }
            })
        })
        .map_err(|e| {
            pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the worker thread: {e}"))
        })?;
    let ident = ident.recv().map_err(|_| {
        pyo3::exceptions::PyRuntimeError::new_err("the worker thread ended before it started")
    })?;
    Ok(Worker { jobs, ident })
}

/// Hands `work` to the worker (starting one if needed); returns the worker's thread id.
pub(super) fn submit(work: Work) -> PyResult<u64> {
    let mut slot = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(spawn_worker()?);
    }
    let worker = slot.as_ref().expect("set above");
    match worker.jobs.send(work) {
        Ok(()) => Ok(worker.ident),
        Err(mpsc::SendError(work)) => {
            *slot = Some(spawn_worker()?);
            let worker = slot.as_ref().expect("set above");
            worker
                .jobs
                .send(work)
                .map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("the worker thread is gone"))?;
            Ok(worker.ident)
        }
    }
}

/// Forgets the worker with `ident`: it is blocked and will exit once its job returns.
pub(super) fn abandon(ident: u64) {
    let mut slot = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_some_and(|w| w.ident == ident) {
        *slot = None;
    }
}

/// Runs `job` on the worker thread; the caller's thread waits detached.
pub(crate) fn run(py: Python<'_>, job: Job<'_>) -> PyResult<Finished> {
    let deadline = Deadline::new(py)?;
    let call = runner_call(py, &job, &deadline)?;
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(Started::default());
    let marker = started.clone();
    let work: Work = Box::new(move |py: Python<'_>| {
        marker.mark();
        let result = call.call(py);
        let _ = tx.send(result.map(Bound::unbind));
    });
    let (timeout, stop) = (job.timeout, job.stop.clone());
    // One detached stretch for handing the job over and waiting for it: the caller takes the
    // interpreter back once, when the job is over (a new worker needs it to start, too).
    let (waited, rx) = py.detach(move || {
        let waited = submit(work).map(|ident| (ident, wait_done(&rx, &started, timeout, &stop)));
        (waited, rx)
    });
    let (ident, message) = waited?;
    let stopped = job.stop.load(Ordering::SeqCst);
    let (outcome, timed_out) = match message {
        Ok(result) => (Some(result), false),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err("the worker thread dropped a job"));
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if stopped {
                deadline.set_stopped(py)?;
            }
            interrupt(py, ident, &deadline)?;
            match py.detach(move || rx.recv_timeout(Duration::from_secs(1))) {
                Ok(result) => (Some(result), true),
                _ => (None, true),
            }
        }
    };
    let Some(outcome) = outcome else {
        // Detached: `submit` may hold the worker lock while a new worker waits for the GIL.
        py.detach(|| abandon(ident));
        return abandoned(py, &deadline, job.display_path, stopped);
    };
    conclude(py, &job, outcome, timed_out, stopped)
}

/// The runner call that carries out `job`, bounded by `deadline`.
pub(super) fn runner_call(py: Python<'_>, job: &Job<'_>, deadline: &Deadline) -> PyResult<RunnerCall> {
    let test_code = job.test_file.map(|t| t.code.clone_ref(py));
    let test_path = job.test_file.map(|t| t.path.to_string_lossy().into_owned());
    let view = job.view.as_ref().map(|v| v.clone_ref(py).into_py());
    Ok(match job.code.as_ref() {
        Some(code) => RunnerCall::Run(RunArgs {
            code: code.clone_ref(py),
            candidate: job.globals.clone_ref(py),
            test_code,
            test_path,
            tests_enabled: job.tests,
            deadline: deadline.0.clone_ref(py),
            validate: job.validate.as_ref().map(|v| v.clone_ref(py)),
            view,
            join: job.join.map(|j| j.to_argument(py)).transpose()?,
            namespaces: job.namespaces.clone(),
        }),
        None => RunnerCall::Retest(RetestArgs {
            g: job.globals.clone_ref(py),
            test_code,
            test_path,
            deadline: deadline.0.clone_ref(py),
            view,
            namespaces: job.namespaces.clone(),
        }),
    })
}

/// A job whose worker was abandoned, blocked inside C after the timeout (T6).
pub(super) fn abandoned(
    py: Python<'_>,
    deadline: &Deadline,
    display_path: &str,
    stopped: bool,
) -> PyResult<Finished> {
    log::error!(
        "{display_path}: abandoned a worker thread still blocked 1 s after the timeout (code blocked inside C)"
    );
    abandoned_at(py, deadline, display_path, stopped)
}

/// How a job ended, from the runner's answer: `timed_out` when the timeout expired (or a
/// stop was requested, `stopped`) while it ran.
pub(super) fn conclude(
    py: Python<'_>,
    job: &Job<'_>,
    outcome: PyResult<Py<PyAny>>,
    timed_out: bool,
    stopped: bool,
) -> PyResult<Finished> {
    // A timeout delivered while the runner was already leaving its `try` escapes it: it is
    // still a timeout of this script, not a failure of relive.
    let outcome = match outcome {
        Err(err) if err.is_instance_of::<ScriptTimeout>(py) => {
            return Ok(Finished::TimedOut { phase: Phase::Exec, abandoned: false, stopped, tests: None });
        }
        result => result?,
    };
    let RunOutcome { phase: ended_in, error, tests } = outcome.bind(py).extract()?;
    let phase = match ended_in {
        RunPhase::Tests => Phase::Tests,
        RunPhase::Exec | RunPhase::Validate => Phase::Exec,
    };
    let mut report = tests.map(RawTests::into_report).transpose()?;
    // A test file waiting for a relive name (L6) did not run yet: its run is logged when it does.
    if let Some(report) = report.as_ref().filter(|r| !(r.test_file_failed && r.waiting.is_some())) {
        log::info!("{}: {}", job.display_path, tests_found(report.found));
        if let Some(file) = job.test_file.filter(|_| report.test_file_found == Some(0)) {
            log::warn!(
                "{}: no tests found in this test file (write unittest.TestCase classes, test* functions or Test* classes)",
                shown_test_file(job.display_path, &file.path)
            );
        }
    }
    let raised_timeout = error.as_ref().is_some_and(|e| e.is_instance_of::<ScriptTimeout>());
    if timed_out || raised_timeout || report.as_ref().is_some_and(|r| r.timed_out) {
        if let Some(report) = report.as_mut() {
            report.timed_out = true;
        }
        if error.is_none() && !timed_out {
            return Ok(Finished::Ran(report));
        }
        return Ok(Finished::TimedOut { phase, abandoned: false, stopped, tests: report });
    }
    if let Some(error) = error {
        let err = PyErr::from_value(error);
        return Ok(if ended_in == RunPhase::Validate {
            Finished::Invalid(err)
        } else {
            Finished::Raised(err)
        });
    }
    Ok(Finished::Ran(report))
}

/// Waits for the worker's answer until `timeout` passed since the job started or a stop is
/// requested, looking at the stop flag every 50 ms (W4: interrupted within about a second).
/// A job not started yet (the worker is busy with another caller's) has used no time.
fn wait_done(
    rx: &mpsc::Receiver<Done>,
    started: &Started,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<Done, mpsc::RecvTimeoutError> {
    let poll = Duration::from_millis(50);
    loop {
        let now = Instant::now();
        let left = started.at().map(|at| (at + timeout).saturating_duration_since(now));
        // Only a started job is interrupted: the worker may be running another one.
        if left.is_some_and(|left| left.is_zero() || stop.load(Ordering::SeqCst)) {
            return Err(mpsc::RecvTimeoutError::Timeout);
        }
        match rx.recv_timeout(left.unwrap_or(poll).min(poll)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            other => return other,
        }
    }
}

/// What an abandoned worker was doing, from the deadline it kept up to date.
fn abandoned_at(
    py: Python<'_>,
    deadline: &Deadline,
    display_path: &str,
    stopped: bool,
) -> PyResult<Finished> {
    let DeadlineState { phase, found, current, records } = deadline.0.bind(py).extract()?;
    if phase != RunPhase::Tests {
        return Ok(Finished::TimedOut { phase: Phase::Exec, abandoned: true, stopped, tests: None });
    }
    // The tests that finished before the blocked one keep their results (T6).
    let mut results: Vec<TestResult> =
        records.into_iter().map(Record::into_result).collect::<PyResult<_>>()?;
    results.push(TestResult {
        id: current.unwrap_or_else(|| format!("{display_path} (tests)")),
        outcome: TestOutcome::Error,
        duration_ms: 0.0,
        message: "timed out: blocked inside C after the per-script timeout; the worker thread was abandoned"
            .into(),
        traceback: String::new(),
        stdout: String::new(),
        stderr: String::new(),
        parent: None,
        file: None,
        line: None,
    });
    log::info!("{display_path}: {}", tests_found(found));
    let tests = TestReport { found, results, timed_out: true, ..TestReport::default() };
    Ok(Finished::TimedOut { phase: Phase::Tests, abandoned: true, stopped, tests: Some(tests) })
}

/// Stops the worker: marks the deadline expired and raises `ScriptTimeout` in it, unless it
/// finished in the meantime (both checks hold the GIL, so they cannot interleave).
pub(super) fn interrupt(py: Python<'_>, ident: u64, deadline: &Deadline) -> PyResult<()> {
    if deadline.finished(py)? {
        return Ok(());
    }
    deadline.expire(py)?;
    let kind = py.get_type::<ScriptTimeout>();
    // SAFETY: attached; `kind` is a live exception type and the id a thread id of this process.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(ident as _, kind.as_ptr());
    }
    Ok(())
}

/// A test file's path as reports show it: beside the script's relative path.
fn shown_test_file(display_path: &str, test_file: &std::path::Path) -> String {
    let name = test_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match display_path.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/{name}"),
        None => name,
    }
}

/// Records a failure of the test file itself (it does not compile) as an erroring test.
pub(crate) fn test_file_error(path: &str, failure: &PyFailure) -> TestReport {
    let result = TestResult {
        id: format!("{path} (loading the test file)"),
        outcome: TestOutcome::Error,
        duration_ms: 0.0,
        message: failure.to_string(),
        traceback: failure.traceback.clone(),
        stdout: String::new(),
        stderr: String::new(),
        parent: None,
        file: failure.file.clone(),
        line: failure.line,
    };
    TestReport {
        found: 0,
        results: vec![result],
        timed_out: false,
        test_file_failed: true,
        test_file_found: None,
        waiting: None,
    }
}
