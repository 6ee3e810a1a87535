//! Running a load's scripts (L5, L6, issue 17).
//!
//! The resolver (`resolve.rs`) decides the order. While no script is parked, the scripts
//! ready to run go to the worker thread together, as one group (`testing/group.rs`): each
//! runs, is tested and installs its exports (L5) before the next one starts, exactly as if
//! each were its own job, but without a thread round trip per script. The group stops at
//! the first script that did not export (it failed, or it waits for a name, L6); the rest
//! go back to the resolver. While a script is parked, scripts run one at a time, since any
//! export may wake it and it must then run before scripts ranked after it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::candidate::{Checked, Gate, test_file_wait};
use super::directory::FoundScript;
use super::load::Attempt;
use super::namespace::{self, Claim, DirId};
use super::resolve::{self, Resolver};
use super::script::{self, Compiled};
use super::{Error, Reloader};
use crate::python::PyFailure;
use crate::report::{Duplicate, ScriptPath, ScriptProblem, Wait};
use crate::testing::TestReport;
use crate::testing::group::{self, Here};
use crate::testing::view::View;

/// Where a load's exports go (L5): each name to the first script in sorted path order that
/// exports it, unless a sub-namespace of that name exists.
pub(super) struct Installer {
    modules: BTreeMap<String, Py<PyModule>>,
    paths: Vec<ScriptPath>,
    owners: BTreeMap<(String, String), usize>,
    duplicates: Vec<Duplicate>,
    /// What each attempt contributes so far, by index.
    contributions: Vec<Vec<String>>,
}

impl Installer {
    /// Puts the exports of attempt `i` into its namespace; the first script in sorted path
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
            let key = (namespace.to_string(), name.clone());
            let holder = self.owners.get(&key).copied();
            let subnamespace = self.modules.contains_key(&format!("{namespace}.{name}"));
            let claimant = &self.paths[i];
            let (kept, ignored) =
                match namespace::claim(claimant, subnamespace, holder.map(|h| &self.paths[h])) {
                    Claim::SubNamespace => (Some(format!("namespace {namespace}.{name}")), i),
                    Claim::Kept => {
                        let holder = holder.expect("a kept name has a holder");
                        (Some(self.paths[holder].to_string()), i)
                    }
                    Claim::TakenOver => {
                        let holder = holder.expect("a name taken over has a holder");
                        self.contributions[holder].retain(|n| n != &name);
                        (Some(claimant.to_string()), holder)
                    }
                    Claim::Free => (None, i),
                };
            if let Some(kept) = kept {
                let duplicate = Duplicate {
                    namespace: namespace.to_string(),
                    name: name.clone(),
                    kept,
                    ignored: self.paths[ignored].clone(),
                };
                self.duplicates.push(duplicate);
                if ignored == i {
                    continue;
                }
            }
            module.setattr(name.as_str(), globals.get_item(&name)?)?;
            self.owners.insert(key, i);
            installed.push(name);
        }
        script::register_script(registry, globals, &installed)?;
        self.contributions[i] = installed.clone();
        Ok(installed)
    }
}

/// What the attempts of a load share, owned, so that a group of them runs on the worker.
struct Shared {
    gate: Gate,
    registry: Py<PyAny>,
    installer: Mutex<Installer>,
}

impl Shared {
    fn installer(&self) -> std::sync::MutexGuard<'_, Installer> {
        self.installer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exports of a candidate that passed, installed (L4, L5); the error of `exports`
    /// stays the script's.
    fn export(
        &self,
        py: Python<'_>,
        i: usize,
        found: &FoundScript,
        compiled: &Compiled,
        globals: &Bound<'_, PyDict>,
    ) -> Result<Result<Vec<String>, PyErr>, Error> {
        let registry = self.registry.bind(py);
        match script::exports(py, compiled, globals, &found.namespace, registry) {
            Ok(names) => self
                .installer()
                .install(py, registry, i, &found.namespace, names, globals)
                .map(Ok)
                .map_err(|e| Error::python(py, &e)),
            Err(err) => Ok(Err(err)),
        }
    }
}

