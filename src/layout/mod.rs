//! Which files relive sees and what each one is: scripts, test files, ignored names (L1,
//! T5, W1). The watcher, the engine, test discovery and the harness all ask here, so the
//! rules live in one place. This module knows nothing of Python, the engine or notify.
//!
//! - Hidden names (`.x`, which covers editors' `.#x.py` and `.x.py.swp`) and `__pycache__`
//!   are ignored, as files and as folders.
//! - A script is a `.py` file with a name that is not ignored and not an editor's backup,
//!   that the directory's [`filter`] (the CLI's include and exclude globs) does not refuse.
//! - A test file (`<stem>_unittest.py`, else `test_<stem>.py`) belongs to the script beside
//!   it; while that script exists it is not a script itself.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod filter;

/// A script's path relative to its script directory, `/`-separated (`ai/brain.py`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScriptPath(String);

impl ScriptPath {
    /// Builds the path of `file` relative to `root`; `None` when `file` is not under `root`.
    pub fn relative(root: &Path, file: &Path) -> Option<ScriptPath> {
        let rel = file.strip_prefix(root).ok()?;
        let parts: Vec<String> =
            rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        Some(ScriptPath(parts.join("/")))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScriptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ScriptPath {
    fn from(s: &str) -> Self {
        ScriptPath(s.replace('\\', "/"))
    }
}

/// Whether a file or folder name is ignored by relive (hidden, `__pycache__`).
pub(crate) fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__"
}

/// The name of a directory entry relive looks at: `None` for an ignored name, and for a
/// name that is not valid UTF-8, which is reported and skipped (E3).
pub(crate) fn entry_name(entry: &std::fs::DirEntry) -> Option<String> {
    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
        log::warn!("skipping {}: its name is not valid UTF-8 (E3)", entry.path().display());
        return None;
    };
    (!is_ignored_name(&name)).then_some(name)
}

/// A `.py` file name, not hidden, not an editor's temp or backup file, not refused by its
/// directory's filter.
pub(crate) fn is_script_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    name.ends_with(".py") && !is_ignored_name(name) && !filter::excluded(path)
}

/// Whether a `/`-separated relative path names a script in a folder that is not ignored.
pub(crate) fn is_script_relative_path(path: &str) -> bool {
    path.ends_with(".py") && !path.split('/').any(is_ignored_name)
}

/// Whether `path` lies in a hidden or `__pycache__` folder below one of `roots` (folders
/// above a root, such as a hidden temp folder, do not count).
pub(crate) fn in_ignored_folder(path: &Path, roots: &[PathBuf]) -> bool {
    let Some(rel) = roots.iter().find_map(|root| path.strip_prefix(root).ok()) else { return false };
    rel.parent().is_some_and(|folders| {
        folders.components().any(|c| is_ignored_name(&c.as_os_str().to_string_lossy()))
    })
}

/// The script a test file belongs to by name (`brain_unittest.py`, `test_brain.py` →
/// `brain.py`), whether or not it exists.
pub(crate) fn tested_script_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".py")?;
    let target = stem.strip_suffix("_unittest").or_else(|| stem.strip_prefix("test_"))?;
    (!target.is_empty()).then(|| format!("{target}.py"))
}

/// Whether `name` is a test file among the `.py` names of its folder: its script is there.
pub(crate) fn is_test_file(name: &str, siblings: &[String]) -> bool {
    tested_script_name(name).is_some_and(|script| siblings.contains(&script))
}

/// The test file of `script`, if one exists beside it (`<stem>_unittest.py` first).
pub(crate) fn test_file_for(script: &Path) -> Option<PathBuf> {
    test_files_for(script).into_iter().next()
}

/// Every test file beside `script` (both name forms may exist).
pub(crate) fn test_files_for(script: &Path) -> Vec<PathBuf> {
    let (Some(stem), Some(folder)) = (script.file_stem().and_then(|s| s.to_str()), script.parent()) else {
        return Vec::new();
    };
    [format!("{stem}_unittest.py"), format!("test_{stem}.py")]
        .into_iter()
        .map(|name| folder.join(name))
        .filter(|candidate| candidate.is_file())
        .collect()
}

/// The script a test file tests, if `file` is named like a test file and its script exists.
pub(crate) fn script_for(test_file: &Path) -> Option<PathBuf> {
    let script = tested_script_name(test_file.file_name()?.to_str()?)?;
    let script = test_file.parent()?.join(script);
    script.is_file().then_some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t5_test_file_names_map_to_their_script() {
        assert_eq!(tested_script_name("brain_unittest.py").as_deref(), Some("brain.py"));
        assert_eq!(tested_script_name("test_brain.py").as_deref(), Some("brain.py"));
        assert_eq!(tested_script_name("brain.py"), None);
        assert_eq!(tested_script_name("test_.py"), None);
    }

    #[test]
    fn l1_hidden_and_cache_names_are_ignored() {
        assert!(is_ignored_name(".git"));
        assert!(is_ignored_name(".brain.py.swp"));
        assert!(is_ignored_name("__pycache__"));
        assert!(!is_ignored_name("brain.py"));
        assert!(is_script_relative_path("ai/brain.py"));
        assert!(!is_script_relative_path("ai/__pycache__/brain.py"));
        assert!(!is_script_relative_path(".git/x.py"));
    }

    #[test]
    fn t5_a_test_file_without_its_script_is_a_script() {
        let siblings = vec!["test_x.py".to_string(), "a_unittest.py".into(), "a.py".into()];
        assert!(!is_test_file("test_x.py", &siblings));
        assert!(is_test_file("a_unittest.py", &siblings));
    }

    #[test]
    fn w1_scripts_and_ignored_folders() {
        let roots = [PathBuf::from("/x/.hidden-root")];
        assert!(is_script_path(Path::new("/s/ai/brain.py")));
        assert!(!is_script_path(Path::new("/s/ai/brain.txt")));
        assert!(in_ignored_folder(Path::new("/x/.hidden-root/.git/x.py"), &roots));
        assert!(in_ignored_folder(Path::new("/x/.hidden-root/ai/__pycache__/x.py"), &roots));
        assert!(!in_ignored_folder(Path::new("/x/.hidden-root/ai/x.py"), &roots));
        assert!(!is_script_path(Path::new("/s/.brain.py.swp")));
        assert!(!is_script_path(Path::new("/s/.edit.py")));
        assert!(!is_script_path(Path::new("/s/brain.py~")));
        assert!(!is_script_path(Path::new("/s/.#brain.py")));
    }

    #[test]
    fn t5_the_unittest_suffix_wins_over_the_test_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("brain.py");
        std::fs::write(&script, "").unwrap();
        assert_eq!(test_file_for(&script), None);
        std::fs::write(dir.path().join("test_brain.py"), "").unwrap();
        assert_eq!(test_file_for(&script), Some(dir.path().join("test_brain.py")));
        std::fs::write(dir.path().join("brain_unittest.py"), "").unwrap();
        assert_eq!(test_file_for(&script), Some(dir.path().join("brain_unittest.py")));
        assert_eq!(script_for(&dir.path().join("test_brain.py")), Some(script));
        assert_eq!(script_for(&dir.path().join("test_other.py")), None);
    }
}
