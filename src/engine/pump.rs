//! Live watching from the engine's side (W1–W4): start and stop the file watcher, and
//! `pump`, which applies the changes that arrived, on the caller's thread.
//!
//! The GIL is never held while waiting for file events: `wait_for_changes` waits detached
//! (callers must not hold the GIL themselves), and `pump` attaches only to apply a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Error, Reloader};
use crate::report::ReloadReport;
use crate::watch::FileWatcher;

/// Asks a [`Reloader`] to stop, from any thread (a Ctrl-C handler, a supervisor): candidate
/// code or tests running at that moment are interrupted within about a second, rejected,
/// and nothing of them is applied (W4). Candidates started while the request stands are
/// rejected at once. [`Reloader::end_monitoring`] and [`Reloader::watch`] clear it.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Requests the stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested and not cleared since.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Reloader {
    /// A handle that interrupts running candidates when a stop is requested (W4).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Starts watching every registered directory, and those added later (W1). Changes are
    /// queued until [`Reloader::pump`] applies them.
    ///
    /// # Errors
    /// [`Error::Watch`] when the watcher cannot start (the inotify limit, for one).
    pub fn watch(&mut self) -> Result<(), Error> {
        self.stop.clear();
        if self.watcher.is_some() {
            return Ok(());
        }
        let mut watcher =
            FileWatcher::new(self.config.watch_window).map_err(|source| Error::Watch { source })?;
        for directory in self.directories.values() {
            watcher.watch(&directory.root).map_err(|source| Error::Watch { source })?;
        }
        self.watcher = Some(watcher);
        log::info!("watching {} script directories", self.directories.len());
        Ok(())
    }

    /// Whether the watcher runs.
    pub fn is_watching(&self) -> bool {
        self.watcher.is_some()
    }

    /// Stops the watcher; its thread ends at once (W4).
    pub fn end_monitoring(&mut self) {
        self.stop.clear();
        if self.watcher.take().is_some() {
            log::info!("stopped watching");
        }
    }

    /// Applies the changes that arrived, if their coalescing window has passed (W2, W3, T5),
    /// on the caller's thread. Returns one report per script handled; empty when nothing
    /// was ready. Never waits.
    ///
    /// # Errors
    /// An interpreter failure.
    pub fn pump(&mut self) -> Result<Vec<ReloadReport>, Error> {
        let Some(watcher) = self.watcher.as_mut() else { return Ok(Vec::new()) };
        let Some(files) = watcher.poll() else { return Ok(Vec::new()) };
        let rescan = watcher.take_rescan();
        let files: Vec<_> = self
            .expand_folders(files)
            .into_iter()
            .filter(|file| !self.is_own_write(file))
            .filter(|file| {
                self.directories
                    .values()
                    .any(|d| file.starts_with(&d.root) || file_root_matches(file, &d.root))
            })
            .collect();
        // Forget writes made outside a watched batch (loads, direct reloads).
        drop(crate::python::attach(crate::testing::run::take_written));
        self.pumping = true;
        let reports = self.reload_batch(files.iter());
        self.pumping = false;
        let mut reports = reports?;
        self.note_own_writes(&files);
        if rescan {
            reports.retain(|r| r.outcome != crate::report::Outcome::Unchanged);
        }
        Ok(reports)
    }

    /// Remembers the scripts of a batch that candidate code opened for writing while the
    /// batch ran: they rewrote their own file. Reloading that write would run the code
    /// again, which writes again, forever; so it is skipped, with one warning per script
    /// (W1, W5). A user's save during the reload is not such a write and is reloaded.
    fn note_own_writes(&mut self, files: &[std::path::PathBuf]) {
        let written = crate::python::attach(crate::testing::run::take_written).unwrap_or_default();
        if written.is_empty() {
            return;
        }
        for file in files {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if !written.contains(&canonical) {
                continue;
            }
            let Some(modified) = std::fs::metadata(file).and_then(|m| m.modified()).ok() else { continue };
            if self.self_written.insert(file.clone(), modified).is_none() {
                log::warn!(
                    "{} rewrote its own file while it ran; that write is not reloaded (it would reload forever)",
                    file.display()
                );
            }
        }
    }

    /// Whether the change to `file` is the write its own code made while it ran.
    fn is_own_write(&self, file: &std::path::Path) -> bool {
        let Some(written) = self.self_written.get(file) else { return false };
        std::fs::metadata(file).and_then(|m| m.modified()).is_ok_and(|m| m == *written)
    }

    /// Replaces each path that is not a script (a folder removed or renamed away, or a
    /// removed root) by the scripts in effect under it that no longer exist (W3).
    fn expand_folders(&self, paths: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for path in paths {
            if crate::layout::is_script_path(&path) {
                files.push(path);
                continue;
            }
            files.extend(self.scripts.keys().filter(|f| f.starts_with(&path) && !f.exists()).cloned());
        }
        files.sort();
        files.dedup();
        files
    }

    /// Waits up to `timeout` for changes, then pumps (W4). Call it without holding the GIL.
    ///
    /// # Errors
    /// An interpreter failure.
    pub fn wait_for_changes(&mut self, timeout: Duration) -> Result<Vec<ReloadReport>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let reports = self.pump()?;
            let now = Instant::now();
            if !reports.is_empty() || now >= deadline {
                return Ok(reports);
            }
            match &self.watcher {
                Some(watcher) => watcher.wait(deadline - now),
                None => return Ok(reports),
            }
        }
    }

    /// A handle that wakes when file events arrive, to wait without holding the reloader.
    pub fn change_signal(&self) -> Option<crate::watch::ChangeSignal> {
        self.watcher.as_ref().map(FileWatcher::signal)
    }

    /// Whether changes are queued but not yet applied.
    pub fn has_pending_changes(&self) -> bool {
        self.watcher.as_ref().is_some_and(FileWatcher::has_pending)
    }
}

/// A file whose canonical form is under `root` although its given path is not (symlinked
/// temp folders).
fn file_root_matches(file: &std::path::Path, root: &std::path::Path) -> bool {
    file.parent().and_then(|p| p.canonicalize().ok()).is_some_and(|p| p.starts_with(root))
}
