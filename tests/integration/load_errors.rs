//! Bad input while loading (E1): every failure names the file and line, and what ran before
//! keeps running.

use relive::{Error, Outcome, Reloader, ScriptProblem};

use crate::util::{ScriptDir, eval, python_lock};

fn load_one(text: &[u8]) -> relive::LoadReport {
    let dir = ScriptDir::new();
    dir.write_bytes("a.py", text);
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", dir.path()).expect("load")
}

fn error_of(report: &relive::LoadReport) -> relive::python::PyFailure {
    match &report.script("a.py").expect("a.py").problem {
        Some(ScriptProblem::Error { failure }) => (**failure).clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn e1_a_syntax_error_names_file_line_and_column() {
    let _py = python_lock();
    let report = load_one(b"X = 1\ndef broken(:\n    pass\n");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let failure = error_of(&report);
    assert_eq!(failure.kind, "SyntaxError");
    assert!(failure.file.as_deref().unwrap().ends_with("a.py"));
    assert_eq!((failure.line, failure.column), (Some(2), Some(12)));
    assert!(report.to_string().contains("a.py:2:12"), "{report}");
}

#[test]
fn e1_an_exception_at_module_level_names_its_line_and_traceback() {
    let _py = python_lock();
    let report = load_one(b"X = 1\n\ndef f():\n    return {}['k']\n\nY = f()\n");
    let failure = error_of(&report);
    assert_eq!(failure.kind, "KeyError");
    assert_eq!(failure.line, Some(4), "innermost frame in the script");
    assert!(failure.traceback.contains("line 6"), "{}", failure.traceback);
    assert!(failure.traceback.contains("Y = f()"), "the real source lines are shown: {}", failure.traceback);
}

#[test]
fn e1_undecodable_source_is_a_clear_error() {
    let _py = python_lock();
    let report = load_one(b"NAME = '\xe9t\xe9'\n");
    let problem = report.script("a.py").unwrap().problem.clone().expect("failed");
    assert!(matches!(problem, ScriptProblem::Undecodable { .. }), "{problem}");
    assert!(problem.to_string().contains("utf-8"), "{problem}");
}

#[test]
fn e1_pep263_cookie_bom_crlf_and_no_final_newline_all_load() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write_bytes("latin.py", b"# -*- coding: latin-1 -*-\nLATIN = '\xe9t\xe9'\n");
    dir.write_bytes("bom.py", b"\xef\xbb\xbfBOM = '\xc3\xa9'\n");
    dir.write_bytes("crlf.py", b"def f():\r\n    return 'crlf'\r\nCRLF = f()\r\n");
    dir.write_bytes("tail.py", b"TAIL = 'no newline'");
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    assert!(eval::<bool>(
        "(lambda g: g.LATIN == 'été' and g.BOM == 'é' and g.CRLF == 'crlf' and g.TAIL == 'no newline')(sys.modules['game'])"
    ));
}

#[test]
fn e1_an_unreadable_file_is_reported_with_its_path() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("ok.py", "OK = 1\n");
    std::os::unix::fs::symlink(dir.path().join("nowhere.py"), dir.path().join("dangling.py")).unwrap();
    let mut r = Reloader::builder().build().unwrap();
    let report = r.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::LoadFailed);
    let problem = report.script("dangling.py").unwrap().problem.clone().expect("failed");
    assert!(matches!(problem, ScriptProblem::Unreadable { .. }), "{problem}");
    assert!(report.to_string().contains("dangling.py"));
}

#[test]
fn e1_a_missing_folder_is_an_error() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let mut r = Reloader::builder().build().unwrap();
    let err = r.add_directory("game", dir.path().join("absent")).unwrap_err();
    assert!(matches!(err, Error::MissingDirectory { .. }));
    assert!(err.to_string().contains("absent"), "{err}");
}

#[test]
fn l1_a_folder_name_that_is_not_an_identifier_names_the_folder() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("my-ai/brain.py", "B = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    let err = r.add_directory("game", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidFolderName { name, reason, .. } if name == "my-ai" && *reason == "not a Python identifier")
    );
    assert!(err.to_string().contains("my-ai"), "{err}");
    assert!(eval::<bool>("'game' not in sys.modules"));
}

#[test]
fn l1_a_keyword_folder_name_is_an_error() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("class/x.py", "X = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    let err = r.add_directory("game", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidFolderName { reason, .. } if *reason == "a Python keyword"),
        "{err}"
    );
}

#[test]
fn l1_a_badly_named_folder_without_scripts_is_ignored() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("my-assets/readme.txt", "data");
    dir.write("a.py", "A = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
}

#[test]
fn l2_a_namespace_taken_by_another_module_is_an_error() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    for taken in ["json", "os", "os.path", "unittest"] {
        let err = r.add_directory(taken, dir.path()).unwrap_err();
        assert!(matches!(&err, Error::NamespaceTaken { name, .. } if name == taken), "{err}");
    }
    assert!(eval::<bool>("sys.modules['os'].path.join is not None"));
}

#[test]
fn l2_a_namespace_owned_by_another_directory_is_an_error() {
    let _py = python_lock();
    let first = ScriptDir::new();
    first.write("a.py", "A = 1\n");
    let second = ScriptDir::new();
    second.write("b.py", "B = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", first.path()).unwrap();
    let err = r.add_directory("game", second.path()).unwrap_err();
    assert!(matches!(err, Error::NamespaceOwned { .. }), "{err}");
    assert!(eval::<bool>("sys.modules['game'].A == 1 and not hasattr(sys.modules['game'], 'B')"));
}

#[test]
fn l2_an_invalid_namespace_name_is_an_error() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let mut r = Reloader::builder().build().unwrap();
    for bad in ["", "my-game", "game.class", "1game"] {
        assert!(matches!(r.add_directory(bad, dir.path()), Err(Error::InvalidNamespace { .. })), "{bad}");
    }
}

#[test]
fn e1_a_broken_directory_leaves_what_ran_before_running() {
    let _py = python_lock();
    let good = ScriptDir::new();
    good.write("a.py", "def f():\n    return 'still here'\n");
    let bad = ScriptDir::new();
    bad.write("b.py", "def broken(:\n");
    let mut r = Reloader::builder().build().unwrap();
    r.add_directory("game", good.path()).unwrap();
    let report = r.add_directory("other", bad.path()).unwrap();
    assert_eq!(report.outcome, Outcome::LoadFailed);
    assert_eq!(eval::<String>("sys.modules['game'].f()"), "still here");
    assert!(eval::<bool>("'other' not in sys.modules"));
}

#[test]
fn l2_a_sub_namespace_taken_by_another_module_is_an_error_and_the_module_survives() {
    let _py = python_lock();
    crate::util::run(
        "import types\nsys.modules['game.extra'] = types.ModuleType('game.extra')\nsys.modules['game.extra'].MINE = 1",
    );
    let dir = ScriptDir::new();
    dir.write("a.py", "A = 1\n");
    dir.write("extra/b.py", "B = 1\n");
    let mut r = Reloader::builder().build().unwrap();
    let err = r.add_directory("game", dir.path()).unwrap_err();
    assert!(matches!(&err, Error::NamespaceTaken { name, .. } if name == "game.extra"), "{err}");
    assert!(eval::<bool>("sys.modules['game.extra'].MINE == 1 and 'game' not in sys.modules"));
    crate::util::run("del sys.modules['game.extra']");
}
