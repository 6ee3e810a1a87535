//! Dependents benchmark (R15, issue 12): a core script imported by 100 scripts, each with a
//! test file. Reloading the core rebuilds and tests every dependent in the same batch; the
//! baseline, measured in the same run, is the same core reloaded in a folder where the 100
//! scripts (and their tests) do not import it, so only the core is built and tested.
//! Every figure is a median over repeated runs with its spread.
//!
//! Run with `cargo bench --bench dependents`; results also go to `target/bench-dependents.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use relive::{Outcome, Reloader};

const RUNS: usize = 20;
const DEPENDENTS: usize = 100;

#[path = "common/figure.rs"]
mod figure;
use figure::figure;

fn core(version: usize) -> String {
    format!("LIMIT = 10\n\ndef scale(x):\n    return x * LIMIT + {version} - {version}\n")
}

/// A folder with `core.py` and 100 scripts with a test file each; `import_core` decides
/// whether they import the core's names (dependents) or not (the baseline).
fn folder(root: &Path, import_core: bool) {
    std::fs::create_dir_all(root).expect("mkdir");
    std::fs::write(root.join("core.py"), core(0)).expect("write");
    for d in 0..DEPENDENTS {
        let (import, call) =
            if import_core { ("from bench import scale\n", "scale(x)") } else { ("", "x * 10") };
        let script = format!("{import}\nBASE = {d}\n\ndef use{d}(x):\n    return {call} + BASE\n");
        std::fs::write(root.join(format!("d{d:03}.py")), script).expect("write");
        let test = format!(
            "import unittest\n\nclass T(unittest.TestCase):\n    def test_use(self):\n        self.assertEqual(use{d}(2), 20 + {d})\n"
        );
        std::fs::write(root.join(format!("test_d{d:03}.py")), test).expect("write");
    }
}

/// Times `RUNS` reloads of the core; checks what each batch did.
fn time_core(root: &Path, dependents_expected: usize) -> Vec<Duration> {
    let mut reloader = Reloader::builder().build().expect("reloader");
    reloader.add_directory("bench", root).expect("load");
    let file = root.join("core.py");
    (1..=RUNS)
        .map(|v| {
            std::fs::write(&file, core(v)).expect("write");
            // An old modification time: W1's wait for a file written less than 25 ms ago
            // is not what this measures.
            let old = std::time::SystemTime::now() - Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(&file)
                .and_then(|f| f.set_modified(old))
                .expect("mtime");
            let start = Instant::now();
            let reports = reloader.reload_batch([&file]).expect("reload");
            let elapsed = start.elapsed();
            let retested = reports.iter().filter(|r| r.outcome == Outcome::Retested).count();
            let reloaded = reports.iter().filter(|r| r.outcome == Outcome::Reloaded).count();
            assert_eq!((reloaded, retested), (1, dependents_expected), "{reports:?}");
            elapsed
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let alone = dir.path().join("alone");
    let with = dir.path().join("with");
    folder(&alone, false);
    folder(&with, true);
    // A throwaway round: the first reloader pays for warm-up.
    drop(time_core(&alone, 0));
    let figures = vec![
        figure("reload of the core alone (100 unrelated scripts with tests)", time_core(&alone, 0)),
        figure("reload of the core, its 100 dependents rebuilt and tested", time_core(&with, DEPENDENTS)),
    ];
    figure::print_table(&figures, RUNS);
    let ratio = figures[1].median_ms / figures[0].median_ms;
    println!();
    println!("core with 100 dependents retested / core alone: {ratio:.1}");
    println!("per dependent: {:.2} ms", (figures[1].median_ms - figures[0].median_ms) / DEPENDENTS as f64);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-dependents.json");
    if let Ok(json) = serde_json::to_string_pretty(&figures) {
        let _ = std::fs::write(&out, json);
        println!("figures written to {}", out.display());
    }
}
