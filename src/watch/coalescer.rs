//! Coalescing file events into batches (W1).
//!
//! A batch is ready once no event arrived for the window (default 20 ms), counted from the
//! *last* event, so a burst of writes and an editor's save-by-rename become one change per
//! file. A file still open for writing is held (up to [`MAX_HOLD`]). One save is the fast
//! path: when every pending file was written and then closed by its writer exactly once
//! (inotify's close-after-write) and nothing else happened, the batch is ready [`GRACE`]
//! after that close instead of after the window. A second write or close of the same file,
//! a rename, a removal or a rescan puts the batch back on the window. A window longer than
//! the default (`--delay`, `watch_window`) is what the user asked for: always waited.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest a changed file is held back while its writer still has it open (W1). A writer
/// on a loaded machine can stall for a long moment between truncating a file and writing
/// it; past this, the file is read anyway (and the hold is logged).
pub(super) const MAX_HOLD: Duration = Duration::from_secs(3);

/// How long a batch of single saves waits after the last close-after-write: long enough
/// for a writer's next write of a burst to be seen, much shorter than the window.
pub(super) const GRACE: Duration = Duration::from_millis(3);

/// What the events of this batch said about one pending file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Written, not closed yet.
    Written,
    /// Written and closed once, nothing since: its writer is done (the fast path).
    ClosedOnce,
    /// Anything else (a burst, a rename, a removal): the window applies.
    Other,
}

/// Collects changed paths until none arrived for the window (W1). Takes its clock as a
/// parameter so it can be tested without time passing.
#[derive(Debug)]
pub(super) struct Coalescer {
    window: Duration,
    pub(super) pending: BTreeSet<PathBuf>,
    /// Pending files whose writer may still hold them open: created or written, not closed.
    pub(super) writing: BTreeSet<PathBuf>,
    seen: BTreeMap<PathBuf, Seen>,
    /// Files of the last batch taken that were closed after their only write: their bytes
    /// are the writer's finished work (forgotten at their next event).
    closed: BTreeSet<PathBuf>,
    last: Option<Instant>,
    pub(super) rescan: bool,
}

impl Coalescer {
    pub(super) fn new(window: Duration) -> Coalescer {
        Coalescer {
            window,
            pending: BTreeSet::new(),
            writing: BTreeSet::new(),
            seen: BTreeMap::new(),
            closed: BTreeSet::new(),
            last: None,
            rescan: false,
        }
    }

    /// Any change but a write or a close (created by rename, removed, rescanned).
    pub(super) fn add(&mut self, path: PathBuf, now: Instant) {
        self.see(&path, |_| Seen::Other);
        self.insert(path, now);
    }

    /// A write (or creation): its writer may still hold the file open.
    pub(super) fn written(&mut self, path: PathBuf, now: Instant) {
        self.writing.insert(path.clone());
        self.see(&path, |seen| match seen {
            None | Some(Seen::Written) => Seen::Written,
            Some(_) => Seen::Other,
        });
        self.insert(path, now);
    }

    /// Its writer closed it after writing (inotify's close-after-write).
    pub(super) fn closed(&mut self, path: PathBuf, now: Instant) {
        self.writing.remove(&path);
        self.see(&path, |seen| match seen {
            None | Some(Seen::Written) => Seen::ClosedOnce,
            Some(_) => Seen::Other,
        });
        self.insert(path, now);
    }

    fn see(&mut self, path: &Path, next: impl FnOnce(Option<Seen>) -> Seen) {
        self.closed.remove(path);
        let seen = next(self.seen.get(path).copied());
        self.seen.insert(path.to_path_buf(), seen);
    }

    fn insert(&mut self, path: PathBuf, now: Instant) {
        self.pending.insert(path);
        self.last = Some(now);
    }

    /// Whether `file`, of the last batch taken, was closed by its writer after its only
    /// write, with no event since: its bytes need no wait to settle (W1).
    pub(super) fn was_closed(&self, file: &Path) -> bool {
        self.closed.contains(file) && !self.pending.contains(file)
    }

    /// How long until the pending batch is ready, if one is pending: [`GRACE`] after the
    /// last event when every file in it is a single finished save, else the window after
    /// the last event, or up to [`MAX_HOLD`] while a writer still holds a file open (W1).
    pub(super) fn remaining(&self, now: Instant) -> Option<Duration> {
        let last = self.last.filter(|_| !self.pending.is_empty())?;
        let wait = if !self.writing.is_empty() {
            MAX_HOLD.max(self.window)
        } else if self.window <= super::DEFAULT_WINDOW && self.is_single_saves() {
            GRACE.min(self.window)
        } else {
            self.window
        };
        Some((last + wait).saturating_duration_since(now))
    }

