//! Script unit tests as the gate: rules T1–T7 and E2, and bad test files.

use std::time::{Duration, Instant};

use relive::{Outcome, RejectReason, Reloader, ScriptProblem, TestOutcome};

use crate::util::{ScriptDir, eval, logs, python_lock};

fn found_lines() -> Vec<String> {
    logs().into_iter().filter(|l| l.ends_with(" found")).collect()
}

const BRAIN: &str = "class Brain:\n    def think(self):\n        return 1\n";
const BRAIN_TESTS: &str = "import unittest\nclass BrainTest(unittest.TestCase):\n    def test_think(self):\n        self.assertEqual(Brain().think(), 1)\n    def test_type(self):\n        self.assertIsInstance(Brain(), Brain)\n";

#[test]
fn t1_t3_tests_in_the_script_and_its_test_file_are_found_and_logged_once() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write(
        "ai/brain.py",
        &format!("{BRAIN}import unittest\nclass InScript(unittest.TestCase):\n    def test_here(self):\n        self.assertTrue(True)\n"),
    );
    dir.write("ai/brain_unittest.py", BRAIN_TESTS);
    dir.write("one.py", "X = 1\n");
    dir.write("test_one.py", "import unittest\nclass T(unittest.TestCase):\n    def test_x(self):\n        self.assertEqual(X, 1)\n");
    dir.write("none.py", "Y = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.script("ai/brain.py").unwrap().tests.as_ref().unwrap().found, 3);
    assert_eq!(
        found_lines(),
        ["INFO ai/brain.py: 3 tests found", "INFO none.py: 0 tests found", "INFO one.py: 1 test found"]
    );
    // The test file's names stay in its own copy of the globals; test cases are never exported.
    assert!(eval::<bool>(
        "not hasattr(sys.modules['game.ai'], 'BrainTest') and not hasattr(sys.modules['game.ai'], 'InScript')"
    ));
    assert!(eval::<bool>("'BrainTest' not in sys.modules['game.ai'].Brain.think.__globals__"));
}

#[test]
fn t2_t4_a_failing_test_rejects_a_reload_and_the_old_code_keeps_running() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("brain.py", BRAIN);
    dir.write("brain_unittest.py", BRAIN_TESTS);
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&file, "class Brain:\n    def think(self):\n        return 2\n").unwrap();
    let report = r.reload(&file).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    let tests = report.tests.as_ref().unwrap();
    assert_eq!((tests.found, tests.failed()), (2, 1));
    let failure = tests.failures().next().unwrap();
    assert_eq!(failure.id, "game.BrainTest.test_think");
    assert_eq!(failure.outcome, TestOutcome::Fail);
    assert_eq!(failure.message, "AssertionError: 2 != 1");
    assert!(failure.traceback.contains("brain_unittest.py\", line 4"), "{}", failure.traceback);
    assert!(matches!(
        &report.reason,
        Some(RejectReason::Script { problem: ScriptProblem::Tests { failed: 1, found: 2, .. } })
    ));
    assert_eq!(eval::<i64>("sys.modules['game'].Brain().think()"), 1);
    assert_eq!(r.version(&file), Some(1));
    assert!(logs().iter().any(|l| l.starts_with("INFO brain.py: rejected")), "{:?}", logs());
}

#[test]
fn t2_failing_tests_fail_a_load() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("brain.py", "class Brain:\n    def think(self):\n        return 3\n");
    dir.write("brain_unittest.py", BRAIN_TESTS);
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let script = report.script("brain.py").unwrap();
    assert!(matches!(script.problem, Some(ScriptProblem::Tests { failed: 1, .. })), "{report}");
    assert_eq!(script.tests.as_ref().unwrap().found, 2);
    assert!(
        report.to_string().contains("FAIL game.BrainTest.test_think: AssertionError: 3 != 1"),
        "{report}"
    );
    assert!(eval::<bool>("'game' not in sys.modules"));
}

