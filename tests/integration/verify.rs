//! The `verify` option: after each applied reload, the live namespaces are compared with a
//! fresh load in a child Python, and each name that differs is named at WARN.

use std::time::Instant;

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, logs, python_lock, run};

fn verify_warnings() -> Vec<String> {
    logs().into_iter().filter(|l| l.starts_with("WARN verify:")).collect()
}

#[test]
fn verify_names_only_what_differs_from_a_fresh_load() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write(
        "a.py",
        "LOG = []\nROUTES = {}\ndef route(p):\n    def reg(f):\n        ROUTES[p] = f\n        return f\n    return reg\n@route('/a')\ndef a():\n    return 1\n",
    );
    dir.write("sub/b.py", "from game import a\nclass B:\n    def v(self):\n        return a()\n");
    let mut r = Reloader::builder().tests(false).verify(true).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    let start = Instant::now();
    let edit = "LOG = []\nROUTES = {}\ndef route(p):\n    def reg(f):\n        ROUTES[p] = f\n        return f\n    return reg\n@route('/b')\ndef a():\n    return 2\n";
    std::fs::write(&file, edit).unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
    println!("verify: a reload with the fresh-load comparison took {:?}", start.elapsed());
    assert_eq!(verify_warnings(), Vec::<String>::new(), "an applied reload equals a fresh load");
    // Program state R8 keeps is what a fresh start would not have: verify says so.
    run("sys.modules['game'].LOG.append('runtime')");
    std::fs::write(&file, edit.replace("return 2", "return 3")).unwrap();
    assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
    let warnings = verify_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("game.LOG differs from a fresh load"), "{warnings:?}");
    assert!(warnings[0].contains("'runtime'"), "{warnings:?}");
}
