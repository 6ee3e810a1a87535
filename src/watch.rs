//! File watching (W1): notify's recommended watcher turned into coalesced change sets.
//!
//! The notify callback only converts: `.py` files, not hidden, not in `__pycache__`, not
//! editor temp or backup files. A new folder is scanned, because inotify reports nothing for
//! files created in it before its watch exists. Watcher errors are logged and survived, with
//! a rescan where events may have been lost. Changes are coalesced: a batch is ready once no
//! event arrived for the coalescing window (default 20 ms), counted from the *last* event,
//! so a burst of writes and an editor's save-by-rename become one change per file. This is
//! the only file that names notify; it never calls the engine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use notify::event::{CreateKind, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::engine::directory_is_ignored;

/// Default delay between the last event of a burst and the reload (W1).
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(20);

/// What the notify callback hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    /// A script file was written, created, removed or renamed.
    Changed(PathBuf),
    /// A folder appeared: scan it.
    FolderAppeared(PathBuf),
    /// Events may have been lost: rescan everything.
    Rescan,
}

/// Wakes a waiter when the notify callback delivered something.
#[derive(Debug, Default)]
struct Doorbell {
    rung: Mutex<bool>,
    ring: Condvar,
}

impl Doorbell {
    fn ring(&self) {
        *self.rung.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.ring.notify_all();
    }

    /// Waits up to `timeout` for a ring; returns whether one came.
    fn wait(&self, timeout: Duration) -> bool {
        let rung = self.rung.lock().unwrap_or_else(|p| p.into_inner());
        let (mut rung, _) =
            self.ring.wait_timeout_while(rung, timeout, |rung| !*rung).unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *rung, false)
    }
}

/// A handle that wakes when file events arrive, usable without the reloader (W4).
#[derive(Debug, Clone)]
pub struct ChangeSignal(Arc<Doorbell>);

impl ChangeSignal {
    /// Waits up to `timeout` for file events; returns whether some arrived.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.0.wait(timeout)
    }

    /// Wakes every waiter (to stop a background thread promptly).
    pub fn wake(&self) {
        self.0.ring();
    }
}

/// A running file watcher over the registered script directories.
pub struct FileWatcher {
    watcher: RecommendedWatcher,
    signals: mpsc::Receiver<Signal>,
    doorbell: Arc<Doorbell>,
    roots: Vec<PathBuf>,
    coalescer: Coalescer,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher").field("roots", &self.roots).finish_non_exhaustive()
    }
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inotify watch limit is reached: raise `fs.inotify.max_user_watches`.
    #[error("cannot watch {}: the limit on inotify watches is reached (raise fs.inotify.max_user_watches)", path.display())]
    TooManyWatches {
        /// The folder.
        path: PathBuf,
    },
    /// Any other notify failure.
    #[error("cannot watch {}: {message}", path.display())]
    Notify {
        /// The folder.
        path: PathBuf,
        /// notify's message.
        message: String,
    },
}

