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

/// A `relive watch` child on `dir` with `args` added and `env` set; stopped on drop.
struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watch {
    fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relive"))
            .arg("watch")
            .arg(dir)
            .args(["-n", "game"])
            .args(args)
            .env_remove("VIRTUAL_ENV")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        let watch = Watch { child, lines };
        watch.wait_for("watching");
        watch
    }

    fn wait_for(&self, needle: &str) -> String {
        wait_for_line(&self.lines, needle)
    }

    /// Every line up to and including the first containing `needle`.
    fn lines_until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else { break };
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("no line containing {needle:?} within 10 s; saw {seen:#?}");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TESTED: &str = "import unittest\nclass T(unittest.TestCase):\n    def test_value(self):\n        self.assertEqual(value(), 1, 'value() must be 1\\nsee the spec')\n";

/// Issue 14: a rejection's multi-line message stays indented under its event; a line says
/// the file on disk differs from the code in effect, again when only the test file changes,
/// until a save is accepted.
#[test]
fn watch_indents_messages_and_says_when_the_disk_differs_from_the_code_in_effect() {
    let dir = ScriptDir::new();
    dir.write("a.py", "def value():\n    return 1\n");
    dir.write("a_unittest.py", TESTED);
    let watch = Watch::start(dir.path(), &[], &[]);
    dir.write("a.py", "def value():\n    return 2\n");
    let lines = watch.lines_until("on disk differs");
    let start = lines.iter().position(|l| l.starts_with("rejected a.py")).expect("a rejected line");
    for line in &lines[start + 1..] {
        assert!(line.starts_with("    "), "not indented under its event: {line:?} in {lines:#?}");
    }
    assert!(
        lines.iter().any(|l| l.trim() == "see the spec)" || l.trim().starts_with("see the spec")),
        "{lines:#?}"
    );
    assert!(
        lines.last().unwrap().contains("note: a.py on disk differs from the code in effect (version 1)"),
        "{lines:#?}"
    );
    dir.write("a_unittest.py", &format!("{TESTED}    def test_more(self):\n        pass\n"));
    let lines = watch.lines_until("on disk differs");
    assert!(lines.iter().any(|l| l.starts_with("retested a.py")), "{lines:#?}");
    dir.write("a.py", "def value():\n    return 1\n\n\n");
    let lines = watch.lines_until("reloaded a.py");
    dir.write("b.py", "B = 1\n");
    let more = watch.lines_until("b.py");
    assert!(!lines.iter().chain(&more).any(|l| l.contains("differs")), "{lines:#?} {more:#?}");
}

/// Issue 14: colours follow NO_COLOR and CLICOLOR_FORCE, and are off when stdout is not a
/// terminal; `--clear` clears the screen before a batch.
#[test]
fn watch_colours_follow_no_color_and_clicolor_force_and_clear_clears() {
    let red = "\x1b[31m";
    let clear = "\x1b[2J";
    for (env, args, coloured, cleared) in [
        (vec![], vec![], false, false),
        (vec![("CLICOLOR_FORCE", "1")], vec![], true, false),
        (vec![("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], vec![], false, false),
        (vec![("CLICOLOR_FORCE", "1")], vec!["--clear"], true, true),
    ] {
        let dir = ScriptDir::new();
        dir.write("a.py", "def value():\n    return 1\n");
        dir.write("a_unittest.py", TESTED);
        let watch = Watch::start(dir.path(), &args, &env);
        dir.write("a.py", "def value():\n    return 2\n");
        let line = watch.wait_for("a.py");
        assert_eq!(line.contains(red), coloured, "{env:?} {args:?}: {line:?}");
        assert_eq!(line.contains(clear), cleared, "{env:?} {args:?}: {line:?}");
    }
}

/// Issue 14: `--delay MS` is the quiet time before a burst is reloaded: two saves well
/// inside it are one reload of the last.
#[test]
fn watch_delay_coalesces_saves_inside_it() {
    let dir = ScriptDir::new();
    dir.write("a.py", "def value():\n    return 1\n");
    dir.write("a_unittest.py", TESTED);
    let watch = Watch::start(dir.path(), &["--delay", "3000"], &[]);
    dir.write("a.py", "def value():\n    return 2\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    dir.write("a.py", "def value():\n    return 1  # formatted\n");
    let line = watch.wait_for("a.py");
    assert!(line.starts_with("reloaded a.py (version 2)"), "one reload of the last save: {line}");
    assert!(super::relive(&["watch", ".", "--delay", "soon"]).status.code() == Some(2));
}

/// Issue 14: `delay` and `exclude` from [tool.relive] apply to the watch: an excluded file's
/// change is not reloaded, and two saves inside the delay are one reload.
#[test]
fn watch_takes_delay_and_exclude_from_pyproject() {
    let dir = ScriptDir::new();
    dir.write("pyproject.toml", "[tool.relive]\ndelay = 3000\nexclude = ['drafts/**']\n");
    dir.write("a.py", "def value():\n    return 1\n");
    dir.write("a_unittest.py", TESTED);
    let watch = Watch::start(dir.path(), &[], &[]);
    dir.write("drafts/x.py", "raise RuntimeError('a draft')\n");
    dir.write("a.py", "def value():\n    return 2\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    dir.write("a.py", "def value():\n    return 1  # formatted\n");
    let lines = watch.lines_until("a.py");
    assert!(lines.last().unwrap().starts_with("reloaded a.py (version 2)"), "{lines:#?}");
    dir.write("b.py", "B = 1\n");
    let more = watch.lines_until("b.py");
    assert!(!lines.iter().chain(&more).any(|l| l.contains("drafts")), "{lines:#?} {more:#?}");
}

/// R15 with issue 14's note: a dependent rebuilt for another script's rejected change has
/// not changed on disk, so only the changed script gets the "on disk differs" line.
#[test]
fn watch_says_the_disk_differs_only_for_the_script_that_changed() {
    let dir = ScriptDir::new();
    dir.write("core.py", "LIMIT = 1\n");
    dir.write("user.py", "from game import LIMIT\ndef value():\n    return LIMIT\n");
    dir.write("user_unittest.py", TESTED);
    let watch = Watch::start(dir.path(), &[], &[]);
    dir.write("core.py", "LIMIT = 2\n");
    let mut lines = watch.lines_until("note: core.py on disk differs");
    dir.write("other.py", "X = 1\n");
    lines.extend(watch.lines_until("other.py"));
    assert!(lines.iter().any(|l| l.starts_with("rejected core.py")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("user.py")), "the dependent is reported: {lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("user.py on disk differs")), "{lines:#?}");
}
