//! One script: read, decode, parse, compile and execute it; the export rules (L3, L4) and
//! what a failed execution waits for (L6).
//!
//! The Python side lives in `script.py`. This file never touches live objects: it makes a
//! fresh globals dict per execution and leaves installing exports to the engine.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet};

use crate::python::{Helper, PyFailure};
use crate::report::{ScriptProblem, Wait};

static HELPER: Helper = Helper::new(include_str!("script.py"), c"src/engine/script.py", c"_relive_script");

/// A compiled script, ready to execute any number of times.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// The code object.
    pub(crate) code: Py<PyAny>,
    /// The decoded source, for R8's statement comparison on the next reload.
    pub(crate) text: String,
    /// Its syntax tree, so R8's comparison does not parse it again.
    pub(crate) tree: Py<PyAny>,
    /// Names its top-level statements bind other than by importing (L6 cycles, order).
    pub(crate) bindings: Vec<String>,
    /// Names only its import statements bind: never exported (L4).
    pub(crate) imported: Vec<String>,
    /// `(module, name)` of its top-level `from MODULE import NAME` statements.
    pub(crate) imports: Vec<(String, String)>,
}

/// Reads a script's bytes.
pub(crate) fn read(file: &Path) -> Result<Vec<u8>, ScriptProblem> {
    std::fs::read(file).map_err(|e| ScriptProblem::Unreadable { message: e.to_string() })
}

/// Decodes (PEP 263 cookie, BOM, else UTF-8), parses and compiles with the real file name,
/// so tracebacks show the script's own lines (L3, E1).
pub(crate) fn compile(py: Python<'_>, file: &Path, bytes: &[u8]) -> Result<Compiled, ScriptProblem> {
    let helper = HELPER.module(py);
    let filename = file.to_string_lossy();
    let text = helper
        .call_method1("decode", (pyo3::types::PyBytes::new(py, bytes), &filename))
        .map_err(|err| ScriptProblem::Undecodable { message: PyFailure::from_err(py, &err).message })?;
    let parsed = helper.call_method1("parse", (text, &filename)).map_err(|err| ScriptProblem::Error {
        failure: Box::new(PyFailure::locate(py, &err, Some(&filename))),
    })?;
    let (code, text, tree, bindings, imported, imports) = parsed
        .extract::<(Py<PyAny>, String, Py<PyAny>, Vec<String>, Vec<String>, Vec<(String, String)>)>()
        .map_err(|err| ScriptProblem::Error { failure: Box::new(PyFailure::from_err(py, &err)) })?;
    // T8: the file's tests are compiled with introspecting asserts; the rest as written.
    let code = crate::testing::plain::rewrite_asserts(py, &tree, &filename)
        .map_err(|err| ScriptProblem::Error { failure: Box::new(PyFailure::from_err(py, &err)) })?
        .unwrap_or(code);
    Ok(Compiled { code, text, tree, bindings, imported, imports })
}

/// Fresh globals for one execution of a script, with relive's marker in it (L3, R12).
pub(crate) fn new_globals<'py>(
    py: Python<'py>,
    namespace: &str,
    file: &Path,
    path: &str,
) -> PyResult<Bound<'py, PyDict>> {
    Ok(HELPER
        .module(py)
        .call_method1("new_globals", (namespace, file.to_string_lossy(), path))?
        .cast_into::<PyDict>()?)
}

/// What a failed execution waits for, when the failure is about one of `namespaces` (L6).
pub(crate) fn wait_target(py: Python<'_>, err: &PyErr, namespaces: &[&str]) -> PyResult<Option<Wait>> {
    let namespaces = PySet::new(py, namespaces)?;
    let target = HELPER.module(py).call_method1("wait_target", (err.value(py), namespaces))?;
    let Some((kind, namespace, name)) = target.extract::<Option<(String, String, Option<String>)>>()? else {
        return Ok(None);
    };
    Ok(Some(match (kind.as_str(), name) {
        ("name", Some(name)) => Wait::Name { namespace, name },
        ("namespace", _) => Wait::Namespace { namespace },
        _ => Wait::Anything { namespace },
    }))
}

/// Names `globals` exports into `namespace` by the rules of L4, sorted.
pub(crate) fn exports(
    py: Python<'_>,
    compiled: &Compiled,
    globals: &Bound<'_, PyDict>,
    namespace: &str,
    registry: &Bound<'_, PyAny>,
) -> PyResult<Vec<String>> {
    let args = (globals, namespace, registry, compiled.imported.clone());
    HELPER.module(py).call_method1("exports", args)?.extract()
}

/// A callable giving the names a candidate's globals export into `namespace` (L4), for
/// code that runs on the worker thread (the T1 candidate view).
pub(crate) fn exports_function<'py>(
    py: Python<'py>,
    compiled: &Compiled,
    namespace: &str,
    registry: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let exports = HELPER.module(py).getattr("exports")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("namespace", namespace)?;
    kwargs.set_item("registry", registry)?;
    kwargs.set_item("imported", compiled.imported.clone())?;
    py.import("functools")?.getattr("partial")?.call((exports,), Some(&kwargs))
}

/// A new registry of contributed objects and script globals (see `script.py`).
pub(crate) fn new_registry(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(HELPER.module(py).getattr("Registry")?.call0()?.unbind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| {
            assert!(HELPER.module(py).hasattr("exports").unwrap());
        });
    }

    #[test]
    fn parse_reports_bindings_and_imports() {
        crate::python::attach(|py| {
            let src = b"from game.ai import Brain, Eye as E\nimport os.path\nX = 1\nif X:\n    Y, Z = 2, 3\ndef f():\n    W = 1\nclass C: pass\n";
            let compiled = compile(py, Path::new("t.py"), src).unwrap();
            assert_eq!(compiled.bindings, ["C", "X", "Y", "Z", "f"]);
            assert_eq!(compiled.imported, ["Brain", "E", "os"]);
            assert_eq!(
                compiled.imports,
                [("game.ai".to_string(), "Brain".to_string()), ("game.ai".into(), "Eye".into())]
            );
        });
    }
}
