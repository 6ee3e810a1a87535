//! `relive._relive.Reloader`: the engine's [`Reloader`] for a Python host (issue 15).
//!
//! Threads and the GIL (W4): `pump`, `reload` and `reload_batch` apply on the caller's
//! thread; `wait_for_changes` lets go of the GIL while it waits, in slices short enough
//! that Ctrl-C raises `KeyboardInterrupt` promptly; background mode applies on relive's
//! thread, which takes the GIL only to run scripts and the `on_report` callback. The state
//! lock is only ever tried, never waited for while attached: a second Python thread gets
//! `BusyError` instead of a deadlock.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use serde::Serialize;

use super::errors::{Raised, busy};
use super::log_bridge;
use crate::background::Background;
use crate::engine::{Error, Mode, Reloader};
use crate::python;

/// How long `wait_for_changes` waits between two looks at pending signals (Ctrl-C).
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// A report as it crosses to Python: its `Display` text and its JSON document.
type Rendered = (String, String);

enum State {
    Idle(Box<Reloader>),
    Background(Box<Background>),
    Closed,
}

/// The native reloader behind `relive.Reloader` (see `python/relive/__init__.py`).
#[pyclass(name = "Reloader", module = "relive._relive")]
pub(super) struct PyReloader {
    state: Mutex<State>,
}

fn render<R: Serialize + std::fmt::Display>(report: &R) -> PyResult<Rendered> {
    let json = serde_json::to_string(report)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("cannot encode a report: {e}")))?;
    Ok((report.to_string(), json))
}

impl PyReloader {
    fn state(&self) -> PyResult<MutexGuard<'_, State>> {
        self.state.try_lock().map_err(|_| busy("the reloader is in use by another thread"))
    }

    /// Runs `f` on the reloader when it is idle (not in the background, not closed), then
    /// hands queued log records to Python.
    fn idle<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Reloader) -> Result<T, Error>) -> PyResult<T> {
        let result = {
            let mut state = self.state()?;
            match &mut *state {
                State::Idle(reloader) => f(reloader).map_err(|e| PyErr::from(Raised(e))),
                State::Background(_) => Err(busy("the reloader runs in the background: call stop() first")),
                State::Closed => Err(busy("the reloader is closed")),
            }
        };
        log_bridge::flush(py);
        result
    }

    /// Runs `f` on the reloader in any live state; in the background, waits (detached)
    /// until relive's thread is between two reloads.
    fn read<T>(&self, py: Python<'_>, f: impl Fn(&Reloader) -> T) -> PyResult<T> {
        let state = self.state()?;
        match &*state {
            State::Idle(reloader) => Ok(f(reloader)),
            State::Background(background) => loop {
                if let Some(reloader) = background.try_reloader() {
                    return Ok(f(&reloader));
                }
                py.detach(std::thread::yield_now);
            },
            State::Closed => Err(busy("the reloader is closed")),
        }
    }
}

