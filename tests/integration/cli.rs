//! The `relive` binary: commands, output formats and exit codes (0 ok, 1 a script failed,
//! 2 relive could not do what was asked).

use std::process::{Command, Output};

use crate::util::ScriptDir;

fn relive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(args)
        .env_remove("RELIVE_LOG")
        .output()
        .expect("relive runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn check_loads_the_bundled_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/arena");
    let output = relive(&["check", example]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    assert!(text.starts_with("loaded arena from "), "{text}");
    assert!(text.contains("arena.ai: Brain, MOVES"), "{text}");
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
    let output = relive(&["check", dir.path().to_str().unwrap(), "-n", "game", "--format", "json"]);
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

#[test]
fn check_writes_junit_that_parses() {
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_ok(self):\n        print('hello')\n    def test_bad(self):\n        self.assertEqual(X, 2)\n    @unittest.skip('later')\n    def test_skip(self):\n        pass\n",
    );
    dir.write("b.py", "def broken(:\n");
    let junit = dir.path().join("out.xml");
    let output = relive(&[
        "check",
        dir.path().to_str().unwrap(),
        "-n",
        "game",
        "--partial",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    // Parse with Python's XML parser: structure, not strings.
    let script = format!(
        "import xml.etree.ElementTree as ET\n\
         root = ET.parse({junit:?}).getroot()\n\
         suites = {{s.get('name'): s for s in root.iter('testsuite')}}\n\
         a = suites['a.py']\n\
         cases = {{c.get('name'): c for c in a.iter('testcase')}}\n\
         assert sorted(cases) == ['test_bad', 'test_ok', 'test_skip'], sorted(cases)\n\
         assert cases['test_bad'].find('failure').get('message') == 'AssertionError: 1 != 2'\n\
         assert 'a_unittest.py' in cases['test_bad'].find('failure').text\n\
         assert cases['test_skip'].find('skipped') is not None\n\
         assert cases['test_ok'].find('system-out').text == 'hello\\n'\n\
         assert cases['test_ok'].get('classname') == 'game.T'\n\
         b = suites['b.py']\n\
         assert b.find('testcase').find('error').get('message').startswith('SyntaxError')\n\
         assert root.get('failures') == '1' and root.get('errors') == '1' and root.get('tests') == '4'\n\
         print('ok')\n"
    );
    let parsed = Command::new(relive::python::BUILD_PYTHON_EXECUTABLE.unwrap())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
}

/// Reads a child's stdout lines on a thread, so each wait has a deadline.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    panic!("no line containing {needle:?} within 10 s");
}

#[test]
fn watch_reloads_edits_runs_the_tick_and_stops_on_ctrl_c() {
    let dir = ScriptDir::new();
    dir.write("game/world.py", "def tick():\n    return 'v1'\n");
    dir.write("game/world_unittest.py", "import unittest\nclass T(unittest.TestCase):\n    def test_tick(self):\n        self.assertTrue(tick().startswith('v'))\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(["watch", dir.path().join("game").to_str().unwrap(), "--run", "game.tick()", "--tick", "0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    wait_for_line(&lines, "watching");
    wait_for_line(&lines, "game.tick() -> 'v1'");
    dir.write("game/world.py", "def tick():\n    return 'v2'\n");
    let line = wait_for_line(&lines, "world.py");
    assert!(line.starts_with("reloaded world.py (version 2); 1 test found: 1 passed, 0 failed"), "{line}");
    wait_for_line(&lines, "game.tick() -> 'v2'");
    dir.write("game/world.py", "def tick():\n    return 'x3'\n");
    let line = wait_for_line(&lines, "world.py");
    assert!(line.starts_with("rejected world.py: tests failed: 1 of 1"), "{line}");
    wait_for_line(&lines, "game.tick() -> 'v2'");
    let interrupted = std::time::Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < std::time::Duration::from_secs(2), "{:?}", interrupted.elapsed());
    assert_eq!(status.code(), Some(0));
}

#[test]
fn scenario_reports_a_broken_scenario_file_precisely() {
    let dir = ScriptDir::new();
    let file = dir.write(
        "broken.toml",
        "description = 'broken'\n\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'loaded'\ncheck = ['X ==']\n",
    );
    let output = relive(&["scenario", file.to_str().unwrap(), "--no-snapshot"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("broken.toml:6:"), "file and line of the check: {text}");
    assert!(text.contains("SyntaxError"), "{text}");
    assert!(text.ends_with("0 passed, 1 failed") || text.contains("0 passed, 1 failed"), "{text}");
}

#[test]
fn scenario_runs_a_file_anywhere_and_reports_failed_checks_with_values() {
    let dir = ScriptDir::new();
    let file = dir.write(
        "one.toml",
        "description = 'one'\ncovers = ['L1']\n\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'loaded'\nrun = 'y = 2'\ncheck = ['game.X == 1', 'y == 3']\n",
    );
    let output = relive(&["scenario", file.to_str().unwrap(), "--no-snapshot"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL one"), "{text}");
    assert!(text.contains("check failed: y == 3  [y = 2]"), "{text}");
    let output = relive(&["scenario", file.to_str().unwrap(), "--no-snapshot", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json[0]["passed"], false);
}

/// scenarios.md: a scenario whose `python` range excludes this Python is skipped with the
/// reason, neither passed nor failed; one for this Python runs.
#[test]
fn scenario_outside_its_python_range_is_reported_as_skipped() {
    let dir = ScriptDir::new();
    let body = "\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'loaded'\ncheck = ['game.X == 1']\n";
    let old = dir.write("old.toml", &format!("description = 'old'\npython = '<3.0'{body}"));
    let any = dir.write("any.toml", &format!("description = 'any'\npython = '>=3.0'{body}"));
    let output = relive(&["scenario", old.to_str().unwrap(), any.to_str().unwrap(), "--no-snapshot"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let version = relive::python::BUILD_PYTHON_VERSION;
    assert!(text.contains(&format!("skip old: for Python <3.0; this is Python {version}")), "{text}");
    assert!(text.contains("ok   any"), "{text}");
    assert!(text.contains("1 passed, 0 failed, 1 skipped"), "{text}");
    let output = relive(&["scenario", old.to_str().unwrap(), "--no-snapshot", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (&json[0]["passed"], json[0]["skipped"].as_str().is_some()),
        (&serde_json::Value::Bool(false), true)
    );
}
