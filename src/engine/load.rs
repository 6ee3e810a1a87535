//! Loading one directory, all or nothing (L1–L8, E1).
//!
//! Every script is read and compiled first; then the resolver decides the order, scripts
//! execute into fresh globals, and what each exports goes into its namespace (a duplicated
//! name goes to whom `namespace::claim` says, L5). If anything failed and the load is not
//! partial, every namespace and contribution it made is removed again, so the same
//! directory can be added later.

use std::collections::BTreeMap;
use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::candidate::{Checked, test_file_wait};
use super::dependents::Imports;
use super::directory::{self, FoundScript};
use super::namespace::{self, Claim, DirId};
use super::resolve::{self, Resolver};
use super::script::{self, Compiled};
use super::{Directory, Error, Reloader, Script};
use crate::python::PyFailure;
use crate::report::{Duplicate, LoadReport, Outcome, ScriptLoad, ScriptProblem, Wait};
use crate::testing::TestReport;

/// One script's progress through a load.
struct Attempt {
    found: FoundScript,
    bytes: Vec<u8>,
    compiled: Option<Compiled>,
    executions: u32,
    globals: Option<Py<PyDict>>,
    contributions: Vec<String>,
    problem: Option<ScriptProblem>,
    last_import_failure: Option<PyFailure>,
    tests: Option<TestReport>,
    /// Globals of a run whose module-level code passed but whose test file waits (L6).
    tests_waiting: Option<Py<PyDict>>,
}

impl Reloader {
    pub(super) fn load_directory(
        &mut self,
        py: Python<'_>,
        namespace: &str,
        given: &Path,
    ) -> Result<LoadReport, Error> {
        namespace::check_name(py, namespace)?;
        let root = canonical_directory(given)?;
        if let Some(existing) = self.directories.values().find(|d| d.root == root) {
            return Err(Error::AlreadyRegistered {
                path: given.to_path_buf(),
                namespace: existing.namespace.clone(),
            });
        }
        let directories = &self.directories;
        self.namespaces.check_available(py, namespace, &root, |id| directories[&id].given.clone())?;
        let listing = directory::list(&root, namespace, &|name| namespace::check_component(py, name))?;
        for name in &listing.namespaces {
            self.namespaces.check_not_foreign(py, name, (name == namespace).then_some(root.as_path()))?;
        }

        let id = self.next_directory;
        self.next_directory += 1;
        let mut attempts: Vec<Attempt> = listing.scripts.into_iter().map(Attempt::new).collect();
        let run = self.run_load(py, id, namespace, &listing.namespaces, &mut attempts);
        let duplicates = match run {
            Ok(duplicates) => duplicates,
            Err(err) => {
                self.undo_load(py, id, &attempts);
                return Err(err);
            }
        };
        let failed = attempts.iter().any(|a| a.problem.is_some());
        let partial = self.config.partial;
        let kept = !failed || partial;
        if kept {
            if let Some(watcher) = self.watcher.as_mut()
                && let Err(err) = watcher.watch(&root)
            {
                self.undo_load(py, id, &attempts);
                return Err(Error::Watch { source: err });
            }
            self.commit_load(py, id, namespace, given, &root, &mut attempts);
            for attempt in attempts.iter().filter(|a| a.problem.is_none()) {
                self.publish_version(py, &attempt.found.path, Some(1));
            }
        } else {
            self.undo_load(py, id, &attempts);
        }
        let report = build_report(
            namespace,
            given,
            kept,
            partial,
            self.namespaces.owned_by(id),
            &attempts,
            duplicates,
        );
        log_report(&report);
        Ok(report)
    }

