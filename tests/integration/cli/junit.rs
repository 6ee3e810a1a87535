//! `relive check --junit`: the JUnit XML CI systems read.

use std::process::Command;

use super::relive;
use crate::util::ScriptDir;

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

/// Parses a JUnit file with Python's XML parser and runs `checks` on it (`root` bound);
/// panics with Python's message when a check fails.
fn check_xml(path: &std::path::Path, checks: &str) {
    let code = format!(
        "import xml.etree.ElementTree as ET\nroot = ET.parse({:?}).getroot()\ncases = {{c.get('name'): c for c in root.iter('testcase')}}\n{checks}\nprint('ok')\n",
        path.to_str().unwrap()
    );
    assert_eq!(super::python(&code), "ok\n");
}

/// Issue 14: `--junit` creates its folder, keeps exit 1, and its cases carry `file` and
/// `line`; suites carry time and timestamp; a load failure's error holds the traceback.
#[test]
fn junit_creates_its_folder_and_carries_file_line_time_and_tracebacks() {
    let dir = ScriptDir::new();
    dir.write("s/a.py", "X = 1\n");
    dir.write("s/a_unittest.py", "import unittest\n\nclass T(unittest.TestCase):\n    def test_bad(self):\n        self.assertEqual(X, 2)\n");
    dir.write("s/b.py", "def helper():\n    return undefined\n\nhelper()\n");
    let output = super::relive_in(
        &["check", "s", "-n", "game", "--partial", "--junit", "reports/deep/out.xml"],
        Some(dir.path()),
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", super::stderr(&output));
    check_xml(
        &dir.path().join("reports/deep/out.xml"),
        "bad = cases['test_bad']\n\
         assert (bad.get('file'), bad.get('line')) == ('s/a_unittest.py', '4'), bad.attrib\n\
         load = cases['load']\n\
         assert (load.get('file'), load.get('line')) == ('s/b.py', '2'), load.attrib\n\
         error = load.find('error')\n\
         assert error.get('type') == 'NameError', error.attrib\n\
         assert 'line 4, in <module>' in error.text and 'line 2, in helper' in error.text, error.text\n\
         for suite in root.iter('testsuite'):\n    assert suite.get('timestamp') and suite.get('time'), suite.attrib",
    );
}

/// Issue 14: the JUnit file is written when relive cannot do what was asked (exit 2).
#[test]
fn junit_is_written_when_relive_fails_too() {
    let dir = ScriptDir::new();
    let output = super::relive_in(&["check", "absent", "--junit", "out/r.xml"], Some(dir.path()), &[]);
    assert_eq!(output.status.code(), Some(2));
    check_xml(
        &dir.path().join("out/r.xml"),
        "assert root.get('errors') == '1', root.attrib\nassert 'absent' in cases['relive'].find('error').get('message')",
    );
}
