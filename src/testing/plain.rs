//! Plain test functions without pytest (T8): the Rust side of `plain.py`.
//!
//! `plain.py` collects `test*` functions and `Test*` classes as unittest cases (called by
//! `runner.py`, which imports it) and rewrites the bare asserts of those tests so a failure
//! shows the values compared. This file loads it; `engine/source.py` compiles each test definition of a file
//! with that rewrite, and everything that is not a test as written.

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test_it` of `src`, compiled statement by statement as `source.py` does.
    fn run_plain(py: Python<'_>, src: &str) -> String {
        let globals = pyo3::types::PyDict::new(py);
        globals.set_item("rewrite_statement", module(py).getattr("rewrite_statement").unwrap()).unwrap();
        globals.set_item("src", src).unwrap();
        py.run(
            c"import ast\ntree = ast.parse(src)\ntree.body = [rewrite_statement(n) for n in tree.body]\nexec(compile(tree, 't.py', 'exec'), globals())",
            Some(&globals),
            None,
        )
        .unwrap();
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
            let parsed = |src: &str| {
                let tree = py.import("ast").unwrap().call_method1("parse", (src,)).unwrap();
                tree.getattr("body").unwrap().get_item(0).unwrap()
            };
            let rewrite = |node: &Bound<'_, PyAny>| {
                module(py).call_method1("rewrite_statement", (node,)).unwrap().unbind().into_bound(py)
            };
            let helper = parsed("def helper():\n    assert 1 == 2\n");
            assert!(rewrite(&helper).is(&helper), "a helper's asserts are its own");
            let test = parsed("def test_it():\n    assert 1 == 2\n");
            assert!(!rewrite(&test).is(&test), "a test's asserts are rewritten (on a copy)");
        });
    }
}
