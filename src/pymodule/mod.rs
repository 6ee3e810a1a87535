//! The Python extension module `relive._relive` (feature `python`, issue 15).
//!
//! It is the native half of the `relive` package (`python/relive/`): the package's Python
//! code gives the Pythonic surface (docstrings, report objects, the context manager, exit
//! handling) and calls this module, which only converts. Values cross the boundary typed:
//! reports as their `Display` text plus their JSON (the `--format json` document, never
//! parsed back from the text), errors as `ReliveError` subclasses chosen by variant.
//!
//! The host is a running Python program here, so nothing starts an interpreter; loading
//! the module imports `threading` on the importing thread (issue 15) and records that
//! Python is the host, which keeps relive's hands off the host's root logger.

mod errors;
mod log_bridge;
mod reloader;

use pyo3::prelude::*;

/// `_relive`: registered classes, exceptions and functions.
#[pymodule]
#[pyo3(name = "_relive")]
fn relive_extension(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let executable: Option<std::path::PathBuf> = py.import("sys")?.getattr("executable")?.extract()?;
    crate::python::set_python_host(executable.unwrap_or_else(|| "python3".into()));
    // Issue 15: `threading` must see the host's thread as the main thread, not relive's.
    py.import("threading")?;
    module.add_class::<reloader::PyReloader>()?;
    errors::register(module)?;
    module.add_function(wrap_pyfunction!(main, module)?)?;
    module.add_function(wrap_pyfunction!(script_api, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Runs relive's command line (`python -m relive check DIR`) with `argv` (program name
/// first) and returns its exit code: the same CLI as the `relive` binary.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    // The CLI waits for files and for Ctrl-C on its own; the host's thread lets go of
    // the GIL meanwhile so relive's threads can run Python.
    py.detach(|| crate::cli::main(argv))
}

/// The module scripts reach as `import relive` (`on_validate`, `version`, ...); the
/// package re-exports its public functions so scripts read alike under any host (R13).
#[pyfunction]
fn script_api(py: Python<'_>) -> Bound<'_, PyModule> {
    crate::script_api::ScriptApi::get(py).module().clone()
}