#[pymethods]
impl PyReloader {
    #[new]
    #[pyo3(signature = (mode = "update", tests = true, test_timeout = 10.0, prune = false, partial = false))]
    fn new(mode: &str, tests: bool, test_timeout: f64, prune: bool, partial: bool) -> PyResult<Self> {
        let mode = match mode {
            "update" => Mode::Update,
            "overwrite" => Mode::Overwrite,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "mode must be \"update\" or \"overwrite\", not {other:?}"
                )));
            }
        };
        if !(test_timeout > 0.0 && test_timeout.is_finite()) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "test_timeout must be a positive number of seconds",
            ));
        }
        log_bridge::install();
        let reloader = Reloader::builder()
            .mode(mode)
            .tests(tests)
            .test_timeout(Duration::from_secs_f64(test_timeout))
            .prune(prune)
            .partial(partial)
            .build()
            .map_err(Raised)?;
        Ok(PyReloader { state: Mutex::new(State::Idle(Box::new(reloader))) })
    }

    fn add_directory(&self, py: Python<'_>, namespace: &str, path: std::path::PathBuf) -> PyResult<Rendered> {
        render(&self.idle(py, |r| r.add_directory(namespace, &path))?)
    }

    fn remove_directory(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<Rendered> {
        render(&self.idle(py, |r| r.remove_directory(&path))?)
    }

    fn reload(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<Rendered> {
        render(&self.idle(py, |r| r.reload(&path))?)
    }

    fn reload_batch(&self, py: Python<'_>, paths: Vec<std::path::PathBuf>) -> PyResult<Vec<Rendered>> {
        self.idle(py, |r| r.reload_batch(&paths))?.iter().map(render).collect()
    }

    fn watch(&self, py: Python<'_>) -> PyResult<()> {
        self.idle(py, Reloader::watch)
    }

    fn pump(&self, py: Python<'_>) -> PyResult<Vec<Rendered>> {
        self.idle(py, Reloader::pump)?.iter().map(render).collect()
    }

    fn wait_for_changes(&self, py: Python<'_>, timeout: f64) -> PyResult<Vec<Rendered>> {
        if !(timeout >= 0.0 && timeout.is_finite()) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "timeout must be a number of seconds, 0 or more",
            ));
        }
        let deadline = Instant::now() + Duration::from_secs_f64(timeout);
        if !self.read(py, Reloader::is_watching)? {
            self.watch(py)?;
        }
        loop {
            let slice = deadline.saturating_duration_since(Instant::now()).min(SIGNAL_SLICE);
            let reports = self.idle(py, |reloader| py.detach(|| reloader.wait_for_changes(slice)))?;
            if !reports.is_empty() || Instant::now() >= deadline {
                return reports.iter().map(render).collect();
            }
            // Ctrl-C: Python's handler raises KeyboardInterrupt here.
            py.check_signals()?;
        }
    }

    #[pyo3(signature = (on_report = None))]
    fn start_background(&self, py: Python<'_>, on_report: Option<Py<PyAny>>) -> PyResult<()> {
        let mut state = self.state()?;
        let reloader = match std::mem::replace(&mut *state, State::Closed) {
            State::Idle(reloader) => reloader,
            other => {
                let already = matches!(other, State::Background(_));
                *state = other;
                return Err(busy(if already {
                    "already in the background"
                } else {
                    "the reloader is closed"
                }));
            }
        };
        let listener = move |report: &crate::report::ReloadReport| {
            python::attach_if_running(|py| {
                if let Some(callback) = &on_report {
                    let called = render(report).and_then(|rendered| callback.call1(py, (rendered,)));
                    if let Err(err) = called {
                        err.write_unraisable(py, Some(callback.bind(py)));
                    }
                }
                log_bridge::flush(py);
            });
        };
        match py.detach(move || Background::start_with(*reloader, listener).map(Box::new)) {
            Ok(background) => {
                *state = State::Background(background);
                Ok(())
            }
            Err(err) => Err(Raised(err).into()),
        }
    }

    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let mut state = self.state()?;
        if let State::Background(_) = &*state {
            let State::Background(background) = std::mem::replace(&mut *state, State::Closed) else {
                unreachable!("matched above")
            };
            // relive's thread may need the GIL to finish its reload: join it detached.
            let reloader = py.detach(move || background.stop());
            *state = State::Idle(Box::new(reloader));
        }
        drop(state);
        log_bridge::flush(py);
        Ok(())
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.stop(py)?;
        let closed = std::mem::replace(&mut *self.state()?, State::Closed);
        // Dropping the reloader removes its namespaces (L9) while Python still runs.
        drop(closed);
        log_bridge::flush(py);
        Ok(())
    }

    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(matches!(&*self.state()?, State::Closed))
    }

    #[getter]
    fn in_background(&self) -> PyResult<bool> {
        Ok(matches!(&*self.state()?, State::Background(_)))
    }

    fn leaks(&self, py: Python<'_>) -> PyResult<String> {
        let leaks = self.read(py, Reloader::leaks)?;
        serde_json::to_string(&leaks).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    fn version(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<Option<u32>> {
        self.read(py, |r| r.version(&path))
    }

    fn namespaces(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.read(py, Reloader::namespaces)
    }

    fn on_event(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        self.idle(py, |reloader| {
            reloader.on_event(move |event| {
                python::attach_if_running(|py| {
                    let called = serde_json::to_string(event)
                        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
                        .and_then(|json| callback.call1(py, (json,)));
                    if let Err(err) = called {
                        err.write_unraisable(py, Some(callback.bind(py)));
                    }
                });
            });
            Ok(())
        })
    }
}