    /// Creates the namespaces and runs every script; returns the duplicates found (L5).
    fn run_load(
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
        let mut resolver = Resolver::new(&resolve::static_order(&deps));
        let mut owners: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut duplicates = Vec::new();
        while let Some(i) = resolver.next() {
            if attempts[i].compiled.is_none() {
                continue;
            }
            let all_namespaces: Vec<String> = self.namespaces.names().map(str::to_string).collect();
            let ns_refs: Vec<&str> = all_namespaces.iter().map(String::as_str).collect();
            match attempts[i].execute(py, self, &ns_refs)? {
                Executed::Exported(names) => {
                    let installed = self.install(py, i, names, attempts, &mut owners, &mut duplicates)?;
                    let namespace = attempts[i].found.namespace.clone();
                    let names: Vec<(String, String)> =
                        installed.into_iter().map(|n| (namespace.clone(), n)).collect();
                    resolver.exported(&names);
                }
                Executed::Blocked(wait) => resolver.park(i, wait),
                Executed::Failed => {}
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
                    let mut names: Vec<&str> = cycle.iter().map(|&c| attempts_path(attempts, c)).collect();
                    names.push(attempts_path(attempts, cycle[0]));
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
        duplicates.sort_by(|a: &Duplicate, b| {
            (&a.namespace, &a.name, &a.ignored).cmp(&(&b.namespace, &b.name, &b.ignored))
        });
        Ok(duplicates)
    }

    /// Puts the exports of `attempts[i]` into its namespace; the first script in sorted path
    /// order wins a duplicated name, and a sub-namespace wins over any script (L5).
    fn install(
        &mut self,
        py: Python<'_>,
        i: usize,
        names: Vec<String>,
        attempts: &mut [Attempt],
        owners: &mut BTreeMap<(String, String), usize>,
        duplicates: &mut Vec<Duplicate>,
    ) -> Result<Vec<String>, Error> {
        let namespace = attempts[i].found.namespace.clone();
        let module = self.namespaces.module(py, &namespace).expect("created before running scripts");
        let globals = attempts[i].globals.as_ref().expect("executed").bind(py).clone();
        let mut installed = Vec::new();
        for name in names {
            let duplicate = |kept: String, ignored: usize| Duplicate {
                namespace: namespace.clone(),
                name: name.clone(),
                kept,
                ignored: attempts[ignored].found.path.clone(),
            };
            let key = (namespace.clone(), name.clone());
            let holder = owners.get(&key).copied();
            let subnamespace = self.namespaces.module(py, &format!("{namespace}.{name}")).is_some();
            let claimant = &attempts[i].found.path;
            match namespace::claim(claimant, subnamespace, holder.map(|h| &attempts[h].found.path)) {
                Claim::SubNamespace => {
                    duplicates.push(duplicate(format!("namespace {namespace}.{name}"), i));
                    continue;
                }
                Claim::Kept => {
                    let holder = holder.expect("a kept name has a holder");
                    duplicates.push(duplicate(attempts[holder].found.path.to_string(), i));
                    continue;
                }
                Claim::TakenOver => {
                    let holder = holder.expect("a name taken over has a holder");
                    duplicates.push(duplicate(claimant.to_string(), holder));
                    attempts[holder].contributions.retain(|n| n != &name);
                }
                Claim::Free => {}
            }
            let value = globals.get_item(&name).map_err(|e| Error::python(py, &e))?;
            module.setattr(name.as_str(), value).map_err(|e| Error::python(py, &e))?;
            owners.insert(key, i);
            installed.push(name);
        }
        self.registry
            .bind(py)
            .call_method1("add_script", (&globals, installed.clone()))
            .map_err(|e| Error::python(py, &e))?;
        attempts[i].contributions = installed.clone();
        Ok(installed)
    }

    fn commit_load(
        &mut self,
        py: Python<'_>,
        id: DirId,
        namespace: &str,
        given: &Path,
        root: &Path,
        attempts: &mut [Attempt],
    ) {
        let mut pending = BTreeMap::new();
        for attempt in attempts.iter_mut() {
            match (&attempt.problem, attempt.globals.take()) {
                (None, Some(globals)) => {
                    let script = Script {
                        directory: id,
                        path: attempt.found.path.clone(),
                        namespace: attempt.found.namespace.clone(),
                        globals,
                        version: 1,
                        contributions: attempt.contributions.clone(),
                        bytes: std::mem::take(&mut attempt.bytes),
                        source: attempt.compiled.as_ref().expect("ran, so compiled").source.clone_ref(py),
                        imports: attempt
                            .compiled
                            .as_ref()
                            .and_then(|c| Imports::of_source(py, c.source.bind(py)).ok())
                            .unwrap_or_default(),
                        test_imports: Imports::of_test_file(py, &attempt.found.file),
                    };
                    self.scripts.insert(attempt.found.file.clone(), script);
                }
                _ => {
                    let wait = match &attempt.problem {
                        Some(
                            ScriptProblem::Blocked { waits_for, .. } | ScriptProblem::Cycle { waits_for, .. },
                        ) => Some(waits_for.clone()),
                        _ => None,
                    };
                    pending.insert(attempt.found.file.clone(), wait);
                }
            }
        }
        let directory = Directory {
            given: given.to_path_buf(),
            root: root.to_path_buf(),
            namespace: namespace.to_string(),
            pending,
            removed: BTreeMap::new(),
        };
        self.directories.insert(id, directory);
    }

    /// Removes everything a load made (L7): contributions, registry entries, namespaces.
    fn undo_load(&mut self, py: Python<'_>, id: DirId, attempts: &[Attempt]) {
        let registry = self.registry.bind(py);
        for attempt in attempts {
            if let Some(globals) = &attempt.globals {
                // Best effort: the registry only tells sibling imports apart (L4).
                let _ = registry.call_method1("forget_script", (globals.bind(py),));
            }
        }
        let names = self.namespaces.owned_by(id);
        if let Err(err) = self.namespaces.remove(py, &names) {
            log::error!(
                "could not remove the namespaces of a failed load: {}",
                PyFailure::from_err(py, &err)
            );
        }
    }
}

fn attempts_path(attempts: &[Attempt], i: usize) -> &str {
    attempts[i].found.path.as_str()
}

fn canonical_directory(given: &Path) -> Result<std::path::PathBuf, Error> {
    let root = given.canonicalize().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::MissingDirectory { path: given.to_path_buf() },
        _ => Error::Io { path: given.to_path_buf(), source },
    })?;
    if !root.is_dir() {
        return Err(Error::NotADirectory { path: given.to_path_buf() });
    }
    Ok(root)
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

enum Executed {
    Exported(Vec<String>),
    Blocked(Wait),
    Failed,
}

impl Attempt {
    fn new(found: FoundScript) -> Attempt {
        Attempt {
            found,
            bytes: Vec::new(),
            compiled: None,
            executions: 0,
            globals: None,
            contributions: Vec::new(),
            problem: None,
            last_import_failure: None,
            tests: None,
            tests_waiting: None,
        }
    }

