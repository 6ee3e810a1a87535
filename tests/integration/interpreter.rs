//! The embedded interpreter is the one the crate was built against (issue 2, item 1).

use std::process::Command;

use crate::util::eval;

#[test]
fn runs_the_interpreter_it_was_built_against() {
    let executable = relive::python::BUILD_PYTHON_EXECUTABLE.expect("build.rs bakes the interpreter path");
    let output = Command::new(executable)
        .args(["-c", "import sys; print(sys.version); print(sys.prefix)"])
        .output()
        .expect("the build interpreter runs");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut lines = text.lines();
    let (version, prefix) = (lines.next().expect("version"), lines.next().expect("prefix"));
    assert_eq!(eval::<String>("sys.version"), version);
    assert_eq!(eval::<String>("sys.prefix"), prefix);
    assert!(version.starts_with(relive::python::BUILD_PYTHON_VERSION));
}

#[test]
fn writes_no_bytecode() {
    assert!(eval::<bool>("sys.dont_write_bytecode"));
}

#[test]
fn the_standard_library_is_the_build_interpreters() {
    let prefix = eval::<String>("sys.prefix");
    assert!(eval::<String>("__import__('unittest').__file__").starts_with(&prefix));
}
