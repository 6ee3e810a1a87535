//! The hint when scripts import their directory under a name other than its namespace.

use super::{relive_in, stderr};

/// Issue 14: the bundled example copied to another folder name fails to load, and relive
/// says to run it with `--namespace arena`; with that flag it loads.
#[test]
fn a_copied_example_gets_a_namespace_hint_and_loads_with_it() {
    let dir = crate::util::ScriptDir::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/arena");
    let copy = dir.path().join("my_game");
    for file in [
        "arena.py",
        "ai/brain.py",
        "ai/brain_unittest.py",
        "creatures/creature.py",
        "creatures/test_creature.py",
    ] {
        std::fs::create_dir_all(copy.join(file).parent().unwrap()).unwrap();
        std::fs::copy(example.join(file), copy.join(file)).unwrap();
    }
    let output = relive_in(&["check", "my_game"], Some(dir.path()), &[]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("hint: scripts import `arena`"), "{err}");
    assert!(
        err.contains("namespace is `my_game` (the folder's name)")
            && err.contains("run with --namespace arena"),
        "{err}"
    );
    let output = relive_in(&["check", "my_game", "--namespace", "arena"], Some(dir.path()), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("hint"), "{}", stderr(&output));
}
