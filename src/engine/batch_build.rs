//! Running a batch's members (L6, R15): step 2 of a reload, and the whole run of a load.
//!
//! The resolver (`resolve.rs`) hands the members out in dependency order. While no member
//! is parked, the ready ones go to the worker thread together, as one group
//! (`testing/group.rs`), each run as the batch's policy says (`batch_step.rs`): a reload's
//! candidates execute inside the batch's view and join it, so the candidates built after
//! them import their new objects; a load's execute, are tested and install their exports
//! at once. A group stops after a member that is parked (a load's, waiting for a relive
//! name): any export may wake it, and it must then run before the members ranked after it,
//! so while one is parked members run one at a time. A new or re-created script of a reload
//! is made ready first (its namespace, W3) and runs on its own. Which member is skipped
//! because what it imports from failed, and which failure names the rejected script a
//! member needed, is decided as the members run, exactly as when each was its own job.
//!
//! A batch can grow while it runs: given waiting scripts (W2's retries, `pending.rs`), each
//! that a member's exports wake joins the batch (`Resolver::join`), ranked after the
//! members so far, and runs, is tested and is decided with them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch::{Kind, Member, Role};
use super::batch_step::{self, Built, Context, Item, Policy, Progress};
use super::pending::Waiters;
use super::resolve::Resolver;
use super::script;
use super::{Error, Reloader, load_step};
use crate::report::{ScriptPath, Wait};
use crate::testing::group::{self, Here};
use crate::testing::view::View;

impl Reloader {
    /// Runs the members in `order` (see `resolve::static_order`) as `policy` says. With
    /// `waiters`, the batch grows while it runs: a waiting script that what a member exports
    /// wakes joins it (W2). Returns the members a load left parked, with what each waits for
    /// (L6), and the order of every member, those that joined last.
    pub(super) fn build_members(
        &mut self,
        py: Python<'_>,
        members: &mut Vec<Member>,
        order: &[usize],
        policy: &Policy,
        mut waiters: Option<&mut Waiters>,
    ) -> Result<(BTreeMap<usize, Wait>, Vec<usize>), Error> {
        let mut progress = Progress::new(members.iter().map(|m| m.failure.is_some()).collect());
        let mut paths: Arc<Vec<ScriptPath>> = Arc::new(members.iter().map(|m| m.path().clone()).collect());
        let mut resolver = Resolver::new(order);
        let mut order = order.to_vec();
        while let Some(first) = resolver.next() {
            // Not compiled: only retested (step 3), or a load's that failed already.
            if members[first].compiled.is_none() {
                continue;
            }
            if let Some(globals) = members[first].parked.as_mut().and_then(|p| p.tests_waiting.take()) {
                let built = self.retest_parked(py, members, first, globals, policy)?;
                settle(members, first, built, &mut progress, &mut resolver);
                continue;
            }
            // A reload's new or re-created script is made ready first (W3), and runs alone.
            let unready =
                |m: &Member| !policy.is_load() && m.kind != Kind::InEffect && m.role != Role::Retest;
            let retests = |m: &Member| m.parked.as_ref().is_some_and(|p| p.tests_waiting.is_some());
            let mut group = vec![first];
            if unready(&members[first]) {
                self.prepare_member(py, &mut members[first])?;
            } else if resolver.is_calm() {
                // Nothing is parked: no export can wake a member ranked before the rest.
                while let Some(j) = resolver.next_if(|j| !unready(&members[j]) && !retests(&members[j])) {
                    if members[j].compiled.is_some() {
                        group.push(j);
                    }
                }
            }
            let ran =
                self.build_group(py, members, &group, policy, &paths, (&mut progress, &mut resolver))?;
            for &j in &group[ran..] {
                resolver.requeue(j);
            }
            if let Some(waiters) = waiters.as_deref_mut().filter(|w| !w.is_empty()) {
                let exported: BTreeSet<(String, String)> = group[..ran]
                    .iter()
                    .map(|&j| &members[j])
                    .filter(|m| m.failure.is_none() && m.candidate.is_some())
                    .flat_map(|m| m.exports.iter().map(|n| (m.change.found.namespace.clone(), n.clone())))
                    .collect();
                for joined in self.join_woken(py, members, waiters, &exported)? {
                    progress.join();
                    resolver.join(joined);
                    order.push(joined);
                    paths = Arc::new(members.iter().map(|m| m.path().clone()).collect());
                }
            }
        }
        Ok((resolver.into_parked(), order))
    }

