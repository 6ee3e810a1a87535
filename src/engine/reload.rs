//! Reloading changed files, alone or as a batch (R1, R11, R14, W2, W3, O1).
//!
//! This file turns the files of a batch into its members: deleted files leak or prune their
//! names, unreadable or broken ones are refused, identical bytes are `unchanged`, and each
//! changed script that compiled becomes a member. The members, with their dependents (R15),
//! go through one pipeline (`batch.rs`, `apply.rs`): built, tested, then applied or
//! rejected; nothing relive controls changes for a rejected one. New files are loaded (or
//! stay pending, and are retried when what they wait for appears, W2, `pending.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch::{Kind, Member, Role};
use super::dependents::Imports;
use super::directory::{self, FoundScript};
use super::leaks::Leak;
use super::namespace::{self, DirId};
use super::script;
use super::update;
use super::{Error, Mode, Reloader};
use crate::layout;
use crate::python::{self, PyFailure};
use crate::report::{Changes, Outcome, RejectReason, ReloadReport, ScriptPath, ScriptProblem, Timings};
use crate::testing::TestReport;

/// A file of a batch, resolved against the registered directories.
pub(super) struct Change {
    pub(super) found: FoundScript,
    pub(super) directory: DirId,
}

impl Reloader {
    /// Reloads one changed file (or loads a new one, or removes a deleted one) and returns
    /// what happened to it. See [`Reloader::reload_batch`].
    ///
    /// # Errors
    /// The file is not in a registered directory, or the interpreter failed.
    pub fn reload(&mut self, file: impl AsRef<Path>) -> Result<ReloadReport, Error> {
        let file = file.as_ref();
        let path = self.subject(file)?.0.found.path;
        let reports = self.reload_batch([file])?;
        reports.into_iter().find(|r| r.path == path).ok_or(Error::Ignored { path: file.to_path_buf() })
    }

    /// Handles files changed together as one batch (R14): candidates are built in load
    /// order, each applied or rejected on its own. The reports hold one entry per script
    /// of the batch, plus pending scripts that loaded because of it (W2), sorted by path.
    ///
    /// # Errors
    /// A file is not in a registered directory, or the interpreter failed.
    pub fn reload_batch<P: AsRef<Path>>(
        &mut self,
        files: impl IntoIterator<Item = P>,
    ) -> Result<Vec<ReloadReport>, Error> {
        let mut changes = Vec::new();
        let mut retests = Vec::new();
        let mut folder_problems = Vec::new();
        let mut seen = BTreeSet::new();
        for file in files {
            let file = file.as_ref();
            if !self.is_watched_script(file) {
                continue;
            }
            let (change, is_test_file) = match self.subject(file) {
                Ok(subject) => subject,
                // One bad file (a folder that cannot be a namespace) must not stop the batch.
                Err(err @ Error::InvalidFolderName { .. }) => {
                    folder_problems.push(self.folder_problem(file, &err));
                    continue;
                }
                Err(err) => return Err(err),
            };
            if is_test_file && !self.config.tests {
                continue; // T7: with tests off a test file is nothing to relive
            }
            if is_test_file {
                retests.push(change);
            } else if seen.insert(change.found.file.clone()) {
                changes.push(change);
            }
        }
        retests.retain(|r| !seen.contains(&r.found.file));
        retests.sort_by(|a, b| a.found.path.cmp(&b.found.path));
        retests.dedup_by(|a, b| a.found.file == b.found.file);
        changes.sort_by(|a, b| a.found.path.cmp(&b.found.path));
        let mut reports = python::attach(|py| self.run_batch(py, changes, retests))?;
        reports.extend(folder_problems.into_iter().flatten());
        reports.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(reports)
    }

