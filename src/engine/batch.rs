//! One batch, one pipeline (R14, R15, T1): build every candidate, test them all, then apply
//! all of them or reject the failing ones together with what they touch.
//!
//! A directory's load is a batch too (`load.rs`): its scripts are new members, and they
//! run through the same step 2 under the load policy (`batch_step::Policy::Load`): each is
//! tested as it runs and installs its exports at once (L5), and one waiting for a relive
//! name is parked until it is exported (L6); its decision is all or nothing (L7) unless
//! `partial` (`load_kept`). The reload policy is what follows.
//!
//! 1. *Members*: the changed scripts, plus their dependents (R15, `dependents.rs`): scripts
//!    that import their names, transitively, are rebuilt; scripts whose test files import
//!    them are retested.
//! 2. *Build* (`batch_build.rs`), in dependency order (L6), as the resolver hands the
//!    members out: each candidate executes inside the batch's view, so it imports the
//!    candidates built before it, and joins the view once it ran; the members in effect run
//!    as one worker job.
//! 3. *Test* (`batch_test.rs`): every member's tests run with every candidate of the batch
//!    in view (T1), all in one worker job.
//! 4. *Decide*: a failing member takes with it what was built against it and, when its
//!    version in effect would stay live, the members it was built against (the change
//!    that broke it). See [`close_rejections`].
//! 5. *Apply* (`apply.rs`): the rest goes live through one journal and one translation
//!    memo, or, if anything fails, none of it does and the decision is made again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch_step::Policy;
use super::dependents::{Imports, Target};
use super::pending::Waiters;
use super::reload::{Change, report_for};
use super::script::{self, Compiled};
use super::{Error, Reloader, Script, resolve, update};
use crate::python::PyFailure;
use crate::report::{Outcome, RejectReason, ReloadReport, ScriptPath, ScriptProblem, Timings, Wait};
use crate::testing::TestReport;
use crate::testing::view::View;

/// Why a script is in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Its file changed (or is new).
    Changed,
    /// It imports from a member (R15): rebuilt from its file in effect.
    Dependent,
    /// Only its test file imports from a member: its code in effect is tested again.
    Retest,
}

/// Whether the member's script is in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    InEffect,
    /// A new or pending script (W2).
    New,
    /// A deleted script re-created: reloaded against the globals it had (W3).
    Removed,
}

/// Why a member is rejected.
pub(super) struct Failure {
    pub(super) reason: RejectReason,
    /// The relive name a failed execution waits for (W2, L6).
    pub(super) wait: Option<Wait>,
    /// Its candidate's code ran, so outside effects may exist (R1).
    pub(super) ran: bool,
    /// Other members were built or tested against its candidate.
    pub(super) seen: bool,
}

/// A script of a batch, through the pipeline.
pub(super) struct Member {
    pub(super) change: Change,
    pub(super) bytes: Vec<u8>,
    /// `None` for a member that is only retested (or, in a load, did not compile). Shared
    /// with the worker while the member runs there.
    pub(super) compiled: Option<Arc<Compiled>>,
    pub(super) role: Role,
    pub(super) kind: Kind,
    pub(super) start: Instant,
    /// Where its time went so far (the report's breakdown).
    pub(super) timings: Timings,
    /// Members it imports from (its test file's imports included).
    pub(super) upstream: BTreeSet<usize>,
    pub(super) candidate: Option<Py<PyDict>>,
    pub(super) exports: Vec<String>,
    /// What its version in effect contributes (nothing for a new script).
    pub(super) before: Vec<String>,
    /// Time its module-level code took, out of the per-script timeout (T6).
    pub(super) elapsed: Duration,
    pub(super) tests: Option<TestReport>,
    pub(super) failure: Option<Failure>,
    /// How many times its module-level code ran (a load re-runs a woken script, L6).
    pub(super) executions: u32,
    /// Why it waits, while a load has it parked (L6).
    pub(super) parked: Option<Parked>,
    /// What it waited for as a pending script before it joined the batch (W2): it waits
    /// for that again if it is rejected along with another member.
    pub(super) waited: Option<Wait>,
}

