//! File watching (W1): notify's recommended watcher turned into coalesced change sets.
//!
//! The notify callback only converts: `.py` files, not hidden, not in `__pycache__`, not
//! editor temp or backup files. A new folder is scanned, because inotify reports nothing for
//! files created in it before its watch exists. Watcher errors are logged and survived, with
//! a rescan where events may have been lost. Changes are coalesced: a batch is ready once no
//! event arrived for the coalescing window (default 20 ms), counted from the *last* event,
//! so a burst of writes and an editor's save-by-rename become one change per file; a single
//! save closed by its writer is ready a few milliseconds after the close (coalescer.rs). This
//! is the only file that names notify; it never calls the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use notify::event::{CreateKind, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::layout::{entry_name, in_ignored_folder, is_ignored_name, is_script_path};

mod barrier;
mod coalescer;
use barrier::Barrier;
use coalescer::Coalescer;

/// Default delay between the last event of a burst and the reload (W1).
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(20);

/// Longest a reader waits for its barrier marker; a read whose marker is late is not
/// trusted, and its file is read again in a later batch (W1).
const BARRIER_WAIT: Duration = Duration::from_millis(500);

/// Late markers in a row after which the barrier is given up for timing alone (W1).
const BARRIER_MISSES: u32 = 3;

/// How long a script file must stay empty before an empty read of it is applied (W1). The
/// kernel queues a truncation's event only after the file is empty, so a writer held up
/// right after truncating leaves an empty file that no event, barrier or file time tells
/// apart from an emptied script; this long a hold-up is not seen in practice.
const EMPTY_CONFIRM: Duration = Duration::from_millis(250);

