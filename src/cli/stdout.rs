//! Keeping stdout for the report: while scripts run, file descriptor 1 points at stderr, so
//! whatever they print (from Python, C extensions or subprocesses) cannot corrupt a JSON
//! document on stdout.
//!
//! The redirection is done at the OS level with Python's `os.dup`/`os.dup2`, which wrap the
//! platform calls, so the interpreter relive already runs is the only dependency.

use pyo3::prelude::*;

/// File descriptor 1 redirected to 2 until [`StdoutToStderr::restore`] (or drop).
pub struct StdoutToStderr {
    saved: Option<i32>,
}

impl StdoutToStderr {
    /// Points fd 1 at stderr; Python's `sys.stdout` is flushed first so nothing already
    /// written moves.
    pub fn start() -> anyhow::Result<StdoutToStderr> {
        use std::io::Write;
        std::io::stdout().flush()?;
        let saved = relive::python::attach(|py| -> PyResult<i32> {
            flush_python(py)?;
            let os = py.import("os")?;
            let saved: i32 = os.call_method1("dup", (1,))?.extract()?;
            os.call_method1("dup2", (2, 1))?;
            Ok(saved)
        })
        .map_err(|e| anyhow::anyhow!("cannot redirect stdout: {e}"))?;
        Ok(StdoutToStderr { saved: Some(saved) })
    }

    /// Flushes what scripts wrote (to stderr) and points fd 1 back at the real stdout.
    pub fn restore(mut self) -> anyhow::Result<()> {
        self.put_back().map_err(|e| anyhow::anyhow!("cannot restore stdout: {e}"))
    }

    fn put_back(&mut self) -> PyResult<()> {
        let Some(saved) = self.saved.take() else { return Ok(()) };
        relive::python::attach(|py| {
            flush_python(py)?;
            let os = py.import("os")?;
            os.call_method1("dup2", (saved, 1))?;
            os.call_method1("close", (saved,))?;
            Ok(())
        })
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        let _ = self.put_back();
    }
}

fn flush_python(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    for name in ["stdout", "stderr"] {
        let stream = sys.getattr(name)?;
        if !stream.is_none() {
            stream.call_method0("flush")?;
        }
    }
    Ok(())
}
