//! The fault suite (issue 13): files that are not scripts, trees that change under the
//! watcher, half-written files, process exits and stop requests. Each test is a case that
//! once hung, crashed or loaded the wrong thing; it fails if that comes back. Waits are
//! bounded and wait on the event itself.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use relive::{Outcome, ReloadReport, Reloader};

use crate::util::{ScriptDir, eval, logs, python_lock};

const LIMIT: Duration = Duration::from_secs(10);

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Pumps until `done` holds for the reports gathered so far (or fails after 10 s).
fn pump_until(r: &mut Reloader, done: impl Fn(&[ReloadReport]) -> bool) -> Vec<ReloadReport> {
    let start = Instant::now();
    let mut reports = Vec::new();
    while start.elapsed() < LIMIT {
        reports.extend(r.wait_for_changes(Duration::from_millis(50)).unwrap());
        if done(&reports) && !r.has_pending_changes() {
            return reports;
        }
    }
    panic!("not done within {LIMIT:?}; got {reports:?}");
}

fn has(reports: &[ReloadReport], path: &str, outcome: Outcome) -> bool {
    reports.iter().any(|r| r.path.to_string() == path && r.outcome == outcome)
}

fn watched(dir: &ScriptDir) -> Reloader {
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    r.watch().unwrap();
    r
}

fn warned(text: &str) -> bool {
    logs().iter().any(|l| l.starts_with("WARN") && l.contains(text))
}

#[test]
fn w1_a_fifo_named_like_a_script_is_skipped_with_a_warning() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    mkfifo(&dir.path().join("x.py"));
    let mut r = watched(&dir);
    assert!(warned("x.py: a FIFO, not a regular file"), "{:?}", logs());
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 1);
    // One appearing while watched is skipped too, and the watcher goes on.
    mkfifo(&dir.path().join("y.py"));
    dir.write("a.py", "A = 2\n");
    let reports = pump_until(&mut r, |rs| has(rs, "a.py", Outcome::Reloaded));
    assert!(!reports.iter().any(|r| r.path.to_string() == "y.py"), "{reports:?}");
    assert!(warned("y.py: a FIFO, not a regular file"), "{:?}", logs());
}

#[test]
fn w1_a_link_to_a_device_is_skipped_and_a_huge_script_refused() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("z.py")).unwrap();
    let mut r = Reloader::builder().size_limit(64).build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(warned("z.py: a device, not a regular file"), "{:?}", logs());
    assert!(report.script("z.py").is_none());

    dir.write("big.py", &format!("X = '{}'\n", "x".repeat(100)));
    let big = r.reload(dir.path().join("big.py")).unwrap();
    assert_eq!(big.outcome, Outcome::Pending, "{big}");
    assert!(big.to_string().contains("larger than the script size limit of 64 bytes"), "{big}");
}

#[test]
fn e3_a_name_that_is_not_utf8_is_reported_and_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.py"));
    std::fs::write(&odd, "B = 2\n").unwrap();
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 1);
    assert!(warned("is not valid UTF-8"), "{:?}", logs());
}

#[test]
fn w1_a_symlink_loop_loads_each_script_once() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("sub/a.py", "import sys\nsys._relive_fault_runs = getattr(sys, '_relive_fault_runs', 0) + 1\n");
    std::os::unix::fs::symlink("..", dir.path().join("sub/back")).unwrap();
    crate::util::run("sys._relive_fault_runs = 0");
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).unwrap();
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(eval::<i64>("sys._relive_fault_runs"), 1, "module-level code ran once");
    assert!(warned("(a loop)"), "{:?}", logs());
}

#[test]
fn w1_a_file_still_open_for_writing_is_not_read() {
    use std::io::Write;
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "def f():\n    return 1\n");
    let mut r = watched(&dir);
    let mut file = std::fs::File::create(dir.path().join("a.py")).unwrap();
    file.write_all(b"def f(").unwrap();
    file.flush().unwrap();
    // While the writer holds the file open, nothing is applied or rejected.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        let reports = r.wait_for_changes(Duration::from_millis(20)).unwrap();
        assert!(reports.is_empty(), "read while being written: {reports:?}");
    }
    file.write_all(b"):\n    return 2\n").unwrap();
    drop(file);
    let reports = pump_until(&mut r, |rs| !rs.is_empty());
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].outcome, Outcome::Reloaded, "{}", reports[0]);
    assert_eq!(eval::<i64>("sys.modules['game'].f()"), 2);
}

