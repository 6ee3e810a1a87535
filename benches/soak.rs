//! Soak (issue 13, R12, W1): 2,000 reloads of a 50-class script through the real watcher,
//! with RSS sampled every 100 reloads, then the memory each reload of a 10,000-line script
//! costs. Growth is printed against baselines measured in the same run (the RSS after a
//! warm-up, and the first reload of the big script). Run with `cargo bench --bench soak`;
//! `RELIVE_SOAK_RELOADS=N` shortens the first part for a quick look.

use std::path::Path;
use std::time::{Duration, Instant};

const BIG_RELOADS: usize = 40;

fn classes_script(version: usize) -> String {
    let mut text = String::new();
    for c in 0..50 {
        text.push_str(&format!(
            "class C{c}:\n    LIMIT = {c}\n    def v(self):\n        return {version}\n    @property\n    def p(self):\n        return self.LIMIT\n\n"
        ));
    }
    text.push_str(&format!("DEFAULT = C0()\nTABLE = {{'k': C1()}}\nVERSION = {version}\n"));
    text
}

/// About 10,000 lines: value statements and small functions, with the version in one.
fn big_script(version: usize) -> String {
    let mut text = format!("VERSION = {version}\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "V{i} = {{'a': {i}, 'b': [{i}, {i} + 1]}}\ndef f{i}(x):\n    y = x + V{i}['a']\n    return y * 2\n\n"
        ));
    }
    text
}

fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// Writes `text` and pumps until the watcher applied it (bounded: a stuck watcher fails).
fn watched_reload(reloader: &mut relive::Reloader, file: &Path, text: &str) {
    std::fs::write(file, text).expect("write");
    let start = Instant::now();
    loop {
        let reports = reloader.wait_for_changes(Duration::from_millis(200)).expect("pump");
        if let Some(report) = reports.iter().find(|r| r.path.as_str() == "a.py") {
            assert_eq!(report.outcome, relive::Outcome::Reloaded, "{report}");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the watcher never reloaded a.py");
    }
}

fn main() {
    let reloads: usize =
        std::env::var("RELIVE_SOAK_RELOADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a.py");
    std::fs::write(&file, classes_script(0)).expect("write");
    let mut reloader = relive::Reloader::builder().tests(false).build().expect("reloader");
    reloader.add_directory("soak", dir.path()).expect("load");
    reloader.watch().expect("watch");
    println!("soak: {reloads} reloads of a 50-class script through the watcher");
    let started = Instant::now();
    let mut baseline = 0;
    let mut samples = Vec::new();
    for version in 1..=reloads {
        watched_reload(&mut reloader, &file, &classes_script(version));
        if version == 100.min(reloads) {
            baseline = rss_kib();
            println!("  after {version:>4} reloads (baseline): RSS {baseline} KiB");
        } else if version % 100 == 0 {
            let rss = rss_kib();
            let ratio = rss as f64 / baseline as f64;
            println!("  after {version:>4} reloads: RSS {rss} KiB ({ratio:.3}x the baseline)");
            samples.push(serde_json::json!({"reloads": version, "rss_kib": rss, "ratio": ratio}));
        }
    }
    let per_reload_ms = started.elapsed().as_secs_f64() * 1000.0 / reloads as f64;
    println!("  {per_reload_ms:.1} ms per watched reload (write, event, coalescing window, apply)");
    reloader.end_monitoring();

    let big = dir.path().join("big");
    std::fs::create_dir(&big).expect("folder");
    let big_file = big.join("big.py");
    std::fs::write(&big_file, big_script(0)).expect("write");
    let lines = big_script(0).lines().count();
    let mut big_reloader = relive::Reloader::builder().tests(false).build().expect("reloader");
    big_reloader.add_directory("soakbig", &big).expect("load");
    println!("big script: {BIG_RELOADS} reloads of a {lines}-line script");
    let mut first = 0;
    let mut rss_samples = Vec::new();
    for version in 1..=BIG_RELOADS {
        std::fs::write(&big_file, big_script(version)).expect("write");
        let report = big_reloader.reload(&big_file).expect("reload");
        assert_eq!(report.outcome, relive::Outcome::Reloaded, "{report}");
        let rss = rss_kib();
        if version == 1 {
            first = rss;
            println!("  after the first reload (baseline): RSS {rss} KiB");
        } else if version % 5 == 0 {
            println!("  after {version:>2} reloads: RSS {rss} KiB ({:+} KiB)", rss - first);
        }
        rss_samples.push(rss);
    }
    let last = *rss_samples.last().expect("reloaded");
    let per_reload = (last - first) as f64 / (BIG_RELOADS - 1) as f64;
    // The allocator's arenas fill during the first few reloads; the steady state is what
    // a long session sees.
    let tenth = rss_samples[9];
    let steady = (last - tenth) as f64 / (BIG_RELOADS - 10) as f64;
    println!(
        "  memory per reload: {per_reload:+.0} KiB from the first reload, {steady:+.0} KiB from the 10th"
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-soak.json");
    let json = serde_json::json!({
        "reloads": reloads,
        "baseline_rss_kib": baseline,
        "samples": samples,
        "watched_reload_ms": per_reload_ms,
        "big_script_lines": lines,
        "big_rss_kib": rss_samples,
        "big_kib_per_reload": per_reload,
        "big_kib_per_reload_from_10th": steady,
    });
    if std::fs::write(&out, json.to_string()).is_ok() {
        println!("  figures written to {}", out.display());
    }
}