impl FileWatcher {
    /// Starts watching nothing yet; add folders with [`FileWatcher::watch`].
    pub fn new(window: Duration) -> Result<FileWatcher, Error> {
        let (tx, signals) = mpsc::channel();
        let doorbell = Arc::new(Doorbell::default());
        let bell = doorbell.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            for signal in convert(event) {
                if tx.send(signal).is_err() {
                    return; // the watcher is being dropped
                }
            }
            bell.ring();
        })
        .map_err(|e| Error::Notify { path: PathBuf::new(), message: e.to_string() })?;
        Ok(FileWatcher { watcher, signals, doorbell, roots: Vec::new(), coalescer: Coalescer::new(window) })
    }

    /// Watches `root` recursively.
    pub fn watch(&mut self, root: &Path) -> Result<(), Error> {
        self.watcher.watch(root, RecursiveMode::Recursive).map_err(|e| match e.kind {
            notify::ErrorKind::MaxFilesWatch => Error::TooManyWatches { path: root.to_path_buf() },
            _ => Error::Notify { path: root.to_path_buf(), message: e.to_string() },
        })?;
        self.roots.push(root.to_path_buf());
        Ok(())
    }

    /// Stops watching `root` (L9).
    pub fn unwatch(&mut self, root: &Path) {
        if let Err(err) = self.watcher.unwatch(root) {
            log::debug!("unwatch {}: {err}", root.display());
        }
        self.roots.retain(|r| r != root);
        self.coalescer.pending.retain(|p| !p.starts_with(root));
    }

    /// Takes what arrived; returns the batch of changed files when the window has passed
    /// since the last event.
    pub fn poll(&mut self) -> Option<Vec<PathBuf>> {
        let now = Instant::now();
        while let Ok(signal) = self.signals.try_recv() {
            match signal {
                Signal::Changed(path) if in_ignored_folder(&path, &self.roots) => {}
                Signal::Changed(path) => self.coalescer.add(path, now),
                Signal::FolderAppeared(folder) => {
                    for file in scripts_under(&folder) {
                        self.coalescer.add(file, now);
                    }
                }
                Signal::Rescan => {
                    log::warn!("file events may have been lost; rescanning the script directories");
                    for root in self.roots.clone() {
                        for file in scripts_under(&root) {
                            self.coalescer.add(file, now);
                        }
                    }
                    self.coalescer.rescan = true;
                }
            }
        }
        self.coalescer.take(Instant::now())
    }

    /// Whether changes are waiting for their window to pass.
    pub fn has_pending(&self) -> bool {
        !self.coalescer.pending.is_empty()
    }

    /// Waits (without the GIL: call it detached) until an event arrives or `timeout` passes,
    /// or until the window of pending changes has passed.
    pub fn wait(&self, timeout: Duration) {
        let timeout = match self.coalescer.remaining(Instant::now()) {
            Some(remaining) => remaining.min(timeout),
            None => timeout,
        };
        self.doorbell.wait(timeout);
    }

    /// A handle that wakes when events arrive.
    pub fn signal(&self) -> ChangeSignal {
        ChangeSignal(self.doorbell.clone())
    }

    /// Whether the last batch came from a rescan (its unchanged files are expected).
    pub fn take_rescan(&mut self) -> bool {
        std::mem::replace(&mut self.coalescer.rescan, false)
    }
}

/// Every `.py` file under `folder` that relive would watch.
fn scripts_under(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if directory_is_ignored(&name) {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else if is_script_path(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A `.py` file name, not hidden, not an editor's temp or backup file.
pub(crate) fn is_script_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    name.ends_with(".py") && !directory_is_ignored(name)
}

/// Whether `path` lies in a hidden or `__pycache__` folder below one of `roots` (folders
/// above a root, such as a hidden temp folder, do not count).
fn in_ignored_folder(path: &Path, roots: &[PathBuf]) -> bool {
    let Some(rel) = roots.iter().find_map(|root| path.strip_prefix(root).ok()) else { return false };
    rel.parent().is_some_and(|folders| {
        folders.components().any(|c| directory_is_ignored(&c.as_os_str().to_string_lossy()))
    })
}

/// Turns one notify event into signals (no filesystem access except telling a folder).
fn convert(event: notify::Result<notify::Event>) -> Vec<Signal> {
    let event = match event {
        Ok(event) => event,
        Err(err) => {
            log::error!("file watcher error: {err}; rescanning");
            return vec![Signal::Rescan];
        }
    };
    if event.need_rescan() {
        return vec![Signal::Rescan];
    }
    match event.kind {
        EventKind::Create(CreateKind::Folder) => {
            event.paths.into_iter().filter(|p| !is_hidden_folder(p)).map(Signal::FolderAppeared).collect()
        }
        EventKind::Create(_)
        | EventKind::Remove(_)
        | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
        | EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write)) => {
            let mut signals = Vec::new();
            for path in event.paths {
                if is_script_path(&path) {
                    signals.push(Signal::Changed(path));
                } else if matches!(event.kind, EventKind::Modify(ModifyKind::Name(_))) && path.is_dir() {
                    // A folder renamed into place: like a new folder (W1).
                    signals.push(Signal::FolderAppeared(path));
                }
            }
            signals
        }
        _ => Vec::new(),
    }
}

fn is_hidden_folder(path: &Path) -> bool {
    path.file_name().is_some_and(|n| directory_is_ignored(&n.to_string_lossy()))
}

