//! The candidate view (T1): the Rust side of `view.py`.
//!
//! While a candidate's tests run, code on the worker thread that imports the candidate's
//! namespace (`from game.ai import think`, `import game.ai`) gets the candidate's exports,
//! so a test that imports its own script's names tests the new code. Nothing in effect
//! changes, and other threads never see the candidate.

use pyo3::prelude::*;

use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("view.py"), c"src/testing/view.py", c"_relive_view");

/// What the view of one candidate needs to know.
pub(crate) struct ViewOf<'a, 'py> {
    /// The candidate's dotted namespace.
    pub(crate) namespace: &'a str,
    /// Called with the candidate's globals: the names it exports (L4).
    pub(crate) exports: Bound<'py, PyAny>,
    /// Names the script's version in effect contributes: hidden unless the candidate
    /// exports them too. Other names of the namespace win over the candidate's (L5).
    pub(crate) own: Vec<String>,
}

/// A `CandidateView` for the runner.
pub(crate) fn candidate_view(py: Python<'_>, of: ViewOf<'_, '_>) -> PyResult<Py<PyAny>> {
    let class = HELPER.module(py).getattr("CandidateView")?;
    Ok(class.call1((of.namespace, of.exports, of.own))?.unbind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(HELPER.module(py).hasattr("CandidateView").unwrap()));
    }
}
