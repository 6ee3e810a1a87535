//! Loading one directory, all or nothing (L1–L8, E1): a batch of new members under the load
//! policy.
//!
//! Every script is read and compiled first, each a batch member (`batch.rs`) linked to the
//! members whose top-level names it imports; then the batch's run (`batch_build.rs`, under
//! `Policy::Load`) executes and tests them in that order (L6), installing what each exports
//! into its namespace as it passes (a duplicated name goes to whom `namespace::claim` says,
//! L5, `load_step.rs`) and parking and waking the members that wait for a relive name.
//! What stays parked is blocked, or in a cycle. If anything failed and the load is not
//! partial, every namespace and contribution it made is removed again, so the same
//! directory can be added later (L7).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use super::batch::{self, Kind, Member, Role};
use super::batch_step::Policy;
use super::candidate;
use super::dependents::Imports;
use super::directory::{self, FoundScript};
use super::load_step::{self, Installer};
use super::namespace::{self, DirId};
use super::reload::Change;
use super::resolve;
use super::script;
use super::{Directory, Error, Reloader};
use crate::python::PyFailure;
use crate::report::{Duplicate, LoadReport, Outcome, RejectReason, ScriptLoad, ScriptProblem, Wait};

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
        let mut members = Vec::with_capacity(listing.scripts.len());
        let run = self.run_load(py, id, namespace, &listing.namespaces, listing.scripts, &mut members);
        let duplicates = match run {
            Ok(duplicates) => duplicates,
            Err(err) => {
                self.undo_load(py, id, &members);
                return Err(err);
            }
        };
        let partial = self.config.partial;
        let kept = batch::load_kept(&members, partial);
        if kept {
            if let Some(watcher) = self.watcher.as_mut()
                && let Err(err) = watcher.watch(&root)
            {
                self.undo_load(py, id, &members);
                return Err(Error::Watch { source: err });
            }
            let report = build_report(
                namespace,
                given,
                (kept, partial),
                self.namespaces.owned_by(id),
                &members,
                duplicates,
            );
            self.commit_load(py, id, namespace, given, &root, &mut members);
            for member in members.iter().filter(|m| m.failure.is_none()) {
                self.publish_version(py, member.path(), Some(1));
            }
            log_report(&report);
            return Ok(report);
        }
        self.undo_load(py, id, &members);
        let report = build_report(namespace, given, (kept, partial), Vec::new(), &members, duplicates);
        log_report(&report);
        Ok(report)
    }

    /// Creates the namespaces, makes a member of each script and runs them (L5, L6); returns
    /// the duplicates found (L5).
    fn run_load(
        &mut self,
        py: Python<'_>,
        id: DirId,
        base: &str,
        namespaces: &[String],
        scripts: Vec<FoundScript>,
        members: &mut Vec<Member>,
    ) -> Result<Vec<Duplicate>, Error> {
        for name in namespaces {
            self.namespaces.create(py, base, name, id).map_err(|e| Error::python(py, &e))?;
        }
        for found in scripts {
            let change = Change { found, directory: id };
            members.push(match candidate::build(py, &change.found.file, self.config.size_limit) {
                Ok((bytes, compiled)) => Member::new(change, bytes, Some(compiled), Role::Changed, Kind::New),
                Err(problem) => {
                    // Unreadable or broken: a failure here is final for this load.
                    let mut member = Member::new(change, Vec::new(), None, Role::Changed, Kind::New);
                    member.fail(RejectReason::Script { problem }, None, false, false);
                    member
                }
            });
        }
        let binders = Binders::new(members);
        for (i, member) in members.iter_mut().enumerate() {
            let imports = member.compiled.as_ref().map(|c| c.imports.as_slice()).unwrap_or_default();
            member.upstream =
                imports.iter().filter_map(|(m, n)| binders.get(m, n)).filter(|&b| b != i).collect();
        }
        let deps: Vec<Vec<usize>> = members.iter().map(|m| m.upstream.iter().copied().collect()).collect();
        let modules = self
            .namespaces
            .names()
            .filter_map(|name| self.namespaces.module(py, name).map(|m| (name.to_string(), m.unbind())))
            .collect();
        let installer =
            Arc::new(Mutex::new(Installer::new(modules, members.iter().map(|m| m.path().clone()).collect())));
        let parked = self
            .build_members(
                py,
                members,
                &resolve::static_order(&deps),
                &Policy::Load(installer.clone()),
                None,
            )?
            .0;
        fail_parked(members, parked, &binders);
        let (contributions, duplicates) = load_step::lock(&installer).finish();
        for (member, contributions) in members.iter_mut().zip(contributions) {
            member.exports = contributions;
        }
        Ok(duplicates)
    }

    fn commit_load(
        &mut self,
        py: Python<'_>,
        id: DirId,
        namespace: &str,
        given: &Path,
        root: &Path,
        members: &mut [Member],
    ) {
        let mut pending = BTreeMap::new();
        for member in members.iter_mut() {
            let file = member.change.found.file.clone();
            match (&member.failure, member.candidate.take()) {
                (None, Some(globals)) => {
                    let source = member.compiled.as_ref().expect("ran, so compiled").source.bind(py);
                    let imports = Imports::of_source(py, source).unwrap_or_default();
                    let imports = (imports, Imports::of_test_file(py, &file));
                    let exports = std::mem::take(&mut member.exports);
                    self.scripts.insert(file, member.first_version(py, globals, exports, imports));
                }
                (failure, _) => {
                    pending.insert(file, failure.as_ref().and_then(|f| f.wait.clone()));
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
    fn undo_load(&mut self, py: Python<'_>, id: DirId, members: &[Member]) {
        let registry = self.registry.bind(py);
        for member in members {
            if let Some(globals) = &member.candidate {
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

/// What stays parked once nothing more can progress is blocked, or in a cycle (L6).
fn fail_parked(members: &mut [Member], parked: BTreeMap<usize, Wait>, binders: &Binders) {
    let cycles = resolve::cycles(&parked, |_, wait| match wait {
        Wait::Name { namespace, name } => binders.get(namespace, name),
        _ => None,
    });
    for (i, wait) in parked {
        let problem = match cycles.iter().find(|c| c.contains(&i)) {
            Some(cycle) => {
                let mut names: Vec<&str> = cycle.iter().map(|&c| members[c].path().as_str()).collect();
                names.push(members[cycle[0]].path().as_str());
                ScriptProblem::Cycle { waits_for: wait.clone(), cycle: names.join(" -> ") }
            }
            None => {
                let parked = members[i].parked.as_ref().expect("a parked member failed an import");
                ScriptProblem::Blocked { waits_for: wait.clone(), failure: Box::new(parked.failure.clone()) }
            }
        };
        members[i].fail(RejectReason::Script { problem }, Some(wait), true, false);
    }
}

/// Which script binds a name at top level, per namespace: the first in sorted path order.
struct Binders(BTreeMap<(String, String), usize>);

impl Binders {
    fn new(members: &[Member]) -> Binders {
        let mut map = BTreeMap::new();
        for (i, member) in members.iter().enumerate() {
            for name in member.compiled.iter().flat_map(|c| c.bindings.iter()) {
                map.entry((member.change.found.namespace.clone(), name.clone())).or_insert(i);
            }
        }
        Binders(map)
    }

    fn get(&self, namespace: &str, name: &str) -> Option<usize> {
        self.0.get(&(namespace.to_string(), name.to_string())).copied()
    }
}

/// What stops a load member, as its report names it.
fn problem(member: &Member) -> Option<ScriptProblem> {
    member.failure.as_ref().map(|f| match &f.reason {
        RejectReason::Script { problem } => problem.clone(),
        other => unreachable!("a load member fails on its own script: {other}"),
    })
}

fn build_report(
    namespace: &str,
    given: &Path,
    (kept, partial): (bool, bool),
    namespaces: Vec<String>,
    members: &[Member],
    duplicates: Vec<Duplicate>,
) -> LoadReport {
    let scripts = members
        .iter()
        .map(|m| ScriptLoad {
            path: m.path().clone(),
            namespace: m.change.found.namespace.clone(),
            outcome: match (&m.failure, kept) {
                (None, true) => Outcome::Loaded,
                (Some(_), true) => Outcome::Pending,
                (_, false) => Outcome::LoadFailed,
            },
            executions: m.executions,
            contributions: m.exports.clone(),
            problem: problem(m),
            tests: m.tests.clone(),
        })
        .collect();
    LoadReport {
        namespace: namespace.to_string(),
        directory: given.display().to_string(),
        outcome: if kept { Outcome::Loaded } else { Outcome::LoadFailed },
        partial,
        namespaces,
        scripts,
        duplicates,
        cycles: cycles_of(members),
        executions: members.iter().map(|m| m.executions).sum(),
    }
}

/// Each distinct cycle once, in sorted order.
fn cycles_of(members: &[Member]) -> Vec<String> {
    let cycles: std::collections::BTreeSet<String> = members
        .iter()
        .filter_map(|m| match problem(m) {
            Some(ScriptProblem::Cycle { cycle, .. }) => Some(cycle),
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