    /// A new script in a folder that cannot be a namespace: pending, with the folder named
    /// (L1, W2); it loads once the folder is renamed.
    fn folder_problem(&self, file: &Path, err: &Error) -> Option<ReloadReport> {
        let file = canonical_file(file);
        let root = self.root_of(&file)?;
        let path = ScriptPath::relative(root, &file)?;
        let report = ReloadReport {
            path,
            namespace: String::new(),
            outcome: Outcome::Pending,
            version: None,
            changes: None,
            reason: Some(RejectReason::Script {
                problem: ScriptProblem::Folder { message: err.to_string() },
            }),
            tests: None,
            outside_effects: false,
            dependent: false,
            duration_ms: 0.0,
            timings: Timings::default(),
        };
        log::info!("{report}");
        Some(report)
    }

    fn run_batch(
        &mut self,
        py: Python<'_>,
        changes: Vec<Change>,
        retests: Vec<Change>,
    ) -> Result<Vec<ReloadReport>, Error> {
        let (members, mut reports) = self.prepare_changes(py, changes)?;
        let members = self.with_dependents(py, members)?;
        for change in retests {
            // T5: a test file whose script the batch tests anyway is tested with it, once.
            if members.iter().any(|m| m.change.found.file == change.found.file) {
                let test_imports = Imports::of_test_file(py, &change.found.file);
                if let Some(script) = self.scripts.get_mut(&change.found.file) {
                    script.test_imports = test_imports;
                }
            } else {
                reports.push(self.retest(py, &change, Instant::now())?);
            }
        }
        let batch = self.run_members(py, members, true, None)?;
        let progressed = batch.iter().any(|r| matches!(r.outcome, Outcome::Reloaded | Outcome::Loaded));
        reports.extend(batch);
        if progressed && self.directories.values().any(|d| !d.pending.is_empty()) {
            let batch: BTreeSet<ScriptPath> = reports.iter().map(|r| r.path.clone()).collect();
            let exported = self.exported_by(&reports);
            reports.extend(self.retry_pending(py, &batch, exported)?);
        }
        reports.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(reports)
    }

    /// Reads and compiles the changed files: deleted ones are removed (W3), unreadable or
    /// broken ones refused, identical ones `unchanged` (R11); the rest become members.
    fn prepare_changes(
        &mut self,
        py: Python<'_>,
        changes: Vec<Change>,
    ) -> Result<(Vec<Member>, Vec<ReloadReport>), Error> {
        let mut reports = Vec::new();
        let mut members = Vec::new();
        let mut changes: std::collections::VecDeque<Change> = changes.into();
        while let Some(change) = changes.pop_front() {
            let start = Instant::now();
            if !change.found.file.exists() {
                let report = self.remove_script(py, &change, start)?;
                self.publish_version(py, &report.path, None);
                reports.push(report);
                // Terms: a test file without its script beside it is an ordinary script.
                for orphan in layout::test_files_for(&change.found.file) {
                    if !changes.iter().any(|c| c.found.file == orphan)
                        && let Ok(orphan) = self.locate(&orphan)
                    {
                        changes.push_back(orphan);
                    }
                }
                continue;
            }
            let closed = self.pumping
                && self.watcher.as_ref().is_some_and(|w| w.was_closed_after_write(&change.found.file));
            let read = if closed { script::read_closed } else { script::read };
            let bytes = match read(&change.found.file, self.config.size_limit) {
                Ok(bytes) => bytes,
                Err(problem) => {
                    let report = self.refuse(&change, RejectReason::Script { problem }, None, false, start);
                    self.announce(py, &report);
                    reports.push(report);
                    continue;
                }
            };
            // From the watcher and written again since the batch was taken: maybe half-written;
            // a later batch has it (W1).
            if self.pumping && self.watcher.as_mut().is_some_and(|w| w.has_newer_change(&change.found.file)) {
                log::debug!("{}: changed again while being read; left for the next batch", change.found.path);
                continue;
            }
            if self.pumping && !self.empty_read_confirmed(&change.found.file, &bytes) {
                log::debug!("{}: read empty; applied only if it stays empty", change.found.path);
                continue;
            }
            if self.scripts.get(&change.found.file).is_some_and(|s| s.bytes == bytes) {
                reports.push(self.unchanged(&change, start));
                continue;
            }
            let read_ms = elapsed_ms(start);
            let previous = self.scripts.get(&change.found.file).map(|s| &s.source);
            match script::compile(py, &change.found.file, &bytes, previous) {
                Ok(compiled) => {
                    let kind = self.kind_of(&change);
                    let mut member = Member::new(change, bytes, Some(compiled), Role::Changed, kind);
                    member.start = start;
                    member.timings.read_ms = read_ms;
                    member.timings.compile_ms = elapsed_ms(start) - read_ms;
                    members.push(member);
                }
                Err(problem) => {
                    let report = self.refuse(&change, RejectReason::Script { problem }, None, false, start);
                    self.announce(py, &report);
                    reports.push(report);
                }
            }
        }
        members.sort_by(|a, b| a.path().cmp(b.path()));
        Ok((members, reports))
    }

