//! Plain test functions without pytest (T8): the Rust side of `plain.py`.
//!
//! `plain.py` collects `test*` functions and `Test*` classes as unittest cases (called by
//! `runner.py`, which imports it) and rewrites the bare asserts of those tests so a failure
//! shows the values compared. This file loads it and compiles a file's tests with that
//! rewrite; everything that is not a test keeps the code Python compiles for it.

use pyo3::prelude::*;

use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("plain.py"), c"src/testing/plain.py", c"_relive_plain");

/// The loaded helper, importable as `_relive_plain` by `runner.py`, with its assertion
/// explainer installed.
pub(crate) fn module(py: Python<'_>) -> &Bound<'_, PyModule> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let module = HELPER.module(py);
    INSTALLED.call_once(|| {
        if let Err(err) = module.call_method0(pyo3::intern!(py, "install")) {
            log::error!(
                "cannot install relive's assertion explainer: {}",
                crate::python::PyFailure::from_err(py, &err)
            );
        }
    });
    module
}

/// The code of `tree` with the asserts of its tests rewritten, or `None` when it has no
/// test that asserts.
pub(crate) fn rewrite_asserts(
    py: Python<'_>,
    tree: &Py<PyAny>,
    filename: &str,
) -> PyResult<Option<Py<PyAny>>> {
    let code = module(py).call_method1(pyo3::intern!(py, "rewrite"), (tree.bind(py), filename))?;
    Ok((!code.is_none()).then(|| code.unbind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_plain(py: Python<'_>, src: &str) -> String {
        let tree = py.import("ast").unwrap().call_method1("parse", (src,)).unwrap().unbind();
        let code = rewrite_asserts(py, &tree, "t.py").unwrap().expect("the file has a test that asserts");
        let globals = pyo3::types::PyDict::new(py);
        let builtins = py.import("builtins").unwrap();
        globals.set_item("__builtins__", builtins).unwrap();
        py.import("builtins").unwrap().getattr("exec").unwrap().call1((code.bind(py), &globals)).unwrap();
        let err = globals.get_item("test_it").unwrap().unwrap().call0().unwrap_err();
        err.value(py).str().unwrap().to_string()
    }

    #[test]
    fn t8_a_failing_comparison_shows_its_values() {
        crate::python::attach(|py| {
            let message = run_plain(
                py,
                "def add(a, b):\n    return a + b\ndef test_it():\n    assert add(1, 2) == 4\n",
            );
            assert_eq!(message, "assert 3 == 4 (where 3 = add(1, 2))");
        });
    }

    #[test]
    fn t8_membership_not_and_calls_with_a_message() {
        crate::python::attach(|py| {
            let message =
                run_plain(py, "def test_it():\n    xs = [1, 2]\n    assert 3 in xs, 'three is missing'\n");
            assert_eq!(message, "three is missing: assert 3 in [1, 2] (where [1, 2] = xs)");
            let message = run_plain(py, "def test_it():\n    assert not len('ab')\n");
            assert_eq!(message, "assert not 2 (where 2 = len('ab'))");
            let message = run_plain(py, "def test_it():\n    assert isinstance(1, str)\n");
            assert_eq!(message, "assert False (where False = isinstance(1, str))");
        });
    }

    #[test]
    fn t8_only_tests_are_rewritten() {
        crate::python::attach(|py| {
            let tree = py
                .import("ast")
                .unwrap()
                .call_method1("parse", ("def helper():\n    assert 1 == 2\n",))
                .unwrap();
            assert!(rewrite_asserts(py, &tree.unbind(), "t.py").unwrap().is_none());
        });
    }
}
