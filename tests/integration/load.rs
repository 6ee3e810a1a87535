//! Loading directories into namespaces: rules L1–L9.

use relive::{Outcome, Reloader, ScriptProblem, Wait};

use crate::util::{ScriptDir, eval, logs, python_lock, run};

fn reloader() -> Reloader {
    Reloader::builder().build().expect("reloader")
}

#[test]
fn l1_folders_become_namespaces_that_are_modules_and_parent_attributes() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("base.py", "X = 1\n");
    dir.write("ai/brain.py", "class Brain:\n    def think(self):\n        return 'hm'\n");
    dir.write("ai/deep/eye.py", "SEES = True\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.namespaces, ["game", "game.ai", "game.ai.deep"]);
    assert!(eval::<bool>("sys.modules['game'].ai is sys.modules['game.ai']"));
    assert!(eval::<bool>("sys.modules['game.ai'].deep is sys.modules['game.ai.deep']"));
    run(
        "import game.ai.deep\nassert game.ai.deep.SEES is True\nfrom game.ai import Brain\nassert Brain().think() == 'hm'",
    );
    assert_eq!(eval::<String>("importlib.import_module('game.ai').Brain.__module__"), "game.ai");
}

#[test]
fn l1_scripts_import_namespaces_with_every_form() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("ai/brain.py", "class Brain:\n    pass\n");
    dir.write(
        "user.py",
        "import game.ai\nfrom game.ai import Brain\nfrom game import ai\nimport game.ai as alias\n\
         SAME = game.ai.Brain is Brain is ai.Brain is alias.Brain\n",
    );
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(eval::<bool>("sys.modules['game'].SAME"));
}

#[test]
fn l1_a_script_importing_a_sibling_namespace_that_loads_later_runs_once() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "from game.z import Late\nclass Early(Late):\n    pass\n");
    dir.write("z/last.py", "class Late:\n    pass\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.executions, 2, "each script runs once: {report:?}");
    assert!(eval::<bool>("issubclass(sys.modules['game'].Early, sys.modules['game.z'].Late)"));
}

#[test]
fn l1_a_namespace_lives_with_its_directory_even_without_scripts() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("notes.txt", "not a script");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded);
    assert_eq!(report.namespaces, ["game"]);
    assert!(eval::<bool>("'game' in sys.modules"));
}

#[test]
fn l1_hidden_folders_pycache_and_other_files_are_ignored() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write(".hidden/x.py", "raise SystemExit('must not run')\n");
    dir.write("__pycache__/y.py", "raise SystemExit('must not run')\n");
    dir.write(".swap.py", "raise SystemExit('must not run')\n");
    dir.write("data.json", "{}");
    dir.write("real.py", "OK = 1\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.scripts.len(), 1);
}

#[test]
fn t5_a_test_file_beside_its_script_is_not_a_script() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("brain.py", "X = 1\n");
    dir.write("brain_unittest.py", "Y = 2\n");
    dir.write("test_brain.py", "Z = 3\n");
    dir.write("test_orphan.py", "W = 4\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    let paths: Vec<&str> = report.scripts.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["brain.py", "test_orphan.py"]);
}

#[test]
fn l1_namespaces_can_be_dotted_and_parents_are_made_and_removed() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("x.py", "X = 1\n");
    let mut r = reloader();
    let report = r.add_directory("mods.game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(eval::<bool>("sys.modules['mods'].game.X == 1"));
    r.remove_directory(dir.path()).expect("remove");
    assert!(eval::<bool>("'mods' not in sys.modules and 'mods.game' not in sys.modules"));
}

#[test]
fn l3_scripts_run_with_their_own_globals() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write(
        "ai/brain.py",
        "import builtins\nNAME = __name__\nFILE = __file__\nBUILTINS = __builtins__ is builtins\nMAIN = False\n\
         if __name__ == '__main__':\n    MAIN = True\n",
    );
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let ns = "sys.modules['game.ai']";
    assert_eq!(eval::<String>(&format!("{ns}.NAME")), "game.ai");
    assert_eq!(eval::<String>(&format!("{ns}.FILE")), file.canonicalize().unwrap().to_string_lossy());
    assert!(eval::<bool>(&format!("{ns}.BUILTINS and not {ns}.MAIN")));
}

