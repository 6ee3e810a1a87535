//! Shared test set-up: a temp script directory, one interpreter user at a time, and a
//! logger that keeps what relive logs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A temporary script directory.
pub struct ScriptDir {
    dir: tempfile::TempDir,
}

impl ScriptDir {
    pub fn new() -> ScriptDir {
        ScriptDir { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` (folders created), exactly as given.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.write_bytes(rel, text.as_bytes())
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create folders");
        std::fs::write(&path, bytes).expect("write file");
        path
    }
}

/// A reloader without tests that loaded `text` as `a.py` of `dir` into `namespace`.
pub fn load_one(dir: &ScriptDir, namespace: &str, text: &str) -> relive::Reloader {
    dir.write("a.py", text);
    let mut r = relive::Reloader::builder().tests(false).build().unwrap();
    assert_eq!(r.add_directory(namespace, dir.path()).unwrap().outcome, relive::Outcome::Loaded);
    r
}

/// Writes `text` as `a.py` of `dir` (see [`load_one`]) and reloads it.
pub fn reload_one(r: &mut relive::Reloader, dir: &ScriptDir, text: &str) -> relive::ReloadReport {
    let file = dir.write("a.py", text);
    r.reload(file).unwrap()
}

/// The interpreter's `sys.modules` and relive's namespaces are process-wide: tests that
/// load directories take this lock so they never see each other's namespaces.
pub fn python_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    install_logger();
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    LOGS.lock().unwrap_or_else(|p| p.into_inner()).clear();
    // Python callbacks registered by an earlier test's scripts must not reach this one.
    run(
        "relive = sys.modules.get('relive')\nif relive is not None:\n    for kind in relive._callbacks: relive._callbacks[kind].clear()",
    );
    guard
}

static LOGS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

/// Every line logged since the lock was taken, as `LEVEL message`.
pub fn logs() -> Vec<String> {
    LOGS.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(l, m)| format!("{l} {m}")).collect()
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("relive") {
            LOGS.lock().unwrap_or_else(|p| p.into_inner()).push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

fn install_logger() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&Capture).expect("no other logger in the test binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// Evaluates a Python expression with `sys` and `importlib` available.
pub fn eval<T>(expr: &str) -> T
where
    T: for<'a, 'py> pyo3::FromPyObject<'a, 'py>,
{
    use pyo3::prelude::*;
    relive::python::attach(|py| {
        let globals = pyo3::types::PyDict::new(py);
        globals.set_item("sys", py.import("sys").expect("sys")).expect("set");
        globals.set_item("importlib", py.import("importlib").expect("importlib")).expect("set");
        let code = std::ffi::CString::new(expr).expect("no NUL");
        let value = py
            .eval(&code, Some(&globals), None)
            .unwrap_or_else(|e| panic!("{expr}: {}", relive::python::PyFailure::from_err(py, &e)));
        value.extract::<T>().unwrap_or_else(|_| panic!("{expr}: unexpected type"))
    })
}

/// Runs Python statements with `sys` and `importlib` available.
pub fn run(code: &str) {
    use pyo3::prelude::*;
    relive::python::attach(|py| {
        let globals = pyo3::types::PyDict::new(py);
        globals.set_item("sys", py.import("sys").expect("sys")).expect("set");
        let source = std::ffi::CString::new(code).expect("no NUL");
        py.run(&source, Some(&globals), None)
            .unwrap_or_else(|e| panic!("{code}: {}", relive::python::PyFailure::from_err(py, &e)));
    })
}

/// A small seeded generator (an LCG) for the random edit-sequence tests: the same seed
/// gives the same sequence on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
