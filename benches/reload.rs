//! Reload benchmarks (issue 7, design.md performance targets). Every figure is a median over
//! repeated runs with its spread; every comparison is a ratio measured in this same run.
//!
//! 1. Reload cost: a generated script with 200 functions and 20 classes (each with a live
//!    instance), one function body changed per reload: relive (tests off, tests on) vs
//!    `importlib.reload` of the same file in the same interpreter.
//! 2. Heap independence: the same reload with a 1,000,000-object live heap / a small heap.
//! 3. Scale: one script's reload with 10 vs 1,000 scripts loaded.
//! 4. Test gate: a script with 50 tests, reloaded with tests vs without.
//! 5. Watcher: file write to reload applied (pump mode) next to raw notify event latency.
//! 6. Peers, when a Python with IPython and jurigged is there (`RELIVE_PEERS_PYTHON`, or
//!    `target/peers-venv` made by `just bench-peers`): IPython's superreload and
//!    `%autoreload 2`, and jurigged, on the same edits (`benches/peers.py`).
//!
//! Figures 1–4 time `Reloader::reload` once the written file has settled (W1 waits for a file
//! changed less than 25 ms ago, see `script::read`): they measure the reload's own cost.
//! `importlib.reload` is timed after the same 30 ms pause, so both start from equally cold
//! caches: a reload right after another job runs faster, for importlib by about a third.
//! Both are also timed with no pause (relive's file dated back so W1 does not wait), and
//! that ratio is printed too. In both pairs the two reloads alternate, so the machine's
//! drift treats them alike. Figure 5 measures the whole write → applied path.
//! Issue 17's goals are printed with `met` / `not met` (benches/common/goals.rs).
//!
//! Run with `cargo bench --bench reload`; results also go to `target/bench-reload.json`.

#[path = "common/goals.rs"]
mod goals;

use std::ffi::CString;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::Watcher as _;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use relive::{Outcome, Reloader};

const RUNS: usize = 30;

#[path = "common/figure.rs"]
mod figure;
use figure::{Figure, figure};

/// How long after a write `Reloader::reload` reads the file without waiting for it to settle
/// (W1's 25 ms, with a margin).
const SETTLED: Duration = Duration::from_millis(30);

fn big_script(version: usize) -> String {
    module(20, 200, version)
}

/// The same module ten times larger: 2,000 functions, 200 classes.
fn huge_script(version: usize) -> String {
    module(200, 2000, version)
}

/// `classes` classes with a live instance each and `functions` functions; `f0`'s body is
/// `version`.
fn module(classes: usize, functions: usize, version: usize) -> String {
    let mut text = String::new();
    for c in 0..classes {
        text.push_str(&format!("class K{c}:\n    def __init__(self):\n        self.n = {c}\n    def get(self):\n        return self.n\n\n"));
        text.push_str(&format!("LIVE{c} = K{c}()\n\n"));
    }
    for f in 0..functions {
        let body = if f == 0 { version } else { f };
        text.push_str(&format!("def f{f}(x):\n    return x + {body}\n\n"));
    }
    text
}

fn tests_file(n: usize) -> String {
    let mut text = String::from("import unittest\nclass T(unittest.TestCase):\n");
    for t in 0..n {
        text.push_str(&format!("    def test_{t}(self):\n        self.assertEqual(f1({t}), {t} + 1)\n"));
    }
    text
}

/// Times `RUNS` reloads of `file`, each with a new version of the text, `SETTLED` after
/// its write.
fn time_relive(
    reloader: &mut Reloader,
    file: &Path,
    start_version: usize,
    text: impl Fn(usize) -> String,
) -> Vec<Duration> {
    (0..RUNS).map(|i| reload_once(reloader, file, &text(start_version + i), Pause::Settled)).collect()
}

/// What happens between writing a version and timing its reload.
#[derive(Clone, Copy, PartialEq)]
enum Pause {
    /// `SETTLED` of sleep: W1 reads the file at once.
    Settled,
    /// None: the file's time is set a second back instead, so W1 reads it at once too.
    None,
}

/// Writes `text` to `file` and pauses as told.
fn write_then(file: &Path, text: &str, pause: Pause) {
    std::fs::write(file, text).expect("write");
    match pause {
        Pause::Settled => std::thread::sleep(SETTLED),
        Pause::None => std::fs::File::options()
            .write(true)
            .open(file)
            .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(1)))
            .expect("date the file back"),
    }
}

/// Times one reload of `file` after writing `text` to it.
fn reload_once(reloader: &mut Reloader, file: &Path, text: &str, pause: Pause) -> Duration {
    write_then(file, text, pause);
    let start = Instant::now();
    let report = reloader.reload(file).expect("reload");
    let elapsed = start.elapsed();
    assert_eq!(report.outcome, Outcome::Reloaded, "{report}");
    elapsed
}

/// `importlib.reload` of a plain module, timed inside Python (`benches/reload_baseline.py`).
struct Importlib {
    helper: Py<PyModule>,
    module: Py<PyAny>,
    file: std::path::PathBuf,
}