    /// Runs the members of `group` on the worker, in order; returns how many were taken
    /// (fewer than all when one was parked, or abandoned, blocked inside C, T6).
    fn build_group(
        &self,
        py: Python<'_>,
        members: &mut [Member],
        group: &[usize],
        policy: &Policy,
        paths: &Arc<Vec<ScriptPath>>,
        (progress, resolver): (&mut Progress, &mut Resolver),
    ) -> Result<usize, Error> {
        let mut items = Vec::with_capacity(group.len());
        for &i in group {
            let member = &members[i];
            let found = member.change.found.clone();
            let globals = script::new_globals(py, &found.namespace, &found.file, found.path.as_str())
                .map_err(|e| Error::python(py, &e))?;
            let view = match policy {
                Policy::Load(_) => Some(View::new(py).map_err(|e| Error::python(py, &e))?),
                Policy::Reload(_) => None,
            };
            items.push(Item {
                index: i,
                own: self.own_names(&found),
                change: super::reload::Change { found, directory: member.change.directory },
                role: member.role,
                upstream: member.upstream.iter().copied().collect(),
                compiled: member.compiled.clone().expect("only compiled members run"),
                globals: globals.unbind(),
                view,
            });
        }
        let items = Arc::new(items);
        let context =
            Arc::new(Context { gate: self.gate(py)?, paths: paths.clone(), policy: policy.clone_ref(py) });
        let step = {
            let (context, mut progress) = (context.clone(), progress.clone());
            move |py: Python<'_>, item: &Item, here: &Here| {
                let built = batch_step::step(py, &context, item, &progress, here);
                if let Ok(built) = &built {
                    progress.record(item.index, &item.change, &item.compiled.bindings, built);
                }
                let go_on = matches!(&built, Ok(built) if built.park.is_none());
                (built, go_on)
            }
        };
        let stop = context.gate.stop();
        let taken = group::run_items(py, stop, &items, step).map_err(|e| Error::python(py, &e))?;
        let count = taken.results.len();
        let mut error = None;
        for (item, built) in items.iter().zip(taken.results) {
            match built {
                Ok(built) => settle(members, item.index, built, progress, resolver),
                Err(err) => error = error.or(Some(err)),
            }
        }
        if let Some(err) = error {
            return Err(err);
        }
        let Some(abandoned) = taken.abandoned else { return Ok(count) };
        let item = &items[count];
        let built = batch_step::abandoned(py, &context, item, abandoned)?;
        settle(members, item.index, built, progress, resolver);
        Ok(count + 1)
    }

    /// L6: a load's member parked by its test file ran already; only its tests run again,
    /// so its module-level code (and what it did to other scripts' objects) runs once.
    fn retest_parked(
        &self,
        py: Python<'_>,
        members: &[Member],
        i: usize,
        globals: Py<PyDict>,
        policy: &Policy,
    ) -> Result<Built, Error> {
        let Policy::Load(installer) = policy else { unreachable!("only a load parks") };
        let member = &members[i];
        let compiled = member.compiled.clone().expect("only compiled members run");
        let globals = globals.into_bound(py);
        let checked = self.test_candidate(py, &member.change.found, &compiled, &globals)?;
        let gate = self.gate(py)?;
        load_step::outcome(py, &gate, installer, (i, &member.change.found, &compiled), &globals, checked)
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

/// Takes in how member `i`'s run went: its exports wake who waited for them, a load parks it
/// while it waits for a relive name (L6).
fn settle(members: &mut [Member], i: usize, built: Built, progress: &mut Progress, resolver: &mut Resolver) {
    let member = &mut members[i];
    let bindings = member.compiled.as_ref().map(|c| c.bindings.as_slice()).unwrap_or_default();
    progress.record(i, &member.change, bindings, &built);
    if let Some(elapsed) = built.elapsed {
        member.elapsed = elapsed;
    }
    if let Some(ms) = built.execute_ms {
        member.timings.execute_ms = ms;
        member.executions += 1;
    }
    if let Some(tests) = built.tests {
        member.tests = tests;
    }
    member.exports = built.exports;
    member.candidate = built.candidate;
    if let Some((wait, parked)) = built.park {
        member.parked = Some(parked);
        resolver.park(i, wait);
        return;
    }
    if let Some((reason, wait, ran, seen)) = built.failure {
        member.fail(reason, wait, ran, seen);
        return;
    }
    let namespace = &member.change.found.namespace;
    let names: Vec<(String, String)> =
        member.exports.iter().map(|n| (namespace.clone(), n.clone())).collect();
    resolver.exported(&names);
}
