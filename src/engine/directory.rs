//! A script directory on disk: its listing (following links, skipping loops) and the
//! namespace each folder maps to (L1). What counts as a script or a test file is decided in
//! `crate::layout`.

use std::path::{Path, PathBuf};

use crate::engine::error::Error;
use crate::layout::{ScriptPath, entry_name, is_script_path, is_test_file};

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
            let Some(name) = entry_name(&entry) else { continue };
            let path = entry.path();
            match entry_kind(&path, &canonical_root, &mut seen) {
                Entry::Folder => folders.push(path),
                Entry::Script => py_files.push(name),
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
fn entry_kind(path: &Path, root: &Path, seen: &mut std::collections::BTreeSet<PathBuf>) -> Entry {
    let Ok(meta) = std::fs::metadata(path) else {
        // A broken link named `*.py` is a script that cannot be read: an error naming it (E1).
        return if is_script_path(path) { Entry::Script } else { Entry::Other };
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
    if !is_script_path(path) {
        return Entry::Other;
    }
    if !meta.is_file() {
        log::warn!("skipping {}: {}, not a regular file", path.display(), super::script::kind_of(&meta));
        return Entry::Other;
    }
    Entry::Script
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