    /// Reads and compiles; a failure here is final for this load.
    fn prepare(&mut self, py: Python<'_>, size_limit: u64) {
        let bytes = match script::read(&self.found.file, size_limit) {
            Ok(bytes) => bytes,
            Err(problem) => {
                self.problem = Some(problem);
                return;
            }
        };
        match script::compile(py, &self.found.file, &bytes, None) {
            Ok(compiled) => self.compiled = Some(compiled),
            Err(problem) => self.problem = Some(problem),
        }
        self.bytes = bytes;
    }

    fn execute(
        &mut self,
        py: Python<'_>,
        reloader: &Reloader,
        namespaces: &[&str],
    ) -> Result<Executed, Error> {
        let compiled = self.compiled.as_ref().expect("only compiled scripts execute");
        let file = self.found.file.clone();
        // L6: a script blocked by its test file ran already; only its tests run again, so
        // its module-level code (and what it did to other scripts' objects) runs once.
        let (globals, checked) = match self.tests_waiting.take() {
            Some(globals) => {
                let globals = globals.into_bound(py);
                let checked = reloader.test_candidate(py, &self.found, compiled, &globals)?;
                (globals, checked)
            }
            None => {
                let globals = script::new_globals(py, &self.found.namespace, &file, self.found.path.as_str())
                    .map_err(|e| Error::python(py, &e))?;
                self.executions += 1;
                let checked = reloader.check_candidate(py, &self.found, compiled, &globals)?;
                (globals, checked)
            }
        };
        let err = match checked {
            Checked::Passed(tests) => {
                self.tests = tests;
                let registry = reloader.registry.bind(py);
                match script::exports(py, compiled, &globals, &self.found.namespace, registry) {
                    Ok(names) => {
                        self.globals = Some(globals.unbind());
                        return Ok(Executed::Exported(names));
                    }
                    Err(err) => err,
                }
            }
            Checked::Failed(problem, tests) => {
                // L6: a test file that imports a relive name not exported yet blocks its
                // script with it, instead of failing the load.
                if let Some((wait, failure)) = tests.as_ref().and_then(test_file_wait) {
                    self.last_import_failure = Some(failure);
                    self.tests_waiting = Some(globals.unbind());
                    return Ok(Executed::Blocked(wait));
                }
                self.tests = tests;
                self.problem = Some(problem);
                return Ok(Executed::Failed);
            }
            Checked::Raised(err) => err,
        };
        let filename = file.to_string_lossy();
        let failure = PyFailure::locate(py, &err, Some(&filename));
        match script::wait_target(py, &err, namespaces).map_err(|e| Error::python(py, &e))? {
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

fn build_report(
    namespace: &str,
    given: &Path,
    kept: bool,
    partial: bool,
    namespaces: Vec<String>,
    attempts: &[Attempt],
    duplicates: Vec<Duplicate>,
) -> LoadReport {
    let scripts = attempts
        .iter()
        .map(|a| ScriptLoad {
            path: a.found.path.clone(),
            namespace: a.found.namespace.clone(),
            outcome: match (&a.problem, kept) {
                (None, true) => Outcome::Loaded,
                (Some(_), true) => Outcome::Pending,
                (_, false) => Outcome::LoadFailed,
            },
            executions: a.executions,
            contributions: a.contributions.clone(),
            problem: a.problem.clone(),
            tests: a.tests.clone(),
        })
        .collect();
    LoadReport {
        namespace: namespace.to_string(),
        directory: given.display().to_string(),
        outcome: if kept { Outcome::Loaded } else { Outcome::LoadFailed },
        partial,
        namespaces: if kept { namespaces } else { Vec::new() },
        scripts,
        duplicates,
        cycles: cycles_of(attempts),
        executions: attempts.iter().map(|a| a.executions).sum(),
    }
}

/// Each distinct cycle once, in sorted order.
fn cycles_of(attempts: &[Attempt]) -> Vec<String> {
    let cycles: std::collections::BTreeSet<String> = attempts
        .iter()
        .filter_map(|a| match &a.problem {
            Some(ScriptProblem::Cycle { cycle, .. }) => Some(cycle.clone()),
            _ => None,
        })
        .collect();
    cycles.into_iter().collect()
}

fn log_report(report: &LoadReport) {
    for cycle in &report.cycles {
        log::info!("cycle: {cycle}");
    }
    for duplicate in &report.duplicates {
        log::warn!("{duplicate}");
    }
    for script in report.failures() {
        log::info!("{}: {}", script.path, script.problem.as_ref().expect("a failure has a problem"));
    }
    let total = report.scripts.len();
    match report.outcome {
        Outcome::Loaded => log::info!(
            "loaded {} from {}: {} of {total} scripts",
            report.namespace,
            report.directory,
            total - report.failures().count()
        ),
        _ => log::info!("load failed: {} from {}: nothing was kept", report.namespace, report.directory),
    }
}
