//! Step 3 of a batch (T1, R15): every member's tests, with every candidate of the batch in
//! view, run as one worker job (`testing/group.rs`) instead of one job per member.
//!
//! A member is not tested when it failed already, or when a member it imports from failed
//! in a way that takes it along anyway (step 4, `close_rejections`): that is decided as
//! the tests run, from the failures so far, exactly as when each member was its own job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::batch::{Member, Role};
use super::candidate::{Tested, Tester, test_file_wait};
use super::directory::FoundScript;
use super::{Error, Reloader};
use crate::report::{RejectReason, ScriptProblem};
use crate::testing::group::{self, Here};
use crate::testing::view::View;

/// A member's test run, owned.
struct Item {
    index: usize,
    found: FoundScript,
    /// What its tests run against; `None`: nothing to test (its candidate did not run).
    globals: Option<Py<PyDict>>,
    /// What is left of its timeout after its module-level code ran (T6).
    timeout: Duration,
    upstream: Vec<usize>,
    changed: bool,
}

/// One item's run: how its tests fared and how long they took (ms); `None` when skipped.
type Outcome = Option<(Result<Tested, Error>, f64)>;

impl Reloader {
    /// Step 3: every member's tests, with every candidate of the batch in view (T1).
    pub(super) fn test_members(
        &mut self,
        py: Python<'_>,
        members: &mut [Member],
        order: &[usize],
        view: &View,
    ) -> Result<(), Error> {
        if !self.config.tests {
            return Ok(());
        }
        let tester = Arc::new(self.tester());
        let mut done = 0;
        while done < order.len() {
            done += self.test_group(py, &tester, members, &order[done..], view)?;
        }
        Ok(())
    }

    /// Tests the members of `order` on the worker, in order; returns how many of them were
    /// taken (fewer than all when one was abandoned, blocked inside C, T6).
    fn test_group(
        &self,
        py: Python<'_>,
        tester: &Arc<Tester>,
        members: &mut [Member],
        order: &[usize],
        view: &View,
    ) -> Result<usize, Error> {
        let items: Arc<Vec<Item>> = Arc::new(order.iter().map(|&i| self.test_item(py, members, i)).collect());
        // Whether each member failed, and if so whether others saw its candidate.
        let mut failed: Vec<Option<bool>> =
            members.iter().map(|m| m.failure.as_ref().map(|f| f.seen)).collect();
        let step = {
            let (tester, view) = (tester.clone(), view.clone_ref(py));
            move |py: Python<'_>, item: &Item, here: &Here| {
                let outcome = run_item(py, &tester, item, &failed, &view, here);
                if let Some((Ok(Err(_)), _)) = &outcome {
                    failed[item.index] = Some(true);
                }
                let go_on = !matches!(outcome, Some((Err(_), _)));
                (outcome, go_on)
            }
        };
        let taken = group::run_items(py, tester.stop(), &items, step).map_err(|e| Error::python(py, &e))?;
        let count = taken.results.len();
        for (item, outcome) in items.iter().zip(taken.results) {
            if let Some((tested, ms)) = outcome {
                settle(&mut members[item.index], tested?, ms);
            }
        }
        let Some(abandoned) = taken.abandoned else { return Ok(items.len()) };
        let tested = tester.tested(py, abandoned.finished);
        settle(&mut members[items[count].index], tested, abandoned.ms);
        Ok(count + 1)
    }

    fn test_item(&self, py: Python<'_>, members: &[Member], i: usize) -> Item {
        let member = &members[i];
        let globals = match (&member.candidate, member.role) {
            (Some(candidate), _) => Some(candidate.clone_ref(py)),
            (None, Role::Retest) => Some(self.scripts[&member.change.found.file].globals.clone_ref(py)),
            (None, _) => None,
        };
        Item {
            index: i,
            found: member.change.found.clone(),
            globals,
            timeout: self.config.test_timeout.saturating_sub(member.elapsed),
            upstream: member.upstream.iter().copied().collect(),
            changed: member.role == Role::Changed,
        }
    }
}

/// Runs one member's tests on the worker, unless it is not to be tested.
fn run_item(
    py: Python<'_>,
    tester: &Tester,
    item: &Item,
    failed: &[Option<bool>],
    view: &View,
    here: &Here,
) -> Outcome {
    // Built against a candidate that failed, or joined only for one that did: it is
    // rejected with it anyway (step 4). A changed script built against the version in
    // effect of a script whose candidate did not run is tested on its own (R14).
    let doomed = item.upstream.iter().any(|&u| failed[u].is_some_and(|seen| seen || !item.changed));
    if failed[item.index].is_some() || doomed {
        return None;
    }
    let globals = item.globals.as_ref()?.bind(py);
    let started = Instant::now();
    let tested = tester.test(py, &item.found, globals, Some(view), item.timeout, |py, job| here.run(py, job));
    Some((tested, started.elapsed().as_secs_f64() * 1000.0))
}

/// Takes in how a member's tests fared.
fn settle(member: &mut Member, tested: Tested, ms: f64) {
    member.timings.test_ms = ms;
    match tested {
        Ok(tests) => member.tests = tests,
        Err((problem, tests)) => {
            // L6: a test file waiting for a relive name blocks its script with it.
            let (problem, wait) = match tests.as_ref().and_then(test_file_wait) {
                Some((wait, failure)) => {
                    let blocked =
                        ScriptProblem::Blocked { waits_for: wait.clone(), failure: Box::new(failure) };
                    (blocked, Some(wait))
                }
                None => (problem, None),
            };
            member.tests = tests;
            member.fail(RejectReason::Script { problem }, wait, true, true);
        }
    }
}