/// A member of a load parked until a relive name is exported (L6).
pub(super) struct Parked {
    /// The import failure it waits on (its blocked report, if it is never woken).
    pub(super) failure: PyFailure,
    /// Its candidate, when its module-level code passed and only its test file waits: once
    /// woken, only its tests run again.
    pub(super) tests_waiting: Option<Py<PyDict>>,
}

impl Member {
    /// A member; `compiled` is `None` only for one that is only retested.
    pub(super) fn new(
        change: Change,
        bytes: Vec<u8>,
        compiled: Option<Compiled>,
        role: Role,
        kind: Kind,
    ) -> Member {
        Member {
            change,
            bytes,
            compiled: compiled.map(Arc::new),
            role,
            kind,
            before: Vec::new(),
            start: Instant::now(),
            timings: Timings::default(),
            upstream: BTreeSet::new(),
            candidate: None,
            exports: Vec::new(),
            elapsed: Duration::ZERO,
            tests: None,
            failure: None,
            executions: 0,
            parked: None,
            waited: None,
        }
    }

    pub(super) fn fail(&mut self, reason: RejectReason, wait: Option<Wait>, ran: bool, seen: bool) {
        self.failure = Some(Failure { reason, wait, ran, seen });
    }

    pub(super) fn path(&self) -> &ScriptPath {
        &self.change.found.path
    }

    /// The script a new member becomes in effect, as version 1 (a load's, or a new script
    /// of a reload, W2), with `globals` and the names it holds.
    pub(super) fn first_version(
        &mut self,
        py: Python<'_>,
        globals: Py<PyDict>,
        contributions: Vec<String>,
        (imports, test_imports): (Imports, Imports),
    ) -> Script {
        let compiled = self.compiled.as_ref().expect("in effect, so compiled");
        Script {
            directory: self.change.directory,
            path: self.change.found.path.clone(),
            namespace: self.change.found.namespace.clone(),
            globals,
            version: 1,
            contributions,
            bytes: std::mem::take(&mut self.bytes),
            source: compiled.source.clone_ref(py),
            imports,
            test_imports,
        }
    }
}

impl Reloader {
    /// Adds the dependents of `members` (all changed) and links every member to those it
    /// imports from (R15). Scripts whose imports reach a member are rebuilt, transitively;
    /// then scripts whose test file's imports reach one are retested. Each round scans the
    /// scripts in effect without allocating, so a batch without dependents stays cheap.
    pub(super) fn with_dependents(
        &self,
        py: Python<'_>,
        mut members: Vec<Member>,
    ) -> Result<Vec<Member>, Error> {
        let mut imports: Vec<(Imports, Imports)> = Vec::with_capacity(members.len());
        for member in &members {
            let source = member.compiled.as_ref().expect("changed members compiled").source.bind(py);
            let own = Imports::of_source(py, source).map_err(|e| Error::python(py, &e))?;
            imports.push((own, Imports::of_test_file(py, &member.change.found.file)));
        }
        let mut joined: Vec<(std::path::PathBuf, Role)> = Vec::new();
        let mut frontier: Vec<usize> = (0..members.len()).collect();
        let mut in_batch: BTreeSet<std::path::PathBuf> =
            members.iter().map(|m| m.change.found.file.clone()).collect();
        // Rebuilt dependents, transitively: a round per level of the import graph.
        while !frontier.is_empty() {
            let targets: Vec<Target<'_>> =
                frontier.iter().map(|&i| self.target_of(&members, &joined, i)).collect();
            let found: Vec<std::path::PathBuf> = self
                .scripts
                .iter()
                // `reach` first: it is cheap and almost always false, a path comparison is not.
                .filter(|(file, script)| {
                    targets.iter().any(|t| script.imports.reach(t)) && !in_batch.contains(*file)
                })
                .map(|(file, _)| file.clone())
                .collect();
            in_batch.extend(found.iter().cloned());
            frontier = (0..found.len()).map(|k| members.len() + joined.len() + k).collect();
            joined.extend(found.into_iter().map(|f| (f, Role::Dependent)));
        }
        let targets: Vec<Target<'_>> =
            (0..members.len() + joined.len()).map(|i| self.target_of(&members, &joined, i)).collect();
        // With tests off (T7) nothing would run for a script only its test file ties in.
        let retested: Vec<std::path::PathBuf> = self
            .scripts
            .iter()
            .filter(|_| self.config.tests)
            .filter(|(file, script)| {
                targets.iter().any(|t| script.test_imports.reach(t)) && !in_batch.contains(*file)
            })
            .map(|(file, _)| file.clone())
            .collect();
        drop(targets);
        joined.extend(retested.into_iter().map(|f| (f, Role::Retest)));
        for (file, role) in joined {
            let script = &self.scripts[&file];
            let compiled = match role {
                Role::Dependent => match script::compile(py, &file, &script.bytes, Some(&script.source)) {
                    Ok(compiled) => Some(compiled),
                    Err(problem) => {
                        log::error!("{}: the version in effect no longer compiles: {problem}", script.path);
                        continue;
                    }
                },
                _ => None,
            };
            imports.push((script.imports.clone(), script.test_imports.clone()));
            members.push(Member::new(
                self.locate(&file)?,
                script.bytes.clone(),
                compiled,
                role,
                Kind::InEffect,
            ));
        }
        let targets: Vec<(String, BTreeSet<String>)> = (0..members.len())
            .map(|i| {
                let t = self.target_of(&members, &[], i);
                (t.namespace.to_string(), t.binds.iter().map(|b| b.to_string()).collect())
            })
            .collect();
        for (m, (own, test)) in imports.iter().enumerate() {
            members[m].upstream = targets
                .iter()
                .enumerate()
                .filter(|&(u, (namespace, binds))| {
                    let target = Target { namespace, binds: binds.iter().map(String::as_str).collect() };
                    u != m && (own.reach(&target) || test.reach(&target))
                })
                .map(|(u, _)| u)
                .collect();
        }
        for member in &mut members {
            member.before = self
                .scripts
                .get(&member.change.found.file)
                .map(|s| s.contributions.clone())
                .unwrap_or_default();
        }
        Ok(members)
    }

