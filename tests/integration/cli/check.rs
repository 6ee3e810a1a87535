//! `relive check`: the CI gate's output and exit codes.

use super::{relive, stdout};
use crate::util::ScriptDir;

#[test]
fn check_loads_the_bundled_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/arena");
    let output = relive(&["check", example]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    assert!(text.starts_with("loaded arena from "), "{text}");
    assert!(text.contains("arena.ai: Brain, MOVES"), "{text}");
}

/// `relive check ... | head`: the reader goes away before the report is written. The
/// exit code is the check's own, with no panic on stderr.
#[test]
fn check_keeps_its_exit_code_when_the_reader_of_its_output_goes_away() {
    let dir = ScriptDir::new();
    dir.write("calc.py", "def add(a, b):\n    return a + b\n");
    dir.write("test_calc.py", "def test_add():\n    assert add(1, 2) == 4\n");
    for format in ["human", "json"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_relive"))
            .args(["check", dir.path().to_str().unwrap(), "--namespace", "game", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // closed before relive writes a byte
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{format}: {stderr}");
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
    }
}

#[test]
fn check_exits_1_and_names_file_and_line_when_a_script_fails() {
    let dir = ScriptDir::new();
    dir.write("good.py", "G = 1\n");
    dir.write("ai/bad.py", "X = 1\nY = undefined_name\n");
    let output = relive(&["check", dir.path().to_str().unwrap(), "--namespace", "game"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.starts_with("load failed: game from"), "{text}");
    assert!(text.contains("ai/bad.py"), "{text}");
    assert!(text.contains("NameError: name 'undefined_name' is not defined"), "{text}");
    assert!(text.contains("bad.py:2"), "{text}");
}

#[test]
fn check_json_is_the_report() {
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let output = relive(&[
        "check",
        dir.path().to_str().unwrap(),
        "-n",
        "game",
        "--format",
        "json",
        "--allow-no-tests",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("valid JSON");
    assert_eq!(json["outcome"], "loaded");
    assert_eq!(json["scripts"][0]["path"], "a.py");
    assert_eq!(json["scripts"][0]["contributions"][0], "A");
}

#[test]
fn check_exits_2_on_a_missing_folder_and_on_usage_errors() {
    let dir = ScriptDir::new();
    let missing = dir.path().join("absent");
    let output = relive(&["check", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
    assert_eq!(relive(&["check"]).status.code(), Some(2));
    assert_eq!(relive(&["check", ".", "--format", "yaml"]).status.code(), Some(2));
}

#[test]
fn check_exits_2_on_a_taken_namespace() {
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("namespace json is already taken"));
}

#[test]
fn check_partial_still_fails_but_reports_pending() {
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("b.py", "raise ValueError('nope')\n");
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--partial"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("1 pending"), "{text}");
    assert!(text.contains("b.py") && text.contains("pending"), "{text}");
}

#[test]
fn check_names_the_failing_test_file_and_assertion_and_exits_1() {
    let dir = ScriptDir::new();
    dir.write("brain.py", "def think():\n    return 1\n");
    dir.write(
        "brain_unittest.py",
        "import unittest\nclass BrainTest(unittest.TestCase):\n    def test_ok(self):\n        pass\n    def test_think(self):\n        self.assertEqual(think(), 2)\n",
    );
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL game.BrainTest.test_think: AssertionError: 1 != 2"), "{text}");
    assert!(text.contains("brain_unittest.py\", line 6"), "{text}");
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
}

#[test]
fn check_stops_a_hanging_test_within_the_timeout_plus_a_second() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write("a_unittest.py", "import unittest\nclass T(unittest.TestCase):\n    def test_hang(self):\n        while True:\n            pass\n");
    let start = std::time::Instant::now();
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--test-timeout", "0.5"]);
    assert!(start.elapsed() < std::time::Duration::from_millis(500 + 1000 + 1500), "{:?}", start.elapsed());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("timed out after 0.5 s in tests"), "{}", stdout(&output));
}

#[test]
fn check_no_tests_skips_the_tests() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_fail(self):\n        self.fail('no')\n",
    );
    assert_eq!(relive(&["check", dir.path().to_str().unwrap(), "-n", "game"]).status.code(), Some(1));
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--no-tests"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).ends_with("0 passed, 0 failed\n"));
}

fn unittest_file(body: &str) -> String {
    format!("import unittest\nclass T(unittest.TestCase):\n{body}")
}

/// Issue 14: a script's output, from Python or straight to file descriptor 1, goes to
/// stderr; stdout is one JSON document with its schema version and totals.
#[test]
fn check_json_stdout_is_only_the_report_with_schema_version_and_totals() {
    let dir = ScriptDir::new();
    dir.write("a.py", "import os\nprint('from print')\nos.write(1, b'from fd 1\\n')\nA = 1\n");
    dir.write("a_unittest.py", &unittest_file("    def test_a(self):\n        self.assertEqual(A, 1)\n"));
    dir.write("b.py", "B = undefined\n");
    let output =
        relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--partial", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("stdout is only JSON");
    assert_eq!(json["schema_version"], 1);
    let totals = &json["totals"];
    assert_eq!((totals["passed"].as_u64(), totals["failed"].as_u64()), (Some(1), Some(1)), "{totals}");
    assert_eq!((totals["load_errors"].as_u64(), totals["tests_found"].as_u64()), (Some(1), Some(1)));
    let err = super::stderr(&output);
    assert!(err.contains("from print") && err.contains("from fd 1"), "{err}");
}

/// Issue 14: the closing line counts a script that failed to load as failed.
#[test]
fn check_closing_line_counts_scripts_that_failed_to_load() {
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("a_unittest.py", &unittest_file("    def test_a(self):\n        pass\n"));
    dir.write("b.py", "def broken(:\n");
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--partial"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).ends_with("\n1 passed, 1 failed\n"), "{}", stdout(&output));
}

/// Issue 14: no test anywhere exits 5, as pytest does; `--allow-no-tests` makes it 0.
#[test]
fn check_exits_5_when_no_test_is_found_unless_allowed() {
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let path = dir.path().to_str().unwrap();
    let output = relive(&["check", path, "-n", "game"]);
    assert_eq!(output.status.code(), Some(5));
    assert!(super::stderr(&output).contains("no test found"), "{}", super::stderr(&output));
    assert_eq!(relive(&["check", path, "-n", "game", "--allow-no-tests"]).status.code(), Some(0));
    let empty = ScriptDir::new();
    assert_eq!(relive(&["check", empty.path().to_str().unwrap(), "-n", "game"]).status.code(), Some(5));
}

/// Issue 14: `check --help` lists the exit codes.
#[test]
fn check_help_lists_the_exit_codes() {
    let output = relive(&["check", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for code in
        ["0  every script loaded", "1  a script failed", "2  relive could not", "5  no test was found"]
    {
        assert!(text.contains(code), "{code:?} missing from:\n{text}");
    }
    assert!(text.contains("--allow-no-tests"), "{text}");
}

/// Issue 14: a test blocked past the timeout keeps the results of the tests before it, and
/// the timeout is said once.
#[test]
fn check_keeps_results_across_a_timeout_and_says_it_once() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    let body =
        "    def test_1(self):\n        pass\n    def test_2(self):\n        while True:\n            pass\n";
    dir.write("a_unittest.py", &unittest_file(body));
    dir.write("b.py", "Y = 1\n");
    let sleeping = "    def test_1(self):\n        pass\n    def test_2(self):\n        import time\n        time.sleep(30)\n";
    dir.write("b_unittest.py", &unittest_file(sleeping));
    let output =
        relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--partial", "--test-timeout", "0.3"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert_eq!(text.matches("2 tests found: 1 passed, 1 failed (timed out)").count(), 2, "{text}");
    assert_eq!(text.matches("the per-script timeout expired during this test").count(), 1, "{text}");
    assert_eq!(text.matches("blocked inside C after the per-script timeout").count(), 1, "{text}");
    assert!(text.ends_with("\n2 passed, 2 failed\n"), "{text}");
}

/// Issue 14: tracebacks show the user's frames only, and a syntax error in a test file
/// shows the error and its line, no compiler or engine frames.
#[test]
fn check_hides_relives_own_frames() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write("a_unittest.py", &unittest_file("    def test_a(self):\n        raise ValueError('boom')\n"));
    dir.write("b.py", "Y = 1\n");
    dir.write("test_b.py", "def test_b(:\n");
    dir.write("c.py", "def f():\n    raise KeyError('k')\nf()\n");
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--partial"]);
    let text = stdout(&output);
    assert!(text.contains("a_unittest.py\", line 4, in test_a"), "{text}");
    assert!(text.contains("c.py\", line 3, in <module>") && text.contains("c.py\", line 2, in f"), "{text}");
    assert!(text.contains("test_b.py\", line 1"), "{text}");
    assert!(text.contains("its test file did not load"), "{text}");
    assert!(!text.contains("of 0"), "{text}");
    assert!(!text.contains("src/") && !text.contains("ast.py"), "relive or compiler frames: {text}");
}

/// Issue 14: a multi-line message stays indented under its test; a failing test's output
/// is shown.
#[test]
fn check_indents_multi_line_messages_and_shows_captured_output() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    let body = "    def test_a(self):\n        print('looking at X')\n        self.assertEqual(X, 2, 'first\\nsecond')\n";
    dir.write("a_unittest.py", &unittest_file(body));
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game"]);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let (closing, body) = lines.split_last().unwrap();
    assert_eq!(*closing, "0 passed, 1 failed");
    for line in &body[1..] {
        assert!(line.starts_with("  "), "a line out of its block: {line:?} in\n{text}");
    }
    assert!(text.contains("captured stdout:\n          looking at X\n"), "{text}");
}
