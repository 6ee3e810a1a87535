//! The module scripts reach as `import relive` (`on_validate`, `on_applied`, `version`, ...,
//! in `script_api.py`), and the engine's typed calls into it (R13, W5).
//!
//! Loading it the first time makes `import relive` find it when the host is Rust (when the
//! host is Python, `relive` is the package, which re-exports the same functions), and
//! routes Python's `logging` into `log` (W5) unless Python is the host.

use std::sync::Once;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use crate::python::{Helper, PyFailure, is_python_host};

static SCRIPT_API: Helper =
    Helper::new(include_str!("script_api.py"), c"src/script_api.py", c"_relive_script_api");

/// What a script callback is registered for (the `kind` of `script_api.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallbackKind {
    ClassCreated,
    ClassUpdated,
    Applied,
    Rejected,
}

impl CallbackKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallbackKind::ClassCreated => "class_created",
            CallbackKind::ClassUpdated => "class_updated",
            CallbackKind::Applied => "applied",
            CallbackKind::Rejected => "rejected",
        }
    }
}

/// What an `applied` or `rejected` callback receives (a `SimpleNamespace` in Python).
pub(crate) struct ReportPayload<'a> {
    pub(crate) path: &'a str,
    pub(crate) outcome: &'a str,
    pub(crate) version: Option<u32>,
    pub(crate) reason: Option<String>,
}

/// `script_api.py`, loaded and published, with typed calls.
pub(crate) struct ScriptApi<'py>(&'py Bound<'py, PyModule>);

impl<'py> ScriptApi<'py> {
    /// The module, published as `relive` for scripts the first time.
    pub(crate) fn get(py: Python<'py>) -> ScriptApi<'py> {
        let module = SCRIPT_API.module(py);
        static PUBLISHED: Once = Once::new();
        PUBLISHED.call_once(|| {
            if let Err(err) = publish(module) {
                log::error!("cannot set up the relive module for scripts: {}", PyFailure::from_err(py, &err));
            }
        });
        ScriptApi(module)
    }

    /// The module itself (re-exported by the Python package).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn module(&self) -> &Bound<'py, PyModule> {
        self.0
    }

    /// Runs the scripts' validate callbacks on a candidate's globals; the first exception
    /// rejects it.
    pub(crate) fn validate(&self, candidate: &Bound<'py, PyDict>) -> PyResult<()> {
        self.0.call_method1("_validate", (candidate,)).map(drop)
    }

