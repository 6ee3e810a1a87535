//! The candidate view (T1, R15): the Rust side of `view.py`.
//!
//! While a batch's candidates run and are tested, code on the worker thread that imports
//! their namespaces (`from game.ai import think`, `import game.ai`) gets the candidates'
//! exports: a dependent is built against the candidates it imports, and a test that imports
//! its own script's names tests the new code. Nothing in effect changes, and other threads
//! never see a candidate.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("view.py"), c"src/testing/view.py", c"_relive_view");

/// How one candidate joins a view once its module-level code ran.
pub(crate) struct Join<'a, 'py> {
    /// The candidate's dotted namespace.
    pub(crate) namespace: &'a str,
    /// Called with the candidate's globals: the names it exports (L4).
    pub(crate) exports: Bound<'py, PyAny>,
    /// Names the script's version in effect contributes: hidden unless the candidate
    /// exports them too. Other names of the namespace win over the candidate's (L5).
    pub(crate) own: Vec<String>,
}

/// A new, empty view for one batch (or one script's load attempt).
pub(crate) fn new_view(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(HELPER.module(py).getattr("BatchView")?.call0()?.unbind())
}

/// The `join` argument of a runner job.
pub(crate) fn join_argument(py: Python<'_>, join: Join<'_, '_>) -> PyResult<Py<PyAny>> {
    Ok((join.namespace, join.exports, join.own).into_pyobject(py)?.into_any().unbind())
}

/// Adds a candidate that ran already to `view`; `join` as [`join_argument`] makes it.
pub(crate) fn add(
    py: Python<'_>,
    view: &Py<PyAny>,
    join: &Py<PyAny>,
    globals: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let (namespace, exports, own): (String, Bound<'_, PyAny>, Vec<String>) = join.bind(py).extract()?;
    view.bind(py).call_method1("add", (namespace, exports, own, globals)).map(drop)
}

/// Ends a view: the proxies bound in `globals` become the real namespace modules. Returns
/// the proxies it made, as `(dotted name, proxy)` pairs, for the apply's translator.
pub(crate) fn release<'py>(
    py: Python<'py>,
    view: &Py<PyAny>,
    globals: &[Bound<'py, PyDict>],
) -> PyResult<Bound<'py, PyAny>> {
    view.bind(py).call_method1("release", (PyList::new(py, globals)?,))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(HELPER.module(py).hasattr("BatchView").unwrap()));
    }
}
