//! One member's run on the worker thread, as a group of `batch_build.rs` runs it, by the
//! batch's [`Policy`]:
//! - a reload's build (R15): the candidate executes inside the batch's view and joins it;
//!   its tests run later, for the whole batch (`batch_test.rs`);
//! - a load's run (L5, L6): the candidate executes and is tested in one job, in a view of
//!   its own, and its exports go into its namespace at once (`load_step.rs`), so the
//!   members after it import them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch::{Parked, Role};
use super::candidate::{Gate, Ran};
use super::load_step::{self, Installer};
use super::reload::{Change, script_error};
use super::script::{self, Compiled};
use super::{Error, update};
use crate::report::{RejectReason, ScriptPath, Wait};
use crate::testing::TestReport;
use crate::testing::group::{Abandoned, Here};
use crate::testing::run::{Finished, Job};
use crate::testing::view::View;

/// How a batch runs its members: a reload's (built in the batch's view, tested later,
/// applied through the journal) or a load's (run and tested at once, exports installed as
/// they come, parked while a relive name is missing).
pub(super) enum Policy {
    Reload(View),
    /// The load's installer is shared with the worker while a group runs there.
    Load(Arc<Mutex<Installer>>),
}

impl Policy {
    pub(super) fn clone_ref(&self, py: Python<'_>) -> Policy {
        match self {
            Policy::Reload(view) => Policy::Reload(view.clone_ref(py)),
            Policy::Load(installer) => Policy::Load(installer.clone()),
        }
    }

    /// A load parks a member that waits for a relive name, and wakes it once the name is
    /// exported (L6); a reload rejects it, and W2 retries it after the batch.
    pub(super) fn is_load(&self) -> bool {
        matches!(self, Policy::Load(_))
    }
}

/// A member's run, owned.
pub(super) struct Item {
    pub(super) index: usize,
    pub(super) change: Change,
    pub(super) role: Role,
    pub(super) upstream: Vec<usize>,
    pub(super) compiled: Arc<Compiled>,
    pub(super) globals: Py<PyDict>,
    pub(super) own: Vec<String>,
    /// A load member's own view, for its tests (T1).
    pub(super) view: Option<View>,
}

/// What a group's members share on the worker, owned.
pub(super) struct Context {
    pub(super) gate: Gate,
    pub(super) paths: Arc<Vec<ScriptPath>>,
    pub(super) policy: Policy,
}

/// How a member's run went.
#[derive(Default)]
pub(super) struct Built {
    /// Time its module-level code took (T6), when it ran to the end.
    pub(super) elapsed: Option<Duration>,
    /// What it exports (a load: what it holds once installed, L5).
    pub(super) exports: Vec<String>,
    pub(super) candidate: Option<Py<PyDict>>,
    /// Why it is rejected, what it waits for, whether it ran and was seen (`Member::fail`).
    pub(super) failure: Option<(RejectReason, Option<Wait>, bool, bool)>,
    /// How long its run took; `None` when it did not run.
    pub(super) execute_ms: Option<f64>,
    /// When its tests ran with its code (a load): their report, if any.
    pub(super) tests: Option<Option<TestReport>>,
    /// A load parks it until what it waits for is exported (L6).
    pub(super) park: Option<(Wait, Parked)>,
}

/// What the members run so far decide for the next ones (a reload's).
#[derive(Clone)]
pub(super) struct Progress {
    /// By member index: it failed.
    failed: Vec<bool>,
    /// Names the failed members' candidates bind, with the member (R14's `NeedsRejected`).
    failed_bindings: BTreeMap<(String, String), ScriptPath>,
}

impl Progress {
    pub(super) fn new(failed: Vec<bool>) -> Progress {
        Progress { failed, failed_bindings: BTreeMap::new() }
    }

    /// A member joined the batch (W2).
    pub(super) fn join(&mut self) {
        self.failed.push(false);
    }

    pub(super) fn record(&mut self, index: usize, change: &Change, bindings: &[String], built: &Built) {
        if built.failure.is_none() {
            return;
        }
        self.failed[index] = true;
        if built.execute_ms.is_some() {
            let namespace = &change.found.namespace;
            for name in bindings {
                self.failed_bindings.insert((namespace.clone(), name.clone()), change.found.path.clone());
            }
        }
    }
}

/// Runs one member on the worker, by the batch's policy.
pub(super) fn step(
    py: Python<'_>,
    context: &Context,
    item: &Item,
    progress: &Progress,
    here: &Here,
) -> Result<Built, Error> {
    let run = |py: Python<'_>, job: Job<'_>| here.run(py, job);
    match &context.policy {
        Policy::Load(installer) => load_step::run(py, &context.gate, installer, item, run),
        Policy::Reload(view) => {
            let broken = item.upstream.iter().find(|&&u| progress.failed[u]).copied();
            if let (Role::Dependent, Some(u)) = (item.role, broken) {
                let reason = RejectReason::DependsOnRejected { script: context.paths[u].clone() };
                return Ok(Built { failure: Some((reason, None, false, false)), ..Built::default() });
            }
            build(py, &context.gate, item, progress, view, run)
        }
    }
}

/// A reload's build: executed into the batch's view, which it joins (R15).
fn build(
    py: Python<'_>,
    gate: &Gate,
    item: &Item,
    progress: &Progress,
    view: &View,
    run: impl FnOnce(Python<'_>, Job<'_>) -> PyResult<Finished>,
) -> Result<Built, Error> {
    let compiled = &item.compiled;
    let found = &item.change.found;
    let globals = item.globals.bind(py);
    let started = Instant::now();
    let ran = gate.exec(py, found, compiled, globals, item.own.clone(), view, run)?;
    let mut built = Built::default();
    match ran {
        Ran::Done { elapsed, exports } => {
            built.elapsed = Some(elapsed);
            let registry = gate.registry(py);
            let exports = match exports {
                Some(exports) => Ok(exports),
                None => script::exports(py, compiled, globals, &found.namespace, &registry),
            };
            match exports {
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

/// How the member whose worker was abandoned (blocked inside C after its timeout, T6) went,
/// from how its job ended.
pub(super) fn abandoned(
    py: Python<'_>,
    context: &Context,
    item: &Item,
    Abandoned { finished, ms }: Abandoned,
) -> Result<Built, Error> {
    if let Policy::Load(installer) = &context.policy {
        let mut built = load_step::abandoned(py, &context.gate, installer, item, finished)?;
        built.execute_ms = Some(ms);
        return Ok(built);
    }
    let elapsed = Duration::from_secs_f64(ms / 1000.0);
    let problem = match context.gate.ran(py, &item.change.found, finished, elapsed, None) {
        Ran::Failed(problem) => problem,
        _ => unreachable!("an abandoned run timed out"),
    };
    update::undo_contribution(py, item.globals.bind(py));
    Ok(Built {
        failure: Some((RejectReason::Script { problem }, None, true, false)),
        execute_ms: Some(ms),
        ..Built::default()
    })
}