    /// The object `applied` and `rejected` callbacks receive.
    pub(crate) fn report(&self, payload: ReportPayload<'_>) -> PyResult<Bound<'py, PyAny>> {
        let ReportPayload { path, outcome, version, reason } = payload;
        self.0.call_method1("_report", (path, outcome, version, reason))
    }

    /// Calls every callback of `kind` with `payload`; returns the errors they raised, as
    /// text (a callback never aborts a reload, R13).
    pub(crate) fn fire(&self, kind: CallbackKind, payload: &Bound<'py, PyAny>) -> PyResult<Vec<String>> {
        self.0.call_method1("_fire", (kind.as_str(), payload))?.extract()
    }

    /// Makes `relive.version(path)` answer `version` (`None` forgets the path).
    pub(crate) fn set_version(&self, path: &str, version: Option<u32>) -> PyResult<()> {
        let versions = self.0.getattr("_versions")?;
        match version {
            Some(version) => versions.set_item(path, version),
            None => versions.del_item(path).or(Ok(())),
        }
    }
}

fn publish(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.setattr("_add_open_hook", add_open_hook_function(module.py())?)?;
    let modules = module.py().import("sys")?.getattr("modules")?;
    if !modules.contains("relive")? {
        modules.set_item("relive", module)?;
    }
    if !is_python_host() {
        install_log_bridge(module)?;
    }
    Ok(())
}

/// `_add_open_hook(hook)`: installs an audit hook written in C (`PySys_AddAuditHook`) that
/// calls the Python `hook` for `open` events only. relive's own audit hook
/// (src/testing/runner.py) goes through it, so the events an apply raises
/// (`object.__setattr__` for `__code__`, `__class__`, `__bases__`) run no bytecode and the
/// interpreter cannot switch threads in the middle of a commit (R2, src/engine/commit.rs);
/// and the many events planning raises (`object.__getattr__` for `__code__`, `__globals__`)
/// cost a string comparison, not a Python call (issue 17).
fn add_open_hook_function(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyCFunction>> {
    pyo3::types::PyCFunction::new_closure(
        py,
        Some(c"_add_open_hook"),
        None,
        |args: &Bound<'_, pyo3::types::PyTuple>, _| -> PyResult<()> {
            // The hook lives as long as the process: audit hooks cannot be removed.
            let hook = args.get_item(0)?.unbind().into_ptr();
            // SAFETY: attached to the interpreter (we are called from Python); the hook
            // pointer is a strong reference that is never released.
            if unsafe { PySys_AddAuditHook(open_events_only, hook.cast()) } != 0 {
                return Err(PyErr::fetch(args.py()));
            }
            Ok(())
        },
    )
}

unsafe extern "C" {
    fn PySys_AddAuditHook(
        hook: unsafe extern "C" fn(
            *const std::ffi::c_char,
            *mut pyo3::ffi::PyObject,
            *mut std::ffi::c_void,
        ) -> i32,
        data: *mut std::ffi::c_void,
    ) -> i32;
}

/// The C audit hook: `open` events go to the Python hook in `data`, others return at once.
unsafe extern "C" fn open_events_only(
    event: *const std::ffi::c_char,
    args: *mut pyo3::ffi::PyObject,
    data: *mut std::ffi::c_void,
) -> i32 {
    // SAFETY: CPython passes a NUL-terminated event name.
    if unsafe { std::ffi::CStr::from_ptr(event) }.to_bytes() != b"open" {
        return 0;
    }
    // SAFETY: audit hooks run attached to the interpreter; `data` is the hook installed
    // above and `args` a borrowed tuple, both alive for this call.
    let py = unsafe { Python::assume_attached() };
    let hook = unsafe { Bound::from_borrowed_ptr(py, data.cast()) };
    let args = unsafe { Bound::from_borrowed_ptr(py, args) };
    match hook.call1(("open", args)) {
        Ok(_) => 0,
        Err(err) => {
            err.restore(py);
            -1
        }
    }
}

/// Python `logging` records reach `log` with target `relive::python`, levels mapped (W5).
/// Only when Rust is the host: a Python host keeps its own logging set-up.
fn install_log_bridge(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let emit = pyo3::types::PyCFunction::new_closure(
        module.py(),
        Some(c"emit"),
        None,
        |args: &Bound<'_, pyo3::types::PyTuple>, _| -> PyResult<()> {
            let (level, name, message): (i32, String, String) = args.extract()?;
            log::log!(target: "relive::python", log_level(level), "{name}: {message}");
            Ok(())
        },
    )?;
    module.setattr("_emit", emit)?;
    module.call_method0("_install_log_bridge")?;
    Ok(())
}

/// A `logging` level number as a `log` level.
fn log_level(level: i32) -> log::Level {
    match level {
        l if l >= 40 => log::Level::Error,
        l if l >= 30 => log::Level::Warn,
        l if l >= 20 => log::Level::Info,
        l if l >= 10 => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::attach;

    #[test]
    fn the_script_api_helper_compiles() {
        attach(|py| assert!(SCRIPT_API.try_module(py).is_ok()));
    }

    #[test]
    fn r13_callbacks_are_fired_by_kind_and_their_errors_come_back_as_text() {
        attach(|py| {
            let api = ScriptApi::get(py);
            let seen = PyDict::new(py);
            let code = c"def ok(p):\n    seen['ok'] = p.path\ndef bad(p):\n    raise ValueError('no')\n";
            let globals = PyDict::new(py);
            globals.set_item("seen", &seen).unwrap();
            py.run(code, Some(&globals), None).unwrap();
            let on_applied = api.module().getattr("on_applied").unwrap();
            on_applied.call1((globals.get_item("ok").unwrap().unwrap(),)).unwrap();
            on_applied.call1((globals.get_item("bad").unwrap().unwrap(),)).unwrap();
            let payload = api
                .report(ReportPayload { path: "a.py", outcome: "reloaded", version: Some(2), reason: None })
                .unwrap();
            let errors = api.fire(CallbackKind::Applied, &payload).unwrap();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("ValueError: no"), "{errors:?}");
            assert_eq!(seen.get_item("ok").unwrap().unwrap().extract::<String>().unwrap(), "a.py");
            assert!(api.fire(CallbackKind::Rejected, &payload).unwrap().is_empty());
            for callback in ["ok", "bad"] {
                api.module().call_method1("remove", (globals.get_item(callback).unwrap().unwrap(),)).unwrap();
            }
        });
    }

    #[test]
    fn w5_logging_levels_map_to_log_levels() {
        assert_eq!(log_level(50), log::Level::Error);
        assert_eq!(log_level(30), log::Level::Warn);
        assert_eq!(log_level(20), log::Level::Info);
        assert_eq!(log_level(10), log::Level::Debug);
        assert_eq!(log_level(0), log::Level::Trace);
    }
}
