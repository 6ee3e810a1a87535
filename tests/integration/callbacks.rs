//! Callbacks from Rust and from Python (R13): validate, class created/updated, applied,
//! rejected; a failing callback never aborts or half-applies a reload.

use std::sync::{Arc, Mutex};

use pyo3::types::PyDictMethods;
use relive::{Event, Outcome, Reloader};

use crate::util::{ScriptDir, eval, logs, python_lock, run};

#[test]
fn r13_rust_listeners_see_class_events_then_applied_or_rejected() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "class P:\n    pass\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    r.on_event(move |event| sink.lock().unwrap().push(event.clone()));
    std::fs::write(&file, "class P:\n    x = 1\nclass Q:\n    pass\n").unwrap();
    r.reload(&file).unwrap();
    std::fs::write(&file, "class P:\n    __slots__ = ('a',)\n").unwrap();
    r.reload(&file).unwrap();
    let events = seen.lock().unwrap().clone();
    let path = relive::ScriptPath::from("a.py");
    assert_eq!(
        events,
        [
            Event::ClassCreated { path: path.clone(), qualname: "Q".into() },
            Event::ClassUpdated { path: path.clone(), qualname: "P".into() },
            Event::Applied { path: path.clone(), version: 2 },
            Event::Rejected { path, reason: "class P: __slots__ changed () -> ('a',)".into() },
        ]
    );
}

#[test]
fn r13_a_rust_validator_rejects_before_tests_run() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "VERSION = 1\n");
    dir.write(
        "a_unittest.py",
        "import unittest\nclass T(unittest.TestCase):\n    def test_v(self):\n        pass\n",
    );
    let mut r = Reloader::builder().build().unwrap();
    r.on_validate(|_py, globals| match globals.contains("VERSION") {
        Ok(true) => Ok(()),
        _ => Err("every script must define VERSION".to_string()),
    });
    r.add_directory("game", dir.path()).unwrap();
    std::fs::write(&file, "OTHER = 1\n").unwrap();
    let report = r.reload(&file).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(report.tests.is_none(), "validation comes before the tests");
    assert_eq!(
        report.reason.unwrap().to_string(),
        "a validate callback rejected it: ValueError: every script must define VERSION"
    );
    assert!(eval::<bool>("sys.modules['game'].VERSION == 1"));
}

#[test]
fn r13_python_callbacks_from_scripts_and_their_errors_are_logged_not_fatal() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write(
        "hooks.py",
        "import relive, builtins\nbuiltins._relive_seen = []\n\
         @relive.on_validate\ndef must_have_limit(g):\n    if g['__name__'] == 'game' and 'LIMIT' not in g and 'must_have_limit' not in g:\n        raise ValueError('LIMIT missing')\n\
         relive.on_class_updated(lambda cls: builtins._relive_seen.append(('updated', cls.__name__)))\n\
         relive.on_applied(lambda rep: builtins._relive_seen.append(('applied', rep.path, rep.version, relive.version(rep.path))))\n\
         relive.on_rejected(lambda rep: builtins._relive_seen.append(('rejected', rep.path)))\n\
         def broken(rep):\n    raise RuntimeError('callback bug')\nrelive.on_applied(broken)\n",
    );
    let file = dir.write("limits.py", "LIMIT = 1\nclass P:\n    pass\n");
    let mut r = Reloader::builder().build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    std::fs::write(&file, "LIMIT = 2\nclass P:\n    x = 1\n").unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
    std::fs::write(&file, "class P:\n    x = 2\n").unwrap();
    let report = r.reload(&file).unwrap();
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(report.reason.unwrap().to_string().contains("ValueError: LIMIT missing"));
    let seen: Vec<(String, String)> =
        eval("[(e[0], str(e[1:])) for e in __import__('builtins')._relive_seen]");
    assert_eq!(
        seen,
        [
            ("updated".to_string(), "('P',)".to_string()),
            ("applied".into(), "('limits.py', 2, 2)".into()),
            ("rejected".into(), "('limits.py',)".into()),
        ]
    );
    assert!(
        logs()
            .iter()
            .any(|l| l.starts_with("ERROR limits.py: applied callback raised") && l.contains("callback bug"))
    );
    assert_eq!(eval::<i64>("sys.modules['game'].LIMIT"), 2);
    run(
        "import builtins, relive\ndel builtins._relive_seen\nfor k in relive._callbacks: relive._callbacks[k].clear()",
    );
}

#[test]
fn r13_a_panicking_listener_is_logged_and_the_reload_stands() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "X = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).unwrap();
    r.on_event(|_| panic!("listener bug"));
    std::fs::write(&file, "X = 2\n").unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
    assert_eq!(eval::<i64>("sys.modules['game'].X"), 2);
    assert!(logs().iter().any(|l| l.starts_with("ERROR a callback panicked")));
}