    /// Whether a changed script is in effect, new, or deleted and re-created (W3).
    pub(super) fn kind_of(&self, change: &Change) -> Kind {
        if self.scripts.contains_key(&change.found.file) {
            Kind::InEffect
        } else if self.directories[&change.directory].removed.contains_key(&change.found.file) {
            Kind::Removed
        } else {
            Kind::New
        }
    }

    /// Fires the R13 callbacks for a report and publishes versions to `relive.version`.
    pub(super) fn announce(&mut self, py: Python<'_>, report: &ReloadReport) {
        let classes = match self.event_classes.take() {
            Some(classes) => classes.into_bound(py),
            None => PyDict::new(py),
        };
        if matches!(report.outcome, Outcome::Reloaded | Outcome::Loaded) {
            self.publish_version(py, &report.path, report.version);
        }
        self.callbacks.fire(py, report, &classes);
        if self.config.verify && report.outcome == Outcome::Reloaded {
            self.verify_fresh_load(py);
        }
    }

    /// The `debug_leaks` check (R12): classes with more than one live class object.
    pub(super) fn warn_surviving_classes(&self, py: Python<'_>, change: &Change) {
        let namespaces: Vec<String> = self.namespaces.names().map(str::to_string).collect();
        match update::surviving_class_versions(py, &namespaces) {
            Ok(survivors) => {
                for (name, count) in survivors {
                    log::warn!(
                        "{}: {count} class objects named {name} survive a collection; code outside relive keeps old versions (an __init_subclass__ registry, typing caches)",
                        change.found.path
                    );
                }
            }
            Err(err) => log::error!("debug_leaks: {}", PyFailure::from_err(py, &err)),
        }
    }

    /// Runs a script's tests against the code in effect because its test file changed (T5).
    fn retest(&mut self, py: Python<'_>, change: &Change, start: Instant) -> Result<ReloadReport, Error> {
        let script = &self.scripts[&change.found.file];
        let globals = script.globals.bind(py).clone();
        let version = Some(script.version);
        let tested = self.test_in_view(py, &change.found, &globals, None, self.config.test_timeout)?;
        let test_imports = Imports::of_test_file(py, &change.found.file);
        if let Some(script) = self.scripts.get_mut(&change.found.file) {
            script.test_imports = test_imports;
        }
        let report = match tested {
            Ok(tests) => ReloadReport { version, tests, ..report_for(change, Outcome::Retested, start) },
            Err((problem, tests)) => ReloadReport {
                version,
                reason: Some(RejectReason::Script { problem }),
                tests,
                ..report_for(change, Outcome::Retested, start)
            },
        };
        log::info!("{report}");
        Ok(report)
    }

    /// T5: once a script exists, its test file is no longer a script; if it was loaded as
    /// one (its script had been deleted), it is removed like a deleted script.
    pub(super) fn retire_test_file_script(
        &mut self,
        py: Python<'_>,
        script: &Path,
    ) -> Result<Option<ReloadReport>, Error> {
        let Some(test_file) = layout::test_file_for(script).filter(|t| self.scripts.contains_key(t)) else {
            return Ok(None);
        };
        let change = self.locate(&test_file)?;
        let report = self.remove_script(py, &change, Instant::now())?;
        self.publish_version(py, &report.path, None);
        Ok(Some(report))
    }

