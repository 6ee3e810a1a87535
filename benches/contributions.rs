//! Contributions benchmark (R8b, issue 18): a script with 50 functions registered with a
//! decorator into another script's registry (`@on("event")` appending to a `defaultdict(list)`
//! of a bus). Reloading it records what its module-level code changed in the bus (shallow
//! copies of what its imports reach, compared by identity) and replaces the old version's 50
//! registrations with the new one's. The baseline, measured in the same run, is the same
//! script whose decorator registers nothing (it imports the same bus script, so the copies
//! are still taken, of an empty registry): the difference is the cost of recording and
//! replacing 50 contributions. Every figure is a median over repeated runs with its spread.
//!
//! Run with `cargo bench --bench contributions`; results also go to
//! `target/bench-contributions.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use relive::{Outcome, Reloader};

const RUNS: usize = 30;
const REGISTRATIONS: usize = 50;

#[path = "common/figure.rs"]
mod figure;
use figure::figure;

const BUS: &str = "import collections\n\nHANDLERS = collections.defaultdict(list)\n\n\
def on(event):\n    def register(fn):\n        HANDLERS[event].append(fn)\n        return fn\n    return register\n\n\
def quiet(event):\n    return lambda fn: fn\n";

/// The handlers script at `version`: 50 functions, each decorated with `decorator`.
fn handlers(version: usize, decorator: &str) -> String {
    let mut text = String::from("from bench import on, quiet\n");
    for i in 0..REGISTRATIONS {
        text.push_str(&format!(
            "\n@{decorator}(\"event{}\")\ndef h{i}(x):\n    return x + {version}\n",
            i % 10
        ));
    }
    text
}

/// Times `RUNS` reloads of the handlers script; checks the registry holds 50 retained
/// functions (or none) after each.
fn time_handlers(root: &Path, decorator: &str) -> Vec<Duration> {
    std::fs::create_dir_all(root).expect("mkdir");
    std::fs::write(root.join("bus.py"), BUS).expect("write");
    let file = root.join("handlers.py");
    std::fs::write(&file, handlers(0, decorator)).expect("write");
    let mut reloader = Reloader::builder().build().expect("reloader");
    reloader.add_directory("bench", root).expect("load");
    let expected = if decorator == "on" { REGISTRATIONS } else { 0 };
    (1..=RUNS)
        .map(|v| {
            std::fs::write(&file, handlers(v, decorator)).expect("write");
            // An old modification time: W1's wait for a fresh write is not what this measures.
            let old = std::time::SystemTime::now() - Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(&file)
                .and_then(|f| f.set_modified(old))
                .expect("mtime");
            let start = Instant::now();
            let reports = reloader.reload_batch([&file]).expect("reload");
            let elapsed = start.elapsed();
            assert!(reports.iter().all(|r| r.outcome == Outcome::Reloaded), "{reports:?}");
            let count = reloader
                .evaluate("sum(f is getattr(bench, f.__name__) for v in bench.HANDLERS.values() for f in v)")
                .expect("count");
            assert_eq!(count, Some(expected.to_string()), "retained registrations after reload {v}");
            elapsed
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(time_handlers(&dir.path().join("warm"), "quiet"));
    let figures = vec![
        figure(
            "reload of 50 handlers that register nothing",
            time_handlers(&dir.path().join("quiet"), "quiet"),
        ),
        figure(
            "reload of 50 handlers registered into another script's bus",
            time_handlers(&dir.path().join("on"), "on"),
        ),
    ];
    figure::print_table(&figures, RUNS);
    let ratio = figures[1].median_ms / figures[0].median_ms;
    println!();
    println!("50 registrations recorded and replaced / none: {ratio:.2}");
    println!(
        "per registration: {:.3} ms",
        (figures[1].median_ms - figures[0].median_ms) / REGISTRATIONS as f64
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-contributions.json");
    if let Ok(json) = serde_json::to_string_pretty(&figures) {
        let _ = std::fs::write(&out, json);
        println!("figures written to {}", out.display());
    }
}
