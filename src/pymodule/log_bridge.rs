//! relive's `log` records into Python's `logging`, logger `relive` (W5, issue 15).
//!
//! Records are queued by whatever thread logs them and handed to `logging` by a thread
//! that is attached anyway (the end of each call into the extension, the background
//! thread after each report). Logging never waits for the GIL, so no lock relive holds
//! while it logs can deadlock against a Python thread. The host's root logger and its
//! handlers are never touched: the host decides where `relive` records go.

use std::sync::{Mutex, Once};

use pyo3::prelude::*;

/// Records waiting for Python, oldest first; capped so a host that never calls back in
/// cannot grow it without bound.
static QUEUE: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
const MAX_QUEUED: usize = 10_000;

struct ToPython;

impl log::Log for ToPython {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        // `relive::python` records came from Python's own logging (a Rust host's bridge):
        // never send them back.
        if record.target().starts_with("relive::python") {
            return;
        }
        let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() < MAX_QUEUED {
            queue.push((python_level(record.level()), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

/// `logging`'s number for a `log` level.
fn python_level(level: log::Level) -> u32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

/// Makes `log` records go to Python's `logging` from now on, unless another logger (the
/// CLI's) was installed first.
pub(super) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        if log::set_logger(&ToPython).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// Hands the queued records to the `relive` logger, on an attached thread.
pub(super) fn flush(py: Python<'_>) {
    let records = std::mem::take(&mut *QUEUE.lock().unwrap_or_else(|p| p.into_inner()));
    if records.is_empty() {
        return;
    }
    let Ok(logger) = py.import("logging").and_then(|logging| logging.call_method1("getLogger", ("relive",)))
    else {
        return;
    };
    for (level, message) in records {
        // A handler that raises must not turn a reload into an error; a Ctrl-C that came
        // while the handler ran is raised again where Python looks next (W4).
        if let Err(err) = logger.call_method1("log", (level, message)) {
            if err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                // SAFETY: attached; sets the interrupt flag Python checks at its next chance.
                unsafe { pyo3::ffi::PyErr_SetInterrupt() };
            } else {
                err.write_unraisable(py, Some(&logger));
            }
        }
    }
}
