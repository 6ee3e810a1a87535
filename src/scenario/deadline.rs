//! The timeout that bounds a scenario's `run` code and each `check` (scenarios.md): one that
//! runs past the scenario's `test_timeout` is interrupted and fails its step, and the
//! scenario goes on to report.
//!
//! The code runs on the caller's thread, attached. A watchdog thread waits for the timeout
//! and then raises the given exception in the caller's thread at its next bytecode. Both
//! sides decide while attached, so the exception is never raised after the code finished;
//! any exception still pending when the code returns is cleared.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::ffi;
use pyo3::prelude::*;

/// Runs `code` (on this thread) bounded by `timeout`: past it, `kind` (an exception type)
/// is raised inside the running Python code.
pub(crate) fn bounded<'py, T>(
    py: Python<'py>,
    timeout: Duration,
    kind: &Bound<'py, PyAny>,
    code: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    let ident: u64 = py.import("threading")?.call_method0("get_ident")?.extract()?;
    let finished = Arc::new(AtomicBool::new(false));
    let (done, wait) = mpsc::channel::<()>();
    let kind = kind.clone().unbind();
    let watched = finished.clone();
    let watchdog = std::thread::Builder::new()
        .name("relive-scenario-timeout".into())
        .spawn(move || {
            if wait.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                Python::attach(|_py| {
                    if !watched.load(Ordering::SeqCst) {
                        // SAFETY: attached; `kind` is a live exception type and `ident` the
                        // id of a thread of this process that is running Python code.
                        unsafe {
                            ffi::PyThreadState_SetAsyncExc(ident as _, kind.as_ptr());
                        }
                    }
                    drop(kind);
                });
            }
        })
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start a watchdog: {e}")))?;
    let result = code();
    finished.store(true, Ordering::SeqCst);
    // SAFETY: attached; a null exception clears one raised too late to be delivered.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut());
    }
    drop(done);
    py.detach(|| watchdog.join())
        .map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("the watchdog panicked"))?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_loop_is_interrupted_and_quick_code_is_not() {
        crate::python::attach(|py| {
            let kind = py.get_type::<pyo3::exceptions::PyTimeoutError>().into_any();
            let endless = bounded(py, Duration::from_millis(200), &kind, || {
                py.run(c"while True:\n    pass\n", None, None)
            });
            let err = endless.expect_err("interrupted");
            assert!(err.is_instance(py, &kind), "{err}");
            let quick = bounded(py, Duration::from_secs(5), &kind, || {
                py.eval(c"1 + 1", None, None)?.extract::<i64>()
            });
            assert_eq!(quick.unwrap(), 2_i64);
            // Nothing stays pending for later code.
            py.run(c"x = sum(range(100000))\n", None, None).unwrap();
        });
    }
}
