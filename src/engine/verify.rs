//! The `verify` option (builder `.verify(true)`, `relive watch --verify`): after each
//! applied reload, the live namespaces of every registered directory are compared with a
//! fresh load of the same files in a child Python process, and each name that differs is
//! logged at WARN with both descriptions (`verify.py` says what is compared). It costs one
//! child interpreter start plus a fresh load per applied reload, so it is a debugging aid,
//! off by default.

use std::io::Write as _;
use std::process::{Command, Stdio};

use pyo3::prelude::*;

use super::Reloader;
use crate::python::{Helper, PyFailure};

static HELPER: Helper = Helper::new(include_str!("verify.py"), c"src/engine/verify.py", c"_relive_verify");

impl Reloader {
    /// Compares every directory's live namespaces with a fresh load; logs differences.
    pub(crate) fn verify_fresh_load(&self, py: Python<'_>) {
        for directory in self.directories.values() {
            let start = std::time::Instant::now();
            match differences(py, &directory.root.to_string_lossy(), &directory.namespace) {
                Ok(found) => {
                    log::debug!(
                        "verify: {}: {} names differ ({:.0} ms)",
                        directory.namespace,
                        found.len(),
                        start.elapsed().as_secs_f64() * 1000.0
                    );
                    for (name, live, fresh) in found {
                        log::warn!(
                            "verify: {name} differs from a fresh load of the same files\n  live:  {}\n  fresh: {}",
                            live.as_deref().unwrap_or("(missing)"),
                            fresh
                        );
                    }
                }
                Err(problem) => {
                    log::warn!("verify: {} could not be compared: {problem}", directory.namespace)
                }
            }
        }
    }
}

type Difference = (String, Option<String>, String);

/// The names of `root` whose live description differs from a fresh load of `directory`.
fn differences(py: Python<'_>, directory: &str, root: &str) -> Result<Vec<Difference>, String> {
    let helper = HELPER.module(py);
    let failure = |err: PyErr| PyFailure::from_err(py, &err).to_string();
    let task: String =
        helper.call_method1("task", (directory, root)).and_then(|t| t.extract()).map_err(failure)?;
    let python = child_python(py);
    // The child runs while other threads of the program (and the GIL) go on.
    let output = py.detach(|| -> std::io::Result<std::process::Output> {
        let mut child = Command::new(&python)
            .args(["-c", &format!("{}\nchild_main()\n", include_str!("verify.py"))])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().expect("piped").write_all(task.as_bytes())?;
        child.wait_with_output()
    });
    let output = output.map_err(|e| format!("cannot run {python}: {e}"))?;
    if !output.status.success() {
        return Err(format!("the fresh load failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    helper.call_method1("read_differences", (stdout,)).and_then(|d| d.extract()).map_err(failure)
}

/// The interpreter of the child: the host's own when Python hosts relive, else the one
/// relive was built against.
fn child_python(py: Python<'_>) -> String {
    if crate::python::is_python_host()
        && let Ok(executable) =
            py.import("sys").and_then(|sys| sys.getattr("executable")?.extract::<String>())
    {
        return executable;
    }
    crate::python::BUILD_PYTHON_EXECUTABLE.unwrap_or("python3").to_string()
}
