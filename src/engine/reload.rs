//! Reloading changed files, alone or as a batch (R1, R11, R14, W2, W3, O1).
//!
//! Each changed script gets a candidate: read, compile, execute into fresh globals, export.
//! Only a candidate that got that far is handed to `update` (or overwrite mode); any
//! failure rejects it and nothing relive controls changes. New files are loaded (or stay
//! pending), deleted files leak or prune their names, and identical bytes are `unchanged`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::candidate::Checked;
use super::directory::{self, FoundScript};
use super::leaks::Leak;
use super::namespace::{self, DirId};
use super::resolve;
use super::script::{self, Compiled};
use super::update::{self, ApplyError, Candidate};
use super::{Error, Mode, Reloader, Script};
use crate::python::{self, PyFailure};
use crate::report::{Changes, Outcome, RejectReason, ReloadReport, ScriptPath, ScriptProblem, Wait};
use crate::testing::{TestReport, discover};

/// A file of a batch, resolved against the registered directories.
struct Change {
    found: FoundScript,
    directory: DirId,
}

/// A candidate after its check: its globals, or why it is rejected; and its tests.
struct Built<'py> {
    candidate: Result<Bound<'py, PyDict>, RejectReason>,
    tests: Option<TestReport>,
    /// The relive name a failed execution waits for (W2).
    wait: Option<Wait>,
}

/// A changed or new script that compiled, waiting for its turn in the batch.
struct Prepared {
    change: Change,
    bytes: Vec<u8>,
    compiled: Compiled,
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
            duration_ms: 0.0,
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
        let mut reports = Vec::new();
        for change in retests {
            reports.push(self.retest(py, &change, Instant::now())?);
        }
        let mut prepared = Vec::new();
        let mut changes: std::collections::VecDeque<Change> = changes.into();
        while let Some(change) = changes.pop_front() {
            let start = Instant::now();
            if !change.found.file.exists() {
                let report = self.remove_script(py, &change, start)?;
                self.publish_version(py, &report.path, None);
                reports.push(report);
                // Terms: a test file without its script beside it is an ordinary script.
                for orphan in discover::test_files_for(&change.found.file) {
                    if !changes.iter().any(|c| c.found.file == orphan)
                        && let Ok(orphan) = self.locate(&orphan)
                    {
                        changes.push_back(orphan);
                    }
                }
                continue;
            }
            let bytes = match script::read(&change.found.file, self.config.size_limit) {
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
            if self.scripts.get(&change.found.file).is_some_and(|s| s.bytes == bytes) {
                reports.push(self.unchanged(&change, start));
                continue;
            }
            match script::compile(py, &change.found.file, &bytes) {
                Ok(compiled) => prepared.push(Prepared { change, bytes, compiled }),
                Err(problem) => {
                    let report = self.refuse(&change, RejectReason::Script { problem }, None, false, start);
                    self.announce(py, &report);
                    reports.push(report);
                }
            }
        }
        let order = batch_order(&prepared);
        let mut slots: Vec<Option<Prepared>> = prepared.into_iter().map(Some).collect();
        let mut rejected: BTreeMap<(String, String), ScriptPath> = BTreeMap::new();
        let mut progressed = false;
        for i in order {
            let item = slots[i].take().expect("each script once");
            let start = Instant::now();
            let bindings: Vec<(String, String)> = item
                .compiled
                .bindings
                .iter()
                .map(|n| (item.change.found.namespace.clone(), n.clone()))
                .collect();
            let path = item.change.found.path.clone();
            let file = item.change.found.file.clone();
            let tombstone =
                self.directories.get_mut(&item.change.directory).and_then(|d| d.removed.remove(&file));
            let report = if let Some(mut script) = tombstone {
                script.bytes.clear();
                self.scripts.insert(file.clone(), script);
                self.reclaim_removed(py, item, &rejected, start)?
            } else if self.scripts.contains_key(&file) {
                self.reload_script(py, item, &rejected, start, Outcome::Reloaded)?
            } else {
                self.load_new_script(py, item, &rejected, start)?
            };
            match report.outcome {
                Outcome::Rejected | Outcome::Pending => {
                    rejected.extend(bindings.into_iter().map(|key| (key, path.clone())));
                }
                _ => progressed = true,
            }
            let loaded = report.outcome == Outcome::Loaded;
            self.announce(py, &report);
            reports.push(report);
            if loaded {
                reports.extend(self.retire_test_file_script(py, &file)?);
            }
        }
        if progressed && self.directories.values().any(|d| !d.pending.is_empty()) {
            let batch: BTreeSet<ScriptPath> = reports.iter().map(|r| r.path.clone()).collect();
            let exported = self.exported_by(&reports);
            reports.extend(self.retry_pending(py, &batch, exported)?);
        }
        reports.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(reports)
    }

