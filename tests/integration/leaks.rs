//! No leak per reload (R12, the original library's issue 12): counts, never times.

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, eval, python_lock, run};

fn script(version: usize) -> String {
    // Each execution registers a weak reference to the marker relive put in its globals:
    // a dict cannot be weakly referenced, its marker can (R12).
    let mut text = String::from(
        "import functools, builtins, weakref\nbuiltins._relive_markers.append(weakref.ref(globals()['__relive__']))\n",
    );
    for c in 0..5 {
        text.push_str(&format!(
            "class C{c}:\n    SHARED = []\n    def v(self):\n        return {version}\n    @property\n    def p(self):\n        return super().__class__\n"
        ));
    }
    text.push_str(&format!(
        "class Kid(C0):\n    def v(self):\n        return super().v() + {version}\nDEFAULT = Kid()\nTABLE = {{'k': C1(), 'f': functools.partial(C2)}}\n\
         def make(c=C3()):\n    return c\nVERSION = {version}\n"
    ));
    text
}

#[test]
fn r12_a_thousand_reloads_leave_one_class_per_class_and_no_candidate_globals() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", &script(0));
    run("import builtins\nbuiltins._relive_markers = []");
    let mut reloader = Reloader::builder().build().unwrap();
    assert_eq!(reloader.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    run("import gc, builtins\nbuiltins._relive_gc_was = gc.isenabled()\ngc.disable()");
    for version in 1..=1000 {
        std::fs::write(&file, script(version)).unwrap();
        let report = reloader.reload(&file).unwrap();
        assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    }
    assert_eq!(eval::<i64>("sys.modules['game'].Kid().v()"), 2000);
    run("import gc, builtins\ngc.collect()\nif builtins._relive_gc_was: gc.enable()");
    let counts: Vec<(String, i64)> = eval(
        "sorted(__import__('collections').Counter(o.__qualname__ for o in __import__('gc').get_objects() \
         if isinstance(o, type) and o.__module__ == 'game').items())",
    );
    let expected: Vec<(String, i64)> =
        ["C0", "C1", "C2", "C3", "C4", "Kid"].iter().map(|n| (n.to_string(), 1)).collect();
    assert_eq!(counts, expected);
    // 1,001 globals dicts were made; only the retained one (the first) is alive.
    assert_eq!(eval::<i64>("len(__import__('builtins')._relive_markers)"), 1001);
    let alive: Vec<i64> =
        eval("[i for i, r in enumerate(__import__('builtins')._relive_markers) if r() is not None]");
    assert_eq!(alive, [0]);
    run("import builtins\ndel builtins._relive_markers, builtins._relive_gc_was");
}

#[test]
fn r12_rejected_reloads_leave_no_candidate_behind() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("a.py", "class P:\n    __slots__ = ('x',)\n");
    let mut reloader = Reloader::builder().build().unwrap();
    reloader.add_directory("game", dir.path()).unwrap();
    for i in 0..20 {
        std::fs::write(&file, format!("class P:\n    __slots__ = ('x', 'y{i}')\n")).unwrap();
        assert_eq!(reloader.reload(&file).unwrap().outcome, Outcome::Rejected);
    }
    run("import gc\ngc.collect()");
    let count: i64 = eval(
        "sum(1 for o in __import__('gc').get_objects() if isinstance(o, type) and o.__module__ == 'game' and o.__qualname__ == 'P')",
    );
    assert_eq!(count, 1);
}

#[test]
fn r12_debug_leaks_warns_when_outside_code_keeps_old_class_versions() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    // An __init_subclass__ registry of a class outside the script keeps every candidate.
    run(
        "import builtins\nclass _Plugin:\n    registry = []\n    def __init_subclass__(cls, **kw):\n        _Plugin.registry.append(cls)\nbuiltins._RelivePlugin = _Plugin",
    );
    let file = dir.write("a.py", "class Mine(_RelivePlugin):\n    V = 1\n");
    let mut reloader = Reloader::builder().debug_leaks(true).build().unwrap();
    reloader.add_directory("game", dir.path()).unwrap();
    std::fs::write(&file, "class Mine(_RelivePlugin):\n    V = 2\n").unwrap();
    assert_eq!(reloader.reload(&file).unwrap().outcome, Outcome::Reloaded);
    assert!(
        crate::util::logs()
            .iter()
            .any(|l| l.starts_with("WARN a.py: 2 class objects named game.Mine survive")),
        "{:?}",
        crate::util::logs()
    );
    run("import builtins\ndel builtins._RelivePlugin");
}
