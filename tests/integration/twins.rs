//! Statements that did not change (issue 17, `src/engine/pairing.py`): their functions and
//! classes are paired with the ones in effect without being patched, which must give
//! exactly what patching gives (R3, R4, R5): identity kept, and whatever the program changed
//! in them since brought back to what the file says.

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, eval, load_one as loaded, python_lock, reload_one, run};

fn reload(r: &mut Reloader, dir: &ScriptDir, text: &str) -> relive::ReloadReport {
    let report = reload_one(r, dir, text);
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    report
}

const CLASS: &str = "class K:\n    x = 1\n    items = []\n    def get(self):\n        return self.x\n    \
                     @staticmethod\n    def s():\n        return 's'\n    @classmethod\n    def c(cls):\n        \
                     return cls.x\n    @property\n    def p(self):\n        return self.x\n";

#[test]
fn r3_an_unchanged_class_keeps_its_members_and_loses_what_the_program_changed() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| format!("{CLASS}\ndef f():\n    return {v}\n");
    let mut r = loaded(&dir, "twins_class", &text(1));
    run("m = sys.modules['twins_class']\n\
         sys._twins_before = (m.K, dict(m.K.__dict__))\n");
    let report = reload(&mut r, &dir, &text(2));
    assert!(report.changes.as_ref().unwrap().classes_updated.contains(&"K".to_string()), "{report}");
    assert!(eval::<bool>(
        "(lambda K, before: K is before[0] and all(K.__dict__[n] is before[1][n] for n in ('get', 's', 'c', 'p')))\
         (sys.modules['twins_class'].K, sys._twins_before)"
    ));
    // The program changes the class and its members; the file does not.
    run("K = sys.modules['twins_class'].K\n\
         K.x = 5\n\
         K.items.append(1)\n\
         K.extra = 2\n\
         K.get.tag = 1\n\
         K.__dict__['s'].__func__.__doc__ = 'changed'\n\
         K.__dict__['p'].fget.__qualname__ = 'other'\n");
    reload(&mut r, &dir, &text(3));
    assert!(eval::<bool>("sys.modules['twins_class'].K is sys._twins_before[0]"));
    assert_eq!(
        eval::<(i64, usize, bool, bool, Option<String>, String, i64, i64, String)>(
            "(lambda K: (K.x, len(K.items), hasattr(K, 'extra'), hasattr(K.get, 'tag'), K.s.__doc__, \
             K.__dict__['p'].fget.__qualname__, K().p, K.c(), K.s()))(sys.modules['twins_class'].K)"
        ),
        (1, 0, false, false, None, "K.p".to_string(), 1, 1, "s".to_string())
    );
}

#[test]
fn r5_an_unchanged_function_keeps_its_identity_and_loses_what_the_program_set() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| format!("def g():\n    return 'g'\nALIAS = g\ndef f():\n    return {v}\n");
    let mut r = loaded(&dir, "twins_function", &text(1));
    run("m = sys.modules['twins_function']\n\
         sys._twins_g = m.g\n\
         m.g.tag = 1\n\
         m.g.__doc__ = 'set at run time'\n");
    reload(&mut r, &dir, &text(2));
    assert_eq!(
        eval::<(bool, bool, bool, Option<String>, i64)>(
            "(lambda m: (m.g is sys._twins_g, m.ALIAS is m.g, hasattr(m.g, 'tag'), m.g.__doc__, m.f()))\
             (sys.modules['twins_function'])"
        ),
        (true, true, false, None, 2)
    );
    // Untouched since, it stays the very function.
    reload(&mut r, &dir, &text(3));
    assert!(eval::<bool>("sys.modules['twins_function'].g is sys._twins_g"));
}

#[test]
fn r3_unchanged_subclasses_and_nested_classes_follow_a_changed_base() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: &str| {
        format!(
            "class A:\n    def m(self):\n        return '{v}'\n    class Inner:\n        def i(self):\n            \
             return 1\n\nclass B(A):\n    def n(self):\n        return 'n'\n\nOBJ = B()\n"
        )
    };
    let mut r = loaded(&dir, "twins_sub", &text("a1"));
    run("m = sys.modules['twins_sub']\nsys._twins_sub = (m.A, m.B, m.A.Inner, m.OBJ)\n");
    let report = reload(&mut r, &dir, &text("a2"));
    let changes = report.changes.as_ref().unwrap();
    for class in ["A", "B", "A.Inner"] {
        assert!(changes.classes_updated.contains(&class.to_string()), "{class}: {report}");
    }
    assert_eq!(
        eval::<(bool, bool, String, String, i64)>(
            "(lambda m, s: ((m.A, m.B, m.A.Inner, m.OBJ) == s, m.B.__bases__ == (m.A,), m.OBJ.m(), m.OBJ.n(), \
             m.B.Inner().i()))(sys.modules['twins_sub'], sys._twins_sub)"
        ),
        (true, true, "a2".to_string(), "n".to_string(), 1)
    );
}

/// A class whose methods use `super()` (a `__class__` cell), or that the program gave a new
/// method, is updated as any changed class is.
#[test]
fn r3_classes_that_are_not_twins_are_still_updated_in_place() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!(
            "class Base:\n    def hello(self):\n        return 'base'\n\nclass Child(Base):\n    def hello(self):\n        \
             return 'child+' + super().hello()\n\ndef f():\n    return {v}\n"
        )
    };
    let mut r = loaded(&dir, "twins_super", &text(1));
    run("m = sys.modules['twins_super']\n\
         sys._twins_child = m.Child\n\
         m.Child.added = lambda self: 'added'\n");
    reload(&mut r, &dir, &text(2));
    assert_eq!(
        eval::<(bool, bool, String)>(
            "(lambda m: (m.Child is sys._twins_child, hasattr(m.Child, 'added'), m.Child().hello()))\
             (sys.modules['twins_super'])"
        ),
        (true, false, "child+base".to_string())
    );
}

/// Equal is not enough where a fresh load would give another value: `-0.0` set at run time
/// over a class's `0.0`, and a nested class replaced by another class of the same shape.
#[test]
fn r3_an_unchanged_class_loses_values_that_only_compare_equal_to_its_own() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let text = |v: usize| {
        format!(
            "class K:\n    x = 0.0\n    class Inner:\n        pass\n\nclass Other:\n    pass\n\ndef f():\n    return {v}\n"
        )
    };
    let mut r = loaded(&dir, "twins_equal", &text(1));
    run("m = sys.modules['twins_equal']\n\
         m.K.x = -0.0\n\
         m.K.Inner = m.Other\n");
    reload(&mut r, &dir, &text(2));
    assert_eq!(
        eval::<(f64, bool, String)>(
            "(lambda m: (__import__('math').copysign(1.0, m.K.x), m.K.Inner is m.Other, m.K.Inner.__qualname__))\
             (sys.modules['twins_equal'])"
        ),
        (1.0, false, "K.Inner".to_string())
    );
}