    /// The members that member `m` (a new script joining a batch, W2) imports from, its test
    /// file included.
    pub(super) fn upstream_of(
        &self,
        py: Python<'_>,
        members: &[Member],
        m: usize,
    ) -> Result<BTreeSet<usize>, Error> {
        let member = &members[m];
        let source = member.compiled.as_ref().expect("a joining member compiled").source.bind(py);
        let own = Imports::of_source(py, source).map_err(|e| Error::python(py, &e))?;
        let test = Imports::of_test_file(py, &member.change.found.file);
        Ok((0..members.len())
            .filter(|&u| u != m)
            .filter(|&u| {
                let target = self.target_of(members, &[], u);
                own.reach(&target) || test.reach(&target)
            })
            .collect())
    }

    /// Member `i` (counting `joined` after `members`) as others may import from it: its
    /// namespace, its names in effect and its candidate's top-level bindings.
    fn target_of<'a>(
        &'a self,
        members: &'a [Member],
        joined: &'a [(std::path::PathBuf, Role)],
        i: usize,
    ) -> Target<'a> {
        let (file, compiled, namespace) = match members.get(i) {
            Some(m) => (&m.change.found.file, m.compiled.as_ref(), m.change.found.namespace.as_str()),
            None => {
                let file = &joined[i - members.len()].0;
                (file, None, self.scripts[file].namespace.as_str())
            }
        };
        let mut binds: BTreeSet<&str> = self
            .scripts
            .get(file)
            .into_iter()
            .flat_map(|s| s.contributions.iter().map(String::as_str))
            .collect();
        binds.extend(compiled.into_iter().flat_map(|c| c.bindings.iter().map(String::as_str)));
        Target { namespace, binds }
    }

    /// Builds, tests, decides and applies the members of one batch; one report each, in
    /// dependency order (a script loaded in place of its orphaned test file is followed by
    /// the test file's removal, T5). Applied members are announced (R13), the others only
    /// with `announce_failures`.
    pub(super) fn run_members(
        &mut self,
        py: Python<'_>,
        mut members: Vec<Member>,
        announce_failures: bool,
        waiters: Option<&mut Waiters>,
    ) -> Result<Vec<ReloadReport>, Error> {
        let deps: Vec<Vec<usize>> = members.iter().map(|m| m.upstream.iter().copied().collect()).collect();
        let order = resolve::static_order(&deps);
        let view = View::new(py).map_err(|e| Error::python(py, &e))?;
        let policy = Policy::Reload(view.clone_ref(py));
        let (order, tested) = match self.build_members(py, &mut members, &order, &policy, waiters) {
            Ok((_, order)) => {
                let tested = self.test_members(py, &mut members, &order, &view);
                (order, tested)
            }
            Err(err) => (order, Err(err)),
        };
        let candidates: Vec<Bound<'_, PyDict>> =
            members.iter().filter_map(|m| m.candidate.as_ref().map(|c| c.bind(py).clone())).collect();
        let proxies = view.release(py, &candidates).map_err(|e| Error::python(py, &e))?;
        tested?;
        if self.stop.is_requested() {
            // W4: a stop asked for during the batch: nothing of it goes live.
            for member in members.iter_mut().filter(|m| m.failure.is_none()) {
                let problem = ScriptProblem::Stopped { during: "its batch".into() };
                let ran = member.candidate.is_some();
                member.fail(RejectReason::Script { problem }, None, ran, true);
            }
        }
        close_rejections(&mut members);
        let applied = self.apply_members(py, &mut members, &order, &proxies)?;
        let mut reports = Vec::new();
        for (i, applied) in order.iter().map(|&i| (i, applied.get(&i))) {
            let member = &mut members[i];
            let report = match applied {
                Some(applied) => self.commit_member(py, member, applied)?,
                None => {
                    if let Some(candidate) = &member.candidate {
                        update::undo_contribution(py, candidate.bind(py));
                    }
                    self.reject_member(member)
                }
            };
            let loaded = report.outcome == Outcome::Loaded;
            if announce_failures || applied.is_some() {
                self.announce(py, &report);
            }
            let file = member.change.found.file.clone();
            reports.push(report);
            if loaded {
                reports.extend(self.retire_test_file_script(py, &file)?);
            }
        }
        Ok(reports)
    }
}

