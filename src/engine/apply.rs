//! Step 5 of a batch (R2, R14, R15): putting the members that passed into effect. Each
//! member's changes are planned into one journal with one translation memo (`batch.py`,
//! through `batch_helper`), then made in one step (`commit.rs`), then each member's
//! bookkeeping runs (versions, contributions, leaks, reports).
//!
//! If planning or committing a member fails, nothing of the batch stays changed, that
//! member is rejected with what goes with it (`batch::close_rejections`), and the rest is
//! planned again from scratch.

use std::collections::BTreeMap;
use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::batch::{Kind, Member, Role, close_rejections, member_report};
use super::batch_helper::BatchApply;
use super::dependents::Imports;
use super::leaks::Leak;
use super::namespace::{self, BatchClaims, Claim};
use super::reload::Change;
use super::script;
use super::update::{self, ApplyError, Candidate};
use super::{Error, Mode, Reloader};
use crate::report::{Changes, Outcome, RejectReason, ReloadReport};

/// What applying one member did.
pub(super) struct Applied {
    changes: Changes,
    classes: Py<PyDict>,
    /// Names it imports from relive namespaces that took new objects (R15).
    changed_imports: Vec<String>,
    /// Its globals from now on: the retained ones, or the candidate's (new script,
    /// overwrite mode).
    globals: Py<PyDict>,
    exports: Vec<String>,
}

impl Reloader {
    /// Applies every member without a failure, in `order`, in one commit; a failure leaves
    /// none of them applied and the decision is made again. Returns what each applied member did, by index.
    /// `proxies`: the `(dotted name, proxy)` pairs the batch's view made (T1), translated to
    /// the real namespace modules wherever a candidate kept one.
    pub(super) fn apply_members(
        &mut self,
        py: Python<'_>,
        members: &mut [Member],
        order: &[usize],
        proxies: &Bound<'_, PyAny>,
    ) -> Result<BTreeMap<usize, Applied>, Error> {
        let touched: Vec<String> = members.iter().map(|m| m.change.found.namespace.clone()).collect();
        loop {
            let batch = BatchApply::new(py, self.namespace_names(), touched.clone(), proxies)
                .map_err(|e| Error::python(py, &e))?;
            let mut applied: BTreeMap<usize, Applied> = BTreeMap::new();
            let mut claims = BatchClaims::default();
            let mut failed = None;
            // Each planned member, with the length of the journal after its changes.
            let mut ends: Vec<(usize, usize)> = Vec::new();
            for &i in order {
                if members[i].failure.is_some() {
                    continue;
                }
                match self.apply_member(py, &batch, &members[i], (i, &mut claims))? {
                    Ok(done) => {
                        applied.insert(i, done);
                        ends.push((i, batch.journal_len().map_err(|e| Error::python(py, &e))?));
                    }
                    Err(reason) => {
                        failed = Some((i, reason));
                        break;
                    }
                }
            }
            if failed.is_none() {
                match update::commit_batch(py, batch.as_any(), self.fail_apply_after) {
                    Ok(()) => {
                        batch.close().map_err(|e| Error::python(py, &e))?;
                        // L5: a name a member applied earlier claimed went to one earlier in path order.
                        for (holder, name) in claims.take_lost() {
                            if let Some(done) = applied.get_mut(&holder) {
                                done.exports.retain(|n| n != &name);
                            }
                        }
                        return Ok(applied);
                    }
                    Err((entry, error)) => {
                        let owner = ends.iter().find(|(_, end)| entry < *end).or(ends.last());
                        failed = owner.map(|&(i, _)| (i, reject_reason(error)));
                    }
                }
            }
            batch.close().map_err(|e| Error::python(py, &e))?;
            let Some((i, reason)) = failed else { return Ok(BTreeMap::new()) };
            members[i].fail(reason, None, true, true);
            close_rejections(members);
        }
    }

