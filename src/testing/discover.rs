//! Which file holds a script's tests (T1, T5): `<stem>_unittest.py`, else `test_<stem>.py`,
//! beside the script. The test cases themselves are found in Python (`runner.py`).

use std::path::{Path, PathBuf};

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
    let name = test_file.file_name()?.to_str()?;
    let script = crate::engine::tested_script_name(name)?;
    let script = test_file.parent()?.join(script);
    script.is_file().then_some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unittest_suffix_wins_over_the_test_prefix() {
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
