//! Snapshots of scenario transcripts, stored by insta under `snapshots/` (one per scenario,
//! named after its path): the only file that names insta. The test harness asserts with
//! insta directly; `relive scenario` compares the stored body itself, so it can print a
//! diff and keep going, and uses insta to write files in insta's format.

use std::path::{Path, PathBuf};

/// How a comparison by `relive scenario` ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// The transcript equals the stored snapshot.
    Matches,
    /// No snapshot existed; the transcript was written as a pending `.snap.new` for review.
    Pending,
    /// The snapshot was written (`--update-snapshots`).
    Written,
    /// Not compared (`--no-snapshot`).
    Skipped,
    /// The transcript differs; a unified diff from the snapshot to the transcript.
    Differs(String),
}

/// What `relive scenario` does with snapshot files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Compare; write a `.snap.new` for a missing snapshot.
    Compare,
    /// Accept the transcript as the snapshot.
    Accept,
    /// Expectations only: read and write nothing.
    Never,
}

/// The snapshot file of scenario `name` in `dir`.
pub fn file_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.snap", snapshot_name(name)))
}

fn snapshot_name(name: &str) -> String {
    name.replace('/', "__")
}

fn settings(dir: &Path, description: &str, input_file: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_input_file(input_file);
    settings.set_omit_expression(true);
    settings
}

/// Asserts the transcript against its snapshot with insta's own rules (the test harness):
/// panics with insta's diff on a mismatch; what it writes follows `INSTA_UPDATE` (CI never
/// writes).
pub fn assert(dir: &Path, name: &str, description: &str, input_file: &Path, transcript: &str) {
    settings(dir, description, input_file).bind(|| insta::assert_snapshot!(snapshot_name(name), transcript));
}

/// Compares (or writes) the snapshot for `relive scenario`.
pub fn check(
    dir: &Path,
    name: &str,
    description: &str,
    input_file: &Path,
    transcript: &str,
    update: Update,
) -> Snapshot {
    let stored = std::fs::read_to_string(file_name(dir, name)).ok().map(|text| body(&text));
    match (update, stored) {
        (Update::Never, _) => Snapshot::Skipped,
        (Update::Compare, Some(stored)) if stored.trim_end() == transcript.trim_end() => Snapshot::Matches,
        (Update::Compare, Some(stored)) => Snapshot::Differs(diff(&stored, transcript)),
        (Update::Compare, None) => {
            write(dir, name, description, input_file, transcript, "new");
            Snapshot::Pending
        }
        (Update::Accept, _) => {
            write(dir, name, description, input_file, transcript, "always");
            let _ = std::fs::remove_file(file_name(dir, name).with_extension("snap.new"));
            Snapshot::Written
        }
    }
}

/// The body of a `.snap` file: what follows its header.
fn body(text: &str) -> String {
    let mut parts = text.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_header), Some(body)) => body.to_string(),
        _ => text.to_string(),
    }
}

fn diff(stored: &str, transcript: &str) -> String {
    similar::TextDiff::from_lines(stored.trim_end(), transcript.trim_end())
        .unified_diff()
        .context_radius(2)
        .header("snapshot", "transcript")
        .to_string()
}

/// Lets insta write the file (in its format), quietly.
fn write(dir: &Path, name: &str, description: &str, input_file: &Path, transcript: &str, policy: &str) {
    with_env(&[("INSTA_UPDATE", policy), ("INSTA_OUTPUT", "none"), ("INSTA_FORCE_PASS", "1")], || {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert(dir, name, description, input_file, transcript);
        }));
    });
}

fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let before: Vec<_> = vars.iter().map(|(k, _)| (*k, std::env::var_os(k))).collect();
    for (key, value) in vars {
        // SAFETY: serialised by LOCK; relive's own threads never read these variables.
        unsafe { std::env::set_var(key, value) };
    }
    let out = f();
    for (key, value) in before {
        match value {
            // SAFETY: as above.
            Some(v) => unsafe { std::env::set_var(key, v) },
            None => unsafe { std::env::remove_var(key) },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_header() {
        let text = "---\nsource: x\ndescription: d\n---\nscenario: a\nstep 1\n";
        assert_eq!(body(text), "scenario: a\nstep 1\n");
    }

    #[test]
    fn a_diff_shows_both_sides() {
        let d = diff("a\nb\n", "a\nc\n");
        assert!(d.contains("-b") && d.contains("+c"), "{d}");
    }
}
