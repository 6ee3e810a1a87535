//! Issue 15: the `relive` Python package. Builds the extension module as maturin does
//! (`cargo rustc --crate-type cdylib` with `PYO3_BUILD_EXTENSION_MODULE=1`, the abi3
//! feature, in its own target folder under `target/`), lays it out beside
//! `python/relive/`, and runs the Python `unittest` suite in `tests/python/` against it
//! with the interpreter the crate is built for (`PYO3_PYTHON`, or `python3` on `PATH`).
//! Needs no network: maturin itself is only used by `just wheel`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The build interpreter: the one pyo3 linked the tests against.
fn python() -> &'static str {
    relive::python::BUILD_PYTHON_EXECUTABLE.expect("build.rs bakes the interpreter path")
}

/// A folder holding the importable `relive` package with the freshly built extension;
/// built once per test process.
fn package() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyext");
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO"))
            .current_dir(manifest)
            .args(["rustc", "--lib", "--crate-type", "cdylib", "--features", "python,pyo3/abi3-py311"])
            .arg("--target-dir")
            .arg(&target)
            .env("PYO3_BUILD_EXTENSION_MODULE", "1")
            .env("PYO3_PYTHON", python())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the extension failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("extension module built in {:.1} s", started.elapsed().as_secs_f64());
        let built = target.join("debug").join(format!(
            "{}relive{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ));
        let site = target.join(format!("site-{}", relive::python::BUILD_PYTHON_VERSION));
        let package = site.join("relive");
        let _ = std::fs::remove_dir_all(&package);
        std::fs::create_dir_all(&package).expect("make the package folder");
        for entry in std::fs::read_dir(manifest.join("python/relive")).expect("python/relive") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), package.join(entry.file_name())).expect("copy the package");
        }
        std::fs::copy(&built, package.join("_relive.abi3.so")).expect("copy the extension");
        site
    })
}

#[test]
fn the_python_unittest_suite_passes_against_the_built_extension() {
    // The extension build loads both cores: never beside a timing-sensitive watcher test
    // (faults::w1_saves_30_ms_apart_are_never_applied_half_written holds this lock too).
    let _py = crate::util::python_lock();
    let site = package();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = std::time::Instant::now();
    let output = Command::new(python())
        .current_dir(manifest)
        .args([
            "-m",
            "unittest",
            "discover",
            "--start-directory",
            "tests/python",
            "--top-level-directory",
            "tests/python",
            "-v",
        ])
        .env("PYTHONPATH", site)
        .env("RELIVE_TEST_SITE", site)
        .env("RELIVE_TEST_ROOT", manifest)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("RELIVE_LOG")
        .output()
        .expect("python runs");
    let report = String::from_utf8_lossy(&output.stderr);
    eprintln!("python suite ran in {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "the Python suite failed:\n{report}{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // The suite ran something: a discovery mistake must not pass as success.
    assert!(report.contains("\nOK"), "{report}");
    let ran: usize = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok())
        })
        .expect("unittest says how many tests ran");
    assert!(ran >= 15, "only {ran} Python tests ran:\n{report}");
}