/// One attempt to run, owned.
struct Item {
    index: usize,
    found: FoundScript,
    compiled: Arc<Compiled>,
    globals: Py<PyDict>,
    view: View,
    own: Vec<String>,
}

/// How an attempt's run went, before the load takes it in.
enum Tried {
    /// It passed and its exports were installed: those it holds (L5).
    Exported { globals: Py<PyDict>, tests: Option<TestReport>, installed: Vec<String> },
    /// It passed, but telling its exports raised (`__all__` names something missing).
    ExportsRaised { tests: Option<TestReport>, err: PyErr },
    /// It did not pass.
    NotPassed { globals: Py<PyDict>, checked: Checked },
}

enum Executed {
    Exported(Vec<String>),
    Blocked(Wait),
    Failed,
}

/// Runs a fresh attempt: executed into new globals, tested, its exports installed.
fn try_fresh(
    py: Python<'_>,
    shared: &Shared,
    item: &Item,
    run: impl FnOnce(Python<'_>, crate::testing::run::Job<'_>) -> PyResult<crate::testing::run::Finished>,
) -> Result<Tried, Error> {
    let globals = item.globals.bind(py);
    let checked =
        shared.gate.check(py, &item.found, &item.compiled, globals, item.own.clone(), &item.view, run)?;
    passed_then_export(py, shared, item.index, &item.found, &item.compiled, globals, checked)
}

fn passed_then_export(
    py: Python<'_>,
    shared: &Shared,
    i: usize,
    found: &FoundScript,
    compiled: &Compiled,
    globals: &Bound<'_, PyDict>,
    checked: Checked,
) -> Result<Tried, Error> {
    let Checked::Passed(tests) = checked else {
        return Ok(Tried::NotPassed { globals: globals.clone().unbind(), checked });
    };
    Ok(match shared.export(py, i, found, compiled, globals)? {
        Ok(installed) => Tried::Exported { globals: globals.clone().unbind(), tests, installed },
        Err(err) => Tried::ExportsRaised { tests, err },
    })
}

impl Reloader {
    /// Creates the namespaces and runs every script; returns the duplicates found (L5).
    pub(super) fn run_load(
        &mut self,
        py: Python<'_>,
        id: DirId,
        base: &str,
        namespaces: &[String],
        attempts: &mut [Attempt],
    ) -> Result<Vec<Duplicate>, Error> {
        for name in namespaces {
            self.namespaces.create(py, base, name, id).map_err(|e| Error::python(py, &e))?;
        }
        for attempt in attempts.iter_mut() {
            attempt.prepare(py, self.config.size_limit);
        }
        let binders = Binders::new(attempts);
        let deps: Vec<Vec<usize>> = attempts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let imports = a.compiled.as_ref().map(|c| c.imports.as_slice()).unwrap_or_default();
                let mut deps: Vec<usize> =
                    imports.iter().filter_map(|(m, n)| binders.get(m, n)).filter(|&b| b != i).collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect();
        let shared = Arc::new(self.load_shared(py, attempts)?);
        let mut resolver = Resolver::new(&resolve::static_order(&deps));
        while let Some(i) = resolver.next() {
            if attempts[i].compiled.is_none() {
                continue;
            }
            if attempts[i].tests_waiting.is_some() {
                let tried = attempts[i].retest(py, self, &shared, i)?;
                let executed = attempts[i].absorb(py, tried, shared.gate.namespaces())?;
                settle(&mut resolver, &attempts[i], i, executed);
                continue;
            }
            let mut group = vec![i];
            if resolver.is_calm() {
                // Nothing is parked: no export can wake a script ranked before the rest.
                while let Some(j) = resolver.next_if(|j| attempts[j].tests_waiting.is_none()) {
                    if attempts[j].compiled.is_some() {
                        group.push(j);
                    }
                }
            }
            let ran = self.run_group(py, &shared, attempts, &group)?;
            for &j in &group[ran.len()..] {
                resolver.requeue(j);
            }
            for (j, executed) in ran {
                settle(&mut resolver, &attempts[j], j, executed);
            }
        }
        let parked = resolver.into_parked();
        let cycles = resolve::cycles(&parked, |_, wait| match wait {
            Wait::Name { namespace, name } => binders.get(namespace, name),
            _ => None,
        });
        for (i, wait) in parked {
            let cycle = cycles.iter().find(|c| c.contains(&i));
            let problem = match cycle {
                Some(cycle) => {
                    let mut names: Vec<&str> =
                        cycle.iter().map(|&c| attempts[c].found.path.as_str()).collect();
                    names.push(attempts[cycle[0]].found.path.as_str());
                    ScriptProblem::Cycle { waits_for: wait, cycle: names.join(" -> ") }
                }
                None => ScriptProblem::Blocked {
                    waits_for: wait,
                    failure: Box::new(
                        attempts[i].last_import_failure.clone().expect("a parked script failed an import"),
                    ),
                },
            };
            attempts[i].problem = Some(problem);
        }
        let mut installer = shared.installer();
        for (attempt, contributions) in attempts.iter_mut().zip(std::mem::take(&mut installer.contributions))
        {
            attempt.contributions = contributions;
        }
        let mut duplicates = std::mem::take(&mut installer.duplicates);
        duplicates.sort_by(|a: &Duplicate, b| {
            (&a.namespace, &a.name, &a.ignored).cmp(&(&b.namespace, &b.name, &b.ignored))
        });
        Ok(duplicates)
    }

