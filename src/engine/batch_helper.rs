//! `batch.py` behind typed calls: one batch's journal of planned changes and its
//! translation memo (R2, R14, R15), and the import targets read from a syntax tree (R15's
//! graph, `dependents.rs`). The journal is committed by `update::commit_batch`.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::dependents::Imports;
use super::update;
use crate::python::Helper;

static HELPER: Helper = Helper::new(include_str!("batch.py"), c"src/engine/batch.py", c"_relive_batch");

/// `batch.py`, loaded after `update.py`, which it imports.
fn module(py: Python<'_>) -> &Bound<'_, PyModule> {
    update::update_module(py);
    HELPER.module(py)
}

/// `import_targets`' answer: `(module, name)` pairs of `from module import name`, and the
/// modules of `import module`.
#[derive(FromPyObject)]
struct ImportTargets(Vec<(String, String)>, Vec<String>);

impl From<ImportTargets> for Imports {
    fn from(ImportTargets(names, modules): ImportTargets) -> Imports {
        Imports { names, modules }
    }
}

/// The module-level imports of a compiled script (its pieces, `source.py`).
pub(super) fn import_targets(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Imports> {
    let targets: ImportTargets = source.call_method0(pyo3::intern!(py, "import_targets"))?.extract()?;
    Ok(targets.into())
}

/// The module-level imports of a file on disk; none when it does not parse.
pub(super) fn file_import_targets(py: Python<'_>, file: &Path) -> PyResult<Imports> {
    let path = file.to_string_lossy();
    let targets: ImportTargets =
        module(py).call_method1(pyo3::intern!(py, "file_import_targets"), (path.as_ref(),))?.extract()?;
    Ok(targets.into())
}

/// One batch's apply: `batch.py`'s `Batch`, its journal and translation memo.
pub(super) struct BatchApply<'py>(Bound<'py, PyAny>);

impl<'py> BatchApply<'py> {
    /// A batch over `namespaces` (every relive namespace), whose members are in `touched`;
    /// `proxies` are the `(dotted name, proxy)` pairs its view made (T1).
    pub(super) fn new(
        py: Python<'py>,
        namespaces: Vec<String>,
        touched: Vec<String>,
        proxies: &Bound<'py, PyAny>,
    ) -> PyResult<BatchApply<'py>> {
        let class = module(py).getattr(pyo3::intern!(py, "Batch"))?;
        Ok(BatchApply(class.call1((namespaces, touched, proxies))?))
    }

    /// The object `update.py` takes as `batch=`.
    pub(super) fn as_any(&self) -> &Bound<'py, PyAny> {
        &self.0
    }

    /// Puts a new script's exports `names` (values from `candidate`) into its namespace
    /// `module`, through the journal.
    pub(super) fn install(
        &self,
        module: &Bound<'py, PyModule>,
        names: &[String],
        candidate: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        self.0
            .call_method1(pyo3::intern!(self.0.py(), "install"), (module, names.to_vec(), candidate))
            .map(drop)
    }

    /// The imported names of the member applied last that took new objects (R15).
    pub(super) fn changed_imports(&self) -> PyResult<Vec<String>> {
        self.0.getattr(pyo3::intern!(self.0.py(), "changed_imports"))?.extract()
    }

    /// How many changes the members planned so far have put in the journal.
    pub(super) fn journal_len(&self) -> PyResult<usize> {
        self.0
            .getattr(pyo3::intern!(self.0.py(), "journal"))?
            .getattr(pyo3::intern!(self.0.py(), "entries"))?
            .len()
    }

    /// Done (committed or not): drops the journal and the memo (R12).
    pub(super) fn close(&self) -> PyResult<()> {
        self.0.call_method0(pyo3::intern!(self.0.py(), "close")).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(module(py).hasattr("Batch").unwrap()));
    }
}
