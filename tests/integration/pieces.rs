//! A reload compiles only the statements that changed (issue 17, `src/engine/source.py`):
//! what runs must still be exactly what a fresh load of the whole file runs (R1): line
//! numbers, the module docstring, `__annotations__`, `__future__` flags, syntax errors.

use relive::Outcome;

use crate::util::{ScriptDir, eval, load_one as loaded, python_lock, reload_one as reload, run};

/// The line a call of `expr` raised at, by its traceback.
fn raised_at(expr: &str) -> usize {
    run("import traceback\n\
         def _raised_line(f):\n\
         \x20   try:\n\
         \x20       f()\n\
         \x20   except ValueError as e:\n\
         \x20       return traceback.extract_tb(e.__traceback__)[-1].lineno\n\
         sys._relive_raised_line = _raised_line\n");
    eval(&format!("sys._relive_raised_line({expr})"))
}

#[test]
fn r1_code_below_an_edit_that_adds_lines_carries_its_new_line_numbers() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let tail = "\nclass K:\n    def m(self):\n        raise ValueError('m')\n\ndef g():\n    raise ValueError('g')\n";
    let mut r = loaded(&dir, "pieces_lines", &format!("def f():\n    return 1\n{tail}"));
    assert_eq!(raised_at("sys.modules['pieces_lines'].g"), 9);
    let report = reload(&mut r, &dir, &format!("def f():\n    x = 1\n    y = 2\n    return x + y\n{tail}"));
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert_eq!(eval::<usize>("sys.modules['pieces_lines'].g.__code__.co_firstlineno"), 10);
    assert_eq!(raised_at("sys.modules['pieces_lines'].g"), 11);
    assert_eq!(raised_at("sys.modules['pieces_lines'].K().m"), 8);
    // 3.13 records a class's first line in the class (`inspect.getsource` reads it).
    assert!(eval::<bool>("getattr(sys.modules['pieces_lines'].K, '__firstlineno__', 6) == 6"));
    // And back up again.
    let report = reload(&mut r, &dir, &format!("def f(): return 0\n{tail}"));
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert_eq!(raised_at("sys.modules['pieces_lines'].g"), 8);
    assert_eq!(raised_at("sys.modules['pieces_lines'].K().m"), 5);
}

#[test]
fn r1_only_the_first_statement_is_the_docstring() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let mut r = loaded(&dir, "pieces_doc", "\"\"\"The module.\"\"\"\ndef f():\n    return __doc__\n");
    assert_eq!(eval::<String>("sys.modules['pieces_doc'].f()"), "The module.");
    // The string is now the second statement: a fresh load has no docstring.
    let report = reload(&mut r, &dir, "X = 1\n\"\"\"The module.\"\"\"\ndef f():\n    return __doc__\n");
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert!(eval::<bool>("sys.modules['pieces_doc'].f() is None"));
    let report = reload(&mut r, &dir, "\"\"\"Changed.\"\"\"\ndef f():\n    return __doc__\n");
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert_eq!(eval::<String>("sys.modules['pieces_doc'].f()"), "Changed.");
}

#[test]
fn r1_module_annotations_are_set_up_first_as_in_a_fresh_load() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!(
            "SEEN = '__annotations__' in globals()\nLIMIT: int = {v}\ndef hints():\n    return dict(__annotations__)\n"
        )
    };
    let mut r = loaded(&dir, "pieces_ann", &text(1));
    let fresh = "(lambda g: (exec(open(sys.modules['pieces_ann'].hints.__code__.co_filename).read(), g), \
                 (g['SEEN'], sorted(g['__annotations__'])))[1])({})";
    let expected: (bool, Vec<String>) = eval(fresh);
    assert_eq!(expected, (true, vec!["LIMIT".to_string()]), "Python sets up __annotations__ first");
    let report = reload(&mut r, &dir, &text(2));
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert!(eval::<bool>("sys.modules['pieces_ann'].SEEN"));
    assert_eq!(eval::<Vec<String>>("sorted(sys.modules['pieces_ann'].hints())"), ["LIMIT"]);
}

