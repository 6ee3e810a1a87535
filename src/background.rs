//! Background mode (W4): relive's own thread applies changes as they arrive.
//!
//! The reloader moves into a shared slot; the thread waits for file events without holding
//! it (or the GIL), then locks it just long enough to pump. Stopping (or dropping) joins
//! the thread promptly and hands the reloader back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use crate::engine::{Error, Reloader};
use crate::report::ReloadReport;

/// A reloader applying changes on a background thread.
#[derive(Debug)]
pub struct Background {
    /// `None` only once `stop` handed it back.
    reloader: Option<Arc<Mutex<Reloader>>>,
    stop: Arc<AtomicBool>,
    /// Interrupts a candidate running when the thread is asked to stop (W4).
    interrupt: crate::engine::StopHandle,
    signal: crate::watch::ChangeSignal,
    thread: Option<JoinHandle<()>>,
    reports: mpsc::Receiver<ReloadReport>,
}

impl Background {
    /// Starts watching (if not yet) and applying changes on a new thread.
    ///
    /// # Errors
    /// [`Error::Watch`] when the watcher cannot start.
    pub fn start(reloader: Reloader) -> Result<Background, Error> {
        Self::start_with(reloader, |_| {})
    }

    /// Like [`Background::start`], also calling `listener` on relive's thread with each
    /// report as it is applied, before it is queued for [`Background::reports`]. The
    /// reloader is not locked while `listener` runs.
    ///
    /// # Errors
    /// [`Error::Watch`] when the watcher cannot start.
    pub fn start_with(
        mut reloader: Reloader,
        mut listener: impl FnMut(&ReloadReport) + Send + 'static,
    ) -> Result<Background, Error> {
        reloader.watch()?;
        let signal = reloader.change_signal().expect("watching");
        let interrupt = reloader.stop_handle();
        let window = reloader.config().watch_window.max(std::time::Duration::from_millis(1));
        let reloader = Arc::new(Mutex::new(reloader));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, reports) = mpsc::channel();
        let (shared, stopping, waiting) = (reloader.clone(), stop.clone(), signal.clone());
        let thread = std::thread::Builder::new()
            .name("relive-background".into())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    waiting.wait(window);
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let pumped = shared.lock().unwrap_or_else(|p| p.into_inner()).pump();
                    match pumped {
                        Ok(batch) => batch.into_iter().for_each(|report| {
                            listener(&report);
                            drop(tx.send(report));
                        }),
                        Err(err) => log::error!("background reload failed: {err}"),
                    }
                }
            })
            .map_err(|e| Error::Io { path: std::path::PathBuf::from("<background thread>"), source: e })?;
        Ok(Background { reloader: Some(reloader), stop, interrupt, signal, thread: Some(thread), reports })
    }

    /// Reports of the reloads applied so far, as they happen.
    pub fn reports(&self) -> &mpsc::Receiver<ReloadReport> {
        &self.reports
    }

    /// The reloader, locked: the background thread waits while you hold it. Do not call
    /// this from code that holds the GIL (inside `Python::attach`): the background thread
    /// may hold the lock while it waits for the GIL.
    pub fn reloader(&self) -> MutexGuard<'_, Reloader> {
        self.reloader.as_ref().expect("present until stopped").lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reloader, when the background thread does not hold it right now: for callers
    /// that hold the GIL and so must not block on the lock (see [`Background::reloader`]).
    pub fn try_reloader(&self) -> Option<MutexGuard<'_, Reloader>> {
        self.reloader.as_ref()?.try_lock().ok()
    }

    /// Stops and joins the thread, and gives the reloader back (still watching; call
    /// `end_monitoring` or drop it to stop the watcher).
    pub fn stop(mut self) -> Reloader {
        self.halt();
        let slot = self.reloader.take().expect("present until stopped");
        match Arc::try_unwrap(slot) {
            Ok(mutex) => mutex.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(_) => unreachable!("the joined thread held the only other reference"),
        }
    }

    /// Stops the thread: a candidate running now is interrupted within about a second and
    /// rejected (W4); the request is cleared once the thread ended.
    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.interrupt.request();
        self.signal.wake();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the background reload thread panicked");
        }
        self.interrupt.clear();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.halt();
    }
}
