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
        // SAFETY: `Py_IsInitialized` may be called at any time.
        if unsafe { ffi::Py_IsInitialized() } != 0 {
            return;
        }
        start();
        // Issue 15: `threading` takes the thread that first imports it for the main thread.
        // Imported here, that is the thread that started Python (the binary's main thread),
        // never relive's worker, so `threading.main_thread()` is right and the interpreter's
        // exit joins the right threads.
        Python::attach(|py| {
            if let Err(err) = py.import("threading") {
                log::error!("cannot import threading: {}", PyFailure::from_err(py, &err));
            }
        });
    });
}

/// Starts CPython through PyConfig (see the module doc), then releases the GIL.
#[cfg(not(Py_LIMITED_API))]
fn start() {
    // SAFETY: runs once, before any other Python use in this process; the config struct is
    // initialised by CPython before we touch its fields and cleared afterwards.
    unsafe {
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
}

/// The stable ABI (the abi3 wheel) has no PyConfig; there Python is the host and is
/// running already, so this only serves a Rust program linking the abi3 build.
#[cfg(Py_LIMITED_API)]
fn start() {
    Python::initialize();
}

/// Whether the interpreter can run Python for relive: not finalizing.
///
/// Objects dropped while the interpreter shuts down (a `Reloader` held by a Python
/// module's globals) must not run Python (issue 15).
pub fn is_running(py: Python<'_>) -> bool {
    py.import("sys")
        .and_then(|sys| sys.call_method0("is_finalizing"))
        .and_then(|finalizing| finalizing.is_truthy())
        .is_ok_and(|finalizing| !finalizing)
}

/// Runs `f` attached to the interpreter when it is started and not finalizing; `None`
/// otherwise. Never starts the interpreter.
pub fn attach_if_running<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> Option<T> {
    Python::try_attach(|py| is_running(py).then(|| f(py))).flatten()
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
    /// # Errors
    /// What the embedded source raised, which the helper unit tests rule out. The error is
    /// handed back, never described here: describing it needs the failure helper, whose
    /// own failed load would re-enter its lock and deadlock (issue 15).
    pub(crate) fn try_module<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyModule>> {
        self.cell
            .get_or_try_init(py, || {
                let source = CString::new(self.source)
                    .map_err(|_| pyo3::exceptions::PyValueError::new_err("helper source has a NUL byte"))?;
                PyModule::from_code(py, &source, self.file_name, self.module_name).map(Bound::unbind)
            })
            .map(|module| module.bind(py))
    }

    /// The loaded module, for helpers that must load.
    ///
    /// # Panics
    /// When the embedded source does not run, which the helper unit tests rule out.
    pub(crate) fn module<'py>(&self, py: Python<'py>) -> &Bound<'py, PyModule> {
        match self.try_module(py) {
            Ok(module) => module,
            Err(err) => {
                panic!(
                    "embedded helper {:?} failed to load: {}",
                    self.file_name,
                    PyFailure::from_err(py, &err)
                )
            }
        }
    }
}

static SCRIPT_API: Helper =
    Helper::new(include_str!("script_api.py"), c"src/script_api.py", c"_relive_script_api");

/// The module scripts reach as `import relive` to register callbacks and ask versions
/// (R13). Loading it the first time makes `import relive` find it when the host is Rust
/// (when the host is Python, `relive` is the package, which re-exports the same
/// functions), and routes Python's `logging` into `log` (W5) unless Python is the host.
pub(crate) fn relive_module(py: Python<'_>) -> &Bound<'_, PyModule> {
    let module = SCRIPT_API.module(py);
    static PUBLISHED: Once = Once::new();
    PUBLISHED.call_once(|| {
        if let Err(err) = publish_script_api(module) {
            log::error!("cannot set up the relive module for scripts: {}", PyFailure::from_err(py, &err));
        }
    });
    module
}

/// `sys.executable` of the Python program hosting relive (the extension module is
/// loaded); unset when the host is a Rust program. Set once by the extension module.
static PYTHON_HOST: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Records that a Python program, run by `executable`, hosts relive.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) fn set_python_host(executable: std::path::PathBuf) {
    let _ = PYTHON_HOST.set(executable);
}