    /// A new folder's namespace wins over a script's name in its parent (L5): the script
    /// stops contributing that name, with the duplicate logged as at load.
    pub(super) fn yield_names_to_new_namespaces(&mut self, base: &str, namespace: &str) {
        let mut dotted = base.to_string();
        for leaf in namespace.strip_prefix(base).unwrap_or("").split('.').filter(|c| !c.is_empty()) {
            let parent = dotted.clone();
            dotted = format!("{dotted}.{leaf}");
            if self.namespaces.names().any(|n| n == dotted) {
                continue;
            }
            for script in self.scripts.values_mut().filter(|s| s.namespace == parent) {
                if script.contributions.iter().any(|n| n == leaf) {
                    script.contributions.retain(|n| n != leaf);
                    log::warn!(
                        "duplicate name {parent}.{leaf}: {} ignored, namespace {dotted} kept",
                        script.path
                    );
                }
            }
        }
    }

    /// A deleted script: its names leak (or are pruned) and it is forgotten (W3).
    fn remove_script(
        &mut self,
        py: Python<'_>,
        change: &Change,
        start: Instant,
    ) -> Result<ReloadReport, Error> {
        let directory = self.directories.get_mut(&change.directory).expect("registered");
        directory.pending.remove(&change.found.file);
        let mut changes = Changes::default();
        if let Some(script) = self.scripts.remove(&change.found.file) {
            self.forget_contributions(py, &script)?;
            if self.config.prune {
                // R8b, W3: what it registered in other scripts' objects goes with it.
                super::update::undo_contribution(py, script.globals.bind(py));
            }
            let module = self.namespaces.module(py, &script.namespace);
            for name in &script.contributions {
                let Some(module) = &module else { break };
                if self.config.prune {
                    if module.hasattr(name.as_str()).unwrap_or(false) {
                        module.delattr(name.as_str()).map_err(|e| Error::python(py, &e))?;
                    }
                    changes.pruned.push(name.clone());
                } else if let Ok(object) = module.getattr(name.as_str()) {
                    let leak = Leak {
                        namespace: script.namespace.clone(),
                        name: name.clone(),
                        script: script.path.clone(),
                        version: script.version,
                    };
                    self.leaks.record(leak, object.unbind());
                    changes.leaked.push(name.clone());
                }
            }
            if !self.config.prune && self.config.mode == Mode::Update {
                let directory = self.directories.get_mut(&change.directory).expect("registered");
                directory.removed.insert(change.found.file.clone(), script);
            }
        }
        let report = ReloadReport { changes: Some(changes), ..report_for(change, Outcome::Removed, start) };
        log::info!("{report}");
        Ok(report)
    }

    /// A rejection (or, for a script not in effect, a pending load). `ran`: the candidate's
    /// code executed, so outside effects may exist (R1).
    fn refuse(
        &mut self,
        change: &Change,
        reason: RejectReason,
        tests: Option<TestReport>,
        ran: bool,
        start: Instant,
    ) -> ReloadReport {
        let loaded = self.scripts.get(&change.found.file);
        let outcome = if loaded.is_some() { Outcome::Rejected } else { Outcome::Pending };
        if loaded.is_none() {
            let directory = self.directories.get_mut(&change.directory).expect("registered");
            directory.pending.insert(change.found.file.clone(), None);
        }
        let report = ReloadReport {
            version: loaded.map(|s| s.version),
            reason: Some(reason),
            tests,
            outside_effects: ran && outcome == Outcome::Rejected,
            ..report_for(change, outcome, start)
        };
        log::info!("{report}");
        report
    }

    fn unchanged(&self, change: &Change, start: Instant) -> ReloadReport {
        ReloadReport {
            version: self.scripts.get(&change.found.file).map(|s| s.version),
            ..report_for(change, Outcome::Unchanged, start)
        }
    }

