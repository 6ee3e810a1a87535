//! A load member's run (L4–L6, T2): its module-level code and its tests in one job, in a
//! view of its own (T1), then its exports go into its namespace at once (L5), so the members
//! after it import them. A run that fails on a relive name (or whose test file does) parks
//! the member until that name is exported (L6). `batch_step.rs` runs it on the worker, as
//! one step of a group.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::Error;
use super::batch::Parked;
use super::batch_step::{Built, Item};
use super::candidate::{Checked, Gate, test_file_wait};
use super::directory::FoundScript;
use super::namespace::{BatchClaims, Claim};
use super::script::{self, Compiled};
use crate::python::PyFailure;
use crate::report::{Duplicate, RejectReason, ScriptPath, ScriptProblem};
use crate::testing::run::{Finished, Job};

/// Where a load's exports go (L5): each name to the first script in sorted path order that
/// exports it, unless a sub-namespace of that name exists.
pub(super) struct Installer {
    modules: BTreeMap<String, Py<PyModule>>,
    paths: Vec<ScriptPath>,
    claims: BatchClaims,
    duplicates: Vec<Duplicate>,
    /// What each member installed, by index (less what it lost since: `claims`).
    contributions: Vec<Vec<String>>,
}

impl Installer {
    /// An installer for the members at `paths` into the namespace modules `modules`.
    pub(super) fn new(modules: BTreeMap<String, Py<PyModule>>, paths: Vec<ScriptPath>) -> Installer {
        let contributions = vec![Vec::new(); paths.len()];
        Installer { modules, paths, claims: BatchClaims::default(), duplicates: Vec::new(), contributions }
    }

    /// Puts the exports of member `i` into its namespace; the first script in sorted path
    /// order wins a duplicated name, and a sub-namespace wins over any script (L5).
    fn install(
        &mut self,
        py: Python<'_>,
        registry: &Bound<'_, PyAny>,
        i: usize,
        namespace: &str,
        names: Vec<String>,
        globals: &Bound<'_, PyDict>,
    ) -> PyResult<Vec<String>> {
        let module = self.modules[namespace].bind(py).clone();
        let mut installed = Vec::new();
        for name in names {
            let subnamespace = self.modules.contains_key(&format!("{namespace}.{name}"));
            let claimant = &self.paths[i];
            let duplicate = |kept: String, ignored: &ScriptPath| Duplicate {
                namespace: namespace.to_string(),
                name: name.clone(),
                kept,
                ignored: ignored.clone(),
            };
            match self.claims.claim(i, claimant, namespace, &name, subnamespace) {
                (Claim::SubNamespace, _) => {
                    self.duplicates.push(duplicate(format!("namespace {namespace}.{name}"), claimant));
                    continue;
                }
                (Claim::Kept, holder) => {
                    let holder = holder.expect("a kept name has a holder");
                    self.duplicates.push(duplicate(holder.to_string(), claimant));
                    continue;
                }
                (Claim::TakenOver, holder) => {
                    let holder = holder.expect("a name taken over has a holder");
                    self.duplicates.push(duplicate(claimant.to_string(), &holder));
                }
                (Claim::Free, _) => self.claims.hold(i, claimant, namespace, &name),
            }
            module.setattr(name.as_str(), globals.get_item(&name)?)?;
            installed.push(name);
        }
        script::register_script(registry, globals, &installed)?;
        self.contributions[i] = installed.clone();
        Ok(installed)
    }

    /// What each member holds in the end, by index, and the duplicates found, sorted (L5).
    /// (A worker abandoned during the load may still hold the installer: it is emptied.)
    pub(super) fn finish(&mut self) -> (Vec<Vec<String>>, Vec<Duplicate>) {
        for (holder, name) in self.claims.take_lost() {
            self.contributions[holder].retain(|n| n != &name);
        }
        let mut duplicates = std::mem::take(&mut self.duplicates);
        duplicates.sort_by(|a: &Duplicate, b| {
            (&a.namespace, &a.name, &a.ignored).cmp(&(&b.namespace, &b.name, &b.ignored))
        });
        (std::mem::take(&mut self.contributions), duplicates)
    }
}

pub(super) fn lock(installer: &Mutex<Installer>) -> std::sync::MutexGuard<'_, Installer> {
    installer.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a load member: executed into new globals and tested in one job, its exports
/// installed.
pub(super) fn run(
    py: Python<'_>,
    gate: &Gate,
    installer: &Mutex<Installer>,
    item: &Item,
    run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
) -> Result<Built, Error> {
    let globals = item.globals.bind(py);
    let found = &item.change.found;
    let view = item.view.as_ref().expect("a load member has its own view");
    let started = std::time::Instant::now();
    let checked = gate.check(py, found, &item.compiled, globals, item.own.clone(), view, run)?;
    let mut built = outcome(py, gate, installer, (item.index, found, &item.compiled), globals, checked)?;
    built.execute_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    Ok(built)
}

/// How the load member whose worker was abandoned went (T6).
pub(super) fn abandoned(
    py: Python<'_>,
    gate: &Gate,
    installer: &Mutex<Installer>,
    item: &Item,
    finished: Finished,
) -> Result<Built, Error> {
    let globals = item.globals.bind(py);
    let view = item.view.as_ref().expect("a load member has its own view");
    view.release(py, std::slice::from_ref(globals)).map_err(|e| Error::python(py, &e))?;
    let found = &item.change.found;
    let checked = gate.checked(py, found, globals, finished, None);
    outcome(py, gate, installer, (item.index, found, &item.compiled), globals, checked)
}

/// How a load member's check went: passed, its exports installed; else failed, or parked
/// on the relive name it (or its test file) waits for (L6).
pub(super) fn outcome(
    py: Python<'_>,
    gate: &Gate,
    installer: &Mutex<Installer>,
    (i, found, compiled): (usize, &FoundScript, &Compiled),
    globals: &Bound<'_, PyDict>,
    checked: Checked,
) -> Result<Built, Error> {
    let mut built = Built::default();
    let err = match checked {
        Checked::Passed(tests) => {
            built.tests = Some(tests);
            let registry = gate.registry(py);
            match script::exports(py, compiled, globals, &found.namespace, &registry) {
                Ok(names) => {
                    let installed = lock(installer)
                        .install(py, &registry, i, &found.namespace, names, globals)
                        .map_err(|e| Error::python(py, &e))?;
                    built.exports = installed;
                    built.candidate = Some(globals.clone().unbind());
                    return Ok(built);
                }
                Err(err) => err,
            }
        }
        Checked::Raised(err) => err,
        Checked::Failed(problem, tests) => {
            // L6: a test file that imports a relive name not exported yet blocks its script
            // with it, instead of failing the load.
            if let Some((wait, failure)) = tests.as_ref().and_then(test_file_wait) {
                let parked = Parked { failure, tests_waiting: Some(globals.clone().unbind()) };
                built.park = Some((wait, parked));
                return Ok(built);
            }
            built.tests = Some(tests);
            built.failure = Some((RejectReason::Script { problem }, None, true, false));
            return Ok(built);
        }
    };
    let failure = PyFailure::locate(py, &err, Some(&found.file.to_string_lossy()));
    let refs: Vec<&str> = gate.namespaces().iter().map(String::as_str).collect();
    match script::wait_target(py, &err, &refs).map_err(|e| Error::python(py, &e))? {
        Some(wait) => built.park = Some((wait, Parked { failure, tests_waiting: None })),
        None => {
            let problem = ScriptProblem::Error { failure: Box::new(failure) };
            built.failure = Some((RejectReason::Script { problem }, None, true, false));
        }
    }
    Ok(built)
}