#[test]
fn l3_a_relative_import_is_a_clear_error_with_its_line() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 1\n");
    dir.write("b.py", "Y = 2\nfrom . import a\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let Some(ScriptProblem::Error { failure }) = &report.script("b.py").unwrap().problem else {
        panic!("expected an error: {report}")
    };
    assert!(failure.message.contains("relative import"), "{failure:?}");
    assert_eq!(failure.line, Some(2));
}

#[test]
fn l4_exports_defined_names_and_values_only() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write(
        "a.py",
        r#"
import functools, os, unittest
from collections import OrderedDict
from os.path import join
from math import sqrt

class Player:
    def hit(self):
        return 1

class Empty:
    pass

def helper():
    return 2

def deco(fn):
    @functools.wraps(fn)
    def wrapper(*a):
        return fn(*a)
    return wrapper

@deco
def wrapped():
    return 3

@functools.lru_cache(maxsize=None)
def cached():
    return 4

class PlayerTest(unittest.TestCase):
    def test_hit(self):
        self.assertEqual(Player().hit(), 1)

LIMIT = 10
DEFAULT = Player()
BOUND = DEFAULT.hit
PARTIAL = functools.partial(helper)
_PRIVATE = 1
__dunder__ = 2
"#,
    );
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    let got = &report.script("a.py").unwrap().contributions;
    let want =
        ["BOUND", "DEFAULT", "Empty", "LIMIT", "PARTIAL", "Player", "cached", "deco", "helper", "wrapped"];
    assert_eq!(got, &want);
    assert!(eval::<bool>(
        "not hasattr(sys.modules['game'], 'join') and not hasattr(sys.modules['game'], 'os')"
    ));
}

#[test]
fn l4_all_lists_exactly_the_exports() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "__all__ = ['_shown', 'Public']\n_shown = 1\nclass Public: pass\ndef hidden(): pass\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.script("a.py").unwrap().contributions, ["Public", "_shown"]);
}

#[test]
fn l4_all_naming_a_missing_name_fails_the_script() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "__all__ = ['Ghost']\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    assert!(report.script("a.py").unwrap().problem.as_ref().unwrap().to_string().contains("'Ghost'"));
}

#[test]
fn l4_names_imported_from_sibling_scripts_are_not_duplicates() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write(
        "a.py",
        "class Base:\n    pass\nclass Bare:\n    pass\nCONFIG = {'a': 1}\ndef util():\n    pass\n",
    );
    dir.write("b.py", "from game import Base, Bare, CONFIG, util\nclass Kid(Base):\n    pass\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(report.duplicates.is_empty(), "{:?}", report.duplicates);
    assert_eq!(report.script("b.py").unwrap().contributions, ["Kid"]);
}

#[test]
fn l5_the_first_script_in_path_order_wins_a_duplicate_and_it_is_logged() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "X = 'a'\n");
    dir.write("b.py", "X = 'b'\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(eval::<String>("sys.modules['game'].X"), "a");
    assert_eq!(report.duplicates.len(), 1);
    assert_eq!(report.duplicates[0].kept, "a.py");
    assert_eq!(report.duplicates[0].ignored.as_str(), "b.py");
    let warnings: Vec<String> = logs().into_iter().filter(|l| l.starts_with("WARN")).collect();
    assert_eq!(warnings, ["WARN duplicate name game.X: b.py ignored, a.py kept"]);
}

#[test]
fn l5_path_order_wins_even_when_the_later_script_runs_first() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    // a.py imports from b.py, so b.py runs first; a.py still wins X.
    dir.write("a.py", "from game import Y\nX = 'a'\n");
    dir.write("b.py", "Y = 1\nX = 'b'\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(eval::<String>("sys.modules['game'].X"), "a");
    assert_eq!(report.duplicates[0].ignored.as_str(), "b.py");
    assert_eq!(report.script("b.py").unwrap().contributions, ["Y"]);
}

#[test]
fn l5_a_sub_namespace_wins_over_a_script_name() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "ai = 'shadow'\n");
    dir.write("ai/brain.py", "B = 1\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert!(eval::<bool>("sys.modules['game'].ai is sys.modules['game.ai']"));
    assert_eq!(report.duplicates[0].kept, "namespace game.ai");
}

