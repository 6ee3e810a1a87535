//! Step 2 of a batch (R15): each candidate runs inside the batch's view, after the members
//! it imports from, and joins the view once it ran, so the candidates built after it import
//! its new objects.
//!
//! Members whose scripts are in effect run as one worker job (`testing/group.rs`) instead of
//! one job per member; a new or re-created script is made ready first (its namespace, W3)
//! and runs on its own. Which member is skipped because what it imports from failed, and
//! which failure names the rejected script a member needed, is decided as the members run,
//! exactly as when each was its own job.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch::{Kind, Member, Role};
use super::candidate::{Gate, Ran};
use super::reload::{Change, script_error};
use super::script::{self, Compiled};
use super::{Error, Reloader, update};
use crate::report::{RejectReason, ScriptPath, Wait};
use crate::testing::group::{self, Here};
use crate::testing::view::View;

/// A member's build, owned.
struct Item {
    index: usize,
    change: Change,
    role: Role,
    upstream: Vec<usize>,
    /// The member's, for the run; given back after it (kept by a worker that was abandoned
    /// while running it: that member failed, and its `bindings` are copied below).
    compiled: Mutex<Option<Compiled>>,
    bindings: Vec<String>,
    globals: Py<PyDict>,
    own: Vec<String>,
}

/// How a member's build went.
#[derive(Default)]
struct Built {
    /// Time its module-level code took (T6), when it ran to the end.
    elapsed: Option<Duration>,
    exports: Vec<String>,
    candidate: Option<Py<PyDict>>,
    /// Why it is rejected, what it waits for, whether it ran and was seen (`Member::fail`).
    failure: Option<(RejectReason, Option<Wait>, bool, bool)>,
    execute_ms: Option<f64>,
}

/// One item's build; `None` for a member that is only retested.
type Outcome = Option<Result<Built, Error>>;

/// What the members built so far decide for the next ones.
#[derive(Clone)]
struct Progress {
    /// By member index: it failed.
    failed: Vec<bool>,
    /// Names the failed members' candidates bind, with the member (R14's `NeedsRejected`).
    failed_bindings: BTreeMap<(String, String), ScriptPath>,
}

impl Progress {
    fn record(&mut self, item: &Item, built: &Built) {
        if built.failure.is_none() {
            return;
        }
        self.failed[item.index] = true;
        if built.execute_ms.is_some() {
            let namespace = &item.change.found.namespace;
            for name in &item.bindings {
                self.failed_bindings
                    .insert((namespace.clone(), name.clone()), item.change.found.path.clone());
            }
        }
    }
}

impl Reloader {
    /// Step 2: each candidate runs inside the view, after the members it imports from.
    pub(super) fn build_members(
        &mut self,
        py: Python<'_>,
        members: &mut [Member],
        order: &[usize],
        view: &View,
    ) -> Result<(), Error> {
        let mut progress = Progress {
            failed: members.iter().map(|m| m.failure.is_some()).collect(),
            failed_bindings: BTreeMap::new(),
        };
        let paths: Arc<Vec<ScriptPath>> = Arc::new(members.iter().map(|m| m.path().clone()).collect());
        let mut rest = order;
        while !rest.is_empty() {
            // In effect (or only retested): nothing to make ready, so they run together.
            let plain = |&i: &usize| members[i].kind == Kind::InEffect || members[i].role == Role::Retest;
            let mut take = rest.iter().take_while(|i| plain(i)).count();
            if take == 0 {
                self.prepare_member(py, &mut members[rest[0]])?;
                take = 1;
            }
            let ran = self.build_group(py, members, &rest[..take], view, &paths, &mut progress)?;
            rest = &rest[ran..];
        }
        Ok(())
    }

