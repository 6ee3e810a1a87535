//! Loading one directory, all or nothing (L1–L8, E1).
//!
//! Every script is read and compiled first; then the resolver decides the order, scripts
//! execute into fresh globals, and what each exports goes into its namespace (a duplicated
//! name goes to whom `namespace::claim` says, L5). If anything failed and the load is not
//! partial, every namespace and contribution it made is removed again, so the same
//! directory can be added later.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::candidate;
use super::dependents::Imports;
use super::directory::{self, FoundScript};
use super::namespace::{self, DirId};
use super::script::{self, Compiled};
use super::{Directory, Error, Reloader, Script};
use crate::python::PyFailure;
use crate::report::{Duplicate, LoadReport, Outcome, ScriptLoad, ScriptProblem};
use crate::testing::TestReport;

/// One script's progress through a load.
pub(super) struct Attempt {
    pub(super) found: FoundScript,
    bytes: Vec<u8>,
    /// Shared with the worker while a group of attempts runs there (`load_run.rs`).
    pub(super) compiled: Option<Arc<Compiled>>,
    pub(super) executions: u32,
    pub(super) globals: Option<Py<PyDict>>,
    pub(super) contributions: Vec<String>,
    pub(super) problem: Option<ScriptProblem>,
    pub(super) last_import_failure: Option<PyFailure>,
    pub(super) tests: Option<TestReport>,
    /// Globals of a run whose module-level code passed but whose test file waits (L6).
    pub(super) tests_waiting: Option<Py<PyDict>>,
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
                let _ = script::forget_script(registry, globals.bind(py));
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
    pub(super) fn prepare(&mut self, py: Python<'_>, size_limit: u64) {
        match candidate::build(py, &self.found.file, size_limit) {
            Ok((bytes, compiled)) => {
                self.bytes = bytes;
                self.compiled = Some(Arc::new(compiled));
            }
            Err(problem) => self.problem = Some(problem),
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