#[test]
fn l6_a_dynamic_import_blocks_and_reruns_once_the_name_appears() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "import game\nLATE = game.Late\n");
    dir.write("b.py", "class Late:\n    pass\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.script("a.py").unwrap().executions, 2);
    assert_eq!(report.script("b.py").unwrap().executions, 1);
}

#[test]
fn l6_a_three_script_cycle_is_reported_as_a_cycle() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "from game import C\nA = 1\n");
    dir.write("b.py", "from game import A\nB = 1\n");
    dir.write("c.py", "from game import B\nC = 1\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    for path in ["a.py", "b.py", "c.py"] {
        let problem = report.script(path).unwrap().problem.as_ref().expect("failed");
        assert!(
            matches!(problem, ScriptProblem::Cycle { cycle, .. } if cycle == "a.py -> c.py -> b.py -> a.py"),
            "{problem}"
        );
    }
    assert_eq!(report.cycles, ["a.py -> c.py -> b.py -> a.py"]);
    let cycle_lines: Vec<String> = logs().into_iter().filter(|l| l.contains("cycle: a.py")).collect();
    assert!(cycle_lines.contains(&"INFO cycle: a.py -> c.py -> b.py -> a.py".to_string()), "{cycle_lines:?}");
}

#[test]
fn l6_an_unresolvable_script_names_what_it_waits_for() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "from game.ai import Missing\n");
    dir.write("ai/b.py", "Present = 1\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let problem = report.script("a.py").unwrap().problem.clone().expect("failed");
    let ScriptProblem::Blocked { waits_for, .. } = problem else { panic!("{problem}") };
    assert_eq!(waits_for, Wait::Name { namespace: "game.ai".into(), name: "Missing".into() });
    assert_eq!(report.script("a.py").unwrap().executions, 1);
}

#[test]
fn l6_a_real_import_error_is_not_a_wait() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "import no_such_module_anywhere\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    let problem = report.script("a.py").unwrap().problem.clone().expect("failed");
    assert!(
        matches!(&problem, ScriptProblem::Error { failure } if failure.kind == "ModuleNotFoundError"),
        "{problem}"
    );
}

#[test]
fn l6_random_acyclic_dependencies_run_each_script_once() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let n = 120;
    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    // Script i defines V{i} and imports up to three names of scripts with larger index,
    // so the graph is acyclic but sorted order is the worst order.
    for i in 0..n {
        let mut text = String::new();
        for _ in 0..3 {
            if i + 1 < n {
                let dep = i + 1 + next() % (n - i - 1);
                text.push_str(&format!("from game import V{dep}\n"));
            }
        }
        text.push_str(&format!("V{i} = {i}\n"));
        dir.write(&format!("s{i:03}.py"), &text);
    }
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert_eq!(report.executions, n as u32);
}

#[test]
fn l7_a_failed_load_leaves_nothing_and_can_be_retried() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("ai/brain.py", "B = 1\n");
    let broken = dir.write("ai/bad.py", "raise RuntimeError('boom')\n");
    let mut r = reloader();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    assert!(report.namespaces.is_empty());
    assert!(eval::<bool>("not any(m == 'game' or m.startswith('game.') for m in sys.modules)"));
    assert!(r.namespaces().is_empty());
    assert!(r.scripts().is_empty());
    std::fs::write(&broken, "C = 1\n").unwrap();
    let report = r.add_directory("game", dir.path()).expect("second load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(eval::<bool>("sys.modules['game.ai'].C == 1"));
}

#[test]
fn l7_a_partial_load_keeps_what_loaded_and_the_rest_is_pending() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let bad = dir.write("b.py", "B = 1/0\n");
    let mut r = Reloader::builder().partial(true).build().unwrap();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded);
    assert_eq!(report.script("a.py").unwrap().outcome, Outcome::Loaded);
    assert_eq!(report.script("b.py").unwrap().outcome, Outcome::Pending);
    assert_eq!(r.pending(), [bad.canonicalize().unwrap()]);
    assert!(eval::<bool>("sys.modules['game'].A == 1 and not hasattr(sys.modules['game'], 'B')"));
}