    /// Applies one member through `batch`; `Err` is why it is rejected.
    fn apply_member(
        &mut self,
        py: Python<'_>,
        batch: &BatchApply<'_>,
        member: &Member,
        claims: (usize, &mut BatchClaims),
    ) -> Result<Result<Applied, RejectReason>, Error> {
        let file = &member.change.found.file;
        if member.role == Role::Retest {
            let script = &self.scripts[file];
            return Ok(Ok(Applied {
                changes: Changes::default(),
                classes: PyDict::new(py).unbind(),
                changed_imports: Vec::new(),
                globals: script.globals.clone_ref(py),
                exports: script.contributions.clone(),
            }));
        }
        let candidate = member.candidate.as_ref().expect("a member that passed was built").bind(py).clone();
        let compiled = member.compiled.as_ref().expect("built members compiled");
        let exports = self.claim_names(py, &member.change, member.exports.clone(), claims);
        let module =
            self.namespaces.module(py, &member.change.found.namespace).expect("created before it ran");
        if member.kind == Kind::New {
            batch.install(&module, &exports, &candidate).map_err(|e| Error::python(py, &e))?;
            return Ok(Ok(Applied {
                changes: Changes::default(),
                classes: PyDict::new(py).unbind(),
                changed_imports: Vec::new(),
                globals: candidate.unbind(),
                exports,
            }));
        }
        let script = &self.scripts[file];
        let retained = script.globals.bind(py).clone();
        let exports_old = script.contributions.clone();
        let old_source = script.source.bind(py).clone();
        let input = Candidate {
            namespace: &member.change.found.namespace,
            module: &module,
            retained: &retained,
            candidate: &candidate,
            registry: self.registry.bind(py),
            old_source: &old_source,
            new_source: compiled.source.bind(py),
            imported: &compiled.imported,
            exports_old: &exports_old,
            exports_new: &exports,
            prune: self.config.prune,
            batch: batch.as_any(),
        };
        let applied = match self.config.mode {
            Mode::Update => update::apply_update(py, &input),
            Mode::Overwrite => update::apply_overwrite(py, &input),
        };
        let update::Applied { changes, classes } = match applied {
            Ok(applied) => applied,
            Err(error) => return Ok(Err(reject_reason(error))),
        };
        let changed_imports: Vec<String> = match self.config.mode {
            Mode::Update => batch.changed_imports().map_err(|e| Error::python(py, &e))?,
            Mode::Overwrite => Vec::new(),
        };
        let globals = match self.config.mode {
            Mode::Update => retained.unbind(),
            Mode::Overwrite => candidate.unbind(),
        };
        Ok(Ok(Applied { changes, classes: classes.unbind(), changed_imports, globals, exports }))
    }

    /// The bookkeeping of an applied member, and its report.
    pub(super) fn commit_member(
        &mut self,
        py: Python<'_>,
        member: &mut Member,
        applied: &Applied,
    ) -> Result<ReloadReport, Error> {
        let file = member.change.found.file.clone();
        let tests = member.tests.take();
        if member.role == Role::Retest {
            let script = self.scripts.get_mut(&file).expect("in effect");
            let report = ReloadReport {
                version: Some(script.version),
                tests,
                ..member_report(member, Outcome::Retested)
            };
            log::info!("{report}");
            return Ok(report);
        }
        let compiled = member.compiled.clone().expect("built members compiled");
        // A dependent's file and test file did not change (a change would be in the batch).
        let (imports, test_imports) = match (member.role, self.scripts.get(&file)) {
            (Role::Dependent, Some(script)) => (script.imports.clone(), script.test_imports.clone()),
            _ => (
                Imports::of_source(py, compiled.source.bind(py)).map_err(|e| Error::python(py, &e))?,
                Imports::of_test_file(py, &file),
            ),
        };
        let globals = applied.globals.bind(py).clone();
        let exports = applied.exports.clone();
        if member.kind == Kind::New {
            return self.commit_new(py, member, globals, exports, (imports, test_imports), tests);
        }
        let module = self.namespaces.module(py, &member.change.found.namespace).expect("in effect");
        let candidate = member.candidate.as_ref().expect("built").bind(py).clone();
        let mut changes = applied.changes.clone();
        self.account_names(py, &member.change, &module, &globals, &candidate, &exports, &mut changes)?;
        self.event_classes = Some(applied.classes.clone_ref(py));
        self.swap_registry(py, &file, &globals, &exports)?;
        let dependent = member.role == Role::Dependent;
        let script = self.scripts.get_mut(&file).expect("still loaded");
        if !dependent {
            script.version += 1;
            script.bytes = std::mem::take(&mut member.bytes);
            script.source = compiled.source.clone_ref(py);
        }
        script.contributions = exports;
        script.globals = globals.unbind();
        script.imports = imports;
        script.test_imports = test_imports;
        let version = script.version;
        for kind in &changes.kind_changed {
            log::warn!("{}: kind changed: {kind}", member.path());
        }
        if self.config.debug_leaks {
            self.warn_surviving_classes(py, &member.change);
        }
        let outcome = match (member.kind, member.role) {
            (Kind::Removed, _) => Outcome::Loaded,
            (_, Role::Dependent)
                if !dependent_changed(&changes, &applied.changed_imports, self.config.mode) =>
            {
                Outcome::Retested
            }
            _ => Outcome::Reloaded,
        };
        // A dependent that only passed its tests again reports no changes (R15).
        let changes = (outcome != Outcome::Retested).then_some(changes);
        // R8b: what it changed beyond the tracked depth is reported as possible.
        let outside_effects = update::possible_untracked(py, &candidate);
        let report = ReloadReport {
            version: Some(version),
            changes,
            tests,
            outside_effects,
            ..member_report(member, outcome)
        };
        log::info!("{report}");
        Ok(report)
    }