/// Step 4 under the load policy (L7): what passed is kept when nothing failed, or when the
/// load is `partial`. No member goes with another: a load member's exports go into effect
/// only once it passed, so nothing ran against a candidate that failed.
pub(super) fn load_kept(members: &[Member], partial: bool) -> bool {
    partial || members.iter().all(|m| m.failure.is_none())
}

/// Step 4: which members go with a failing one.
///
/// A member built against a failing member's candidate (it imported from it after the
/// candidate joined the view) is rejected with it: `NeedsRejected` when it needed a name
/// only the candidate had (R14), else `DependsOnRejected`. A failing member whose version in
/// effect would stay live (not a new script) was built or tested against the members it
/// imports from: they are rejected too, as the change that broke it (R15), and so on
/// transitively.
pub(super) fn close_rejections(members: &mut [Member]) {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    loop {
        let Some(f) = (0..members.len()).find(|i| members[*i].failure.is_some() && !done.contains(i)) else {
            return;
        };
        done.insert(f);
        let path = members[f].path().clone();
        let seen = members[f].failure.as_ref().is_some_and(|x| x.seen);
        if members[f].kind == Kind::InEffect {
            let problem = members[f].failure.as_ref().map(|x| x.reason.to_string()).unwrap_or_default();
            let upstream: Vec<usize> = members[f].upstream.iter().copied().collect();
            for u in upstream {
                if members[u].failure.is_none() && members[u].role != Role::Retest {
                    let reason =
                        RejectReason::BreaksDependent { dependent: path.clone(), problem: problem.clone() };
                    members[u].fail(reason, None, true, true);
                }
            }
        }
        for d in 0..members.len() {
            if members[d].failure.is_some() || !members[d].upstream.contains(&f) {
                continue;
            }
            if !seen && members[d].role == Role::Changed {
                continue; // built against the version in effect: it stands on its own (R14)
            }
            let reason = needed_name(&members[d], &members[f])
                .map(|waits_for| RejectReason::NeedsRejected { waits_for, script: path.clone() })
                .unwrap_or(RejectReason::DependsOnRejected { script: path.clone() });
            let ran = members[d].candidate.is_some();
            members[d].fail(reason, None, ran, true);
        }
    }
}