/// Whether relive runs inside a Python program (`import relive`) rather than a Rust one.
pub fn is_python_host() -> bool {
    PYTHON_HOST.get().is_some()
}

/// The command that runs relive's CLI again in a new process when the host is Python
/// (`python -m relive`, with the host's own interpreter and so its virtual environment);
/// `None` when the current executable is the `relive` binary itself.
pub fn relaunch_command() -> Option<std::process::Command> {
    PYTHON_HOST.get().map(|executable| {
        let mut command = std::process::Command::new(executable);
        command.args(["-m", "relive"]);
        command
    })
}

fn publish_script_api(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.setattr("_open_events_only", open_events_only_factory(module.py())?)?;
    let modules = module.py().import("sys")?.getattr("modules")?;
    if !modules.contains("relive")? {
        modules.set_item("relive", module)?;
    }
    if !is_python_host() {
        install_log_bridge(module)?;
    }
    Ok(())
}

/// `_open_events_only(hook)`: an audit hook made in C that calls the Python `hook` for
/// `open` events only. relive's own audit hook (src/testing/runner.py) goes through it, so
/// the events an apply raises (`object.__setattr__` for `__code__`, `__class__`,
/// `__bases__`) run no bytecode, and the interpreter cannot switch threads in the middle of
/// a commit (R2, src/engine/commit.rs).
fn open_events_only_factory(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyCFunction>> {
    pyo3::types::PyCFunction::new_closure(
        py,
        Some(c"_open_events_only"),
        None,
        |args: &Bound<'_, pyo3::types::PyTuple>, _| -> PyResult<Py<pyo3::types::PyCFunction>> {
            let hook: Py<PyAny> = args.get_item(0)?.unbind();
            let filter = pyo3::types::PyCFunction::new_closure(
                args.py(),
                Some(c"open_events_only"),
                None,
                move |args: &Bound<'_, pyo3::types::PyTuple>, _| -> PyResult<()> {
                    let event = args.get_item(0)?;
                    if event
                        .cast::<pyo3::types::PyString>()
                        .is_ok_and(|e| e.to_str().is_ok_and(|e| e == "open"))
                    {
                        hook.bind(args.py()).call1(args.clone())?;
                    }
                    Ok(())
                },
            )?;
            Ok(filter.unbind())
        },
    )
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
        Self::describe_with(&FAILURE_HELPER, py, err, prefer_file)
    }

    /// Describes `err` with `helper`'s `describe`, or as its type and message alone when
    /// that fails (the helper itself did not load).
    fn describe_with(helper: &Helper, py: Python<'_>, err: &PyErr, prefer_file: Option<&str>) -> PyFailure {
        let described = helper.try_module(py).and_then(|module| {
            module.call_method1("describe", (err.get_type(py), err.value(py), err.traceback(py), prefer_file))
        });
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

    static BROKEN: Helper =
        Helper::new("raise RuntimeError('broken helper')", c"<broken>", c"_relive_broken");

    /// Issue 15: a failure helper that cannot load describes the error plainly instead of
    /// re-entering its own once-lock (which deadlocked). Runs on a thread with a deadline
    /// so a deadlock fails the test instead of hanging it.
    #[test]
    fn issue_15_a_helper_that_cannot_load_does_not_deadlock() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let described = attach(|py| {
                let err = BROKEN.try_module(py).expect_err("the helper raises");
                let plain = PyFailure::describe_with(&BROKEN, py, &err, None);
                (PyFailure::from_err(py, &err), plain)
            });
            let _ = done.send(described);
        });
        let (full, plain) =
            finished.recv_timeout(std::time::Duration::from_secs(30)).expect("describing did not deadlock");
        assert_eq!((full.kind.as_str(), full.message.as_str()), ("RuntimeError", "broken helper"));
        assert!(full.traceback.contains("broken helper"), "{}", full.traceback);
        assert_eq!((plain.kind.as_str(), plain.message.as_str()), ("RuntimeError", "broken helper"));
        assert!(plain.traceback.is_empty());
    }

    #[test]
    fn the_script_api_helper_compiles() {
        attach(|py| assert!(SCRIPT_API.try_module(py).is_ok()));
    }
}
