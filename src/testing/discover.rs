//! Which file holds a script's tests (T1, T5): `<stem>_unittest.py`, else `test_<stem>.py`,
//! beside the script. The test cases themselves are found in Python (`runner.py`).

use std::path::{Path, PathBuf};

/// The test file of `script`, if one exists beside it.
pub(crate) fn test_file_for(script: &Path) -> Option<PathBuf> {
    let stem = script.file_stem()?.to_str()?;
    let folder = script.parent()?;
    [format!("{stem}_unittest.py"), format!("test_{stem}.py")]
        .into_iter()
        .map(|name| folder.join(name))
        .find(|candidate| candidate.is_file())
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
