//! Live watching through the real watcher (W1–W4). Every wait is bounded and waits on the
//! event itself, never a fixed sleep.

use std::time::{Duration, Instant};

use relive::background::Background;
use relive::{Outcome, ReloadReport, Reloader};

use crate::util::{ScriptDir, eval, python_lock};

const LIMIT: Duration = Duration::from_secs(5);

/// Pumps until at least one report arrives (or fails after 5 s), then keeps pumping while
/// more changes are pending, so a burst is seen whole.
fn next_reports(r: &mut Reloader) -> Vec<ReloadReport> {
    let start = Instant::now();
    let mut reports = Vec::new();
    while start.elapsed() < LIMIT {
        reports.extend(r.wait_for_changes(Duration::from_millis(100)).unwrap());
        if !reports.is_empty() && !r.has_pending_changes() {
            return reports;
        }
    }
    panic!("no reload within {LIMIT:?}; got {reports:?}");
}

fn outcomes(reports: &[ReloadReport]) -> Vec<(String, Outcome)> {
    reports.iter().map(|r| (r.path.to_string(), r.outcome)).collect()
}

fn watched(files: &[(&str, &str)]) -> (ScriptDir, Reloader) {
    let dir = ScriptDir::new();
    for (path, text) in files {
        dir.write(path, text);
    }
    let mut r = Reloader::builder().build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    r.watch().unwrap();
    (dir, r)
}

#[test]
fn w1_an_in_place_write_reloads_once() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    dir.write("a.py", "X = 2\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("a.py".into(), Outcome::Reloaded)]);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 2);
}

#[test]
fn w1_save_by_rename_is_one_change() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    let tmp = dir.write(".a.py.tmp", "X = 3\n");
    std::fs::rename(&tmp, dir.path().join("a.py")).unwrap();
    assert_eq!(outcomes(&next_reports(&mut r)), [("a.py".into(), Outcome::Reloaded)]);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 3);
}

#[test]
fn w1_delete_and_recreate_is_one_change() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    std::fs::remove_file(dir.path().join("a.py")).unwrap();
    dir.write("a.py", "X = 4\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("a.py".into(), Outcome::Reloaded)]);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 4);
}

#[test]
fn w1_a_burst_of_twenty_writes_is_one_reload() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 0\n")]);
    for i in 1..=20 {
        dir.write("a.py", &format!("X = {i}\n"));
    }
    assert_eq!(outcomes(&next_reports(&mut r)), [("a.py".into(), Outcome::Reloaded)]);
    assert_eq!(r.version(dir.path().join("a.py")), Some(2));
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 20);
}

#[test]
fn w1_r11_identical_bytes_are_unchanged() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    dir.write("a.py", "X = 1\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("a.py".into(), Outcome::Unchanged)]);
    assert_eq!(r.version(dir.path().join("a.py")), Some(1));
}

#[test]
fn w2_a_new_sub_folder_with_a_script_is_loaded() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    dir.write("ai/deep/brain.py", "class Brain:\n    pass\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("ai/deep/brain.py".into(), Outcome::Loaded)]);
    assert!(eval::<bool>("sys.modules['game'].ai.deep.Brain.__module__ == 'game.ai.deep'"));
}

#[test]
fn w2_a_broken_new_file_is_pending_until_fixed() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n")]);
    dir.write("b.py", "Y = (\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("b.py".into(), Outcome::Pending)]);
    dir.write("b.py", "Y = 2\n");
    assert_eq!(outcomes(&next_reports(&mut r)), [("b.py".into(), Outcome::Loaded)]);
    assert_eq!(eval::<i64>("sys.modules['game'].Y"), 2);
}

#[test]
fn w3_a_deleted_script_is_removed_and_its_names_leak() {
    let _py = python_lock();
    let (dir, mut r) = watched(&[("a.py", "X = 1\n"), ("b.py", "Y = 1\n")]);
    std::fs::remove_file(dir.path().join("b.py")).unwrap();
    assert_eq!(outcomes(&next_reports(&mut r)), [("b.py".into(), Outcome::Removed)]);
    assert_eq!(r.leaks().len(), 1);
}

#[test]
fn t5_a_test_file_edit_is_retested() {
    let _py = python_lock();
    let tests = "import unittest\nclass T(unittest.TestCase):\n    def test_x(self):\n        self.assertEqual(X, 1)\n";
    let (dir, mut r) = watched(&[("a.py", "X = 1\n"), ("a_unittest.py", tests)]);
    dir.write("a_unittest.py", &tests.replace("X, 1", "X, 2"));
    let reports = next_reports(&mut r);
    assert_eq!(outcomes(&reports), [("a.py".into(), Outcome::Retested)]);
    assert_eq!(reports[0].tests.as_ref().unwrap().failed(), 1);
}

#[test]
fn w4_background_mode_applies_changes_on_its_own_thread() {
    let _py = python_lock();
    let (dir, r) = watched(&[("a.py", "X = 1\n")]);
    let background = Background::start(r).unwrap();
    dir.write("a.py", "X = 5\n");
    let report = background.reports().recv_timeout(LIMIT).expect("a reload within 5 s");
    assert_eq!((report.path.as_str(), report.outcome), ("a.py", Outcome::Reloaded));
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 5);
    assert_eq!(background.reloader().version(dir.path().join("a.py")), Some(2));
    let mut r = background.stop();
    assert!(r.is_watching());
    r.end_monitoring();
}

fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            names.push(name.trim().to_string());
        }
    }
    names
}

/// Waits (bounded) until `want` threads whose name starts with `prefix` exist: a thread
/// names itself once it runs, and ends a little after it is told to.
fn settle_at(prefix: &str, want: usize) -> usize {
    let deadline = Instant::now() + LIMIT;
    loop {
        let count = thread_names().iter().filter(|n| n.starts_with(prefix)).count();
        if count == want || Instant::now() >= deadline {
            return count;
        }
        std::thread::yield_now();
    }
}

fn settle(prefix: &str) -> usize {
    settle_at(prefix, 0)
}

#[test]
fn w4_stopping_leaves_no_watcher_thread() {
    let _py = python_lock();
    let count = |prefix: &str| thread_names().iter().filter(|n| n.starts_with(prefix)).count();
    // Watchers of earlier tests end asynchronously once dropped.
    assert_eq!(settle("notify-rs"), 0);
    let (dir, r) = watched(&[("a.py", "X = 1\n")]);
    assert_eq!(settle_at("notify-rs", 1), 1);
    let background = Background::start(r).unwrap();
    assert_eq!(settle_at("relive-backgrou", 1), 1);
    let start = Instant::now();
    let mut r = background.stop();
    assert_eq!(count("relive-backgrou"), 0, "stop joins the background thread");
    r.end_monitoring();
    assert!(start.elapsed() < Duration::from_secs(1), "stopped promptly: {:?}", start.elapsed());
    assert_eq!(settle("notify-rs"), 0, "the watcher thread ends");
    drop(dir);
}
