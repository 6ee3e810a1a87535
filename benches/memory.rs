//! Memory over 1,000 reloads (R12): process RSS and live class count, sampled every 100
//! reloads, against the RSS after a warm-up of 100 reloads measured in the same run.
//! Run with `cargo bench --bench memory`.

use std::ffi::CString;

use pyo3::prelude::*;

const RELOADS: usize = 1000;

fn script(version: usize) -> String {
    let mut text = String::new();
    for c in 0..5 {
        text.push_str(&format!(
            "class C{c}:\n    def v(self):\n        return {version}\n    @property\n    def p(self):\n        return {c}\n"
        ));
    }
    text.push_str(&format!("DEFAULT = C0()\nTABLE = {{'k': C1()}}\nVERSION = {version}\n"));
    text
}

#[path = "common/goals.rs"]
mod goals;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn live_classes() -> usize {
    relive::python::attach(|py| {
        let code = CString::new(
            "(__import__('gc').collect(), sum(1 for o in __import__('gc').get_objects() if isinstance(o, type) and o.__module__ == 'bench'))[1]",
        )
        .expect("no NUL");
        py.eval(&code, None, None).expect("count").extract().expect("int")
    })
}

/// Bytes relive keeps of the source in effect of the one script in `namespace`
/// (`benches/retained_size.py`).
fn retained_bytes(namespace: &str) -> u64 {
    relive::python::attach(|py| {
        let code = CString::new(include_str!("retained_size.py")).expect("no NUL");
        let helper =
            pyo3::types::PyModule::from_code(py, &code, c"benches/retained_size.py", c"_retained_size")
                .expect("helper");
        helper.call_method1("retained_bytes", (namespace,)).and_then(|n| n.extract()).expect("size")
    })
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a.py");
    std::fs::write(&file, script(0)).expect("write");
    let mut reloader = relive::Reloader::builder().tests(false).build().expect("reloader");
    reloader.add_directory("bench", dir.path()).expect("load");
    let mut baseline = 0;
    let mut samples = Vec::new();
    println!("memory: {RELOADS} reloads of a script with 5 classes");
    for version in 1..=RELOADS + 100 {
        std::fs::write(&file, script(version)).expect("write");
        let report = reloader.reload(&file).expect("reload");
        assert_eq!(report.outcome, relive::Outcome::Reloaded, "{report}");
        if version == 100 {
            live_classes();
            baseline = rss_kib();
            println!("  after 100 warm-up reloads: RSS {baseline} KiB");
        } else if version > 100 && (version - 100) % 200 == 0 {
            let classes = live_classes();
            let rss = rss_kib();
            samples.push(serde_json::json!({"reloads": version - 100, "rss_kib": rss, "growth_kib": rss as i64 - baseline as i64, "live_classes": classes}));
            println!(
                "  after {:>4} more reloads: RSS {rss} KiB (growth {:+} KiB), live classes {classes}",
                version - 100,
                rss as i64 - baseline as i64
            );
        }
    }
    // What a reload leaves behind: RSS growth per reload after warm-up, in multiples of the
    // script's source size (keeping a syntax tree or the source of every version would be
    // many times the source per reload). A proxy for "memory kept per script between
    // reloads": it does not measure what one version in effect costs.
    let growth = rss_kib().saturating_sub(baseline) as f64 * 1024.0 / RELOADS as f64;
    let source = script(RELOADS + 100).len() as f64;
    let retained = retained_bytes("bench") as f64;
    println!("  kept of the source in effect: {retained} bytes (pieces, their code and facts, R8's index)");
    goals::print(&[
        goals::Goal::ratio(
            format!("RSS growth per reload / source size ({source} bytes)"),
            growth / source,
            1.0,
        ),
        // What one version in effect keeps between reloads, the live code excepted.
        goals::Goal::ratio("memory kept per script / its source size", retained / source, 10.0),
    ]);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-memory.json");
    let json = serde_json::json!({"baseline_rss_kib": baseline, "samples": samples});
    if std::fs::write(&out, json.to_string()).is_ok() {
        println!("  figures written to {}", out.display());
    }
}