/// What the notify callback hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    /// A script file was written, created, removed or renamed.
    Changed(PathBuf),
    /// A script file was created or written and its writer may still have it open.
    Writing(PathBuf),
    /// A script file's writer closed it.
    Closed(PathBuf),
    /// Something that is not a script was removed or renamed away: maybe a folder (W3).
    Gone(PathBuf),
    /// A folder appeared: scan it.
    FolderAppeared(PathBuf),
    /// Events may have been lost: rescan everything.
    Rescan,
    /// The barrier's marker with this number arrived: every earlier event has too.
    Barrier(u64),
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
    /// Roots that were removed: watched again when they come back (W1).
    missing: Vec<PathBuf>,
    coalescer: Coalescer,
    /// `None` where the private folder could not be made or watched: timing alone decides.
    barrier: Option<Barrier>,
    /// The number of the last barrier marker that arrived.
    barrier_seen: u64,
    /// Markers in a row that did not arrive in time.
    barrier_misses: u32,
    /// Script files read empty, and since when (see [`EMPTY_CONFIRM`]).
    empty_since: BTreeMap<PathBuf, Instant>,
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
        let barrier = Barrier::new()
            .inspect_err(|err| log::debug!("no event barrier (a private temporary folder): {err}"))
            .ok();
        let barrier_dir = barrier.as_ref().map(|b| b.dir().to_path_buf());
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let marker =
                barrier_dir.as_deref().zip(event.as_ref().ok()).and_then(|(dir, e)| barrier::marker(dir, e));
            let signals = match marker {
                Some(marker) => marker.map(Signal::Barrier).into_iter().collect(),
                None => convert(event),
            };
            for signal in signals {
                if tx.send(signal).is_err() {
                    return; // the watcher is being dropped
                }
            }
            bell.ring();
        })
        .map_err(|e| Error::Notify { path: PathBuf::new(), message: e.to_string() })?;
        let barrier = barrier.filter(|b| {
            watcher
                .watch(b.dir(), RecursiveMode::NonRecursive)
                .inspect_err(|err| log::debug!("no event barrier: {err}"))
                .is_ok()
        });
        Ok(FileWatcher {
            watcher,
            signals,
            doorbell,
            roots: Vec::new(),
            missing: Vec::new(),
            coalescer: Coalescer::new(window),
            barrier,
            barrier_seen: 0,
            barrier_misses: 0,
            empty_since: BTreeMap::new(),
        })
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
        self.missing.retain(|r| r != root);
        self.coalescer.forget_under(root);
    }

    /// Takes what arrived; returns the batch of changed paths when the window has passed
    /// since the last event and no writer still holds one of them open (W1). A path that is
    /// not a script (no `.py` name) is a folder that was removed or renamed away: every
    /// script known under it is gone (W3).
    pub fn poll(&mut self) -> Option<Vec<PathBuf>> {
        let now = Instant::now();
        self.check_roots(now);
        self.absorb(now);
        let batch = self.coalescer.take(Instant::now())?;
        Some(batch.into_iter().filter(|path| is_readable_kind(path)).collect())
    }

    /// Whether `file` changed again after the batch that holds it was taken: its bytes, just
    /// read, may be a writer's half-done work (a truncation), so they are not applied; the
    /// newer change comes in a later batch (W1).
    pub fn has_newer_change(&mut self, file: &Path) -> bool {
        let caught_up = self.catch_up();
        self.absorb(Instant::now());
        if !caught_up {
            // Events that happened before the read may still be on their way: read it later.
            self.coalescer.add(file.to_path_buf(), Instant::now());
        }
        self.coalescer.pending.contains(file)
    }

    /// Whether an empty read of `file`, whose code in effect is not empty, may be applied:
    /// only once the file stayed empty for [`EMPTY_CONFIRM`]; until then it is read again
    /// after the window. A read that is not empty forgets the wait ([`Self::read_not_empty`]).
    pub fn confirm_empty(&mut self, file: &Path) -> bool {
        let now = Instant::now();
        let since = *self.empty_since.entry(file.to_path_buf()).or_insert(now);
        if now.duration_since(since) >= EMPTY_CONFIRM {
            self.empty_since.remove(file);
            return true;
        }
        self.coalescer.add(file.to_path_buf(), now);
        false
    }

    /// `file` was read with content: an earlier empty read of it was a writer's truncation.
    pub fn read_not_empty(&mut self, file: &Path) {
        self.empty_since.remove(file);
    }

    /// Whether `file`, of the batch just taken, was closed by its writer after its only
    /// write and has had no event since: its bytes are finished and need no wait to settle
    /// (W1). Call it after [`FileWatcher::poll`] took the batch.
    pub fn was_closed_after_write(&self, file: &Path) -> bool {
        self.coalescer.was_closed(file)
    }

    /// Takes every event that happened before now, however late notify delivers it: raises
    /// a barrier marker and takes signals until it arrives (W1). Returns false when the
    /// marker was late; after [`BARRIER_MISSES`] late ones in a row the barrier is given up.
    fn catch_up(&mut self) -> bool {
        let Some(barrier) = self.barrier.as_mut() else { return true };
        let raised = match barrier.raise() {
            Ok(raised) => raised,
            Err(err) => {
                log::warn!("the file event barrier failed ({err}); relying on timing alone");
                self.barrier = None;
                return true;
            }
        };
        let deadline = Instant::now() + BARRIER_WAIT;
        while self.barrier_seen < raised {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.signals.recv_timeout(left) {
                Ok(signal) => self.take_signal(signal, Instant::now()),
                Err(_) => return self.barrier_missed(),
            }
        }
        self.barrier_misses = 0;
        true
    }

    /// A marker did not arrive in time: the read is not trusted (false), and the barrier is
    /// given up after [`BARRIER_MISSES`] in a row, so a lost watch cannot stop reloads.
    fn barrier_missed(&mut self) -> bool {
        self.barrier_misses += 1;
        log::debug!("the file event barrier did not arrive within {BARRIER_WAIT:?}");
        if self.barrier_misses >= BARRIER_MISSES {
            log::warn!(
                "file events arrive late ({BARRIER_MISSES} barrier markers missed); relying on timing alone"
            );
            self.barrier = None;
            return true;
        }
        false
    }

    /// Takes the signals that arrived into the coalescer.
    fn absorb(&mut self, now: Instant) {
        while let Ok(signal) = self.signals.try_recv() {
            self.take_signal(signal, now);
        }
    }

    /// Takes one signal into the coalescer.
    fn take_signal(&mut self, signal: Signal, now: Instant) {
        match signal {
            Signal::Changed(path) | Signal::Writing(path) | Signal::Closed(path)
                if in_ignored_folder(&path, &self.roots) =>
            {
                drop(path)
            }
            Signal::Changed(path) => self.coalescer.add(path, now),
            Signal::Writing(path) => self.coalescer.written(path, now),
            Signal::Closed(path) => self.coalescer.closed(path, now),
            Signal::Gone(path) => {
                if self.roots.iter().any(|root| path.starts_with(root) && path != *root) {
                    self.coalescer.add(path, now);
                }
            }
            Signal::FolderAppeared(folder) => {
                for file in scripts_under(&folder, &self.roots) {
                    self.coalescer.add(file, now);
                }
            }
            Signal::Rescan => {
                log::warn!("file events may have been lost; rescanning the script directories");
                for root in self.roots.clone() {
                    for file in scripts_under(&root, &self.roots) {
                        self.coalescer.add(file, now);
                    }
                }
                self.coalescer.rescan = true;
            }
            Signal::Barrier(number) => self.barrier_seen = self.barrier_seen.max(number),
        }
    }

    /// Notices a removed root (its scripts are gone, W3) and a removed root that came back
    /// (watched again, its scripts load again), W1.
    fn check_roots(&mut self, now: Instant) {
        for root in self.roots.clone() {
            let present = root.is_dir();
            let was_missing = self.missing.contains(&root);
            if !present && !was_missing {
                log::warn!("{} was removed; its scripts are removed until it comes back", root.display());
                self.missing.push(root.clone());
                self.coalescer.add(root.clone(), now);
            } else if present && was_missing {
                if let Err(err) = self.watcher.watch(&root, RecursiveMode::Recursive) {
                    log::error!("cannot watch {} again: {err}", root.display());
                    continue;
                }
                log::info!("{} is back; loading its scripts again", root.display());
                self.missing.retain(|r| r != &root);
                for file in scripts_under(&root, &self.roots) {
                    self.coalescer.add(file, now);
                }
            }
        }
    }

    /// Whether changes are waiting for their window to pass.
    pub fn has_pending(&self) -> bool {
        !self.coalescer.pending.is_empty()
    }

    /// Whether a watched root is missing: callers should poll now and then to see it back.
    pub fn is_root_missing(&self) -> bool {
        !self.missing.is_empty()
    }

    /// Waits (without the GIL: call it detached) until an event arrives or `timeout` passes,
    /// or until the window of pending changes has passed.
    pub fn wait(&self, timeout: Duration) {
        let mut timeout = match self.coalescer.remaining(Instant::now()) {
            Some(remaining) => remaining.min(timeout),
            None => timeout,
        };
        if !self.missing.is_empty() {
            // A removed root sends no event when it comes back: look now and then.
            timeout = timeout.min(Duration::from_millis(100));
        }
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

/// Every `.py` file under `folder` that relive would watch. A link to a folder inside one
/// of `roots`, or to one of their ancestors, is a loop and is not followed (W1); a name
/// that is not UTF-8 is reported and skipped (E3).
fn scripts_under(folder: &Path, roots: &[PathBuf]) -> Vec<PathBuf> {
    let canonical_roots: Vec<PathBuf> = roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            if entry_name(&entry).is_none() {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
                let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
                let is_loop = is_link
                    && canonical_roots.iter().any(|r| canonical.starts_with(r) || r.starts_with(&canonical));
                if !is_loop && seen.insert(canonical) {
                    folders.push(path);
                }
            } else if is_script_path(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Whether `path` is missing (a deletion) or a regular file; anything else named `*.py`
/// (a FIFO, device or socket) is skipped with a warning naming it (W1).
fn is_readable_kind(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else { return true };
    let kind = meta.file_type();
    if kind.is_file() || (kind.is_dir() && !is_script_path(path)) {
        return true;
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    log::warn!("skipping {}: {what}, not a regular file", path.display());
    false
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
            let renamed = matches!(event.kind, EventKind::Modify(ModifyKind::Name(_)));
            let mut signals = Vec::new();
            for path in event.paths {
                if is_script_path(&path) {
                    signals.push(match event.kind {
                        // Created or written: its writer may still hold it open (W1).
                        EventKind::Create(CreateKind::File | CreateKind::Any)
                        | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => Signal::Writing(path),
                        EventKind::Access(_) => Signal::Closed(path),
                        _ => Signal::Changed(path),
                    });
                } else if renamed && path.is_dir() {
                    // A folder renamed into place: like a new folder (W1).
                    signals.push(Signal::FolderAppeared(path));
                } else if (renamed || matches!(event.kind, EventKind::Remove(_)))
                    && !is_hidden_folder(&path)
                    && std::fs::symlink_metadata(&path).is_err()
                {
                    // Maybe a folder removed or renamed away: its scripts are gone (W3).
                    signals.push(Signal::Gone(path));
                }
            }
            signals
        }
        _ => Vec::new(),
    }
}

fn is_hidden_folder(path: &Path) -> bool {
    path.file_name().is_some_and(|n| is_ignored_name(&n.to_string_lossy()))
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
        assert_eq!(convert(event(write, &["/s/a.py"])), [Signal::Writing("/s/a.py".into())]);
        let close = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(convert(event(close, &["/s/a.py"])), [Signal::Closed("/s/a.py".into())]);
    }

    #[test]
    fn a_folder_removed_or_renamed_away_is_gone() {
        let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        let missing = "/nonexistent-relive-test/old";
        assert_eq!(convert(event(from, &[missing])), [Signal::Gone(missing.into())]);
        let remove = EventKind::Remove(notify::event::RemoveKind::Folder);
        assert_eq!(convert(event(remove, &[missing])), [Signal::Gone(missing.into())]);
        assert!(convert(event(remove, &["/nonexistent-relive-test/.git"])).is_empty());
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
    fn w1_a_write_just_before_the_check_is_always_seen() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = FileWatcher::new(DEFAULT_WINDOW).unwrap();
        assert!(watcher.barrier.is_some(), "the private folder is made and watched");
        watcher.watch(dir.path()).unwrap();
        for i in 0..50 {
            let file = dir.path().join(format!("a{i}.py"));
            std::fs::write(&file, "X = 1\n").unwrap();
            assert!(watcher.has_newer_change(&file), "write {i} was seen at once");
        }
    }
}
