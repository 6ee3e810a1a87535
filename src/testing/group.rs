//! Several jobs in one worker job (issue 17): a load runs the scripts that are ready, and a
//! batch builds or tests its members, one after the other, without a thread round trip per
//! script. Each job is still bounded by
//! its own per-script timeout and interrupted by a stop (T6, W4), as [`super::run::run`]
//! bounds a single one.
//!
//! [`run_items`] is the shape every caller uses: a list of owned items, one step per item on
//! the worker (which runs its job through [`Here::run`]), the steps' results handed back in
//! order, and the item whose worker was abandoned told apart. Underneath, [`run_group`]
//! hands the worker a closure and keeps what it learns in state it shares with the caller. The caller waits detached and wakes
//! only when the group is over or the job running now has had its time. A job still blocked
//! one second after it was interrupted is abandoned with its worker, as a single job is;
//! the group is then cancelled: the closure learns it from [`Here::cancelled`] if it ever
//! returns, and must not touch the shared state again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::run::{Finished, Job, Work, abandon, abandoned, conclude, interrupt, runner_call, submit};
use super::runner_api::Deadline;

/// The job running now, for the caller's watchdog.
struct Current {
    number: u64,
    /// When its timeout expires (T6).
    until: Instant,
    deadline: Deadline,
    display_path: String,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    started_jobs: u64,
    cancelled: bool,
}

/// The worker's side of a group: runs its jobs on the worker thread, one at a time.
pub(crate) struct Here {
    state: Arc<Mutex<State>>,
}

/// How a group ended.
enum GroupEnd {
    /// The closure returned.
    Done,
    /// The job running was blocked inside C and its worker abandoned (T6): how it ended.
    Abandoned(Finished),
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Here {
    /// Runs `job` here, on the worker, bounded by the caller's watchdog. An error when the
    /// group was cancelled meanwhile.
    pub(crate) fn run(&self, py: Python<'_>, job: Job<'_>) -> PyResult<Finished> {
        let deadline = Deadline::new(py)?;
        let call = runner_call(py, &job, &deadline)?;
        {
            let mut state = lock(&self.state);
            if state.cancelled {
                return Err(cancelled());
            }
            state.started_jobs += 1;
            state.current = Some(Current {
                number: state.started_jobs,
                until: Instant::now() + job.timeout,
                deadline: Deadline(deadline.0.clone_ref(py)),
                display_path: job.display_path.to_string(),
            });
        }
        let outcome = call.call(py).map(Bound::unbind);
        {
            let mut state = lock(&self.state);
            state.current = None;
            if state.cancelled {
                return Err(cancelled());
            }
        }
        let timed_out = deadline.expired(py)?;
        conclude(py, &job, outcome, timed_out, job.stop.load(Ordering::SeqCst))
    }

    /// Whether the caller gave the group up (its worker was abandoned).
    pub(crate) fn cancelled(&self) -> bool {
        lock(&self.state).cancelled
    }
}

fn cancelled() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("the group was abandoned")
}

/// How [`run_items`] went.
pub(crate) struct Taken<R> {
    /// What each item taken gave, in order (fewer than all when a step said to stop, or when
    /// the worker was abandoned).
    pub(crate) results: Vec<R>,
    /// The worker was abandoned while it ran the item after the last one taken (blocked
    /// inside C after its timeout, T6): how that item's job ended.
    pub(crate) abandoned: Option<Abandoned>,
}

/// The item whose worker was abandoned.
pub(crate) struct Abandoned {
    /// How its job ended.
    pub(crate) finished: Finished,
    /// How long its step had run when it was given up, in ms.
    pub(crate) ms: f64,
}

/// Runs `step` for each of `items`, in order, on the worker as one group; `step` says what
/// an item gave and whether the group goes on after it. An item whose step was cancelled
/// (its worker abandoned) gives nothing.
pub(crate) fn run_items<I, R>(
    py: Python<'_>,
    stop: Arc<AtomicBool>,
    items: &Arc<Vec<I>>,
    mut step: impl FnMut(Python<'_>, &I, &Here) -> (R, bool) + Send + 'static,
) -> PyResult<Taken<R>>
where
    I: Send + Sync + 'static,
    R: Send + 'static,
{
    let results: Arc<Mutex<Vec<R>>> = Arc::default();
    // When the step running now began.
    let began: Arc<Mutex<Instant>> = Arc::new(Mutex::new(Instant::now()));
    let work = {
        let (items, results, began) = (items.clone(), results.clone(), began.clone());
        move |py: Python<'_>, here: &Here| {
            for item in items.iter() {
                *began.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                let (result, go_on) = step(py, item, here);
                if here.cancelled() {
                    return;
                }
                results.lock().unwrap_or_else(|p| p.into_inner()).push(result);
                if !go_on {
                    return;
                }
            }
        }
    };
    let end = run_group(py, stop, work)?;
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let abandoned = match end {
        GroupEnd::Done => None,
        GroupEnd::Abandoned(finished) => {
            let began = *began.lock().unwrap_or_else(|p| p.into_inner());
            Some(Abandoned { finished, ms: began.elapsed().as_secs_f64() * 1000.0 })
        }
    };
    Ok(Taken { results, abandoned })
}