impl Importlib {
    fn import(folder: &Path) -> Importlib {
        let file = folder.join("bench_plain.py");
        std::fs::write(&file, big_script(0)).expect("write");
        relive::python::attach(|py| {
            let helper = baseline(py);
            let module = helper
                .call_method1("import_module", (folder.to_string_lossy(), "bench_plain"))
                .expect("import");
            Importlib { helper: helper.unbind(), module: module.unbind(), file }
        })
    }

    fn reload_once(&self, text: &str, pause: Pause) -> Duration {
        // No W1 here: with no pause, the file is reloaded as written.
        std::fs::write(&self.file, text).expect("write");
        if pause == Pause::Settled {
            std::thread::sleep(SETTLED);
        }
        relive::python::attach(|py| {
            let seconds: f64 = self
                .helper
                .bind(py)
                .call_method1("time_reload", (self.module.bind(py),))
                .and_then(|s| s.extract())
                .expect("reload");
            Duration::from_secs_f64(seconds)
        })
    }
}

fn baseline(py: Python<'_>) -> Bound<'_, PyModule> {
    let code = CString::new(include_str!("reload_baseline.py")).expect("no NUL");
    PyModule::from_code(py, &code, c"benches/reload_baseline.py", c"_reload_baseline")
        .expect("baseline helper")
}

fn main() {
    let mut figures = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    let file = scripts.join("big.py");
    std::fs::write(&file, big_script(0)).expect("write");
    let mut reloader = Reloader::builder().tests(false).build().expect("reloader");
    reloader.add_directory("bench", &scripts).expect("load");

    // 1. Reload cost vs importlib.reload: the two alternate, so the machine's drift and
    // each pause treat both alike.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    let importlib_module = Importlib::import(&plain);
    let (mut importlib, mut relive_small) = (Vec::new(), Vec::new());
    let (mut importlib_hot, mut relive_hot) = (Vec::new(), Vec::new());
    for i in 1..=RUNS {
        importlib.push(importlib_module.reload_once(&big_script(i), Pause::Settled));
        relive_small.push(reload_once(&mut reloader, &file, &big_script(i), Pause::Settled));
    }
    for i in RUNS + 1..=2 * RUNS {
        importlib_hot.push(importlib_module.reload_once(&big_script(i), Pause::None));
        relive_hot.push(reload_once(&mut reloader, &file, &big_script(i), Pause::None));
    }
    figures.push(figure("importlib.reload (200 functions, 20 classes)", importlib));
    figures.push(figure("relive reload, tests off", relive_small));

    // 4. The test gate: 50 tests.
    let gated_dir = dir.path().join("gated");
    std::fs::create_dir_all(&gated_dir).expect("mkdir");
    let gated = gated_dir.join("gated.py");
    std::fs::write(&gated, big_script(0)).expect("write");
    std::fs::write(gated_dir.join("gated_unittest.py"), tests_file(50)).expect("write");
    let mut with_tests = Reloader::builder().tests(true).build().expect("reloader");
    with_tests.add_directory("gated", &gated_dir).expect("load");
    let tested = time_relive(&mut with_tests, &gated, 1, big_script);
    drop(with_tests);
    figures.push(figure("relive reload, tests on (50 tests)", tested));

    // 2. Heap independence.
    relive::python::attach(|py| baseline(py).call_method1("grow_heap", (1_000_000,)).map(drop))
        .expect("heap");
    let big_heap = time_relive(&mut reloader, &file, 100, big_script);
    relive::python::attach(|py| baseline(py).call_method0("drop_heap").map(drop)).expect("heap");
    figures.push(figure("relive reload, tests off, 1,000,000-object heap", big_heap));

    // 3. Scale: 10 vs 1,000 scripts loaded.
    let scale = |count: usize, start: usize| -> Vec<Duration> {
        let folder = dir.path().join(format!("scale{count}_{start}"));
        std::fs::create_dir_all(&folder).expect("mkdir");
        for s in 0..count {
            std::fs::write(
                folder.join(format!("s{s:04}.py")),
                format!("class S{s}:\n    pass\nV{s} = {s}\n"),
            )
            .expect("write");
        }
        let target = folder.join("s0000.py");
        let mut r = Reloader::builder().tests(false).build().expect("reloader");
        r.add_directory(&format!("scale{count}_{start}"), &folder).expect("load");
        time_relive(&mut r, &target, start, |v| format!("class S0:\n    pass\nV0 = {v}\n"))
    };
    // A throwaway first round: the first reloader after the big heap pays for warm-up.
    scale(11, 1);
    figures.push(figure("relive reload of one script, 10 scripts loaded", scale(10, 1)));
    figures.push(figure("relive reload of one script, 1,000 scripts loaded", scale(1000, 1)));

    // 5. Watcher latency: raw notify vs write-to-applied.
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir_all(&raw_dir).expect("mkdir");
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e
            && e.kind.is_modify()
        {
            let _ = tx.send(Instant::now());
        }
    })
    .expect("watcher");
    watcher.watch(&raw_dir, notify::RecursiveMode::Recursive).expect("watch");
    let raw: Vec<Duration> = (0..RUNS)
        .map(|i| {
            while rx.try_recv().is_ok() {}
            let start = Instant::now();
            std::fs::write(raw_dir.join("x.py"), format!("X = {i}\n")).expect("write");
            rx.recv_timeout(Duration::from_secs(5)).expect("event") - start
        })
        .collect();
    drop(watcher);
    let live_dir = dir.path().join("live");
    std::fs::create_dir_all(&live_dir).expect("mkdir");
    std::fs::write(live_dir.join("small.py"), "X = 0\n").expect("write");
    let mut live = Reloader::builder().tests(false).build().expect("reloader");
    live.add_directory("live", &live_dir).expect("load");
    live.watch().expect("watch");
    let applied: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let start = Instant::now();
            std::fs::write(live_dir.join("small.py"), format!("X = {}\n", i + 1)).expect("write");
            loop {
                let reports = live.wait_for_changes(Duration::from_secs(5)).expect("pump");
                if reports.iter().any(|r| r.outcome == Outcome::Reloaded) {
                    return start.elapsed();
                }
                assert!(start.elapsed() < Duration::from_secs(5), "no reload");
            }
        })
        .collect();
    figures.push(figure("raw notify event after a write", raw));
    figures.push(figure(
        &format!(
            "write to reload applied (pump mode, {} ms window)",
            relive::watch::DEFAULT_WINDOW.as_millis()
        ),
        applied,
    ));

    drop(live);

    // 6. Size of the change, not of the module: the same edit in a module ten times larger.
    let huge_dir = dir.path().join("huge");
    std::fs::create_dir_all(&huge_dir).expect("mkdir");
    let huge = huge_dir.join("huge.py");
    std::fs::write(&huge, huge_script(0)).expect("write");
    let mut tenfold = Reloader::builder().tests(false).build().expect("reloader");
    tenfold.add_directory("huge", &huge_dir).expect("load");
    let huge_times = time_relive(&mut tenfold, &huge, 1, huge_script);
    drop(tenfold);
    figures.push(figure("relive reload, tests off, 10x module (2,000 functions)", huge_times));
    figures.push(figure("importlib.reload, right after the write (no pause)", importlib_hot));
    figures.push(figure("relive reload, tests off, right after the write (no pause)", relive_hot));

    let peers = measure_peers();
    figure::print_table(&figures, RUNS);
    let ratio = |a: usize, b: usize| figures[a].median_ms / figures[b].median_ms;
    let tail = |a: usize| figures[a].p90_ms / figures[a].median_ms;
    println!();
    println!("relive (tests on, 50 tests) / relive (tests off): {:.2}", ratio(2, 1));
    println!("no pause before the reload: relive (tests off) / importlib.reload: {:.2}", ratio(10, 9));
    goals::print(&[
        goals::Goal::ratio("reload, tests off / importlib.reload", ratio(1, 0), 1.0),
        goals::Goal::ratio("reload in a 10x module / in the base module", ratio(8, 1), 1.5),
        goals::Goal::ratio("p90 / median, tests off", tail(1), 1.5),
        goals::Goal::ratio("p90 / median, tests on", tail(2), 1.5),
        goals::Goal::ratio("1,000,000-object heap / small heap", ratio(3, 1), 1.2),
        goals::Goal::ratio("1,000 scripts loaded / 10 scripts loaded", ratio(5, 4), 1.2),
        goals::Goal::ms(
            "write -> applied (small script), against its reload + 5 ms",
            figures[7].median_ms,
            figures[4].median_ms + 5.0,
        ),
    ]);
    match peers {
        Ok(peers) => {
            println!();
            figure::print_table(&peers, RUNS);
            for peer in &peers {
                println!("{} / relive (tests off): {:.2}", peer.name, peer.median_ms / figures[1].median_ms);
            }
            figures.extend(peers);
        }
        Err(why) => println!("\npeers: not measured: {why}"),
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-reload.json");
    if let Ok(json) = serde_json::to_string_pretty(&figures) {
        let _ = std::fs::write(&out, json);
        println!("figures written to {}", out.display());
    }
}

/// Runs `benches/peers.py` with a Python that has IPython and jurigged, if there is one.
fn measure_peers() -> Result<Vec<Figure>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("RELIVE_PEERS_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/peers-venv/bin/python"));
    if !python.exists() {
        return Err(format!(
            "no Python with IPython and jurigged at {} (run `just bench-peers`, or set RELIVE_PEERS_PYTHON)",
            python.display()
        ));
    }
    let output = std::process::Command::new(&python)
        .arg(root.join("benches/peers.py"))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!("benches/peers.py failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    let samples: std::collections::BTreeMap<String, Vec<f64>> =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable peers output: {e}"))?;
    Ok(samples
        .into_iter()
        .map(|(name, seconds)| figure(&name, seconds.into_iter().map(Duration::from_secs_f64).collect()))
        .collect())
}