    /// Fires the R13 callbacks for a report and publishes versions to `relive.version`.
    fn announce(&mut self, py: Python<'_>, report: &ReloadReport) {
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
    fn warn_surviving_classes(&self, py: Python<'_>, change: &Change) {
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
        let report = match self.retest_script(py, &change.found, &globals)? {
            Ok(tests) => {
                ReloadReport { version, tests: Some(tests), ..report_for(change, Outcome::Retested, start) }
            }
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

    /// Builds, checks and applies a candidate for a script in effect (R1, R2).
    /// `applied_as` is the outcome reported when it applies: `reloaded`, or `loaded` for a
    /// re-created script.
    fn reload_script(
        &mut self,
        py: Python<'_>,
        item: Prepared,
        rejected: &BTreeMap<(String, String), ScriptPath>,
        start: Instant,
        applied_as: Outcome,
    ) -> Result<ReloadReport, Error> {
        let Prepared { change, bytes, compiled } = item;
        let Built { candidate, tests, .. } = self.build_candidate(py, &change, &compiled, rejected)?;
        let candidate = match candidate {
            Ok(candidate) => candidate,
            Err(reason) => return Ok(self.refuse(&change, reason, tests, true, start)),
        };
        let registry = self.registry.bind(py);
        let exports = match script::exports(py, &compiled, &candidate, &change.found.namespace, registry) {
            Ok(exports) => exports,
            Err(err) => return Ok(self.refuse(&change, script_error(py, &err, &change), tests, true, start)),
        };
        let exports = self.claim_names(py, &change, exports);
        let file = change.found.file.clone();
        let script = &self.scripts[&file];
        let module =
            self.namespaces.module(py, &script.namespace).expect("a loaded script's namespace exists");
        let retained = script.globals.bind(py).clone();
        let exports_old = script.contributions.clone();
        let old_source = script.text.clone();
        let input = Candidate {
            namespace: &change.found.namespace,
            module: &module,
            retained: &retained,
            candidate: &candidate,
            registry: self.registry.bind(py),
            old_source: &old_source,
            new_source: &compiled.text,
            new_tree: compiled.tree.bind(py),
            imported: &compiled.imported,
            exports_old: &exports_old,
            exports_new: &exports,
            prune: self.config.prune,
            fail_after: self.fail_apply_after,
        };
        let applied = match self.config.mode {
            Mode::Update => update::apply_update(py, &input),
            Mode::Overwrite => update::apply_overwrite(py, &input),
        };
        let update::Applied { mut changes, classes } = match applied {
            Ok(applied) => applied,
            Err(ApplyError::Rejected(message)) => {
                return Ok(self.refuse(&change, RejectReason::Shape { message }, tests, true, start));
            }
            Err(ApplyError::Failed(failure)) => {
                let reason = RejectReason::Apply { failure: Box::new(failure) };
                return Ok(self.refuse(&change, reason, tests, true, start));
            }
        };
        let globals = match self.config.mode {
            Mode::Update => retained.clone(),
            Mode::Overwrite => candidate.clone(),
        };
        self.account_names(py, &change, &module, &retained, &candidate, &exports, &mut changes)?;
        self.event_classes = Some(classes.unbind());
        self.swap_registry(py, &file, &globals, &exports)?;
        let script = self.scripts.get_mut(&file).expect("still loaded");
        script.version += 1;
        script.bytes = bytes;
        script.text = compiled.text;
        script.contributions = exports;
        script.globals = globals.unbind();
        let version = script.version;
        for kind in &changes.kind_changed {
            log::warn!("{}: kind changed: {kind}", change.found.path);
        }
        if self.config.debug_leaks {
            self.warn_surviving_classes(py, &change);
        }
        let report = ReloadReport {
            version: Some(version),
            changes: Some(changes),
            tests,
            ..report_for(&change, applied_as, start)
        };
        log::info!("{report}");
        Ok(report)
    }

    /// Executes and tests a candidate; a failure is the reason to reject it.
    fn build_candidate<'py>(
        &mut self,
        py: Python<'py>,
        change: &Change,
        compiled: &Compiled,
        rejected: &BTreeMap<(String, String), ScriptPath>,
    ) -> Result<Built<'py>, Error> {
        let found = &change.found;
        self.last_wait = None;
        let candidate = script::new_globals(py, &found.namespace, &found.file, found.path.as_str())
            .map_err(|e| Error::python(py, &e))?;
        let err = match self.check_candidate(py, found, compiled, &candidate)? {
            Checked::Passed(tests) => return Ok(Built { candidate: Ok(candidate), tests, wait: None }),
            Checked::Failed(problem, tests) => {
                return Ok(Built { candidate: Err(RejectReason::Script { problem }), tests, wait: None });
            }
            Checked::Raised(err) => err,
        };
        let names: Vec<String> = self.namespaces.names().map(str::to_string).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let wait = script::wait_target(py, &err, &refs).map_err(|e| Error::python(py, &e))?;
        self.last_wait = wait.clone();
        if let Some(Wait::Name { namespace, name }) = &wait
            && let Some(script) = rejected.get(&(namespace.clone(), name.clone()))
        {
            let reason = RejectReason::NeedsRejected {
                waits_for: wait.clone().expect("matched"),
                script: script.clone(),
            };
            return Ok(Built { candidate: Err(reason), tests: None, wait });
        }
        Ok(Built { candidate: Err(script_error(py, &err, change)), tests: None, wait })
    }

    /// T5: once a script exists, its test file is no longer a script; if it was loaded as
    /// one (its script had been deleted), it is removed like a deleted script.
    fn retire_test_file_script(
        &mut self,
        py: Python<'_>,
        script: &Path,
    ) -> Result<Option<ReloadReport>, Error> {
        let Some(test_file) = discover::test_file_for(script).filter(|t| self.scripts.contains_key(t)) else {
            return Ok(None);
        };
        let change = self.locate(&test_file)?;
        let report = self.remove_script(py, &change, Instant::now())?;
        self.publish_version(py, &report.path, None);
        Ok(Some(report))
    }

    /// A deleted script re-created (W3): reloaded against the globals it had, so its names
    /// are re-claimed and its classes keep their identity; reported as `loaded`.
    fn reclaim_removed(
        &mut self,
        py: Python<'_>,
        item: Prepared,
        rejected: &BTreeMap<(String, String), ScriptPath>,
        start: Instant,
    ) -> Result<ReloadReport, Error> {
        let file = item.change.found.file.clone();
        let directory = item.change.directory;
        // Names another script took while this one was deleted are that script's now (L5).
        let taken: Vec<String> = self
            .scripts
            .iter()
            .filter(|(f, s)| **f != file && s.namespace == item.change.found.namespace)
            .flat_map(|(_, s)| s.contributions.iter().cloned())
            .collect();
        if let Some(script) = self.scripts.get_mut(&file) {
            script.version = 0; // a deleted script is forgotten: it loads as version 1 (R11)
            script.contributions.retain(|name| !taken.contains(name));
        }
        let mut report = self.reload_script(py, item, rejected, start, Outcome::Loaded)?;
        if report.outcome != Outcome::Loaded
            && let Some(script) = self.scripts.remove(&file)
        {
            let directory = self.directories.get_mut(&directory).expect("registered");
            directory.removed.insert(file.clone(), script);
            directory.pending.insert(file, self.last_wait.take());
            report.outcome = Outcome::Pending;
            report.outside_effects = false;
        }
        Ok(report)
    }

    /// A new folder's namespace wins over a script's name in its parent (L5): the script
    /// stops contributing that name, with the duplicate logged as at load.
    fn yield_names_to_new_namespaces(&mut self, base: &str, namespace: &str) {
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

    /// Loads a script that is not in effect: a new file or a pending one (W2).
    fn load_new_script(
        &mut self,
        py: Python<'_>,
        item: Prepared,
        rejected: &BTreeMap<(String, String), ScriptPath>,
        start: Instant,
    ) -> Result<ReloadReport, Error> {
        let Prepared { change, bytes, compiled } = item;
        let base = self.directories[&change.directory].namespace.clone();
        self.yield_names_to_new_namespaces(&base, &change.found.namespace);
        if let Err(err) = self.namespaces.create(py, &base, &change.found.namespace, change.directory) {
            return Err(Error::python(py, &err));
        }
        let Built { candidate, tests, wait } = self.build_candidate(py, &change, &compiled, rejected)?;
        let exported = candidate.and_then(|globals| {
            script::exports(py, &compiled, &globals, &change.found.namespace, self.registry.bind(py))
                .map(|names| (globals, names))
                .map_err(|err| script_error(py, &err, &change))
        });
        let (globals, exports) = match exported {
            Ok(done) => done,
            Err(reason) => {
                let directory = self.directories.get_mut(&change.directory).expect("registered");
                directory.pending.insert(change.found.file.clone(), wait);
                let report = ReloadReport {
                    reason: Some(reason),
                    tests,
                    ..report_for(&change, Outcome::Pending, start)
                };
                log::info!("{report}");
                return Ok(report);
            }
        };
        let exports = self.claim_names(py, &change, exports);
        let module = self.namespaces.module(py, &change.found.namespace).expect("created above");
        for name in &exports {
            let value = globals.get_item(name).map_err(|e| Error::python(py, &e))?;
            module.setattr(name.as_str(), value).map_err(|e| Error::python(py, &e))?;
        }
        let reclaimed = self.leaks.reclaim(&change.found.namespace, &exports);
        self.registry
            .bind(py)
            .call_method1("add_script", (&globals, exports.clone()))
            .map_err(|e| Error::python(py, &e))?;
        self.directories.get_mut(&change.directory).expect("registered").pending.remove(&change.found.file);
        let script = Script {
            directory: change.directory,
            path: change.found.path.clone(),
            namespace: change.found.namespace.clone(),
            globals: globals.unbind(),
            version: 1,
            contributions: exports,
            bytes,
            text: compiled.text,
        };
        self.scripts.insert(change.found.file.clone(), script);
        let report = ReloadReport {
            version: Some(1),
            changes: Some(Changes { reclaimed, ..Changes::default() }),
            tests,
            ..report_for(&change, Outcome::Loaded, start)
        };
        log::info!("{report}");
        Ok(report)
    }

    /// `(namespace, name)` of every name the applied scripts of `reports` export.
    fn exported_by(&self, reports: &[ReloadReport]) -> BTreeSet<(String, String)> {
        let applied: BTreeSet<(&str, &str)> = reports
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Reloaded | Outcome::Loaded))
            .map(|r| (r.namespace.as_str(), r.path.as_str()))
            .collect();
        self.scripts
            .values()
            .filter(|s| applied.contains(&(s.namespace.as_str(), s.path.as_str())))
            .flat_map(|s| s.contributions.iter().map(|n| (s.namespace.clone(), n.clone())))
            .collect()
    }

