//! A marker in the file event stream, so that a reader knows it has seen every event that
//! happened before a moment (W1).
//!
//! inotify queues the events of one watcher in the order they happened. A file created in a
//! private folder that the same watcher watches is queued behind every earlier event: once
//! its event arrives, so has every write, truncation or rename that came before it. That
//! turns "did this file change while I read it?" from a guess about timing into a fact,
//! even when the writer or the notify thread was held up by a loaded machine.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The name of every barrier folder: `relive-events-PID-N-NANOS`.
const PREFIX: &str = "relive-events-";

/// A private folder whose files are markers, named by their sequence number.
#[derive(Debug)]
pub(super) struct Barrier {
    dir: PathBuf,
    raised: u64,
}

impl Barrier {
    /// Makes the private folder under the system's temporary folder (and removes the empty
    /// ones of processes that no longer run, which a killed process leaves behind).
    pub(super) fn new() -> std::io::Result<Barrier> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_leftovers);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        loop {
            let count = COUNT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("{PREFIX}{pid}-{count}-{}", nanos.subsec_nanos()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Barrier { dir, raised: 0 }),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && count < 100 => continue,
                Err(err) => return Err(err),
            }
        }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Puts a marker in the stream; returns its number.
    pub(super) fn raise(&mut self) -> std::io::Result<u64> {
        self.raised += 1;
        let marker = self.dir.join(self.raised.to_string());
        std::fs::File::create(&marker)?;
        std::fs::remove_file(&marker)?;
        Ok(self.raised)
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.dir) {
            log::debug!("removing {}: {err}", self.dir.display());
        }
    }
}

/// Removes the empty barrier folders of processes that no longer run.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)).and_then(|n| n.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(entry.path()); // only when empty
        }
    }
}

/// The number of the marker an event reports the creation of, if it is one; `Some(None)`
/// for any other event in the barrier's folder (its removals), `None` for events elsewhere.
pub(super) fn marker(dir: &Path, event: &notify::Event) -> Option<Option<u64>> {
    let path = event.paths.first().filter(|p| p.parent() == Some(dir))?;
    let created = matches!(event.kind, notify::EventKind::Create(_));
    Some(created.then(|| path.file_name()?.to_str()?.parse().ok()).flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w1_a_marker_is_told_from_its_removal_and_from_other_files() {
        let dir = Path::new("/events/relive-events-1-0");
        let event = |kind, path: &str| notify::Event::new(kind).add_path(PathBuf::from(path));
        let create = notify::EventKind::Create(notify::event::CreateKind::File);
        let remove = notify::EventKind::Remove(notify::event::RemoveKind::File);
        assert_eq!(marker(dir, &event(create, "/events/relive-events-1-0/7")), Some(Some(7)));
        assert_eq!(marker(dir, &event(remove, "/events/relive-events-1-0/7")), Some(None));
        assert_eq!(marker(dir, &event(create, "/s/7")), None);
    }

    #[test]
    fn w1_markers_are_numbered_and_the_folder_goes_with_the_barrier() {
        let mut barrier = Barrier::new().unwrap();
        let dir = barrier.dir().to_path_buf();
        assert_eq!((barrier.raise().unwrap(), barrier.raise().unwrap()), (1, 2));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "markers are removed at once");
        drop(barrier);
        assert!(!dir.exists());
    }

    #[test]
    fn w1_empty_folders_of_processes_gone_are_swept_and_others_stay() {
        let gone = std::env::temp_dir().join(format!("{PREFIX}4294967295-0-0"));
        let full = std::env::temp_dir().join(format!("{PREFIX}4294967295-1-0"));
        std::fs::create_dir_all(&gone).unwrap();
        std::fs::create_dir_all(&full).unwrap();
        std::fs::write(full.join("keep"), "").unwrap();
        let mine = Barrier::new().unwrap();
        sweep_leftovers();
        assert!(!gone.exists(), "an empty folder of a process that is gone is removed");
        assert!(full.exists(), "a folder with something in it is never removed");
        assert!(mine.dir().exists(), "this process's own folder stays");
        std::fs::remove_dir_all(&full).unwrap();
    }
}
