//! `session.py` behind typed calls: the namespace a scenario's `run` code and checks run in,
//! the reloader state its helpers read (`version`, `tests_found`, `events`, ...), and checks
//! that explain their failures (scenarios.md).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule};

use crate::python::Helper;

static SESSION: Helper =
    Helper::new(include_str!("session.py"), c"src/scenario/session.py", c"_relive_session");

// Raised in a step's `run` or `check` that outlives the scenario's timeout; `session.py` is
// loaded (by `SessionApi::get`) before any check against it.
pyo3::import_exception!(_relive_session, ScenarioTimeout);

/// `check`'s answer: `(ok, detail)`.
#[derive(FromPyObject)]
struct CheckAnswer(bool, String);

/// What a check found.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Whether it held.
    pub(crate) ok: bool,
    /// The values of its parts, when it failed (or what it raised).
    pub(crate) detail: String,
}

/// The reloader's state, as the session helpers read it.
pub(crate) struct Published<'py> {
    /// Every relive namespace.
    pub(crate) namespaces: Vec<String>,
    /// Path -> the script's globals in effect.
    pub(crate) globals: Bound<'py, PyDict>,
    /// Path -> its version.
    pub(crate) versions: Bound<'py, PyDict>,
    /// Path -> (tests found, tests failed) of its last run.
    pub(crate) tests: Bound<'py, PyDict>,
    /// `(namespace, name)` of every leak.
    pub(crate) leaks: Bound<'py, PyList>,
    /// The events so far, as `events()` returns them.
    pub(crate) events: Bound<'py, PyList>,
}

/// `session.py`, loaded.
pub(crate) struct SessionApi<'py>(&'py Bound<'py, PyModule>);

impl<'py> SessionApi<'py> {
    pub(crate) fn get(py: Python<'py>) -> SessionApi<'py> {
        SessionApi(SESSION.module(py))
    }

    /// A fresh session dict with the helpers and modules bound.
    pub(crate) fn new_session(&self) -> PyResult<Bound<'py, PyDict>> {
        Ok(self.0.call_method0(pyo3::intern!(self.0.py(), "new_session"))?.cast_into::<PyDict>()?)
    }

    /// Binds each top-level namespace in `owned` in `session`; drops those of `previous`
    /// it no longer owns.
    pub(crate) fn bind_namespaces(
        &self,
        session: &Bound<'py, PyDict>,
        owned: &[String],
        previous: &[String],
    ) -> PyResult<()> {
        let bind = pyo3::intern!(self.0.py(), "bind_namespaces");
        self.0.call_method1(bind, (session, owned.to_vec(), previous.to_vec())).map(drop)
    }

    /// Makes `state` what the session helpers read.
    pub(crate) fn publish(&self, state: Published<'py>) -> PyResult<()> {
        let Published { namespaces, globals, versions, tests, leaks, events } = state;
        let publish = pyo3::intern!(self.0.py(), "publish");
        self.0.call_method1(publish, (namespaces, globals, versions, tests, leaks, events)).map(drop)
    }

    /// Evaluates a check (`expression`, compiled as `code`) in `session`.
    pub(crate) fn check(
        &self,
        expression: &str,
        code: &Bound<'py, PyAny>,
        session: &Bound<'py, PyDict>,
    ) -> PyResult<Checked> {
        let check = pyo3::intern!(self.0.py(), "check");
        let CheckAnswer(ok, detail) = self.0.call_method1(check, (expression, code, session))?.extract()?;
        Ok(Checked { ok, detail })
    }

    /// Compiles a check (`expression`) or `run` code, named `name` in tracebacks.
    pub(crate) fn compile(&self, code: &str, name: &str, expression: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = self.0.py();
        let function =
            if expression { pyo3::intern!(py, "compile_check") } else { pyo3::intern!(py, "compile_run") };
        self.0.call_method1(function, (code, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_check_explains_itself_and_the_timeout_is_typed() {
        crate::python::attach(|py| {
            let api = SessionApi::get(py);
            let session = api.new_session().unwrap();
            session.set_item("x", 3).unwrap();
            let code = api.compile("x + 1 == 5", "<check>", true).unwrap();
            let checked = api.check("x + 1 == 5", &code, &session).unwrap();
            assert!(!checked.ok);
            assert!(checked.detail.contains("x = 3"), "{}", checked.detail);
            let err = py.eval(c"__import__('_relive_session').ScenarioTimeout()", None, None).unwrap();
            assert!(PyErr::from_value(err).is_instance_of::<ScenarioTimeout>(py));
        });
    }
}