    fn load_shared(&self, py: Python<'_>, attempts: &[Attempt]) -> Result<Shared, Error> {
        let modules = self
            .namespaces
            .names()
            .filter_map(|name| self.namespaces.module(py, name).map(|m| (name.to_string(), m.unbind())))
            .collect();
        let installer = Installer {
            modules,
            paths: attempts.iter().map(|a| a.found.path.clone()).collect(),
            owners: BTreeMap::new(),
            duplicates: Vec::new(),
            contributions: vec![Vec::new(); attempts.len()],
        };
        Ok(Shared {
            gate: self.gate(py)?,
            registry: self.registry.clone_ref(py),
            installer: Mutex::new(installer),
        })
    }

    /// Runs the fresh attempts `group` on the worker, in order, until one does not export;
    /// takes in how each went. Returns those that ran, in order, with how each went.
    fn run_group(
        &self,
        py: Python<'_>,
        shared: &Arc<Shared>,
        attempts: &mut [Attempt],
        group: &[usize],
    ) -> Result<Vec<(usize, Executed)>, Error> {
        let mut items = Vec::with_capacity(group.len());
        for &i in group {
            let found = attempts[i].found.clone();
            let globals = script::new_globals(py, &found.namespace, &found.file, found.path.as_str())
                .map_err(|e| Error::python(py, &e))?;
            items.push(Item {
                index: i,
                own: self.own_names(&found),
                found,
                compiled: attempts[i].compiled.clone().expect("only compiled scripts run"),
                globals: globals.unbind(),
                view: View::new(py).map_err(|e| Error::python(py, &e))?,
            });
        }
        let items = Arc::new(items);
        let step = {
            let shared = shared.clone();
            move |py: Python<'_>, item: &Item, here: &Here| {
                let tried = try_fresh(py, &shared, item, |py, job| here.run(py, job));
                let go_on = matches!(tried, Ok(Tried::Exported { .. }));
                (tried, go_on)
            }
        };
        let taken =
            group::run_items(py, shared.gate.stop(), &items, step).map_err(|e| Error::python(py, &e))?;
        let mut ran = Vec::with_capacity(taken.results.len() + 1);
        for (item, tried) in items.iter().zip(taken.results) {
            attempts[item.index].executions += 1;
            let executed = attempts[item.index].absorb(py, tried?, shared.gate.namespaces())?;
            ran.push((item.index, executed));
        }
        if let Some(finished) = taken.abandoned {
            let item = &items[ran.len()];
            attempts[item.index].executions += 1;
            let globals = item.globals.bind(py);
            item.view.release(py, std::slice::from_ref(globals)).map_err(|e| Error::python(py, &e))?;
            let checked = shared.gate.checked(py, &item.found, globals, finished, None);
            let tried = Tried::NotPassed { globals: globals.clone().unbind(), checked };
            let executed = attempts[item.index].absorb(py, tried, shared.gate.namespaces())?;
            ran.push((item.index, executed));
        }
        Ok(ran)
    }
}