    /// Retries the pending scripts outside the batch that wait for a name the batch exported
    /// (or for anything new), until none loads any more (W2). Scripts that failed for
    /// another reason wait for an edit.
    fn retry_pending(
        &mut self,
        py: Python<'_>,
        batch: &BTreeSet<ScriptPath>,
        mut exported: BTreeSet<(String, String)>,
    ) -> Result<Vec<ReloadReport>, Error> {
        let mut reports = Vec::new();
        loop {
            let waiting: Vec<(PathBuf, Option<Wait>)> = self
                .directories
                .values()
                .flat_map(|d| d.pending.iter().map(|(f, w)| (f.clone(), w.clone())))
                .collect();
            let mut progressed = false;
            for (file, wait) in waiting {
                let may_load = match &wait {
                    Some(Wait::Name { namespace, name }) => {
                        exported.contains(&(namespace.clone(), name.clone()))
                    }
                    Some(Wait::Anything { .. }) => !exported.is_empty(),
                    Some(Wait::Namespace { namespace }) => self.namespaces.module(py, namespace).is_some(),
                    None => false,
                };
                if discover::script_for(&file).is_some() {
                    continue; // a test file whose script exists again is not a script (T5)
                }
                let change = self.locate(&file)?;
                if !may_load
                    || batch.contains(&change.found.path)
                    || reports.iter().any(|r: &ReloadReport| r.path == change.found.path)
                {
                    continue;
                }
                let start = Instant::now();
                let Ok(bytes) = script::read(&file, self.config.size_limit) else { continue };
                let Ok(compiled) = script::compile(py, &file, &bytes) else { continue };
                let item = Prepared { change, bytes, compiled };
                let tombstone =
                    self.directories.get_mut(&item.change.directory).and_then(|d| d.removed.remove(&file));
                let report = match tombstone {
                    Some(script) => {
                        self.scripts.insert(file.clone(), script);
                        self.reclaim_removed(py, item, &BTreeMap::new(), start)?
                    }
                    None => self.load_new_script(py, item, &BTreeMap::new(), start)?,
                };
                if report.outcome == Outcome::Loaded {
                    progressed = true;
                    exported.extend(self.exported_by(std::slice::from_ref(&report)));
                    self.announce(py, &report);
                    reports.push(report);
                    reports.extend(self.retire_test_file_script(py, &file)?);
                }
            }
            if !progressed {
                return Ok(reports);
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

    /// Keeps the names another script of the namespace owns with an earlier path, and
    /// sub-namespaces; takes over names owned by later paths (L5).
    fn claim_names(&mut self, py: Python<'_>, change: &Change, exports: Vec<String>) -> Vec<String> {
        let namespace = &change.found.namespace;
        let mut claimed = Vec::new();
        for name in exports {
            if self.namespaces.module(py, &format!("{namespace}.{name}")).is_some() {
                log::warn!(
                    "duplicate name {namespace}.{name}: {} ignored, namespace {namespace}.{name} kept",
                    change.found.path
                );
                continue;
            }
            // Cheap cases first, so a reload does not scan every script (scale, issue 7): a
            // name this script holds already, or one nobody holds, is this script's.
            let holds = self.scripts.get(&change.found.file).is_some_and(|s| s.contributions.contains(&name));
            let taken = self
                .namespaces
                .module(py, namespace)
                .is_some_and(|m| m.hasattr(name.as_str()).unwrap_or(false));
            if holds || !taken {
                claimed.push(name);
                continue;
            }
            let owner = self.scripts.iter_mut().find(|(file, s)| {
                **file != change.found.file && &s.namespace == namespace && s.contributions.contains(&name)
            });
            match owner {
                Some((_, other)) if other.path < change.found.path => {
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, {} kept",
                        change.found.path,
                        other.path
                    );
                    continue;
                }
                Some((_, other)) => {
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, {} kept",
                        other.path,
                        change.found.path
                    );
                    other.contributions.retain(|n| n != &name);
                }
                None => {}
            }
            claimed.push(name);
        }
        claimed
    }

    /// Leaks, prunes and re-claims after an applied reload (R10).
    #[allow(clippy::too_many_arguments)]
    fn account_names(
        &mut self,
        py: Python<'_>,
        change: &Change,
        module: &Bound<'_, PyModule>,
        retained: &Bound<'_, PyDict>,
        candidate: &Bound<'_, PyDict>,
        exports: &[String],
        changes: &mut Changes,
    ) -> Result<(), Error> {
        let script = &self.scripts[&change.found.file];
        let next_version = script.version + 1;
        for name in &script.contributions {
            if exports.contains(name) || candidate.contains(name).unwrap_or(false) {
                continue;
            }
            if self.config.prune {
                changes.pruned.push(name.clone());
                continue;
            }
            let object = match module.getattr(name.as_str()) {
                Ok(object) => object,
                Err(_) => retained
                    .get_item(name)
                    .map_err(|e| Error::python(py, &e))?
                    .unwrap_or_else(|| py.None().into_bound(py)),
            };
            let leak = Leak {
                namespace: change.found.namespace.clone(),
                name: name.clone(),
                script: change.found.path.clone(),
                version: next_version,
            };
            self.leaks.record(leak, object.unbind());
            changes.leaked.push(name.clone());
        }
        changes.reclaimed = self.leaks.reclaim(&change.found.namespace, exports);
        Ok(())
    }

    fn swap_registry(
        &self,
        py: Python<'_>,
        file: &Path,
        globals: &Bound<'_, PyDict>,
        exports: &[String],
    ) -> Result<(), Error> {
        let script = &self.scripts[file];
        self.forget_contributions(py, script)?;
        self.registry
            .bind(py)
            .call_method1("add_script", (globals, exports.to_vec()))
            .map(drop)
            .map_err(|e| Error::python(py, &e))
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
        path.as_str().ends_with(".py") && !path.as_str().split('/').any(directory::is_ignored_name)
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
        match discover::script_for(&file) {
            // T5: the test file of a script in effect stands for a retest of that script.
            Some(script) if self.scripts.contains_key(&script) => Ok((self.locate(&script)?, true)),
            // The script is new or pending: its load attempt runs the new tests.
            Some(script) => Ok((self.locate(&script)?, false)),
            None => Ok((self.locate(&file)?, false)),
        }
    }

    /// Which directory a file belongs to, its path and namespace.
    fn locate(&self, file: &Path) -> Result<Change, Error> {
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

/// The L6 order for a batch: a script runs after the batch members it imports names from.
fn batch_order(prepared: &[Prepared]) -> Vec<usize> {
    let mut binders: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        for name in &p.compiled.bindings {
            binders.entry((p.change.found.namespace.as_str(), name.as_str())).or_insert(i);
        }
    }
    let deps: Vec<Vec<usize>> = prepared
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.compiled
                .imports
                .iter()
                .filter_map(|(m, n)| binders.get(&(m.as_str(), n.as_str())).copied())
                .filter(|&b| b != i)
                .collect()
        })
        .collect();
    resolve::static_order(&deps)
}

/// A report for `change` with nothing but its outcome filled in.
fn report_for(change: &Change, outcome: Outcome, start: Instant) -> ReloadReport {
    ReloadReport {
        path: change.found.path.clone(),
        namespace: change.found.namespace.clone(),
        outcome,
        version: None,
        changes: None,
        reason: None,
        tests: None,
        outside_effects: false,
        duration_ms: elapsed_ms(start),
    }
}

fn script_error(py: Python<'_>, err: &PyErr, change: &Change) -> RejectReason {
    let file = change.found.file.to_string_lossy();
    let failure = PyFailure::locate(py, err, Some(&file));
    RejectReason::Script { problem: ScriptProblem::Error { failure: Box::new(failure) } }
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