#[test]
fn t4_t6_skips_expected_failures_subtests_and_unexpected_successes() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    @unittest.skip('not today')\n    def test_skip(self):\n        pass\n\
         \x20   @unittest.expectedFailure\n    def test_xfail(self):\n        self.assertEqual(X, 2)\n\
         \x20   def test_sub(self):\n        for i in range(3):\n            with self.subTest(i=i):\n                self.assertLess(i, 5)\n",
    );
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let tests = report.script("a.py").unwrap().tests.clone().unwrap();
    let outcomes: Vec<(String, TestOutcome)> =
        tests.results.iter().map(|r| (r.id.clone(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("game.T.test_skip".to_string(), TestOutcome::Skip),
            ("game.T.test_sub".to_string(), TestOutcome::Pass),
            ("game.T.test_xfail".to_string(), TestOutcome::Xfail),
        ]
    );
    // An unexpected success rejects (T4); a failing subtest is reported with its parameters.
    let file = dir.write("a.py", "X = 2\n");
    let report = r.reload(&file).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected);
    let tests = report.tests.unwrap();
    assert_eq!(tests.failures().map(|f| f.outcome).collect::<Vec<_>>(), [TestOutcome::UnexpectedSuccess]);
    dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_sub(self):\n        for i in range(3):\n            with self.subTest(i=i):\n                self.assertLess(i, 2)\n",
    );
    let report = r.reload(dir.path().join("a_unittest.py")).unwrap();
    assert_eq!(report.outcome, Outcome::Retested);
    let tests = report.tests.unwrap();
    assert_eq!(tests.failures().map(|f| f.id.clone()).collect::<Vec<_>>(), ["game.T.test_sub (i=2)"]);
}

#[test]
fn t6_fixtures_and_output_capture() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "EVENTS = []\n");
    dir.write(
        "a_unittest.py",
        "import unittest, sys\nclass T(unittest.TestCase):\n    @classmethod\n    def setUpClass(cls):\n        EVENTS.append('setUpClass')\n\
         \x20   @classmethod\n    def tearDownClass(cls):\n        EVENTS.append('tearDownClass')\n\
         \x20   def setUp(self):\n        EVENTS.append('setUp')\n    def tearDown(self):\n        EVENTS.append('tearDown')\n\
         \x20   def test_print(self):\n        print('to stdout')\n        print('to stderr', file=sys.stderr)\n",
    );
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let result = &report.script("a.py").unwrap().tests.as_ref().unwrap().results[0];
    assert_eq!((result.stdout.as_str(), result.stderr.as_str()), ("to stdout\n", "to stderr\n"));
    assert!(eval::<bool>(
        "sys.modules['game'].EVENTS == ['setUpClass', 'setUp', 'tearDown', 'tearDownClass']"
    ));
}

#[test]
fn t6_sys_exit_and_keyboard_interrupt_in_a_test_are_errors_and_relive_survives() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest, sys\nclass T(unittest.TestCase):\n    def test_exit(self):\n        sys.exit(3)\n",
    );
    dir.write("b.py", "Y = 1\n");
    dir.write(
        "b_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_interrupt(self):\n        raise KeyboardInterrupt\n    def test_later(self):\n        pass\n",
    );
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let a = report.script("a.py").unwrap().tests.clone().unwrap();
    assert_eq!(a.results[0].outcome, TestOutcome::Error);
    assert!(a.results[0].message.contains("sys.exit(3)"), "{}", a.results[0].message);
    let b = report.script("b.py").unwrap().tests.clone().unwrap();
    assert_eq!(b.results[0].outcome, TestOutcome::Error);
    assert!(b.results[0].message.contains("KeyboardInterrupt"));
    assert_eq!(b.results[1].outcome, TestOutcome::Pass, "the run goes on after the interrupted test");
    assert_eq!(eval::<i64>("1 + 1"), 2);
}

#[test]
fn t6_e2_an_endless_test_is_stopped_by_the_timeout() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_ok(self):\n        pass\n",
    );
    let mut r = Reloader::builder().test_timeout(Duration::from_millis(300)).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_a_loop(self):\n        while True:\n            pass\n    def test_b_later(self):\n        pass\n",
    );
    std::fs::write(&file, "X = 2\n").unwrap();
    let start = Instant::now();
    let report = r.reload(&file).unwrap();
    assert!(start.elapsed() < Duration::from_millis(300 + 1000), "stopped within the timeout plus a second");
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(
        matches!(
            &report.reason,
            Some(RejectReason::Script { problem: ScriptProblem::Timeout { abandoned: false, .. } })
        ),
        "{report}"
    );
    let tests = report.tests.unwrap();
    assert_eq!(tests.results.len(), 1, "the run stops at the timeout: {tests:?}");
    assert!(tests.timed_out);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 1);
}

#[test]
fn e2_an_endless_loop_at_module_level_is_stopped_by_the_timeout() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "X = 1\n");
    let mut r = Reloader::builder().test_timeout(Duration::from_millis(300)).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&file, "X = 2\nwhile True:\n    pass\n").unwrap();
    let report = r.reload(&file).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected);
    let reason = report.reason.unwrap().to_string();
    assert_eq!(reason, "timed out after 0.3 s in module-level code");
    std::fs::write(&file, "X = 3\n").unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded, "the process stays usable");
}