    /// `.py`, not hidden, not in `__pycache__` below its directory (the W1 filter, for direct
    /// calls too). Files outside every directory pass, so `locate` can say so.
    fn is_watched_script(&self, file: &Path) -> bool {
        let file = canonical_file(file);
        let Some(root) = self.root_of(&file) else {
            return true;
        };
        let Some(path) = ScriptPath::relative(root, &file) else { return true };
        layout::is_script_relative_path(path.as_str()) && !layout::filter::excluded(&file)
    }

    /// The registered directory holding `file`: the innermost when directories nest.
    fn root_of(&self, file: &Path) -> Option<&PathBuf> {
        self.directories
            .values()
            .map(|d| &d.root)
            .filter(|root| file.starts_with(root))
            .max_by_key(|root| root.as_os_str().len())
    }

    /// The script a changed file stands for: itself, or for a test file beside a loaded
    /// script, that script (T5); and whether it was a test file.
    fn subject(&self, file: &Path) -> Result<(Change, bool), Error> {
        let file = canonical_file(file);
        match layout::script_for(&file) {
            // T5: the test file of a script in effect stands for a retest of that script.
            Some(script) if self.scripts.contains_key(&script) => Ok((self.locate(&script)?, true)),
            // The script is new or pending: its load attempt runs the new tests.
            Some(script) => Ok((self.locate(&script)?, false)),
            None => Ok((self.locate(&file)?, false)),
        }
    }

    /// Whether `bytes`, just read from the watcher's `file`, may be applied: an empty read of
    /// a script whose code in effect is not empty waits until the file stayed empty (W1).
    fn empty_read_confirmed(&mut self, file: &Path, bytes: &[u8]) -> bool {
        let in_effect_empty = self.scripts.get(file).is_none_or(|s| s.bytes.is_empty());
        let Some(watcher) = self.watcher.as_mut() else { return true };
        if !bytes.is_empty() {
            watcher.read_not_empty(file);
            return true;
        }
        in_effect_empty || watcher.confirm_empty(file)
    }

    /// Which directory a file belongs to, its path and namespace.
    pub(super) fn locate(&self, file: &Path) -> Result<Change, Error> {
        let file = canonical_file(file);
        let (id, dir) = self
            .directories
            .iter()
            .filter(|(_, d)| file.starts_with(&d.root))
            .max_by_key(|(_, d)| d.root.as_os_str().len())
            .ok_or_else(|| Error::OutsideDirectories { path: file.clone() })?;
        let path = ScriptPath::relative(&dir.root, &file).expect("under the root");
        let folder = file.parent().unwrap_or(&dir.root);
        let namespace = python::attach(|py| {
            directory::namespace_of(&dir.root, folder, &dir.namespace, &|n| namespace::check_component(py, n))
        })?;
        Ok(Change { found: FoundScript { path, file, namespace }, directory: *id })
    }
}

/// The canonical form of a path that may no longer exist: its nearest existing ancestor
/// canonicalised, plus the rest.
fn canonical_file(file: &Path) -> PathBuf {
    if let Ok(path) = file.canonicalize() {
        return path;
    }
    let mut rest = Vec::new();
    let mut current = file.to_path_buf();
    while let Some(name) = current.file_name().map(|n| n.to_os_string()) {
        rest.push(name);
        if !current.pop() {
            break;
        }
        if let Ok(base) = current.canonicalize() {
            return rest.iter().rev().fold(base, |path, part| path.join(part));
        }
    }
    file.to_path_buf()
}

/// A report for `change` with nothing but its outcome filled in.
pub(super) fn report_for(change: &Change, outcome: Outcome, start: Instant) -> ReloadReport {
    ReloadReport {
        path: change.found.path.clone(),
        namespace: change.found.namespace.clone(),
        outcome,
        version: None,
        changes: None,
        reason: None,
        tests: None,
        outside_effects: false,
        dependent: false,
        duration_ms: elapsed_ms(start),
        timings: Timings::default(),
    }
}

pub(super) fn script_error(py: Python<'_>, err: &PyErr, change: &Change) -> RejectReason {
    let file = change.found.file.to_string_lossy();
    let failure = PyFailure::locate(py, err, Some(&file));
    RejectReason::Script { problem: ScriptProblem::Error { failure: Box::new(failure) } }
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
