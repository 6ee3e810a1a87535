//! The user's virtualenv (`VIRTUAL_ENV`): its packages are importable by scripts when it was
//! made from the Python relive runs; another Python's venv is an error naming both.

use std::process::Command;

use super::{relive_in, stderr, stdout};
use crate::util::ScriptDir;

/// Issue 14: a script importing a package installed only in the active venv loads.
#[test]
fn venv_packages_are_importable_when_virtual_env_is_set() {
    let dir = ScriptDir::new();
    let venv = dir.path().join("venv");
    let made = Command::new(relive::python::BUILD_PYTHON_EXECUTABLE.unwrap())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let site = super::python(&format!(
        "import sysconfig; print(sysconfig.get_path('purelib', vars={{'base': {v:?}, 'platbase': {v:?}}}), end='')",
        v = venv.to_str().unwrap()
    ));
    std::fs::create_dir_all(format!("{site}/venvonly")).unwrap();
    std::fs::write(format!("{site}/venvonly/__init__.py"), "ANSWER = 42\n").unwrap();
    dir.write("s/a.py", "import venvonly\nA = venvonly.ANSWER\n");
    let args = ["check", "s", "-n", "game", "--allow-no-tests"];
    let without = relive_in(&args, Some(dir.path()), &[]);
    assert_eq!(without.status.code(), Some(1));
    assert!(stdout(&without).contains("No module named 'venvonly'"), "{}", stdout(&without));
    let with = relive_in(&args, Some(dir.path()), &[("VIRTUAL_ENV", venv.to_str().unwrap())]);
    assert_eq!(with.status.code(), Some(0), "{}{}", stdout(&with), stderr(&with));
    assert!(stdout(&with).contains("game: A"), "{}", stdout(&with));
}

/// Issue 14: a venv made with another Python is a clear error (exit 2) naming both.
#[test]
fn venv_of_another_python_is_an_error_naming_both_versions() {
    let dir = ScriptDir::new();
    dir.write("venv/pyvenv.cfg", "home = /usr/local/python2.7/bin\nversion = 2.7.18\n");
    dir.write("s/a.py", "A = 1\n");
    let output = relive_in(&["check", "s", "-n", "game"], Some(dir.path()), &[("VIRTUAL_ENV", "venv")]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    let running = relive::python::BUILD_PYTHON_VERSION;
    assert!(
        err.contains("made with Python 2.7.18") && err.contains(&format!("relive runs Python {running}")),
        "{err}"
    );
}