#[test]
fn t6_code_blocked_in_c_is_abandoned_after_a_second_and_logged() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "X = 1\n");
    let mut r = Reloader::builder().test_timeout(Duration::from_millis(200)).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&file, "import time\ntime.sleep(3)\nX = 2\n").unwrap();
    let start = Instant::now();
    let report = r.reload(&file).unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(1200) && waited < Duration::from_millis(2500), "{waited:?}");
    assert!(
        matches!(
            &report.reason,
            Some(RejectReason::Script { problem: ScriptProblem::Timeout { abandoned: true, .. } })
        ),
        "{report}"
    );
    assert!(logs().iter().any(|l| l.starts_with("ERROR a.py: abandoned a worker thread")), "{:?}", logs());
    std::fs::write(&file, "X = 4\n").unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 4);
}

#[test]
fn t5_editing_adding_and_deleting_a_test_file_retests_the_code_in_effect() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("brain.py", BRAIN);
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    let test_file = dir.write("brain_unittest.py", BRAIN_TESTS);
    let report = r.reload(&test_file).unwrap();
    assert_eq!((report.path.as_str(), report.outcome), ("brain.py", Outcome::Retested));
    assert_eq!(report.tests.as_ref().unwrap().found, 2);
    std::fs::write(&test_file, BRAIN_TESTS.replace("think(), 1", "think(), 9")).unwrap();
    let report = r.reload(&test_file).unwrap();
    assert_eq!(report.outcome, Outcome::Retested);
    assert_eq!(report.tests.as_ref().unwrap().failed(), 1);
    assert_eq!(r.version(dir.path().join("brain.py")), Some(1), "the code does not change");
    std::fs::remove_file(&test_file).unwrap();
    let report = r.reload(&test_file).unwrap();
    assert_eq!(report.outcome, Outcome::Retested);
    assert_eq!(report.tests.unwrap().found, 0);
}

#[test]
fn t5_a_script_and_its_test_file_changed_together_are_tested_once_with_the_new_tests() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let script = dir.write("brain.py", BRAIN);
    let tests = dir.write("brain_unittest.py", BRAIN_TESTS);
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    let before = found_lines().len();
    std::fs::write(&script, BRAIN.replace("return 1", "return 5")).unwrap();
    std::fs::write(&tests, BRAIN_TESTS.replace("think(), 1", "think(), 5")).unwrap();
    let reports = r.reload_batch([&tests, &script]).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Reloaded, "{}", reports[0]);
    assert_eq!(found_lines().len() - before, 1, "one test run");
}

#[test]
fn t7_tests_can_be_switched_off() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("brain.py", "class Brain:\n    def think(self):\n        return 2\n");
    dir.write("brain_unittest.py", BRAIN_TESTS);
    let mut r = Reloader::builder().tests(false).build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded);
    assert!(report.script("brain.py").unwrap().tests.is_none());
    assert!(found_lines().is_empty());
}

#[test]
fn bad_test_files_are_reported_against_the_test_file() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("a_unittest.py", "import unittest\nclass T(unittest.TestCase:\n    pass\n");
    dir.write("b.py", "B = 1\n");
    dir.write("b_unittest.py", "import no_such_module_for_tests\n");
    dir.write("c.py", "C = 1\n");
    dir.write(
        "c_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    @classmethod\n    def setUpClass(cls):\n        raise RuntimeError('fixture broke')\n    def test_x(self):\n        pass\n",
    );
    dir.write("d.py", "class D:\n    pass\ndef make():\n    return D()\n");
    dir.write("d_unittest.py", "import unittest\nclass T(unittest.TestCase):\n    def test_del(self):\n        global D\n        del D\n");
    let mut r = Reloader::builder().partial(true).build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    let first = |path: &str| report.script(path).unwrap().tests.clone().unwrap().results[0].clone();
    let a = first("a.py");
    assert_eq!(a.id, "a_unittest.py (loading the test file)");
    assert!(a.message.starts_with("SyntaxError") && a.traceback.contains("a_unittest.py\", line 2"), "{a:?}");
    let b = first("b.py");
    assert!(b.message.contains("ModuleNotFoundError") && b.id.contains("b_unittest.py"), "{b:?}");
    let c = first("c.py");
    assert_eq!(c.outcome, TestOutcome::Error);
    assert!(c.id.starts_with("setUpClass") && c.message == "RuntimeError: fixture broke", "{c:?}");
    assert_eq!(report.script("d.py").unwrap().outcome, Outcome::Loaded);
    assert!(
        eval::<bool>("type(sys.modules['game'].make()).__name__ == 'D'"),
        "the test's copy of the globals protects the script"
    );
}

