//! A script directory on disk: which files are scripts, which are test files, and which
//! namespace each folder maps to (L1, T5 terms).
//!
//! Hidden folders and files (`.x`), `__pycache__` and non-`.py` files are ignored. A test
//! file (`<stem>_unittest.py`, `test_<stem>.py`) is not a script while its script exists
//! beside it.

use std::path::{Path, PathBuf};

use crate::engine::error::Error;
use crate::report::ScriptPath;

/// One script found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundScript {
    /// Path relative to the directory.
    pub(crate) path: ScriptPath,
    /// Absolute file path.
    pub(crate) file: PathBuf,
    /// Dotted namespace name.
    pub(crate) namespace: String,
}

/// The scripts of a directory and every namespace they need, both sorted.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) scripts: Vec<FoundScript>,
    pub(crate) namespaces: Vec<String>,
}

/// Whether a file or folder name is ignored by relive (hidden, `__pycache__`).
pub(crate) fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__"
}

/// The script a test file belongs to by name (`brain_unittest.py`, `test_brain.py` →
/// `brain.py`), whether or not it exists.
pub(crate) fn tested_script_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".py")?;
    let target = stem.strip_suffix("_unittest").or_else(|| stem.strip_prefix("test_"))?;
    (!target.is_empty()).then(|| format!("{target}.py"))
}

/// Lists `root` (already known to be a directory) for base namespace `base`.
///
/// `is_valid_name` decides whether a folder name can be a namespace component, returning
/// the reason when it cannot (Python decides: identifiers and keywords).
pub(crate) fn list(
    root: &Path,
    base: &str,
    is_valid_name: &dyn Fn(&str) -> Result<(), &'static str>,
) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    let mut folders = vec![root.to_path_buf()];
    // Canonical folders already listed: a link back into the tree is a loop (W1).
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut seen = std::collections::BTreeSet::new();
    seen.insert(canonical_root.clone());
    while let Some(folder) = folders.pop() {
        let mut py_files = Vec::new();
        let entries =
            std::fs::read_dir(&folder).map_err(|source| Error::Io { path: folder.clone(), source })?;
        let mut entries: Vec<_> =
            entries.collect::<Result<_, _>>().map_err(|source| Error::Io { path: folder.clone(), source })?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                log::warn!("skipping {}: its name is not valid UTF-8 (E3)", path.display());
                continue;
            };
            if is_ignored_name(&name) {
                continue;
            }
            match entry_kind(&path, &name, &canonical_root, &mut seen) {
                Entry::Folder => folders.push(path),
                Entry::Script if !super::filter::excluded(&path) => py_files.push(name),
                Entry::Script => {}
                Entry::Other => {}
            }
        }
        let scripts: Vec<&String> = py_files.iter().filter(|name| !is_test_file(name, &py_files)).collect();
        if scripts.is_empty() && folder != root {
            continue;
        }
        let namespace = namespace_of(root, &folder, base, is_valid_name)?;
        for name in scripts {
            let file = folder.join(name);
            let path = ScriptPath::relative(root, &file).expect("listed under the root");
            listing.scripts.push(FoundScript { path, file, namespace: namespace.clone() });
        }
        listing.namespaces.push(namespace);
    }
    listing.scripts.sort_by(|a, b| a.path.cmp(&b.path));
    listing.namespaces.sort();
    Ok(listing)
}

/// What a directory entry is to relive.
enum Entry {
    /// A folder to list (a link to a folder included).
    Folder,
    /// A `.py` regular file.
    Script,
    /// Anything else, skipped.
    Other,
}

/// Tells a folder, a script and anything else apart, following symbolic links. Skips with a
/// warning a `.py` that is not a regular file, and a link to a folder inside the tree or to
/// one already listed: a loop, or a second way to the same scripts (W1).
fn entry_kind(path: &Path, name: &str, root: &Path, seen: &mut std::collections::BTreeSet<PathBuf>) -> Entry {
    let Ok(meta) = std::fs::metadata(path) else {
        // A broken link named `*.py` is a script that cannot be read: an error naming it (E1).
        return if name.ends_with(".py") { Entry::Script } else { Entry::Other };
    };
    if meta.is_dir() {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let is_loop = is_link && (canonical.starts_with(root) || root.starts_with(&canonical));
        if is_loop || !seen.insert(canonical.clone()) {
            log::warn!(
                "skipping {}: a link to {}, which is already watched (a loop)",
                path.display(),
                canonical.display()
            );
            return Entry::Other;
        }
        return Entry::Folder;
    }
    if !name.ends_with(".py") {
        return Entry::Other;
    }
    if !meta.is_file() {
        log::warn!("skipping {}: {}, not a regular file", path.display(), super::script::kind_of(&meta));
        return Entry::Other;
    }
    Entry::Script
}

fn is_test_file(name: &str, siblings: &[String]) -> bool {
    tested_script_name(name).is_some_and(|script| siblings.contains(&script))
}

/// The namespace of `folder` under `root`: `game`, `game.ai`, ... (L1).
pub(crate) fn namespace_of(
    root: &Path,
    folder: &Path,
    base: &str,
    is_valid_name: &dyn Fn(&str) -> Result<(), &'static str>,
) -> Result<String, Error> {
    let mut namespace = base.to_string();
    let rel = folder.strip_prefix(root).unwrap_or(Path::new(""));
    for component in rel.components() {
        let name = component.as_os_str().to_string_lossy();
        is_valid_name(&name).map_err(|reason| Error::InvalidFolderName {
            folder: folder.to_path_buf(),
            name: name.to_string(),
            reason,
        })?;
        namespace.push('.');
        namespace.push_str(&name);
    }
    Ok(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_names_map_to_their_script() {
        assert_eq!(tested_script_name("brain_unittest.py").as_deref(), Some("brain.py"));
        assert_eq!(tested_script_name("test_brain.py").as_deref(), Some("brain.py"));
        assert_eq!(tested_script_name("brain.py"), None);
        assert_eq!(tested_script_name("test_.py"), None);
    }

    #[test]
    fn hidden_and_cache_names_are_ignored() {
        assert!(is_ignored_name(".git"));
        assert!(is_ignored_name(".brain.py.swp"));
        assert!(is_ignored_name("__pycache__"));
        assert!(!is_ignored_name("brain.py"));
    }

    #[test]
    fn a_test_file_without_its_script_is_a_script() {
        let siblings = vec!["test_x.py".to_string(), "a_unittest.py".into(), "a.py".into()];
        assert!(!is_test_file("test_x.py", &siblings));
        assert!(is_test_file("a_unittest.py", &siblings));
    }
}
