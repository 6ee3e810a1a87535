//! Issue 15: relive hosted by a Python program. The regression tests of the three bugs the
//! prototype found (the main thread, finalization, a folder Python can find on `sys.path`)
//! and, in `python_package`, the extension module built as maturin builds it, driven by a
//! Python `unittest` suite.

use std::process::Command;

use relive::{Error, Outcome, Reloader};

use crate::util::{ScriptDir, python_lock, run};

/// Issue 15, bug 1: `threading` was first imported on relive's worker thread, so Python
/// took the worker for its main thread. Scripts and their tests run on the worker: there
/// the main thread must be another thread, the binary's own.
#[test]
fn issue_15_the_worker_is_not_pythons_main_thread() {
    let dir = ScriptDir::new();
    dir.write(
        "probe.py",
        "import threading\nON_MAIN = threading.current_thread() is threading.main_thread()\n\
         MAIN_IDENT = threading.main_thread().ident\n",
    );
    // A test file runs with its script's globals (T2), so it sees `ON_MAIN` directly.
    dir.write(
        "probe_unittest.py",
        "import threading, unittest\n\n\
         class Main(unittest.TestCase):\n\
         \x20   def test_the_worker_is_not_the_main_thread(self):\n\
         \x20       self.assertFalse(ON_MAIN)\n\
         \x20       self.assertNotEqual(threading.get_ident(), MAIN_IDENT)\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(["check", "--namespace", "probe_ns"])
        .arg(dir.path())
        .env_remove("RELIVE_LOG")
        .output()
        .expect("relive runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

/// Issue 15, bug 3: a script folder Python can also find on `sys.path` (a `game/` folder
/// beside the host's `app.py`) was refused as a taken namespace, called "built-in".
#[test]
fn issue_15_a_folder_python_finds_on_sys_path_loads_under_its_own_name() {
    let _lock = python_lock();
    let app = ScriptDir::new();
    app.write("pathgame/hero.py", "class Hero:\n    pass\n");
    let parent = app.path().canonicalize().expect("canonical");
    run(&format!("sys.path.insert(0, {:?})", parent.display().to_string()));
    let mut reloader = Reloader::builder().tests(false).build().expect("reloader");
    let loaded = reloader.add_directory("pathgame", app.path().join("pathgame"));
    run(&format!("sys.path.remove({:?})", parent.display().to_string()));
    let report = loaded.expect("the folder itself does not take its name");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
}

/// The other side of the same rule (L2): a namespace package made of another folder is a
/// module relive does not own, and the error names its folder instead of "built-in".
#[test]
fn issue_15_another_folder_on_sys_path_takes_the_name_and_is_named() {
    let _lock = python_lock();
    let app = ScriptDir::new();
    app.write("elsewhere/pathtaken/data.txt", "not a script\n");
    app.write("scripts/hero.py", "class Hero:\n    pass\n");
    let on_path = app.path().join("elsewhere").canonicalize().expect("canonical");
    run(&format!("sys.path.insert(0, {:?})", on_path.display().to_string()));
    let mut reloader = Reloader::builder().tests(false).build().expect("reloader");
    let loaded = reloader.add_directory("pathtaken", app.path().join("scripts"));
    run(&format!("sys.path.remove({:?})", on_path.display().to_string()));
    match loaded {
        Err(err @ Error::NamespaceTaken { .. }) => {
            let text = err.to_string();
            assert!(text.contains("namespace package 'pathtaken'"), "{text}");
            assert!(text.contains(&on_path.join("pathtaken").display().to_string()), "{text}");
            assert!(!text.contains("built-in"), "{text}");
        }
        other => panic!("expected a taken namespace, got {other:?}"),
    }
}