/// A name `member` imports that only `failed`'s candidate was adding (R14's wording).
fn needed_name(member: &Member, failed: &Member) -> Option<Wait> {
    let binds = &failed.compiled.as_ref()?.bindings;
    let namespace = &failed.change.found.namespace;
    member
        .compiled
        .as_ref()?
        .imports
        .iter()
        .find(|(m, n)| m == namespace && binds.contains(n) && !failed.before.contains(n))
        .map(|(m, n)| Wait::Name { namespace: m.clone(), name: n.clone() })
}

/// The report of a member, with its outcome and nothing else.
pub(super) fn member_report(member: &Member, outcome: Outcome) -> ReloadReport {
    let report = report_for(&member.change, outcome, member.start);
    ReloadReport {
        dependent: member.role != Role::Changed,
        timings: member.timings.rest_of(report.duration_ms),
        ..report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::directory::FoundScript;

    fn member(path: &str, role: Role, kind: Kind, upstream: &[usize]) -> Member {
        let root = std::path::Path::new("/scripts");
        let file = root.join(path);
        let found = FoundScript {
            path: ScriptPath::relative(root, &file).expect("under the root"),
            file,
            namespace: "game".into(),
        };
        let mut member = Member::new(Change { found, directory: 0 }, Vec::new(), None, role, kind);
        member.upstream = upstream.iter().copied().collect();
        member
    }

    fn tests_failed() -> RejectReason {
        RejectReason::Script {
            problem: ScriptProblem::Tests { found: 1, failed: 1, first: "t: boom".into() },
        }
    }

    fn reason(member: &Member) -> Option<String> {
        member.failure.as_ref().map(|f| f.reason.to_string())
    }

    #[test]
    fn r15_a_failing_dependent_rejects_the_chain_that_broke_it_and_what_was_built_against_it() {
        // base <- mid <- top; other imports base too; lone is unrelated.
        let mut members = vec![
            member("base.py", Role::Changed, Kind::InEffect, &[]),
            member("mid.py", Role::Dependent, Kind::InEffect, &[0]),
            member("top.py", Role::Dependent, Kind::InEffect, &[1]),
            member("other.py", Role::Dependent, Kind::InEffect, &[0]),
            member("lone.py", Role::Changed, Kind::InEffect, &[]),
        ];
        members[2].fail(tests_failed(), None, true, true);
        close_rejections(&mut members);
        assert_eq!(
            reason(&members[1]).as_deref(),
            Some("breaks its dependent top.py: tests failed: 1 of 1 (t: boom)")
        );
        assert!(
            reason(&members[0])
                .is_some_and(|r| r.starts_with("breaks its dependent mid.py: breaks its dependent top.py"))
        );
        assert_eq!(reason(&members[3]).as_deref(), Some("depends on base.py, which was rejected"));
        assert_eq!(reason(&members[4]), None, "an unrelated change stands on its own");
    }

    #[test]
    fn r14_a_change_built_against_the_version_in_effect_stands_alone_and_a_new_script_takes_no_one_with_it() {
        let mut members = vec![
            member("base.py", Role::Changed, Kind::InEffect, &[]),
            member("user.py", Role::Changed, Kind::InEffect, &[0]),
            member("fresh.py", Role::Changed, Kind::New, &[0]),
        ];
        // base's candidate never ran (not seen): user was built against base in effect.
        members[0].fail(tests_failed(), None, true, false);
        // A new script failing does not reject what it imports from.
        members[2].fail(tests_failed(), None, true, true);
        close_rejections(&mut members);
        assert_eq!(reason(&members[1]), None);
        assert!(reason(&members[0]).is_some_and(|r| r.starts_with("tests failed")));
    }

    #[test]
    fn l7_a_load_keeps_nothing_when_a_member_failed_unless_partial() {
        let mut members = vec![
            member("a.py", Role::Changed, Kind::New, &[]),
            member("b.py", Role::Changed, Kind::New, &[0]),
        ];
        assert!(load_kept(&members, false));
        members[1].fail(tests_failed(), None, true, false);
        assert!(!load_kept(&members, false));
        assert!(load_kept(&members, true));
        close_rejections(&mut members);
        assert_eq!(reason(&members[0]), None, "a new member takes no one with it");
    }
}