/// An emptied script is a real change: it is applied once the file stayed empty (a
/// truncation a writer is about to fill is not), and a later save with content goes live.
#[test]
fn w1_an_emptied_script_is_applied_once_it_stays_empty() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "def f():\n    return 1\n");
    let mut r = watched(&dir);
    dir.write("a.py", "");
    let reports = pump_until(&mut r, |rs| !rs.is_empty());
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].outcome, Outcome::Reloaded, "{}", reports[0]);
    assert!(logs().iter().any(|l| l.contains("a.py: reloaded")), "{:?}", logs());
    dir.write("a.py", "def f():\n    return 3\n");
    let reports = pump_until(&mut r, |rs| !rs.is_empty());
    assert_eq!(reports[0].outcome, Outcome::Reloaded, "{}", reports[0]);
    assert_eq!(eval::<i64>("sys.modules['game'].f()"), 3);
}

#[test]
fn w1_w3_a_removed_root_removes_its_scripts_and_loads_them_when_it_comes_back() {
    let _py = python_lock();
    let parent = ScriptDir::new();
    parent.write("root/a.py", "A = 1\n");
    let root = parent.path().join("root");
    let mut r = Reloader::builder().build().unwrap();
    assert_eq!(r.add_directory("game", &root).unwrap().outcome, Outcome::Loaded);
    r.watch().unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    pump_until(&mut r, |rs| has(rs, "a.py", Outcome::Removed));
    parent.write("root/a.py", "A = 2\n");
    pump_until(&mut r, |rs| has(rs, "a.py", Outcome::Loaded));
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 2);
    // Later edits are seen again.
    parent.write("root/a.py", "A = 3\n");
    pump_until(&mut r, |rs| has(rs, "a.py", Outcome::Reloaded));
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 3);
}

#[test]
fn w3_a_renamed_folder_is_deletions_plus_new_scripts() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("main.py", "M = 1\n");
    dir.write("old/a.py", "A = 1\n");
    let mut r = watched(&dir);
    std::fs::rename(dir.path().join("old"), dir.path().join("new")).unwrap();
    let reports = pump_until(&mut r, |rs| {
        has(rs, "old/a.py", Outcome::Removed) && has(rs, "new/a.py", Outcome::Loaded)
    });
    assert!(!has(&reports, "old/a.py", Outcome::Reloaded), "{reports:?}");
    assert!(eval::<bool>("'game.new' in sys.modules"));
    // Moving it back: the old scripts load again as new scripts, never "reloaded".
    std::fs::rename(dir.path().join("new"), dir.path().join("old")).unwrap();
    let reports = pump_until(&mut r, |rs| {
        has(rs, "new/a.py", Outcome::Removed) && has(rs, "old/a.py", Outcome::Loaded)
    });
    assert!(!has(&reports, "old/a.py", Outcome::Reloaded), "{reports:?}");
}

/// Runs the `relive` binary; kills it and fails past `limit` (a hang is the fault).
fn relive_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(args)
        .env_remove("RELIVE_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("relive runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("relive {args:?} still running after {limit:?}");
        }
        std::thread::park_timeout(Duration::from_millis(20));
    };
    let mut text = String::new();
    child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut text).unwrap();
    (status.code(), text)
}

#[test]
fn scenario_paths_outside_the_temp_folder_are_refused_before_anything_runs() {
    let dir = ScriptDir::new();
    let victim = dir.write("victim.py", "KEEP = 1\n");
    let file = dir.write(
        "escape.toml",
        &format!(
            "description = 'escape'\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'loaded'\n[[step]]\ndelete = ['{}']\nexpect = 'removed'\n",
            victim.display()
        ),
    );
    let (code, text) = relive_bounded(&["scenario", file.to_str().unwrap(), "--no-snapshot"], LIMIT);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("escape.toml:6:11"), "file, line and column: {text}");
    assert!(text.contains("is absolute"), "{text}");
    assert!(victim.exists(), "the scenario deleted a file outside its temp folder");

    let file = dir.write(
        "climb.toml",
        "description = 'climb'\n[[step]]\nwrite.'a.py' = 'X = 1'\nwrite.'../../escaped_by_relive.py' = 'X = 1'\nexpect = 'loaded'\n",
    );
    let (code, text) = relive_bounded(&["scenario", file.to_str().unwrap(), "--no-snapshot"], LIMIT);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("climb.toml:4:7"), "{text}");
    assert!(text.contains("leads outside"), "{text}");
}