    /// A new script goes into effect as version 1 (W2).
    #[allow(clippy::too_many_arguments)]
    fn commit_new(
        &mut self,
        py: Python<'_>,
        member: &mut Member,
        globals: Bound<'_, PyDict>,
        exports: Vec<String>,
        imports: (Imports, Imports),
        tests: Option<crate::testing::TestReport>,
    ) -> Result<ReloadReport, Error> {
        let change = &member.change;
        let reclaimed = self.leaks.reclaim(&change.found.namespace, &exports);
        script::register_script(self.registry.bind(py), &globals, &exports)
            .map_err(|e| Error::python(py, &e))?;
        self.directories.get_mut(&change.directory).expect("registered").pending.remove(&change.found.file);
        let file = change.found.file.clone();
        let script = member.first_version(py, globals.unbind(), exports, imports);
        self.scripts.insert(file, script);
        let report = ReloadReport {
            version: Some(1),
            changes: Some(Changes { reclaimed, ..Changes::default() }),
            tests,
            ..member_report(member, Outcome::Loaded)
        };
        log::info!("{report}");
        Ok(report)
    }

    /// A member that failed, or goes with one that did: rejected (in effect) or pending
    /// (new, or a re-created script, W2, W3).
    pub(super) fn reject_member(&mut self, member: &mut Member) -> ReloadReport {
        let failure = member.failure.take().expect("a member not applied failed");
        let tests = member.tests.take();
        let file = member.change.found.file.clone();
        let pending = match member.kind {
            Kind::InEffect => false,
            Kind::New => true,
            Kind::Removed => {
                if let Some(script) = self.scripts.remove(&file) {
                    let directory = self.directories.get_mut(&member.change.directory).expect("registered");
                    directory.removed.insert(file.clone(), script);
                }
                true
            }
        };
        let report = if pending {
            // W2: a pending script rejected along with another member of its batch waits for
            // what it waited for before.
            let wait = match &failure.reason {
                RejectReason::DependsOnRejected { .. } | RejectReason::NeedsRejected { .. } => {
                    member.waited.clone().or(failure.wait)
                }
                _ => failure.wait,
            };
            let directory = self.directories.get_mut(&member.change.directory).expect("registered");
            directory.pending.insert(file, wait);
            ReloadReport { reason: Some(failure.reason), tests, ..member_report(member, Outcome::Pending) }
        } else {
            ReloadReport {
                version: self.scripts.get(&file).map(|s| s.version),
                reason: Some(failure.reason),
                tests,
                outside_effects: failure.ran && member.role != Role::Retest,
                ..member_report(member, Outcome::Rejected)
            }
        };
        log::info!("{report}");
        report
    }

