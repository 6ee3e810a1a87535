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