/// Tells the resolver how attempt `i` went: its exports wake who waited for them (L6).
fn settle(resolver: &mut Resolver, attempt: &Attempt, i: usize, executed: Executed) {
    match executed {
        Executed::Exported(installed) => {
            let namespace = &attempt.found.namespace;
            let names: Vec<(String, String)> =
                installed.into_iter().map(|n| (namespace.clone(), n)).collect();
            resolver.exported(&names);
        }
        Executed::Blocked(wait) => resolver.park(i, wait),
        Executed::Failed => {}
    }
}

/// Which script binds a name at top level, per namespace: the first in sorted path order.
struct Binders(BTreeMap<(String, String), usize>);

impl Binders {
    fn new(attempts: &[Attempt]) -> Binders {
        let mut map = BTreeMap::new();
        for (i, attempt) in attempts.iter().enumerate() {
            for name in attempt.compiled.iter().flat_map(|c| c.bindings.iter()) {
                map.entry((attempt.found.namespace.clone(), name.clone())).or_insert(i);
            }
        }
        Binders(map)
    }

    fn get(&self, namespace: &str, name: &str) -> Option<usize> {
        self.0.get(&(namespace.to_string(), name.to_string())).copied()
    }
}

impl Attempt {
    /// L6: a script blocked by its test file ran already; only its tests run again, so its
    /// module-level code (and what it did to other scripts' objects) runs once.
    fn retest(
        &mut self,
        py: Python<'_>,
        reloader: &Reloader,
        shared: &Shared,
        i: usize,
    ) -> Result<Tried, Error> {
        let compiled = self.compiled.clone().expect("only compiled scripts run");
        let globals = self.tests_waiting.take().expect("a script waiting for its tests").into_bound(py);
        let checked = reloader.test_candidate(py, &self.found, &compiled, &globals)?;
        passed_then_export(py, shared, i, &self.found, &compiled, &globals, checked)
    }

    /// Takes in how a run went.
    fn absorb(&mut self, py: Python<'_>, tried: Tried, namespaces: &[String]) -> Result<Executed, Error> {
        let err = match tried {
            Tried::Exported { globals, tests, installed } => {
                self.tests = tests;
                self.globals = Some(globals);
                return Ok(Executed::Exported(installed));
            }
            Tried::ExportsRaised { tests, err } => {
                self.tests = tests;
                err
            }
            Tried::NotPassed { checked: Checked::Raised(err), .. } => err,
            Tried::NotPassed { checked: Checked::Failed(problem, tests), globals } => {
                // L6: a test file that imports a relive name not exported yet blocks its
                // script with it, instead of failing the load.
                if let Some((wait, failure)) = tests.as_ref().and_then(test_file_wait) {
                    self.last_import_failure = Some(failure);
                    self.tests_waiting = Some(globals);
                    return Ok(Executed::Blocked(wait));
                }
                self.tests = tests;
                self.problem = Some(problem);
                return Ok(Executed::Failed);
            }
            Tried::NotPassed { checked: Checked::Passed(_), .. } => unreachable!("a passed run is exported"),
        };
        let filename = self.found.file.to_string_lossy();
        let failure = PyFailure::locate(py, &err, Some(&filename));
        let refs: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        match script::wait_target(py, &err, &refs).map_err(|e| Error::python(py, &e))? {
            Some(wait) => {
                self.last_import_failure = Some(failure);
                Ok(Executed::Blocked(wait))
            }
            None => {
                self.problem = Some(ScriptProblem::Error { failure: Box::new(failure) });
                Ok(Executed::Failed)
            }
        }
    }
}