    /// Keeps the names another script of the namespace owns with an earlier path, and
    /// sub-namespaces; takes over names owned by later paths (L5). The owners are the
    /// scripts in effect and the members of this batch applied before this one (`me`).
    fn claim_names(
        &mut self,
        py: Python<'_>,
        change: &Change,
        exports: Vec<String>,
        (me, claims): (usize, &mut BatchClaims),
    ) -> Vec<String> {
        let namespace = &change.found.namespace;
        let mut claimed = Vec::new();
        let held: std::collections::HashSet<String> = self
            .scripts
            .get(&change.found.file)
            .map(|s| s.contributions.iter().cloned().collect())
            .unwrap_or_default();
        let children: std::collections::HashSet<String> =
            self.namespaces.children(namespace).into_iter().map(str::to_string).collect();
        for name in exports {
            let subnamespace = children.contains(&name);
            // First against the members of the batch applied before this one.
            match claims.claim(me, &change.found.path, namespace, &name, subnamespace) {
                (Claim::SubNamespace | Claim::Free, _) => {}
                (Claim::Kept, holder) => {
                    let holder = holder.expect("a kept name has a holder");
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, {holder} kept",
                        change.found.path
                    );
                    continue;
                }
                (Claim::TakenOver, holder) => {
                    let holder = holder.expect("a name taken over has a holder");
                    log::warn!(
                        "duplicate name {namespace}.{name}: {holder} ignored, {} kept",
                        change.found.path
                    );
                    claimed.push(name);
                    continue;
                }
            }
            // Cheap cases first, so a reload does not scan every script (scale, issue 7): a
            // name this script holds already, or one nobody holds, is this script's.
            let holds = held.contains(&name);
            let taken = !subnamespace
                && !holds
                && self
                    .namespaces
                    .module(py, namespace)
                    .is_some_and(|m| m.hasattr(name.as_str()).unwrap_or(false));
            let mut owner = taken
                .then(|| {
                    self.scripts.iter_mut().find(|(file, s)| {
                        **file != change.found.file
                            && &s.namespace == namespace
                            && s.contributions.contains(&name)
                    })
                })
                .flatten()
                .map(|(_, other)| other);
            match namespace::claim(&change.found.path, subnamespace, owner.as_ref().map(|o| &o.path)) {
                Claim::SubNamespace => {
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, namespace {namespace}.{name} kept",
                        change.found.path
                    );
                    continue;
                }
                Claim::Kept => {
                    let other = owner.expect("a kept name has a holder");
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, {} kept",
                        change.found.path,
                        other.path
                    );
                    continue;
                }
                Claim::TakenOver => {
                    let other = owner.as_mut().expect("a name taken over has a holder");
                    log::warn!(
                        "duplicate name {namespace}.{name}: {} ignored, {} kept",
                        other.path,
                        change.found.path
                    );
                    other.contributions.retain(|n| n != &name);
                }
                Claim::Free => {}
            }
            claims.hold(me, &change.found.path, namespace, &name);
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
        let exported: std::collections::HashSet<&str> = exports.iter().map(String::as_str).collect();
        for name in &script.contributions {
            if exported.contains(name.as_str()) || candidate.contains(name).unwrap_or(false) {
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
        script::register_script(self.registry.bind(py), globals, exports).map_err(|e| Error::python(py, &e))
    }
}

/// Whether a dependent whose file did not change changed anyway (R15: `reloaded`, not
/// `retested`): names it imported took new objects, or values of it were replaced.
/// Why a member whose apply failed is rejected.
fn reject_reason(error: ApplyError) -> RejectReason {
    match error {
        ApplyError::Rejected(message) => RejectReason::Shape { message },
        ApplyError::Failed(failure) => RejectReason::Apply { failure: Box::new(failure) },
    }
}

fn dependent_changed(changes: &Changes, changed_imports: &[String], mode: Mode) -> bool {
    mode == Mode::Overwrite
        || !changed_imports.is_empty()
        || !changes.values_replaced.is_empty()
        || !changes.kind_changed.is_empty()
        || !changes.classes_created.is_empty()
        || !changes.functions_forwarded.is_empty()
        || !changes.leaked.is_empty()
        || !changes.pruned.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r15_import_targets_read_every_form() {
        crate::python::attach(|py| {
            let source = "from game import LIMIT\nfrom game.lib import n as foo\nimport game.lib\nimport os, game.x as x\nif True:\n    from game import lib\ndef f():\n    from game import hidden\n";
            let compiled =
                script::compile(py, std::path::Path::new("t.py"), source.as_bytes(), None).unwrap();
            let imports = Imports::of_source(py, compiled.source.bind(py)).unwrap();
            let pair = |m: &str, n: &str| (m.to_string(), n.to_string());
            assert_eq!(
                imports.names,
                vec![pair("game", "LIMIT"), pair("game.lib", "n"), pair("game", "lib")]
            );
            assert_eq!(imports.modules, vec!["game.lib".to_string(), "os".into(), "game.x".into()]);
        });
    }
}
