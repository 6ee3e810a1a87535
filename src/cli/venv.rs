//! The user's Python environment: with `VIRTUAL_ENV` set (an activated virtualenv), its
//! packages are importable by scripts as with the venv's own python, provided the venv was
//! made from the Python relive runs (same major.minor); a venv of another Python is an
//! error naming both. A `.venv` folder that is not activated is not used, as with pytest.

use pyo3::prelude::*;

use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("venv.py"), c"src/cli/venv.py", c"_relive_venv");

/// Adds the active virtualenv's site-packages to `sys.path`; an error when it was made with
/// another Python. Nothing when no venv is active.
pub fn activate() -> anyhow::Result<()> {
    let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let venv = std::path::PathBuf::from(venv);
    let (made_with, running, added, executable) = crate::python::attach(|py| {
        let answer = HELPER.module(py).call_method1("activate", (venv.to_string_lossy().as_ref(),))?;
        let (made_with, running, added): (Option<String>, String, Vec<String>) = answer.extract()?;
        let executable: String = py.import("sys")?.getattr("executable")?.extract()?;
        Ok::<_, PyErr>((made_with, running, added, executable))
    })
    .map_err(|e| anyhow::anyhow!("cannot read the virtualenv {}: {e}", venv.display()))?;
    let Some(made_with) = made_with else {
        anyhow::bail!(
            "VIRTUAL_ENV={} is not a virtualenv: it has no pyvenv.cfg naming its Python",
            venv.display()
        );
    };
    if added.is_empty() && !same_minor(&made_with, &running) {
        anyhow::bail!(
            "the virtualenv {} was made with Python {made_with}, but relive runs Python {running} ({executable}): \
             make the venv with that Python, or build relive against the venv's (PYO3_PYTHON=/path/to/python{} cargo build)",
            venv.display(),
            minor(&made_with),
        );
    }
    log::info!("virtualenv {} (Python {made_with}): added {}", venv.display(), added.join(", "));
    Ok(())
}

fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn same_minor(a: &str, b: &str) -> bool {
    minor(a) == minor(b)
}