#[test]
fn issue17_duration_covers_the_whole_reload_and_its_breakdown_adds_up() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("ai/brain.py", BRAIN);
    dir.write("ai/brain_unittest.py", BRAIN_TESTS);
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    dir.write("ai/brain.py", &BRAIN.replace("return 1", "return 1  # edited"));
    let report = r.reload(dir.path().join("ai/brain.py")).unwrap();
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    let t = report.timings;
    // Every phase ran, so each took some time; together they are the whole duration.
    for (phase, ms) in
        [("read", t.read_ms), ("compile", t.compile_ms), ("execute", t.execute_ms), ("test", t.test_ms)]
    {
        assert!(ms > 0.0, "{phase}: {t}");
    }
    let sum = t.read_ms + t.compile_ms + t.execute_ms + t.test_ms + t.apply_ms;
    assert!((sum - report.duration_ms).abs() < 1e-6, "{t} vs {}", report.duration_ms);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["timings"]["compile_ms"].is_number(), "{json}");
    assert!(t.to_string().starts_with("read "), "{t}");
}

#[test]
fn t6_issue17_a_script_blocked_in_c_while_loading_is_abandoned_and_the_scripts_after_it_still_run() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("b.py", "import time\ntime.sleep(3)\nB = 2\n");
    dir.write("c.py", "from game import A\nC = A + 1\n");
    let mut r = Reloader::builder().partial(true).test_timeout(Duration::from_millis(200)).build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    let outcomes: Vec<(&str, Outcome, u32)> =
        report.scripts.iter().map(|s| (s.path.as_str(), s.outcome, s.executions)).collect();
    assert_eq!(
        outcomes,
        [("a.py", Outcome::Loaded, 1), ("b.py", Outcome::Pending, 1), ("c.py", Outcome::Loaded, 1)],
        "{report}"
    );
    assert!(
        matches!(&report.scripts[1].problem, Some(ScriptProblem::Timeout { abandoned: true, .. })),
        "{report}"
    );
    assert!(logs().iter().any(|l| l.starts_with("ERROR b.py: abandoned a worker thread")), "{:?}", logs());
    assert_eq!(eval::<i64>("sys.modules['game'].C"), 2);
    assert!(!eval::<bool>("hasattr(sys.modules['game'], 'B')"), "the abandoned script exported nothing");
}

#[test]
fn t6_issue17_a_test_blocked_in_c_in_a_batch_is_abandoned_and_the_next_members_are_still_tested() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let a = dir.write("a.py", "X = 1\n");
    let b = dir.write("b.py", "Y = 1\n");
    let mut r = Reloader::builder().test_timeout(Duration::from_millis(200)).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&a, "X = 2\n\ndef test_slow():\n    import time\n    time.sleep(3)\n").unwrap();
    std::fs::write(&b, "Y = 2\n\ndef test_y():\n    assert Y == 2\n").unwrap();
    let reports = r.reload_batch([&a, &b]).unwrap();
    let outcomes: Vec<(&str, Outcome)> = reports.iter().map(|r| (r.path.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("a.py", Outcome::Rejected), ("b.py", Outcome::Reloaded)], "{reports:?}");
    assert!(
        matches!(
            &reports[0].reason,
            Some(RejectReason::Script { problem: ScriptProblem::Timeout { abandoned: true, .. } })
        ),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1].tests.as_ref().map(|t| t.found), Some(1), "{}", reports[1]);
    assert!(logs().iter().any(|l| l.starts_with("ERROR a.py: abandoned a worker thread")), "{:?}", logs());
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 1);
    assert_eq!(eval::<i64>("sys.modules['game'].Y"), 2);
}

#[test]
fn t6_issue17_module_code_blocked_in_c_in_a_batch_is_abandoned_and_the_next_members_still_build() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let a = dir.write("a.py", "X = 1\n");
    let b = dir.write("b.py", "Y = 1\n");
    let mut r = Reloader::builder().test_timeout(Duration::from_millis(200)).build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&a, "import time\ntime.sleep(3)\nX = 2\n").unwrap();
    std::fs::write(&b, "Y = 2\n").unwrap();
    let reports = r.reload_batch([&a, &b]).unwrap();
    let outcomes: Vec<(&str, Outcome)> = reports.iter().map(|r| (r.path.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("a.py", Outcome::Rejected), ("b.py", Outcome::Reloaded)], "{reports:?}");
    assert!(
        matches!(
            &reports[0].reason,
            Some(RejectReason::Script { problem: ScriptProblem::Timeout { abandoned: true, .. } })
        ),
        "{}",
        reports[0]
    );
    assert!(logs().iter().any(|l| l.starts_with("ERROR a.py: abandoned a worker thread")), "{:?}", logs());
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 1);
    assert_eq!(eval::<i64>("sys.modules['game'].Y"), 2);
    std::fs::write(&a, "X = 3\n").unwrap();
    assert_eq!(r.reload(&a).unwrap().outcome, Outcome::Reloaded, "its compiled code was not needed again");
}