    fn is_single_saves(&self) -> bool {
        self.pending.iter().all(|p| self.seen.get(p) == Some(&Seen::ClosedOnce))
    }

    pub(super) fn take(&mut self, now: Instant) -> Option<Vec<PathBuf>> {
        if self.remaining(now)? > Duration::ZERO {
            return None;
        }
        self.last = None;
        for file in std::mem::take(&mut self.writing) {
            log::info!("{} is still open for writing after {MAX_HOLD:?}; reading it anyway", file.display());
        }
        let seen = std::mem::take(&mut self.seen);
        self.closed = seen.into_iter().filter(|(_, s)| *s == Seen::ClosedOnce).map(|(p, _)| p).collect();
        Some(std::mem::take(&mut self.pending).into_iter().collect())
    }

    /// Forgets pending files under `root` (L9).
    pub(super) fn forget_under(&mut self, root: &Path) {
        self.pending.retain(|p| !p.starts_with(root));
        self.seen.retain(|p, _| !p.starts_with(root));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn w1_a_file_open_for_writing_is_held_until_closed_or_the_hold_ends() {
        let start = Instant::now();
        let mut c = Coalescer::new(ms(20));
        c.written("/s/a.py".into(), start);
        assert_eq!(c.take(start + ms(500)), None, "still open for writing");
        c.closed("/s/a.py".into(), start + ms(600));
        assert_eq!(c.take(start + ms(620)), Some(vec![PathBuf::from("/s/a.py")]));
        c.written("/s/b.py".into(), start);
        assert_eq!(c.take(start + MAX_HOLD), Some(vec![PathBuf::from("/s/b.py")]), "held at most MAX_HOLD");
    }

    #[test]
    fn a_burst_becomes_one_batch_after_the_window_from_the_last_event() {
        let start = Instant::now();
        let mut c = Coalescer::new(ms(20));
        for i in 0..20 {
            c.add("/s/a.py".into(), start + ms(i * 5));
        }
        assert_eq!(c.take(start + ms(95 + 19)), None, "the window counts from the last write");
        assert_eq!(c.take(start + ms(95 + 20)), Some(vec![PathBuf::from("/s/a.py")]));
        assert_eq!(c.take(start + ms(500)), None);
    }

    #[test]
    fn w1_a_single_save_is_ready_its_grace_after_the_close() {
        let start = Instant::now();
        let mut c = Coalescer::new(ms(20));
        c.written("/s/a.py".into(), start);
        c.written("/s/a.py".into(), start + ms(1));
        c.closed("/s/a.py".into(), start + ms(2));
        assert_eq!(c.remaining(start + ms(2)), Some(GRACE));
        assert_eq!(c.take(start + ms(2) + GRACE), Some(vec![PathBuf::from("/s/a.py")]));
        assert!(c.was_closed(Path::new("/s/a.py")), "closed after its only write");
        c.written("/s/a.py".into(), start + ms(30));
        assert!(!c.was_closed(Path::new("/s/a.py")), "written again since");
        // A longer window than the default was chosen by the user: it is always waited.
        let mut long = Coalescer::new(ms(3000));
        long.written("/s/a.py".into(), start);
        long.closed("/s/a.py".into(), start);
        assert_eq!(long.remaining(start), Some(ms(3000)));
    }

    #[test]
    fn w1_bursts_and_renames_keep_the_window() {
        let start = Instant::now();
        let mut c = Coalescer::new(ms(20));
        // Two saves of one file: the second write after a close makes it a burst.
        c.written("/s/a.py".into(), start);
        c.closed("/s/a.py".into(), start);
        c.written("/s/a.py".into(), start + ms(1));
        c.closed("/s/a.py".into(), start + ms(1));
        assert_eq!(c.take(start + ms(1) + GRACE), None, "a burst waits the window");
        assert_eq!(c.take(start + ms(21)), Some(vec![PathBuf::from("/s/a.py")]));
        assert!(!c.was_closed(Path::new("/s/a.py")), "a burst's bytes still settle");
        // A save next to a rename: the window.
        c.written("/s/b.py".into(), start + ms(40));
        c.closed("/s/b.py".into(), start + ms(40));
        c.add("/s/c.py".into(), start + ms(40));
        assert_eq!(c.take(start + ms(40) + GRACE), None, "a rename in the batch waits the window");
        assert_eq!(c.take(start + ms(60)).map(|b| b.len()), Some(2));
        assert!(c.was_closed(Path::new("/s/b.py")) && !c.was_closed(Path::new("/s/c.py")));
    }
}
