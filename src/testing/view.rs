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
pub(crate) struct Join<E> {
    /// The candidate's dotted namespace.
    pub(crate) namespace: String,
    /// Called with the candidate's globals: the names it exports (L4).
    pub(crate) exports: E,
    /// Names the script's version in effect contributes: hidden unless the candidate
    /// exports them too. Other names of the namespace win over the candidate's (L5).
    pub(crate) own: Vec<String>,
}

/// A `BatchView` of `view.py`: one batch's (or one load attempt's) candidates.
pub(crate) struct View(Py<PyAny>);

impl View {
    /// A new, empty view.
    pub(crate) fn new(py: Python<'_>) -> PyResult<View> {
        Ok(View(HELPER.module(py).getattr(pyo3::intern!(py, "BatchView"))?.call0()?.unbind()))
    }

    pub(crate) fn clone_ref(&self, py: Python<'_>) -> View {
        View(self.0.clone_ref(py))
    }

    /// The Python object, for the runner, which enters it on the worker thread.
    pub(crate) fn into_py(self) -> Py<PyAny> {
        self.0
    }

    /// Adds a candidate that ran already.
    pub(crate) fn add(&self, py: Python<'_>, joining: &Joining, globals: &Bound<'_, PyDict>) -> PyResult<()> {
        let Join { namespace, exports, own } = &joining.0;
        let add = pyo3::intern!(py, "add");
        self.0.bind(py).call_method1(add, (namespace, exports.bind(py), own.clone(), globals)).map(drop)
    }

    /// Ends the view: the proxies bound in `globals` become the real namespace modules.
    /// Returns the proxies it made, as `(dotted name, proxy)` pairs, for the apply's
    /// translator.
    pub(crate) fn release<'py>(
        &self,
        py: Python<'py>,
        globals: &[Bound<'py, PyDict>],
    ) -> PyResult<Bound<'py, PyAny>> {
        self.0.bind(py).call_method1(pyo3::intern!(py, "release"), (PyList::new(py, globals)?,))
    }
}

/// A [`Join`] owned, ready to be handed to the worker (the runner's `join` argument).
pub(crate) struct Joining(Join<Py<PyAny>>);

impl Joining {
    pub(crate) fn new(join: Join<Bound<'_, PyAny>>) -> Joining {
        let Join { namespace, exports, own } = join;
        Joining(Join { namespace, exports: exports.unbind(), own })
    }

    /// The names the candidate exported when it joined a view (`script.py`'s `Exports`);
    /// `None` when it did not join one.
    pub(crate) fn exported(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        self.0.exports.bind(py).getattr("names")?.extract()
    }

    /// `(namespace, exports, own)`, as `runner.py` passes it to `BatchView.add`.
    pub(crate) fn to_argument(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Join { namespace, exports, own } = &self.0;
        Ok((namespace, exports.bind(py), own.clone()).into_pyobject(py)?.into_any().unbind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(HELPER.module(py).hasattr("BatchView").unwrap()));
    }
}