#[test]
fn scenario_run_and_check_are_bounded_by_the_timeout_and_the_scenario_reports() {
    let dir = ScriptDir::new();
    let file = dir.write(
        "endless.toml",
        "description = 'endless'\ntest_timeout = 1\n[[step]]\nwrite.'a.py' = 'X = 1'\nexpect = 'loaded'\nrun = '''\nwhile True:\n    pass\n'''\ncheck = ['all(True for _ in iter(int, 1))', 'game.X == 1']\n[[step]]\naction = 'none'\ncheck = ['game.X == 1']\n",
    );
    let (code, text) = relive_bounded(&["scenario", file.to_str().unwrap(), "--no-snapshot"], LIMIT);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("run timed out after 1 s"), "{text}");
    assert!(text.contains("check failed: all(True for _ in iter(int, 1))"), "{text}");
    assert!(text.contains("timed out after 1 s"), "{text}");
    assert!(text.contains("0 passed, 1 failed"), "the scenario went on to report: {text}");
}

#[test]
fn e1_os_exit_at_module_level_is_an_error_of_the_candidate() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    dir.write("a.py", "import os\nA = 2\nos._exit(3)\n");
    let report = r.reload(dir.path().join("a.py")).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    assert!(report.to_string().contains("os._exit(3) called by candidate code"), "{report}");
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 1, "what ran before keeps running");
}

#[test]
fn e1_check_reports_every_test_when_a_test_calls_os_exit() {
    let dir = ScriptDir::new();
    dir.write(
        "a.py",
        "import os, unittest\nclass T(unittest.TestCase):\n    def test_1_fails(self):\n        self.assertEqual(1, 2)\n    def test_2_exits(self):\n        os._exit(0)\n    def test_3_runs(self):\n        pass\n",
    );
    let (code, text) =
        relive_bounded(&["check", dir.path().to_str().unwrap(), "-n", "game", "--format", "json"], LIMIT);
    assert_eq!(code, Some(1), "a failed test is never a success: {text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the whole report, as JSON");
    let results = json["scripts"][0]["tests"]["results"].as_array().expect("test results");
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "every test ran and was reported: {ids:?}");
    assert!(results[1]["message"].as_str().unwrap().contains("os._exit(0) called"), "{text}");
}

/// A script whose test loops until stopped, first creating `started` so the stop can be
/// asked for while it runs (waited for, never slept for).
fn looping_test(started: &Path) -> String {
    format!(
        "import unittest\nX = 2\nclass T(unittest.TestCase):\n    def test_loops(self):\n        open({:?}, 'w').close()\n        while True:\n            pass\n",
        started.display()
    )
}

fn wait_for_file(file: &Path) {
    let start = Instant::now();
    while !file.exists() {
        assert!(start.elapsed() < LIMIT, "{} never appeared", file.display());
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

#[test]
fn w4_a_stop_request_interrupts_a_running_test_long_before_its_timeout() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    let mut r = Reloader::builder().test_timeout(Duration::from_secs(60)).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    let started = dir.path().join("started.txt");
    dir.write("a.py", &looping_test(&started));
    let stop = r.stop_handle();
    let asker = std::thread::spawn(move || {
        wait_for_file(&started);
        let asked = Instant::now();
        stop.request();
        asked
    });
    let report = r.reload(dir.path().join("a.py")).unwrap();
    let returned = Instant::now();
    let asked = asker.join().unwrap();
    let waited = returned - asked;
    // The timeout is 60 s: returning long before it means the test was interrupted.
    assert!(waited < Duration::from_secs(10), "waited {waited:?} after the stop request");
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    assert!(report.to_string().contains("stopped: a stop was requested during tests"), "{report}");
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 1, "nothing of the candidate was applied");
    r.end_monitoring();
    assert!(!r.stop_handle().is_requested(), "ending clears the request");
}

#[test]
fn w4_ctrl_c_stops_relive_watch_during_a_long_test() {
    stop_relive_watch_during_a_long_test("-INT");
}

#[test]
fn w4_sigterm_stops_relive_watch_during_a_long_test() {
    stop_relive_watch_during_a_long_test("-TERM");
}

