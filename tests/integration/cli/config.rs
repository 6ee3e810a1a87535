//! `[tool.relive]` in a pyproject.toml found from the script directory upward; flags
//! override it; include/exclude globs choose the scripts.

use super::{relive_in, stdout};
use crate::util::ScriptDir;

const PASSING: &str = "import unittest\nclass T(unittest.TestCase):\n    def test_ok(self):\n        pass\n";

/// Issue 14: the table is found from the directory upward and sets namespace, tests,
/// test_timeout and the globs; flags override it.
#[test]
fn config_from_pyproject_upward_and_flags_override() {
    let dir = ScriptDir::new();
    dir.write(
        "pyproject.toml",
        "[project]\nname = 'x'\n\n[tool.relive]\nnamespace = 'arena'\ntests = true\ntest_timeout = 5\ninclude = ['**/*.py']\nexclude = ['drafts/**', '*_old.py']\n",
    );
    dir.write("src/scripts/a.py", "import arena\nA = 1\n");
    dir.write("src/scripts/a_unittest.py", PASSING);
    dir.write("src/scripts/b_old.py", "raise RuntimeError('excluded')\n");
    dir.write("src/scripts/drafts/c.py", "raise RuntimeError('excluded too')\n");
    let output = relive_in(&["check", "src/scripts"], Some(dir.path()), &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", super::stderr(&output));
    assert!(text.starts_with("loaded arena from src/scripts: 1 script"), "{text}");
    assert!(!text.contains("b_old.py") && !text.contains("c.py"), "{text}");
    // Flags win: another namespace, and an exclude list that replaces the file's.
    let output =
        relive_in(&["check", "src/scripts", "-n", "other", "--exclude", "drafts/**"], Some(dir.path()), &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("b_old.py") && !text.contains("drafts/c.py"), "{text}");
    assert!(text.contains("No module named 'arena'"), "{text}");
    // --no-config reads no file: the namespace is the folder's name.
    let output = relive_in(&["check", "src/scripts", "--no-config", "--partial"], Some(dir.path()), &[]);
    assert!(stdout(&output).starts_with("loaded scripts from"), "{}", stdout(&output));
}

/// Issue 14: `tests = false` in the file turns the tests off; an unknown key is an error
/// (exit 2) naming the file.
#[test]
fn config_turns_tests_off_and_rejects_unknown_keys() {
    let dir = ScriptDir::new();
    dir.write("pyproject.toml", "[tool.relive]\ntests = false\n");
    dir.write("s/a.py", "A = 1\n");
    dir.write(
        "s/a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_bad(self):\n        self.fail('no')\n",
    );
    let output = relive_in(&["check", "s", "-n", "game"], Some(dir.path()), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    dir.write("pyproject.toml", "[tool.relive]\ntest = false\n");
    let output = relive_in(&["check", "s", "-n", "game"], Some(dir.path()), &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = super::stderr(&output);
    assert!(err.contains("pyproject.toml") && err.contains("unknown field `test`"), "{err}");
}
