//! Load scale (L6): 1,000 generated scripts with random acyclic dependencies.
//!
//! Prints the executions per script and relive's load time next to a baseline measured in
//! the same run: compiling and executing the same files once, in dependency order, in plain
//! Python inside the same interpreter. Run with `cargo bench --bench load_scale`.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyModule;

const SCRIPTS: usize = 1000;
const ROUNDS: usize = 5;

/// A small deterministic generator, so every run loads the same files.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

/// Writes the scripts; returns them in a dependency order for the baseline.
fn generate(dir: &Path) -> Vec<PathBuf> {
    let mut rng = Lcg(7);
    // rank[i]: position of script i in a random dependency order, unrelated to path order.
    let mut rank: Vec<usize> = (0..SCRIPTS).collect();
    for i in (1..SCRIPTS).rev() {
        rank.swap(i, rng.next() % (i + 1));
    }
    let mut by_rank = vec![0; SCRIPTS];
    for (script, &r) in rank.iter().enumerate() {
        by_rank[r] = script;
    }
    for script in 0..SCRIPTS {
        let mut text = String::new();
        if rank[script] > 0 {
            for _ in 0..rng.next() % 4 {
                let dep = by_rank[rng.next() % rank[script]];
                text.push_str(&format!("from bench import Thing{dep}\n"));
            }
        }
        text.push_str(&format!(
            "\nLIMIT{script} = {script}\n\nclass Thing{script}:\n    def __init__(self):\n        self.n = LIMIT{script}\n\n    def double(self):\n        return self.n * 2\n\n\ndef make{script}():\n    return Thing{script}()\n"
        ));
        std::fs::write(dir.join(format!("s{script:04}.py")), text).expect("write script");
    }
    by_rank.iter().map(|&s| dir.join(format!("s{s:04}.py"))).collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[path = "common/goals.rs"]
mod goals;

fn spread(samples: &[Duration]) -> (Duration, Duration) {
    (*samples.iter().min().expect("samples"), *samples.iter().max().expect("samples"))
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let order = generate(dir.path());
    let mut reloader = relive::Reloader::builder().tests(false).build().expect("reloader");

    let mut relive_times = Vec::new();
    let mut executions = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let report = reloader.add_directory("bench", dir.path()).expect("load");
        relive_times.push(start.elapsed());
        assert_eq!(report.outcome, relive::Outcome::Loaded, "{report}");
        executions = report.executions;
        reloader.remove_directory(dir.path()).expect("remove");
    }

    let files: Vec<String> = order.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let baseline_times: Vec<Duration> = relive::python::attach(|py| {
        let source = CString::new(include_str!("load_scale_baseline.py")).expect("no NUL");
        let helper =
            PyModule::from_code(py, &source, c"benches/load_scale_baseline.py", c"_load_scale_baseline")
                .expect("baseline helper");
        (0..ROUNDS)
            .map(|_| {
                let seconds: f64 = helper
                    .call_method1("run", ("bench", files.clone()))
                    .expect("baseline")
                    .extract()
                    .expect("float");
                Duration::from_secs_f64(seconds)
            })
            .collect()
    });

    let (relive_min, relive_max) = spread(&relive_times);
    let (base_min, base_max) = spread(&baseline_times);
    let relive_median = median(relive_times);
    let base_median = median(baseline_times);
    println!("load scale: {SCRIPTS} scripts, random acyclic dependencies, {ROUNDS} rounds");
    println!("  executions: {executions} ({:.3} per script)", executions as f64 / SCRIPTS as f64);
    println!(
        "  relive add_directory: median {relive_median:.1?} (min {relive_min:.1?}, max {relive_max:.1?})"
    );
    println!("  plain compile + exec: median {base_median:.1?} (min {base_min:.1?}, max {base_max:.1?})");
    let ratio = relive_median.as_secs_f64() / base_median.as_secs_f64();
    println!("  ratio relive / plain: {ratio:.2}");
    goals::print(&[goals::Goal::ratio(
        "add_directory of 1,000 scripts / plain read + compile + exec",
        ratio,
        1.5,
    )]);
    let json = serde_json::json!({
        "scripts": SCRIPTS,
        "executions": executions,
        "relive_median_ms": relive_median.as_secs_f64() * 1000.0,
        "relive_min_ms": relive_min.as_secs_f64() * 1000.0,
        "relive_max_ms": relive_max.as_secs_f64() * 1000.0,
        "plain_median_ms": base_median.as_secs_f64() * 1000.0,
        "plain_min_ms": base_min.as_secs_f64() * 1000.0,
        "plain_max_ms": base_max.as_secs_f64() * 1000.0,
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-load-scale.json");
    if std::fs::write(&out, json.to_string()).is_ok() {
        println!("  figures written to {}", out.display());
    }
}