/// Sends `signal` to `relive watch` while a test of a candidate loops: the candidate is
/// rejected as stopped and relive exits 0 within about a second, not after the 60 s timeout.
fn stop_relive_watch_during_a_long_test(signal: &str) {
    use std::io::BufRead;
    let dir = ScriptDir::new();
    dir.write("game/a.py", "X = 1\n");
    let started = dir.path().join("started.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(["watch", dir.path().join("game").to_str().unwrap(), "--test-timeout", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines.recv_timeout(LIMIT).expect("relive watch prints");
    assert!(first.starts_with("loaded"), "{first}");
    while !lines.recv_timeout(LIMIT).expect("relive watch prints").contains("watching") {}
    dir.write("game/a.py", &looping_test(&started));
    wait_for_file(&started);
    let interrupted = Instant::now();
    Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    let (code, _) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), ());
        }
        if interrupted.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("relive watch still running 30 s after {signal} (the test timeout is 60 s)");
        }
        std::thread::park_timeout(Duration::from_millis(20));
    };
    let waited = interrupted.elapsed();
    eprintln!("relive watch stopped {waited:?} after {signal}");
    assert!(waited < Duration::from_secs(10), "stopped {waited:?} after {signal}, not ~1 s");
    assert_eq!(code, Some(0));
    let rest: Vec<String> = lines.iter().collect(); // ends at EOF: the child exited
    assert!(rest.iter().any(|l| l.starts_with("rejected a.py: stopped")), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
}

/// What relive keeps of a script's source between reloads (its pieces, `source.py`):
/// code objects, fingerprints and name sets, never syntax trees; one set per script, not
/// one per reload (R12, issue 17).
#[test]
fn r12_a_scripts_pieces_keep_no_syntax_trees_and_do_not_grow() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let script = |v: usize| format!("VERSION = {v}\nTABLE = {{'a': [1, 2]}}\ndef f():\n    return {v}\n");
    dir.write("a.py", &script(0));
    let mut r = Reloader::builder().tests(false).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    let live_pieces = "(__import__('gc').collect(), sum(1 for o in __import__('gc').get_objects() \
         if type(o).__name__ == 'Piece' and type(o).__module__ == '_relive_source'))[1]";
    let mut counts = Vec::new();
    for v in 1..=40 {
        dir.write("a.py", &script(v));
        assert_eq!(r.reload(dir.path().join("a.py")).unwrap().outcome, Outcome::Reloaded);
        counts.push(eval::<usize>(live_pieces));
    }
    assert!(counts[0] >= 3, "the script's statements are pieces: {counts:?}");
    assert!(counts.iter().all(|&n| n == counts[0]), "pieces grew with reloads: {counts:?}");
    // Everything a piece reaches, a few levels down: no syntax tree node among it.
    assert!(eval::<bool>(
        "(lambda gc, ast: (lambda pieces: not any(isinstance(x, ast.AST) \
           for p in pieces for a in gc.get_referents(p) for b in [a, *gc.get_referents(a)] \
           for x in [b, *gc.get_referents(b)]))([o for o in gc.get_objects() \
           if type(o).__name__ == 'Piece' and type(o).__module__ == '_relive_source']))\
         (__import__('gc'), __import__('ast'))"
    ));
}

#[test]
fn w1_a_script_that_rewrites_its_own_file_is_not_reloaded_in_a_loop() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    let mut r = watched(&dir);
    let rewriting = "import pathlib\nX = 2\n_me = pathlib.Path(__file__)\n_me.write_text(_me.read_text() + '# again\\n')\n";
    dir.write("a.py", rewriting);
    let first = pump_until(&mut r, |rs| !rs.is_empty());
    assert_eq!(first[0].outcome, Outcome::Reloaded, "{}", first[0]);
    // Its own write is not reloaded: nothing more happens (a loop reloaded ~50 times a second).
    let start = Instant::now();
    let mut more = Vec::new();
    while start.elapsed() < Duration::from_millis(500) {
        more.extend(r.wait_for_changes(Duration::from_millis(50)).unwrap());
    }
    assert!(more.is_empty(), "reloaded its own write: {more:?}");
    let warnings = logs().iter().filter(|l| l.contains("rewrote its own file")).count();
    assert_eq!(warnings, 1, "{:?}", logs());
    // A real edit afterwards still reloads.
    dir.write("a.py", "X = 3\n");
    let reports = pump_until(&mut r, |rs| has(rs, "a.py", Outcome::Reloaded));
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 3);
}

