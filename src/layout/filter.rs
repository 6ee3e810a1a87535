//! Which `.py` files of a script directory are relive's at all: a filter a host registers
//! per directory (the CLI's `include`/`exclude` globs). A file the filter refuses is ignored
//! as a hidden file is: not listed as a script, and its changes are not watched.
//!
//! Filters are process-wide, keyed by the directory's canonical path, because listing and
//! watching happen in places that see a path but no reloader.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Decides from a path relative to the directory (`ai/brain.py`, `/`-separated) whether the
/// file is one of relive's.
pub type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

static FILTERS: RwLock<Vec<(PathBuf, Filter)>> = RwLock::new(Vec::new());

/// Registers `filter` for the directory `root` (replacing an earlier one); call it before
/// `add_directory`.
pub fn set_filter(root: &Path, filter: Filter) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut filters = FILTERS.write().unwrap_or_else(|p| p.into_inner());
    filters.retain(|(r, _)| *r != root);
    filters.push((root, filter));
}

/// Whether a filter refuses `file` (absolute, canonical or as listed). The innermost
/// registered directory holding it decides.
pub(crate) fn excluded(file: &Path) -> bool {
    let filters = FILTERS.read().unwrap_or_else(|p| p.into_inner());
    if filters.is_empty() {
        return false;
    }
    let canonical = file
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.join(file.file_name().unwrap_or_default()));
    let candidates = [Some(file.to_path_buf()), canonical];
    let decided = filters
        .iter()
        .filter_map(|(root, filter)| {
            let rel = candidates.iter().flatten().find_map(|f| f.strip_prefix(root).ok())?;
            Some((root.as_os_str().len(), filter, rel.to_path_buf()))
        })
        .max_by_key(|(len, _, _)| *len);
    decided.is_some_and(|(_, filter, rel)| {
        let rel: Vec<String> =
            rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        !filter(&rel.join("/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_directory_decides_and_others_are_untouched() {
        let outer = tempfile::tempdir().unwrap();
        let inner = outer.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        set_filter(outer.path(), Arc::new(|rel: &str| !rel.starts_with("skip")));
        set_filter(&inner, Arc::new(|rel: &str| rel != "only.py"));
        assert!(excluded(&outer.path().join("skip/a.py")));
        assert!(!excluded(&outer.path().join("keep.py")));
        assert!(excluded(&inner.join("only.py")));
        assert!(!excluded(&inner.join("skip/a.py")), "the inner filter decides inside it");
        assert!(!excluded(Path::new("/elsewhere/skip/a.py")));
    }
}