#[test]
fn r1_future_imports_apply_to_every_piece() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!("from __future__ import annotations\n\ndef f(x: Undefined{v}) -> int:\n    return {v}\n")
    };
    let mut r = loaded(&dir, "pieces_future", &text(1));
    let report = reload(&mut r, &dir, &text(2));
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    assert_eq!(eval::<String>("sys.modules['pieces_future'].f.__annotations__['x']"), "Undefined2");
    // Without the future import, the annotation is evaluated, and fails as in a fresh load.
    let report = reload(&mut r, &dir, "\ndef f(x: Undefined3) -> int:\n    return 3\n");
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    assert!(report.to_string().contains("NameError"), "{report}");
    // A future import after another statement is the error a fresh load gives, even after
    // two strings (only the first is the docstring).
    for text in
        ["X = 1\nfrom __future__ import annotations\n", "'a'\n'b'\nfrom __future__ import annotations\n"]
    {
        let report = reload(&mut r, &dir, text);
        assert_eq!(report.outcome, Outcome::Rejected, "{report}");
        assert!(
            report.to_string().contains("from __future__ imports must occur at the beginning"),
            "{report}"
        );
    }
}

/// The common head of a module, a docstring then `from __future__ import annotations`,
/// still lets a reload compile only what changed.
#[test]
fn r1_a_docstring_then_a_future_import_keeps_reloads_incremental() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!(
            "\"\"\"Pieces with a future head.\"\"\"\nfrom __future__ import annotations\n\ndef f(x: Later) -> int:\n    return {v}\n\ndef g():\n    return 0\n"
        )
    };
    let mut r = loaded(&dir, "pieces_head", &text(1));
    for v in 2..4 {
        let report = reload(&mut r, &dir, &text(v));
        assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    }
    assert_eq!(eval::<usize>("sys.modules['pieces_head'].f(0)"), 3);
    assert_eq!(eval::<String>("sys.modules['pieces_head'].f.__annotations__['x']"), "Later");
    // The source in effect is made of pieces, not one whole compile.
    assert!(eval::<bool>(
        "(lambda gc: [s.whole is None and len(s.pieces) == 4 for s in gc.get_objects() \
           if type(s).__name__ == 'Source' and type(s).__module__ == '_relive_source' and s.pieces \
           and s.pieces[0].text.startswith('\"\"\"Pieces with a future head')] == [True])(__import__('gc'))"
    ));
}

#[test]
fn e1_a_syntax_error_in_a_changed_statement_names_its_own_line() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let body = (0..20).map(|i| format!("def f{i}():\n    return {i}\n")).collect::<String>();
    let mut r = loaded(&dir, "pieces_error", &body);
    let broken = body.replace("def f12():\n    return 12\n", "def f12():\n    return (12\n");
    let report = reload(&mut r, &dir, &broken);
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    let text = report.to_string();
    assert!(text.contains("a.py:26") || text.contains("line 26"), "{text}");
    // A change that opens a string swallowing the rest of the file.
    let swallowed = body.replace("    return 5\n", "    return '''5\n");
    let report = reload(&mut r, &dir, &swallowed);
    assert_eq!(report.outcome, Outcome::Rejected, "{report}");
    assert!(eval::<bool>("sys.modules['pieces_error'].f19() == 19"), "the code in effect stays");
}

/// A piece compiled on its own gives the code compiling the whole module gives: CPython
/// compiles `functools.reduce(...)` one way when `functools` is a module-level import
/// anywhere in the module, another way when not.
#[test]
fn r5_an_unchanged_function_is_not_rebound_and_its_code_is_a_fresh_compiles() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!(
            "import functools\n\ndef total(xs):\n    return functools.reduce(lambda a, b: a + b, xs)\n\ndef version():\n    return {v}\n"
        )
    };
    let mut r = loaded(&dir, "pieces_code", &text(1));
    for v in 2..4 {
        let report = reload(&mut r, &dir, &text(v));
        assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
        let changes = report.changes.as_ref().expect("applied");
        assert_eq!(changes.functions_rebound, ["version"], "{report}");
    }
    assert!(eval::<bool>(
        "(lambda f: f.__code__ == next(c for c in compile(open(f.__code__.co_filename).read(), \
         f.__code__.co_filename, 'exec').co_consts if getattr(c, 'co_name', None) == 'total'))\
         (sys.modules['pieces_code'].total)"
    ));
    assert_eq!(eval::<usize>("sys.modules['pieces_code'].total([1, 2, 3])"), 6);
}
