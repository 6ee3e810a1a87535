//! Plain test functions as the gate (T8), module fixtures (T6) and counts (T3), through the
//! public API and the `relive check` binary.

use std::process::Command;

use relive::{Outcome, RejectReason, Reloader, ScriptProblem, TestOutcome};

use crate::util::{ScriptDir, python_lock};

const CALC: &str = "def add(a, b):\n    return a + b\n";

#[test]
fn t8_relive_check_exits_1_and_shows_the_compared_values() {
    let dir = ScriptDir::new();
    dir.write("calc.py", CALC);
    dir.write("test_calc.py", "def test_add():\n    assert add(1, 2) == 4\n");
    let output = Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(["check", dir.path().to_str().unwrap(), "--namespace", "game"])
        .env_remove("RELIVE_LOG")
        .output()
        .expect("relive runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("game.test_add"), "{text}");
    assert!(text.contains("assert 3 == 4 (where 3 = add(1, 2))"), "{text}");
    // The traceback shows the assert's own line of the test file.
    assert!(text.contains("test_calc.py\", line 2, in test_add"), "{text}");
}

#[test]
fn t8_a_passing_plain_test_lets_the_load_through_and_gates_reloads() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let script = dir.write("calc.py", CALC);
    dir.write("test_calc.py", "def test_add():\n    assert add(2, 2) == 4\n\nclass TestAdd:\n    def test_zero(self):\n        assert add(0, 0) == 0\n");
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let tests = report.script("calc.py").unwrap().tests.as_ref().unwrap();
    assert_eq!((tests.found, tests.passed()), (2, 2));
    let ids: Vec<_> = tests.results.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["game.test_add", "game.TestAdd.test_zero"]);

    dir.write("calc.py", "def add(a, b):\n    return a - b\n");
    let report = r.reload(&script).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    let Some(RejectReason::Script { problem: ScriptProblem::Tests { found: 2, failed: 1, .. } }) =
        &report.reason
    else {
        panic!("expected one failed test of two: {report}");
    };
    let failure = report.tests.as_ref().unwrap().failures().next().unwrap();
    assert_eq!((failure.id.as_str(), failure.outcome), ("game.test_add", TestOutcome::Fail));
    assert_eq!(failure.message, "AssertionError: assert 0 == 4 (where 0 = add(2, 2))");
}

#[test]
fn t3_failing_sub_tests_count_once_and_a_broken_test_file_is_not_1_of_0() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("calc.py", CALC);
    dir.write(
        "calc_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_many(self):\n        for i in range(3):\n            with self.subTest(i=i):\n                self.assertEqual(add(i, 0), -1)\n",
    );
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    let tests = report.script("calc.py").unwrap().tests.as_ref().unwrap();
    assert_eq!((tests.found, tests.failed(), tests.results.len()), (1, 1, 3));
    assert!(tests.results.iter().all(|t| t.parent.as_deref() == Some("game.T.test_many")));

    dir.write("calc_unittest.py", "import module_that_is_not_there\n");
    let report = r.add_directory("game", dir.path()).unwrap();
    let problem = &report.script("calc.py").unwrap().problem;
    assert!(matches!(problem, Some(ScriptProblem::TestFile { .. })), "{report}");
    assert!(!report.to_string().contains("1 of 0"), "{report}");
}
