//! Dependents (R15) through the public API: the arena example's tests/ folder gates the
//! scripts it imports, overwrite mode, and an apply failure inside a batch.

use std::path::Path;

use relive::{Mode, Outcome, RejectReason, Reloader};

use crate::util::{ScriptDir, eval, python_lock};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn r15_the_arena_tests_folder_rejects_a_change_to_arena_py_and_names_its_test() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    copy_tree(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/arena")), dir.path());
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("arena", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let arena = dir.path().join("arena.py");
    let good = std::fs::read_to_string(&arena).unwrap();
    // Every creature steps twice per tick: the tests/ folder's tick test fails.
    let broken = good.replace(
        "            creature.step(self)\n",
        "            creature.step(self)\n            creature.step(self)\n",
    );
    assert_ne!(broken, good);
    std::fs::write(&arena, &broken).unwrap();
    let reports = r.reload_batch([&arena]).unwrap();
    let of = |path: &str| {
        reports.iter().find(|r| r.path.as_str() == path).unwrap_or_else(|| panic!("{path}: {reports:?}"))
    };
    assert_eq!(of("arena.py").outcome, Outcome::Rejected);
    match &of("arena.py").reason {
        Some(RejectReason::BreaksDependent { dependent, problem }) => {
            assert_eq!(dependent.as_str(), "tests/test_arena.py");
            assert!(problem.contains("arena.tests.test_a_tick_moves_a_creature_one_square"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(of("tests/test_arena.py").outcome, Outcome::Rejected);
    assert_eq!(of("tests/test_arena.py").tests.as_ref().unwrap().failed(), 1);
    // Its file did not change: the report says so, for tools that track the file on disk.
    assert!(of("tests/test_arena.py").dependent && !of("arena.py").dependent);
    assert_eq!(r.version(&arena), Some(1));
    // A good change goes in, and the tests/ script reads retested.
    std::fs::write(&arena, good.replace("WIDTH = 20", "WIDTH = 21")).unwrap();
    let reports = r.reload_batch([&arena]).unwrap();
    let outcome = |path: &str| reports.iter().find(|r| r.path.as_str() == path).map(|r| r.outcome);
    assert_eq!(outcome("arena.py"), Some(Outcome::Reloaded), "{reports:?}");
    assert_eq!(outcome("tests/test_arena.py"), Some(Outcome::Retested), "{reports:?}");
    assert!(eval::<bool>("sys.modules['arena'].WIDTH == 21"));
}

#[test]
fn r15_o1_in_overwrite_mode_a_dependent_takes_the_new_objects() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let config = dir.write("config.py", "LIMIT = 1\n\ndef limit():\n    return LIMIT\n");
    dir.write("rules.py", "from game import LIMIT, limit\n\nDOUBLE = LIMIT * 2\n");
    let mut r = Reloader::builder().mode(Mode::Overwrite).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&config, "LIMIT = 4\n\ndef limit():\n    return LIMIT\n").unwrap();
    let reports = r.reload_batch([&config]).unwrap();
    let outcomes: Vec<(&str, Outcome)> = reports.iter().map(|r| (r.path.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("config.py", Outcome::Reloaded), ("rules.py", Outcome::Reloaded)]);
    assert!(eval::<bool>("sys.modules['game'].DOUBLE == 8"));
    assert!(eval::<bool>("sys.modules['game'].limit() == 4"));
    assert_eq!(r.version(dir.path().join("rules.py")), Some(1));
}

#[test]
fn r15_r2_an_apply_failure_in_a_batch_undoes_it_all_and_rejects_the_dependents_with_it() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let config = dir.write("config.py", "LIMIT = 1\n");
    dir.write("rules.py", "from game import LIMIT\n\nDOUBLE = LIMIT * 2\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&config, "LIMIT = 3\n").unwrap();
    r.inject_apply_failure(Some(1));
    let reports = r.reload_batch([&config]).unwrap();
    r.inject_apply_failure(None);
    let of = |path: &str| reports.iter().find(|r| r.path.as_str() == path).unwrap();
    assert_eq!(of("config.py").outcome, Outcome::Rejected);
    assert!(matches!(of("config.py").reason, Some(RejectReason::Apply { .. })), "{:?}", of("config.py"));
    assert_eq!(of("rules.py").outcome, Outcome::Rejected);
    assert!(
        matches!(of("rules.py").reason, Some(RejectReason::DependsOnRejected { .. })),
        "{:?}",
        of("rules.py")
    );
    assert!(eval::<bool>("sys.modules['game'].LIMIT == 1 and sys.modules['game'].DOUBLE == 2"));
    // Without the failure, both go in.
    std::fs::write(&config, "LIMIT = 5\n").unwrap();
    let reports = r.reload_batch([&config]).unwrap();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Reloaded), "{reports:?}");
    assert!(eval::<bool>("sys.modules['game'].DOUBLE == 10"));
}

#[test]
fn r14_r15_a_changed_script_whose_import_failed_to_run_is_still_tested_on_its_own() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let base = dir.write("base.py", "SIZE = 1\n");
    let user = dir.write("user.py", "from game import SIZE\n\ndef size():\n    return SIZE\n");
    dir.write("test_user.py", "def test_size():\n    assert size() == 1\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    // base.py's candidate raises; user.py changed too and is built against base in effect.
    std::fs::write(&base, "SIZE = 1\nraise RuntimeError('broken')\n").unwrap();
    std::fs::write(&user, "from game import SIZE\n\ndef size():\n    return SIZE + 1\n").unwrap();
    let reports = r.reload_batch([&base, &user]).unwrap();
    let of = |path: &str| reports.iter().find(|r| r.path.as_str() == path).unwrap();
    assert_eq!(of("base.py").outcome, Outcome::Rejected);
    assert_eq!(of("user.py").outcome, Outcome::Rejected, "its own test must run: {:?}", of("user.py"));
    assert_eq!(of("user.py").tests.as_ref().map(|t| t.failed()), Some(1));
    assert!(eval::<bool>("sys.modules['game'].size() == 1"));
    // A passing change of user.py goes in although base.py's candidate still fails.
    std::fs::write(&user, "from game import SIZE\n\ndef size():\n    return SIZE * 1\n").unwrap();
    let reports = r.reload_batch([&base, &user]).unwrap();
    let of = |path: &str| reports.iter().find(|r| r.path.as_str() == path).unwrap();
    assert_eq!(of("base.py").outcome, Outcome::Rejected);
    assert_eq!(of("user.py").outcome, Outcome::Reloaded, "{:?}", of("user.py"));
}

#[test]
fn r15_t7_with_tests_off_dependents_are_rebuilt_and_test_file_ties_are_ignored() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let config = dir.write("config.py", "LIMIT = 1\n");
    dir.write("rules.py", "from game import LIMIT\n\nDOUBLE = LIMIT * 2\n");
    dir.write("other.py", "def f():\n    return 1\n");
    dir.write("test_other.py", "from game import LIMIT\n\ndef test_f():\n    assert f() == LIMIT\n");
    let mut r = Reloader::builder().tests(false).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&config, "LIMIT = 2\n").unwrap();
    let reports = r.reload_batch([&config]).unwrap();
    let outcomes: Vec<(&str, Outcome)> = reports.iter().map(|r| (r.path.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("config.py", Outcome::Reloaded), ("rules.py", Outcome::Reloaded)]);
    assert!(reports.iter().all(|r| r.tests.is_none()), "{reports:?}");
    assert!(eval::<bool>("sys.modules['game'].DOUBLE == 4"));
}