/// What the caller's wait saw.
enum Waited {
    Done,
    Dropped,
    /// Job `number` has had its time, or a stop was requested while it ran.
    Expired(u64),
}

/// Runs `work` on the worker thread; the caller waits detached, interrupting each job of it
/// that runs longer than its timeout or while `stop` is set.
fn run_group<F>(py: Python<'_>, stop: Arc<AtomicBool>, work: F) -> PyResult<GroupEnd>
where
    F: FnOnce(Python<'_>, &Here) + Send + 'static,
{
    let state = Arc::new(Mutex::new(State::default()));
    let here = Here { state: state.clone() };
    let (tx, rx) = mpsc::channel::<()>();
    let job: Work = Box::new(move |py: Python<'_>| {
        work(py, &here);
        let _ = tx.send(());
    });
    // Detached: a new worker needs the interpreter to start.
    let ident = py.detach(|| submit(job))?;
    let mut rx = rx;
    loop {
        let (waited, back) = py.detach(|| (wait_group(&rx, &state, &stop), rx));
        rx = back;
        let number = match waited {
            Waited::Done => return Ok(GroupEnd::Done),
            Waited::Dropped => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err("the worker thread dropped a job"));
            }
            Waited::Expired(number) => number,
        };
        let (deadline, display_path) = {
            let state = lock(&state);
            match state.current.as_ref().filter(|c| c.number == number) {
                Some(current) => (Deadline(current.deadline.0.clone_ref(py)), current.display_path.clone()),
                None => continue, // it ended meanwhile
            }
        };
        let stopped = stop.load(Ordering::SeqCst);
        if stopped {
            deadline.set_stopped(py)?;
        }
        interrupt(py, ident, &deadline)?;
        let (moved, back) = py.detach(|| (wait_moved(&rx, &state, number, Duration::from_secs(1)), rx));
        rx = back;
        match moved {
            Some(Waited::Done) => return Ok(GroupEnd::Done),
            Some(Waited::Dropped) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err("the worker thread dropped a job"));
            }
            Some(Waited::Expired(_)) => continue,
            None => {}
        }
        {
            let mut state = lock(&state);
            if state.current.as_ref().is_none_or(|c| c.number != number) {
                continue; // it ended at the last moment
            }
            state.cancelled = true;
        }
        // Detached: `submit` may hold the worker lock while a new worker waits for the GIL.
        py.detach(|| abandon(ident));
        return abandoned(py, &deadline, &display_path, stopped).map(GroupEnd::Abandoned);
    }
}

/// Waits until the group is over, or the job running has had its time or a stop is
/// requested while it runs; looks at the stop flag every 50 ms (W4).
fn wait_group(rx: &mpsc::Receiver<()>, state: &Mutex<State>, stop: &AtomicBool) -> Waited {
    let poll = Duration::from_millis(50);
    loop {
        let now = Instant::now();
        let current =
            lock(state).current.as_ref().map(|c| (c.number, c.until.saturating_duration_since(now)));
        if let Some((number, left)) = current
            && (left.is_zero() || stop.load(Ordering::SeqCst))
        {
            return Waited::Expired(number);
        }
        let wait = current.map_or(poll, |(_, left)| left.min(poll));
        match rx.recv_timeout(wait) {
            Ok(()) => return Waited::Done,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Waited::Dropped,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Waits up to `limit` for job `number` to end (`Expired` stands for "it ended"); `None`
/// when it is still running.
fn wait_moved(rx: &mpsc::Receiver<()>, state: &Mutex<State>, number: u64, limit: Duration) -> Option<Waited> {
    let end = Instant::now() + limit;
    loop {
        if lock(state).current.as_ref().is_none_or(|c| c.number != number) {
            return Some(Waited::Expired(number));
        }
        let now = Instant::now();
        if now >= end {
            return None;
        }
        match rx.recv_timeout((end - now).min(Duration::from_millis(10))) {
            Ok(()) => return Some(Waited::Done),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Some(Waited::Dropped),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}