    /// Builds the members of `group` on the worker, in order; returns how many were taken
    /// (fewer than all when one was abandoned, blocked inside C, T6).
    fn build_group(
        &self,
        py: Python<'_>,
        members: &mut [Member],
        group: &[usize],
        view: &View,
        paths: &Arc<Vec<ScriptPath>>,
        progress: &mut Progress,
    ) -> Result<usize, Error> {
        let mut items = Vec::with_capacity(group.len());
        for &i in group {
            let member = &mut members[i];
            let found = member.change.found.clone();
            let globals = script::new_globals(py, &found.namespace, &found.file, found.path.as_str())
                .map_err(|e| Error::python(py, &e))?;
            let compiled = member.compiled.take();
            items.push(Item {
                index: i,
                own: self.own_names(&found),
                change: Change { found, directory: member.change.directory },
                role: member.role,
                upstream: member.upstream.iter().copied().collect(),
                bindings: compiled.as_ref().map(|c| c.bindings.clone()).unwrap_or_default(),
                compiled: Mutex::new(compiled),
                globals: globals.unbind(),
            });
        }
        let items = Arc::new(items);
        let gate = Arc::new(self.gate(py)?);
        let step = {
            let (gate, paths, view, mut progress) =
                (gate.clone(), paths.clone(), view.clone_ref(py), progress.clone());
            move |py: Python<'_>, item: &Item, here: &Here| {
                let built = build_item(py, &gate, item, &progress, &paths, &view, here);
                if let Some(Ok(built)) = &built {
                    progress.record(item, built);
                }
                let go_on = !matches!(built, Some(Err(_)));
                (built, go_on)
            }
        };
        let started = Instant::now();
        let taken = group::run_items(py, gate.stop(), &items, step).map_err(|e| Error::python(py, &e))?;
        let count = taken.results.len();
        let mut took_ms = 0.0;
        let mut error = None;
        for (item, built) in items.iter().zip(taken.results) {
            match built {
                Some(Ok(built)) => {
                    progress.record(item, &built);
                    took_ms += built.execute_ms.unwrap_or_default();
                    settle(&mut members[item.index], built);
                }
                Some(Err(err)) => error = error.or(Some(err)),
                None => {}
            }
        }
        // Every member's compiled code goes back, but the one an abandoned worker still runs.
        for item in items.iter() {
            if let Ok(mut compiled) = item.compiled.try_lock()
                && let Some(compiled) = compiled.take()
            {
                members[item.index].compiled = Some(compiled);
            }
        }
        if let Some(err) = error {
            return Err(err);
        }
        let Some(finished) = taken.abandoned else { return Ok(items.len()) };
        let item = &items[count];
        let problem = match gate.ran(py, &item.change.found, finished, started.elapsed()) {
            Ran::Failed(problem) => problem,
            _ => unreachable!("an abandoned run timed out"),
        };
        update::undo_contribution(py, item.globals.bind(py));
        let ms = started.elapsed().as_secs_f64() * 1000.0 - took_ms;
        let built = Built {
            failure: Some((RejectReason::Script { problem }, None, true, false)),
            execute_ms: Some(ms),
            ..Built::default()
        };
        progress.record(item, &built);
        settle(&mut members[item.index], built);
        Ok(count + 1)
    }

    /// Makes a member's script ready to run: a new script's namespace exists, a re-created
    /// script is in effect again with version 0 (W3).
    fn prepare_member(&mut self, py: Python<'_>, member: &mut Member) -> Result<(), Error> {
        let change = &member.change;
        match member.kind {
            Kind::InEffect => {}
            Kind::New => {
                let base = self.directories[&change.directory].namespace.clone();
                self.yield_names_to_new_namespaces(&base, &change.found.namespace);
                self.namespaces
                    .create(py, &base, &change.found.namespace, change.directory)
                    .map_err(|err| Error::python(py, &err))?;
            }
            Kind::Removed => {
                let file = change.found.file.clone();
                let Some(mut script) =
                    self.directories.get_mut(&change.directory).and_then(|d| d.removed.remove(&file))
                else {
                    member.kind = Kind::New;
                    return self.prepare_member(py, member);
                };
                // Names another script took while this one was deleted are that script's (L5).
                let taken: BTreeSet<&String> = self
                    .scripts
                    .values()
                    .filter(|s| s.namespace == change.found.namespace)
                    .flat_map(|s| s.contributions.iter())
                    .collect();
                script.contributions.retain(|name| !taken.contains(name));
                script.bytes.clear();
                script.version = 0; // a deleted script is forgotten: it loads as version 1 (R11)
                self.scripts.insert(file, script);
            }
        }
        Ok(())
    }
}

/// Builds one member on the worker; `None` for one that is only retested.
fn build_item(
    py: Python<'_>,
    gate: &Gate,
    item: &Item,
    progress: &Progress,
    paths: &[ScriptPath],
    view: &View,
    here: &Here,
) -> Outcome {
    if item.role == Role::Retest {
        return None;
    }
    let broken = item.upstream.iter().find(|&&u| progress.failed[u]).copied();
    if let (Role::Dependent, Some(u)) = (item.role, broken) {
        let reason = RejectReason::DependsOnRejected { script: paths[u].clone() };
        return Some(Ok(Built { failure: Some((reason, None, false, false)), ..Built::default() }));
    }
    Some(run_item(py, gate, item, progress, view, here))
}

fn run_item(
    py: Python<'_>,
    gate: &Gate,
    item: &Item,
    progress: &Progress,
    view: &View,
    here: &Here,
) -> Result<Built, Error> {
    let guard = item.compiled.lock().unwrap_or_else(|p| p.into_inner());
    let compiled = guard.as_ref().expect("built members compiled");
    let found = &item.change.found;
    let globals = item.globals.bind(py);
    let started = Instant::now();
    let ran = gate.exec(py, found, compiled, globals, item.own.clone(), view, |py, job| here.run(py, job))?;
    let mut built = Built::default();
    match ran {
        Ran::Done { elapsed } => {
            built.elapsed = Some(elapsed);
            let registry = gate.registry(py);
            match script::exports(py, compiled, globals, &found.namespace, &registry) {
                Ok(exports) => {
                    built.exports = exports;
                    built.candidate = Some(globals.clone().unbind());
                }
                Err(err) => built.failure = Some((script_error(py, &err, &item.change), None, true, true)),
            }
        }
        Ran::Failed(problem) => built.failure = Some((RejectReason::Script { problem }, None, true, false)),
        Ran::Raised(err) => {
            let refs: Vec<&str> = gate.namespaces().iter().map(String::as_str).collect();
            let wait = script::wait_target(py, &err, &refs).map_err(|e| Error::python(py, &e))?;
            let reason = match &wait {
                Some(Wait::Name { namespace, name }) => progress
                    .failed_bindings
                    .get(&(namespace.clone(), name.clone()))
                    .map(|script| RejectReason::NeedsRejected {
                        waits_for: wait.clone().expect("matched"),
                        script: script.clone(),
                    }),
                _ => None,
            };
            let reason = reason.unwrap_or_else(|| script_error(py, &err, &item.change));
            built.failure = Some((reason, wait, true, false));
        }
    }
    if built.failure.is_some() && built.candidate.is_none() {
        update::undo_contribution(py, globals);
    }
    built.execute_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    Ok(built)
}

/// Takes in how a member's build went.
fn settle(member: &mut Member, built: Built) {
    if let Some(elapsed) = built.elapsed {
        member.elapsed = elapsed;
    }
    member.exports = built.exports;
    member.candidate = built.candidate;
    if let Some((reason, wait, ran, seen)) = built.failure {
        member.fail(reason, wait, ran, seen);
    }
    if let Some(ms) = built.execute_ms {
        member.timings.execute_ms = ms;
    }
}
