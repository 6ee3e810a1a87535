//! The embedded interpreter: start-up, embedded helper modules, and Python failures as data.
//!
//! Start-up goes through PyConfig with the build interpreter as program name and bytecode
//! writing off, so the binary runs the libpython, prefix and standard library it was built
//! against whatever `PATH` says, and never leaves `__pycache__` folders in watched
//! directories. This file knows nothing about scripts or reloads.

use std::ffi::{CStr, CString};
use std::sync::Once;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use serde::Serialize;

/// The interpreter the crate was built against, as found by pyo3 at build time.
pub const BUILD_PYTHON_EXECUTABLE: Option<&str> = option_env!("RELIVE_PYTHON_EXECUTABLE");

/// `major.minor` of the interpreter the crate was built against.
pub const BUILD_PYTHON_VERSION: &str = env!("RELIVE_PYTHON_VERSION");

static INIT: Once = Once::new();

/// Starts the embedded interpreter once per process; later calls do nothing.
///
/// Every relive entry point calls this itself, so calling it is only needed before using
/// pyo3 directly. The GIL is released afterwards so any thread can attach.
///
/// # Panics
/// When CPython reports a start-up failure (a broken installation).
pub fn init() {
    INIT.call_once(|| {
        // SAFETY: runs once, before any other Python use in this process; the config struct
        // is initialised by CPython before we touch its fields and cleared afterwards.
        unsafe {
            if ffi::Py_IsInitialized() != 0 {
                return;
            }
            let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
            ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
            let mut config = config.assume_init();
            config.install_signal_handlers = 0;
            config.write_bytecode = 0;
            if let Some(executable) = BUILD_PYTHON_EXECUTABLE {
                let executable = CString::new(executable).expect("a path has no NUL byte");
                let status =
                    ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, executable.as_ptr());
                assert!(ffi::PyStatus_Exception(status) == 0, "cannot set program name");
            }
            let status = ffi::Py_InitializeFromConfig(&config);
            ffi::PyConfig_Clear(&mut config);
            assert!(ffi::PyStatus_Exception(status) == 0, "Python failed to start");
            ffi::PyEval_SaveThread();
        }
    });
}

/// Runs `f` attached to the interpreter, starting it first if needed.
pub fn attach<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> T {
    init();
    Python::attach(f)
}

/// A Python helper module embedded from a `.py` file at build time, loaded once per process.
pub(crate) struct Helper {
    cell: PyOnceLock<Py<PyModule>>,
    source: &'static str,
    file_name: &'static CStr,
    module_name: &'static CStr,
}

impl Helper {
    /// Declares a helper; `file_name` is its repo-relative path so tracebacks point at it.
    pub(crate) const fn new(
        source: &'static str,
        file_name: &'static CStr,
        module_name: &'static CStr,
    ) -> Self {
        Helper { cell: PyOnceLock::new(), source, file_name, module_name }
    }

    /// The loaded module.
    ///
    /// # Panics
    /// When the embedded source does not run, which the helper unit tests rule out.
    pub(crate) fn module<'py>(&self, py: Python<'py>) -> &Bound<'py, PyModule> {
        self.cell
            .get_or_init(py, || {
                let source = CString::new(self.source).expect("helper source has no NUL byte");
                match PyModule::from_code(py, &source, self.file_name, self.module_name) {
                    Ok(module) => module.unbind(),
                    Err(err) => panic!(
                        "embedded helper {:?} failed to load: {}",
                        self.file_name,
                        PyFailure::from_err(py, &err)
                    ),
                }
            })
            .bind(py)
    }
}

static RELIVE_MODULE: Helper =
    Helper::new(include_str!("relive_module.py"), c"src/relive_module.py", c"relive");

/// The built-in `relive` module scripts import to register callbacks (R13); loading it
/// puts it in `sys.modules` and routes Python's `logging` into `log` (W5).
pub(crate) fn relive_module(py: Python<'_>) -> &Bound<'_, PyModule> {
    let module = RELIVE_MODULE.module(py);
    static BRIDGED: Once = Once::new();
    BRIDGED.call_once(|| {
        if let Err(err) = install_log_bridge(module) {
            log::error!("cannot route Python logging into relive's log: {}", PyFailure::from_err(py, &err));
        }
    });
    module
}

/// Python `logging` records reach `log` with target `relive::python`, levels mapped (W5).
fn install_log_bridge(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let emit = pyo3::types::PyCFunction::new_closure(
        module.py(),
        Some(c"emit"),
        None,
        |args: &Bound<'_, pyo3::types::PyTuple>, _| -> PyResult<()> {
            let (level, name, message): (i32, String, String) = args.extract()?;
            let level = match level {
                l if l >= 40 => log::Level::Error,
                l if l >= 30 => log::Level::Warn,
                l if l >= 20 => log::Level::Info,
                l if l >= 10 => log::Level::Debug,
                _ => log::Level::Trace,
            };
            log::log!(target: "relive::python", level, "{name}: {message}");
            Ok(())
        },
    )?;
    module.setattr("_emit", emit)?;
    module.call_method0("_install_log_bridge")?;
    Ok(())
}

static FAILURE_HELPER: Helper =
    Helper::new(include_str!("failure.py"), c"src/failure.py", c"_relive_failure");

/// A Python exception recorded as text while attached, so reports never keep tracebacks or
/// frames alive (R12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyFailure {
    /// Exception type name, e.g. `SyntaxError`.
    pub kind: String,
    /// `str(exception)`; for syntax errors the message without the location.
    pub message: String,
    /// File the error points at: the syntax error's file, or the innermost traceback frame.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u32>,
    /// 1-based column, known for syntax errors.
    pub column: Option<u32>,
    /// The formatted traceback, as Python prints it.
    pub traceback: String,
}

impl PyFailure {
    /// Records `err` as text. `prefer_file` picks the innermost frame in that file, if any,
    /// as the location (a script's own line rather than a library's).
    pub fn from_err(py: Python<'_>, err: &PyErr) -> PyFailure {
        Self::locate(py, err, None)
    }

    /// Like [`PyFailure::from_err`], locating the error in `prefer_file` when a frame is there.
    pub fn locate(py: Python<'_>, err: &PyErr, prefer_file: Option<&str>) -> PyFailure {
        let described = FAILURE_HELPER
            .module(py)
            .call_method1("describe", (err.get_type(py), err.value(py), err.traceback(py), prefer_file));
        match described.and_then(|d| d.extract::<DescribedFailure>()) {
            Ok(d) => PyFailure { kind: d.0, message: d.1, file: d.2, line: d.3, column: d.4, traceback: d.5 },
            Err(_) => PyFailure {
                kind: err.get_type(py).name().map(|n| n.to_string()).unwrap_or_default(),
                message: err.value(py).to_string(),
                file: None,
                line: None,
                column: None,
                traceback: String::new(),
            },
        }
    }

    /// `file:line:column` as far as known.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_string(),
        })
    }
}

type DescribedFailure = (String, String, Option<String>, Option<u32>, Option<u32>, String);

impl std::fmt::Display for PyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_helper_compiles_and_describes_a_syntax_error() {
        attach(|py| {
            let err = py.run(c"x = (", None, None).unwrap_err();
            let failure = PyFailure::from_err(py, &err);
            assert_eq!(failure.kind, "SyntaxError");
            assert_eq!(failure.line, Some(1));
            assert!(failure.column.is_some());
        });
    }
}