/// Collects changed paths until none arrived for the window (W1). Takes its clock as a
/// parameter so it can be tested without time passing.
#[derive(Debug)]
struct Coalescer {
    window: Duration,
    pending: BTreeSet<PathBuf>,
    last: Option<Instant>,
    rescan: bool,
}

impl Coalescer {
    fn new(window: Duration) -> Coalescer {
        Coalescer { window, pending: BTreeSet::new(), last: None, rescan: false }
    }

    fn add(&mut self, path: PathBuf, now: Instant) {
        self.pending.insert(path);
        self.last = Some(now);
    }

    /// How long until the pending batch is ready, if one is pending.
    fn remaining(&self, now: Instant) -> Option<Duration> {
        let last = self.last.filter(|_| !self.pending.is_empty())?;
        Some((last + self.window).saturating_duration_since(now))
    }

    fn take(&mut self, now: Instant) -> Option<Vec<PathBuf>> {
        if self.remaining(now)? > Duration::ZERO {
            return None;
        }
        self.last = None;
        Some(std::mem::take(&mut self.pending).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, DataChange, RenameMode};

    fn event(kind: EventKind, paths: &[&str]) -> notify::Result<notify::Event> {
        let mut event = notify::Event::new(kind);
        for path in paths {
            event = event.add_path(PathBuf::from(path));
        }
        Ok(event)
    }

    #[test]
    fn only_script_files_count() {
        assert!(is_script_path(Path::new("/s/ai/brain.py")));
        assert!(!is_script_path(Path::new("/s/ai/brain.txt")));
        let roots = [PathBuf::from("/x/.hidden-root")];
        assert!(in_ignored_folder(Path::new("/x/.hidden-root/.git/x.py"), &roots));
        assert!(in_ignored_folder(Path::new("/x/.hidden-root/ai/__pycache__/x.py"), &roots));
        assert!(!in_ignored_folder(Path::new("/x/.hidden-root/ai/x.py"), &roots));
        assert!(!is_script_path(Path::new("/s/.brain.py.swp")));
        assert!(!is_script_path(Path::new("/s/.edit.py")));
        assert!(!is_script_path(Path::new("/s/brain.py~")));
        assert!(!is_script_path(Path::new("/s/.#brain.py")));
    }

    #[test]
    fn save_by_rename_becomes_a_change_of_the_target() {
        let kind = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert_eq!(
            convert(event(kind, &["/s/.edit.py.tmp", "/s/edit.py"])),
            [Signal::Changed("/s/edit.py".into())]
        );
    }

    #[test]
    fn opens_are_ignored_and_writes_count() {
        assert!(
            convert(event(EventKind::Access(AccessKind::Open(AccessMode::Any)), &["/s/a.py"])).is_empty()
        );
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert_eq!(convert(event(write, &["/s/a.py"])), [Signal::Changed("/s/a.py".into())]);
        let close = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(convert(event(close, &["/s/a.py"])), [Signal::Changed("/s/a.py".into())]);
    }

    #[test]
    fn errors_and_overflows_ask_for_a_rescan() {
        assert_eq!(convert(Err(notify::Error::generic("queue overflow"))), [Signal::Rescan]);
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(convert(Ok(overflow)), [Signal::Rescan]);
    }

    #[test]
    fn a_new_folder_is_scanned() {
        let kind = EventKind::Create(CreateKind::Folder);
        assert_eq!(convert(event(kind, &["/s/ai"])), [Signal::FolderAppeared("/s/ai".into())]);
        assert!(convert(event(kind, &["/s/.git"])).is_empty());
    }

    #[test]
    fn a_burst_becomes_one_batch_after_the_window_from_the_last_event() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut c = Coalescer::new(ms(20));
        for i in 0..20 {
            c.add("/s/a.py".into(), start + ms(i * 5));
        }
        assert_eq!(c.take(start + ms(95 + 19)), None, "the window counts from the last write");
        assert_eq!(c.take(start + ms(95 + 20)), Some(vec![PathBuf::from("/s/a.py")]));
        assert_eq!(c.take(start + ms(500)), None);
    }
}
