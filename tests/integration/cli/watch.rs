//! `relive watch`: one line per event, options, colours.

use std::process::Command;

use crate::util::ScriptDir;

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
