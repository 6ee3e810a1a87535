//! R8a bases and R12: what relive keeps per script to merge into kept objects is digests
//! and references to live objects, a fraction of the objects it describes, and it does not
//! grow with the number of reloads.

use pyo3::prelude::*;
use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, python_lock};

fn script(version: usize) -> String {
    format!(
        "BIG = {{f'k{{i}}': i for i in range(10000)}}\nLOG = [('entry', i) for i in range(10000)]\nTAGS = {{f't{{i}}' for i in range(10000)}}\ndef f():\n    return {version}\n"
    )
}

/// (bytes the script's base takes, bytes of the containers it describes)
fn sizes(r: &Reloader, file: &std::path::Path) -> (usize, usize) {
    relive::python::attach(|py| {
        let g = r.script_globals(py, file).expect("loaded");
        let base = g.get_item("__relive__").unwrap().unwrap().getattr("base").unwrap();
        let fingerprint =
            py.import("sys").unwrap().getattr("modules").unwrap().get_item("_relive_fingerprint").unwrap();
        let base_size: usize = fingerprint.call_method1("base_size", (base,)).unwrap().extract().unwrap();
        let sys = py.import("sys").unwrap();
        let mut objects = 0usize;
        for name in ["BIG", "LOG", "TAGS"] {
            let value = g.get_item(name).unwrap().unwrap();
            objects += sys.call_method1("getsizeof", (&value,)).unwrap().extract::<usize>().unwrap();
            for item in value.try_iter().unwrap() {
                objects +=
                    sys.call_method1("getsizeof", (item.unwrap(),)).unwrap().extract::<usize>().unwrap();
            }
        }
        (base_size, objects)
    })
}

#[test]
fn r12_r8a_bases_stay_a_fraction_of_the_kept_objects_and_do_not_grow() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let file = dir.write("big.py", &script(0));
    let mut r = Reloader::builder().tests(false).build().unwrap();
    assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded);
    let mut after = Vec::new();
    for version in 1..=5 {
        std::fs::write(&file, script(version)).unwrap();
        assert_eq!(r.reload(&file).unwrap().outcome, Outcome::Reloaded);
        after.push(sizes(&r, &file));
    }
    let (base, objects) = after[0];
    println!("R8a base: {base} bytes for kept containers of {objects} bytes (keys and elements counted)");
    assert!(base < objects / 2, "the base ({base} bytes) is a fraction of the objects ({objects} bytes)");
    assert!(after.iter().all(|&(b, _)| b == base), "the base does not grow with reloads: {after:?}");
}