#[test]
fn l8_loads_are_deterministic() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "from game.z import Z\nimport game\nX = game.Y\n");
    dir.write("b.py", "Y = 1\nDUP = 1\n");
    dir.write("c.py", "DUP = 2\nraise ValueError('no')\n");
    dir.write("z/z.py", "Z = 1\nDUP = 3\n");
    let mut r = reloader();
    let first = r.add_directory("game", dir.path()).expect("load");
    let first_logs = logs();
    let second = r.add_directory("game", dir.path()).expect("load");
    let second_logs: Vec<String> = logs().into_iter().skip(first_logs.len()).collect();
    assert_eq!(serde_json::to_string(&first).unwrap(), serde_json::to_string(&second).unwrap());
    assert_eq!(first_logs, second_logs);
    assert_eq!(first.to_string(), second.to_string());
}

#[test]
fn l9_remove_directory_leaves_nothing_and_held_objects_keep_working() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "FACTOR = 3\ndef triple(x):\n    return FACTOR * x\n");
    dir.write("ai/b.py", "B = 1\n");
    let mut r = reloader();
    r.add_directory("game", dir.path()).expect("load");
    run("import builtins\nbuiltins._relive_test_triple = sys.modules['game'].triple");
    let removed = r.remove_directory(dir.path()).expect("remove");
    assert_eq!(removed.namespaces, ["game", "game.ai"]);
    assert!(eval::<bool>("not any(m == 'game' or m.startswith('game.') for m in sys.modules)"));
    assert!(r.namespaces().is_empty() && r.scripts().is_empty());
    assert_eq!(eval::<i64>("__import__('builtins')._relive_test_triple(2)"), 6);
    run("import builtins\ndel builtins._relive_test_triple");
    // The same directory can be added again.
    assert_eq!(r.add_directory("game", dir.path()).expect("reload").outcome, Outcome::Loaded);
}

#[test]
fn l9_dropping_the_reloader_removes_its_namespaces() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let mut r = reloader();
    r.add_directory("game", dir.path()).expect("load");
    drop(r);
    assert!(eval::<bool>("'game' not in sys.modules"));
}

#[test]
fn w5_python_logging_from_scripts_reaches_the_log() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "import logging\nlogging.getLogger('game.a').warning('careful: %s', 42)\nlogging.getLogger('game.a').info('fyi')\n");
    let mut r = reloader();
    r.add_directory("game", dir.path()).unwrap();
    let lines = logs();
    assert!(lines.contains(&"WARN game.a: careful: 42".to_string()), "{lines:?}");
    assert!(lines.contains(&"INFO game.a: fyi".to_string()), "{lines:?}");
}

#[test]
fn l5_in_one_reload_batch_the_first_new_script_in_path_order_wins_a_duplicate() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("base.py", "B = 1\n");
    let mut r = reloader();
    r.add_directory("game", dir.path()).expect("load");
    // Applied in path order: a.py first, b.py loses X.
    dir.write("a.py", "X = 'a'\n");
    dir.write("b.py", "X = 'b'\n");
    let reports = r.reload_batch([dir.path().join("a.py"), dir.path().join("b.py")]).expect("batch");
    assert!(reports.iter().all(|r| r.outcome == Outcome::Loaded), "{reports:?}");
    assert_eq!(eval::<String>("sys.modules['game'].X"), "a");
    assert_eq!(r.contributions(dir.path().join("a.py")).unwrap(), ["X"]);
    assert!(r.contributions(dir.path().join("b.py")).unwrap().is_empty());
    let warnings: Vec<String> = logs().into_iter().filter(|l| l.starts_with("WARN")).collect();
    assert_eq!(warnings, ["WARN duplicate name game.X: b.py ignored, a.py kept"]);
    // Applied against path order (c.py imports from d.py, so d.py goes first): c.py still
    // takes Y over from d.py.
    dir.write("c.py", "from game import Z\nY = 'c'\n");
    dir.write("d.py", "Z = 1\nY = 'd'\n");
    let reports = r.reload_batch([dir.path().join("c.py"), dir.path().join("d.py")]).expect("batch");
    assert!(reports.iter().all(|r| r.outcome == Outcome::Loaded), "{reports:?}");
    assert_eq!(eval::<String>("sys.modules['game'].Y"), "c");
    assert_eq!(r.contributions(dir.path().join("c.py")).unwrap(), ["Y"]);
    assert_eq!(r.contributions(dir.path().join("d.py")).unwrap(), ["Z"]);
}
