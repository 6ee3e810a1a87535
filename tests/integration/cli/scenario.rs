//! `relive scenario`: running scenario files from the command line.

use super::{relive, stdout};
use crate::util::ScriptDir;

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

/// Issue 14: a failed check shows the values of its parts (calls, attributes, operands of
/// comparisons and arithmetic), evaluated once, as pytest's assertion rewriting does.
#[test]
fn scenario_failed_check_shows_the_values_of_its_sub_expressions() {
    let dir = ScriptDir::new();
    let file = dir.write(
        "parts.toml",
        "description = 'parts'\n\n[[step]]\nwrite.'a.py' = '''\nclass P:\n    calls = 0\n    def greet(self):\n        P.calls += 1\n        return 'hello'\np = P()\nitems = [1, 2]\n'''\nexpect = 'loaded'\ncheck = ['game.p.greet() == \"hi\"', 'len(game.items) + 1 > 10', 'game.P.calls == 1']\n",
    );
    let output = relive(&["scenario", file.to_str().unwrap(), "--no-snapshot"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains(
            "check failed: game.p.greet() == \"hi\"  [game.p.greet() = 'hello'; game.p = <game.P object"
        ),
        "{text}"
    );
    assert!(text.contains("[len(game.items) + 1 = 3; len(game.items) = 2; game.items = [1, 2]]"), "{text}");
    // Each check runs once: the first check's call was the only one.
    assert!(!text.contains("game.P.calls == 1"), "the call ran more than once: {text}");
}
