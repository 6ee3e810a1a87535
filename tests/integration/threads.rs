//! R2 for other threads: while relive applies a reload, another Python thread never sees
//! the program half-applied (one method new, its sibling old).

use std::fmt::Write as _;

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, eval, python_lock, run};

const METHODS: usize = 300;

/// One round of the reader: `m0`, the last method, `f0`, the last function, `m0` again.
type Reads = (u64, u64, u64, u64, u64);
const RELOADS: usize = 200;

/// A class of `METHODS` methods and as many module functions, all returning `version`.
fn script(version: usize) -> String {
    let mut text = String::from("class Many:\n");
    for m in 0..METHODS {
        let _ = writeln!(text, "    def m{m}(self):\n        return {version}");
    }
    for f in 0..METHODS {
        let _ = writeln!(text, "def f{f}():\n    return {version}");
    }
    text
}

/// The reader: versions only grow, so for reads made one after the other, an earlier read
/// never sees a newer version than a later one unless the program was half-applied.
const READER: &str = r#"
import sys, threading
game = sys.modules['game']
last = METHODS - 1
reader_state = {'stop': False, 'reads': 0, 'torn': 0, 'example': None}

def reader():
    obj = game.Many()
    m_first, m_last = 'm0', f'm{last}'
    while not reader_state['stop']:
        a = getattr(obj, m_first)()
        b = getattr(obj, m_last)()
        c = getattr(game, 'f0')()
        d = getattr(game, f'f{last}')()
        e = getattr(obj, m_first)()
        reader_state['reads'] += 1
        if not (a <= b <= c <= d <= e) and (a > b or b > c or c > d or d > e):
            reader_state['torn'] += 1
            reader_state['example'] = (a, b, c, d, e)

reader_state['thread'] = threading.Thread(target=reader, daemon=True)
sys._r2_reader = reader_state
reader_state['thread'].start()
"#;

#[test]
fn r2_another_thread_never_sees_a_half_applied_reload() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("many.py", &script(0));
    let mut r = Reloader::builder().tests(false).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    run(&READER.replace("METHODS", &METHODS.to_string()));
    let mut applied = 0;
    for version in 1..=RELOADS {
        std::fs::write(&file, script(version)).unwrap();
        let report = r.reload(&file).unwrap();
        assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
        applied += 1;
    }
    run("sys._r2_reader['stop'] = True\nsys._r2_reader['thread'].join()");
    let (reads, torn, example): (u64, u64, Option<Reads>) =
        eval("(sys._r2_reader['reads'], sys._r2_reader['torn'], sys._r2_reader['example'])");
    println!(
        "R2 threads: {applied} reloads of {METHODS} methods and {METHODS} functions, {reads} paired reads, {torn} torn"
    );
    assert!(reads > 0, "the reader ran");
    assert!(eval::<bool>("sys.modules['game'].Many().m0() == sys.modules['game'].f0() == 200"));
    assert_eq!(torn, 0, "a half-applied reload was seen: {example:?}");
    drop(r);
    run("del sys._r2_reader");
}