#[test]
fn e1_odd_bytes_compile_or_give_a_script_problem() {
    let _py = python_lock();
    let file = Path::new("odd.py");
    let check = |bytes: &[u8]| relive::engine::check_source(file, bytes);
    assert!(
        check(b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nX = 1\n").is_err(),
        "a BOM contradicting the cookie"
    );
    assert!(check(b"X = 1\x00\n").is_err(), "a NUL byte");
    assert!(check(b"# coding: no-such-codec\nX = 1\n").is_err(), "an unknown codec");
    assert!(check(b"\xff\xfe\xfd").is_err(), "not UTF-8");
    assert!(check(b"# -*- coding: latin-1 -*-\nX = '\xe9'").is_ok(), "a cookie, no final newline");
    assert!(check(b"\xef\xbb\xbfX = 1\r\n").is_ok(), "a BOM and CRLF");
}

/// A save as a slow editor makes it: truncate, write half, a pause, the rest, close.
fn slow_save(file: &Path, text: &str) {
    use std::io::Write;
    let mut handle = std::fs::File::create(file).unwrap();
    let (first, rest) = text.split_at(text.len() / 2);
    handle.write_all(first.as_bytes()).unwrap();
    handle.flush().unwrap();
    std::thread::park_timeout(Duration::from_millis(3)); // the writer's own pause, not a wait
    handle.write_all(rest.as_bytes()).unwrap();
}

#[test]
fn w1_saves_30_ms_apart_are_never_applied_half_written() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let script = |v: usize| {
        let mut text = format!("VERSION = {v}\n");
        for k in 0..40 {
            text.push_str(&format!("def g{k}():\n    return {k} + VERSION\n"));
        }
        text
    };
    dir.write("a.py", &script(0));
    let mut r = Reloader::builder().prune(true).tests(false).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    r.watch().unwrap();
    let background = relive::background::Background::start(r).unwrap();
    let file = dir.path().join("a.py");
    const SAVES: usize = 100;
    for v in 1..=SAVES {
        slow_save(&file, &script(v));
        std::thread::park_timeout(Duration::from_millis(30)); // saves 30 ms apart
    }
    let start = Instant::now();
    while !eval_version_is(SAVES) {
        assert!(start.elapsed() < LIMIT, "the last save was never applied");
        std::thread::park_timeout(Duration::from_millis(20));
    }
    // Every report up to the one of the version in effect (sent in order, after its apply).
    let last = background.reloader().version(&file).expect("in effect");
    let mut reports: Vec<ReloadReport> = Vec::new();
    while reports.last().and_then(|r| r.version) != Some(last) {
        let report = background.reports().recv_timeout(LIMIT).expect("the report of the last reload");
        reports.push(report);
    }
    let mut r = background.stop();
    r.end_monitoring();
    let bad: Vec<_> = reports
        .iter()
        .filter(|r| {
            r.outcome != Outcome::Reloaded || r.changes.as_ref().is_some_and(|c| !c.pruned.is_empty())
        })
        .map(ToString::to_string)
        .collect();
    eprintln!("{} reloads for {SAVES} saves, {} applied half-written or rejected", reports.len(), bad.len());
    assert!(bad.is_empty(), "half-written reads applied or rejected: {bad:?}");
    assert_eq!(eval::<i64>("sys.modules['game'].g39()"), 39 + SAVES as i64);
}

fn eval_version_is(version: usize) -> bool {
    eval::<i64>("sys.modules['game'].VERSION") == version as i64
}

#[test]
fn w4_issue17_a_stop_request_interrupts_a_script_looping_in_a_load_group() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let started = dir.path().join("started.txt");
    dir.write("a.py", "A = 1\n");
    dir.write("b.py", &format!("open({:?}, 'w').close()\nwhile True:\n    pass\n", started.display()));
    let mut r = Reloader::builder().partial(true).test_timeout(Duration::from_secs(60)).build().unwrap();
    let stop = r.stop_handle();
    let asker = std::thread::spawn(move || {
        wait_for_file(&started);
        stop.request();
    });
    let report = r.add_directory("game", dir.path()).unwrap();
    asker.join().unwrap();
    let b = report.scripts.iter().find(|s| s.path.as_str() == "b.py").expect("b.py reported");
    assert_eq!(b.outcome, Outcome::Pending, "{report}");
    let problem = b.problem.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(problem.contains("a stop was requested during module-level code"), "{problem}");
    assert_eq!(report.scripts[0].outcome, Outcome::Loaded, "a.py ran before the stop: {report}");
    assert_eq!(eval::<i64>("sys.modules['game'].A"), 1);
    r.end_monitoring();
}
