//! One script: read, decode, parse, compile and execute it; the export rules (L3, L4) and
//! what a failed execution waits for (L6).
//!
//! The Python side lives in `script.py`. This file never touches live objects: it makes a
//! fresh globals dict per execution and leaves installing exports to the engine.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet, PyString, PyTuple};

use crate::python::{Helper, PyFailure};
use crate::report::{ScriptProblem, Wait};

static HELPER: Helper = Helper::new(include_str!("script.py"), c"src/engine/script.py", c"_relive_script");
static FACTS: Helper = Helper::new(include_str!("facts.py"), c"src/engine/facts.py", c"_relive_facts");
static SOURCE: Helper = Helper::new(include_str!("source.py"), c"src/engine/source.py", c"_relive_source");

/// A compiled script, ready to execute any number of times.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Its code objects, one per piece (`source.py`), to run in order into one globals dict.
    pub(crate) code: Py<PyTuple>,
    /// Its pieces (`source.py`): compared on the next reload (R8), which compiles only the
    /// pieces that changed.
    pub(crate) source: Py<PyAny>,
    /// Names its top-level statements bind other than by importing (L6 cycles, order).
    pub(crate) bindings: Vec<String>,
    /// Names only its import statements bind: never exported (L4).
    pub(crate) imported: Vec<String>,
    /// `(module, name)` of its top-level `from MODULE import NAME` statements.
    pub(crate) imports: Vec<(String, String)>,
}

/// The default limit on a script's size (W1): 16 MiB.
pub(crate) const DEFAULT_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// How many times a read that overlapped a write is tried again before it is refused (W1).
const READ_ATTEMPTS: u32 = 20;

/// How old a file's last change must be before its bytes count as settled (W1). A writer
/// that truncates and then writes leaves the file empty or short for a moment; a read that
/// falls there sees a file that is younger than this, waits, and looks again. File times
/// come from a clock that may lag by a few milliseconds, hence the margin over the 20 ms
/// coalescing window.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(25);

/// Reads a script's bytes once its writer is done (W1).
///
/// Only regular files are read (a symbolic link is followed first): a FIFO, device or
/// socket is refused before it is opened, so reading never blocks or runs out of memory.
/// A file over `size_limit` bytes is refused. A read that overlaps a write (the size or
/// modification time changed while reading, or fewer bytes came than the size said) is
/// tried again, and refused if the file never settles: it is never applied half-written.
pub(crate) fn read(file: &Path, size_limit: u64) -> Result<Vec<u8>, ScriptProblem> {
    read_file(file, size_limit, false)
}

/// Like [`read`], for a file the watcher saw its writer close after its only write, with no
/// event since (inotify's close-after-write): the writer is done, so there is no wait for
/// the file to settle. A read that overlaps a new write is still tried again (W1).
pub(crate) fn read_closed(file: &Path, size_limit: u64) -> Result<Vec<u8>, ScriptProblem> {
    read_file(file, size_limit, true)
}

fn read_file(file: &Path, size_limit: u64, closed: bool) -> Result<Vec<u8>, ScriptProblem> {
    let unreadable = |e: std::io::Error| ScriptProblem::Unreadable { message: e.to_string() };
    for attempt in 0..READ_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(5 << attempt.min(4)));
        }
        let before = std::fs::metadata(file).map_err(unreadable)?;
        check_kind(&before, size_limit)?;
        let mut handle = std::fs::File::open(file).map_err(unreadable)?;
        // The path may have been swapped for something else between the two calls.
        check_kind(&handle.metadata().map_err(unreadable)?, size_limit)?;
        let mut bytes = Vec::with_capacity(before.len() as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut handle, size_limit + 1), &mut bytes)
            .map_err(unreadable)?;
        check_size(bytes.len() as u64, size_limit)?;
        let mut after = std::fs::metadata(file).map_err(unreadable)?;
        if let Some(wait) = settle_wait(&after).filter(|_| !closed || attempt > 0) {
            std::thread::sleep(wait);
            after = std::fs::metadata(file).map_err(unreadable)?;
        }
        if is_settled(&before, &after, bytes.len() as u64) {
            return Ok(bytes);
        }
        log::debug!("{}: changed while being read; reading it again", file.display());
    }
    Err(ScriptProblem::Unreadable {
        message: format!("the file kept changing while being read ({READ_ATTEMPTS} attempts)"),
    })
}

/// Refuses anything but a regular file within the size limit (W1).
fn check_kind(meta: &std::fs::Metadata, size_limit: u64) -> Result<(), ScriptProblem> {
    if !meta.is_file() {
        return Err(ScriptProblem::Unreadable { message: format!("not a regular file ({})", kind_of(meta)) });
    }
    check_size(meta.len(), size_limit)
}

fn check_size(len: u64, size_limit: u64) -> Result<(), ScriptProblem> {
    if len > size_limit {
        return Err(ScriptProblem::Unreadable {
            message: format!("the file is larger than the script size limit of {size_limit} bytes"),
        });
    }
    Ok(())
}

/// What kind of file `meta` describes, for messages: "a FIFO", "a directory", ...
pub(crate) fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// How long to wait before a file changed less than [`SETTLE`] ago counts as settled.
fn settle_wait(meta: &std::fs::Metadata) -> Option<std::time::Duration> {
    let modified = meta.modified().ok()?;
    let age = std::time::SystemTime::now().duration_since(modified).unwrap_or_default();
    (age < SETTLE).then(|| SETTLE - age)
}

/// Whether a read of `read` bytes between `before` and `after` saw one settled version.
fn is_settled(before: &std::fs::Metadata, after: &std::fs::Metadata, read: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    before.len() == read
        && after.len() == read
        && before.mtime() == after.mtime()
        && before.mtime_nsec() == after.mtime_nsec()
        && before.ino() == after.ino()
}

/// Decodes (PEP 263 cookie, BOM, else UTF-8), parses and compiles with the real file name,
/// so tracebacks show the script's own lines (L3, E1). Only the pieces whose text is not in
/// `previous` (the source of the version before) are parsed and compiled (issue 17).
pub(crate) fn compile(
    py: Python<'_>,
    file: &Path,
    bytes: &[u8],
    previous: Option<&Py<PyAny>>,
) -> Result<Compiled, ScriptProblem> {
    let helper = HELPER.module(py);
    let filename = file.to_string_lossy();
    let text = helper
        .call_method1("decode", (pyo3::types::PyBytes::new(py, bytes), &filename))
        .map_err(|err| ScriptProblem::Undecodable { message: PyFailure::from_err(py, &err).message })?;
    let (lines, offsets): (Vec<u32>, Vec<usize>) =
        match text.cast::<PyString>().ok().and_then(|t| t.to_str().ok()) {
            Some(text) => {
                super::split::statement_starts(text).into_iter().map(|s| (s.line, s.offset)).unzip()
            }
            None => (vec![1], vec![0]),
        };
    let built = source_module(py)
        .call_method1("compiled", (text, lines, offsets, &filename, previous.map(|p| p.bind(py))))
        .map_err(|err| ScriptProblem::Error {
            failure: Box::new(PyFailure::locate(py, &err, Some(&filename))),
        })?;
    let (source, code, bindings, imported, imports) = built
        .extract::<(Py<PyAny>, Py<PyTuple>, Vec<String>, Vec<String>, Vec<(String, String)>)>()
        .map_err(|err| ScriptProblem::Error { failure: Box::new(PyFailure::from_err(py, &err)) })?;
    Ok(Compiled { code, source, bindings, imported, imports })
}

/// `source.py`, loaded after the helpers it imports.
fn source_module(py: Python<'_>) -> &Bound<'_, PyModule> {
    crate::testing::plain::module(py);
    super::update::state_rule_module(py);
    FACTS.module(py);
    SOURCE.module(py)
}

/// Decodes (PEP 263 cookie, BOM, else UTF-8) and compiles `bytes` as relive would load
/// them from `file`, without executing anything (E1): for tools, and for the `script_decode`
/// fuzz target.
///
/// # Errors
/// The script problem a load would report: undecodable bytes, a syntax error.
pub fn check_source(file: &Path, bytes: &[u8]) -> Result<(), ScriptProblem> {
    crate::python::attach(|py| compile(py, file, bytes, None).map(drop))
}

/// Fresh globals for one execution of a script, with relive's marker in it (L3, R12).
pub(crate) fn new_globals<'py>(
    py: Python<'py>,
    namespace: &str,
    file: &Path,
    path: &str,
) -> PyResult<Bound<'py, PyDict>> {
    Ok(HELPER
        .module(py)
        .call_method1("new_globals", (namespace, file.to_string_lossy(), path))?
        .cast_into::<PyDict>()?)
}

/// What a failed execution waits for, when the failure is about one of `namespaces` (L6).
pub(crate) fn wait_target(py: Python<'_>, err: &PyErr, namespaces: &[&str]) -> PyResult<Option<Wait>> {
    let namespaces = PySet::new(py, namespaces)?;
    let target = HELPER.module(py).call_method1("wait_target", (err.value(py), namespaces))?;
    read_wait(&target)
}

/// A wait as `wait_target` in `script.py` gives it: `None` or `(kind, namespace, name)`.
pub(crate) fn read_wait(target: &Bound<'_, PyAny>) -> PyResult<Option<Wait>> {
    let Some((kind, namespace, name)) = target.extract::<Option<(String, String, Option<String>)>>()? else {
        return Ok(None);
    };
    Ok(Some(match (kind.as_str(), name) {
        ("name", Some(name)) => Wait::Name { namespace, name },
        ("namespace", _) => Wait::Namespace { namespace },
        _ => Wait::Anything { namespace },
    }))
}

/// Names `globals` exports into `namespace` by the rules of L4, sorted.
pub(crate) fn exports(
    py: Python<'_>,
    compiled: &Compiled,
    globals: &Bound<'_, PyDict>,
    namespace: &str,
    registry: &Bound<'_, PyAny>,
) -> PyResult<Vec<String>> {
    let args = (globals, namespace, registry, compiled.imported.clone());
    HELPER.module(py).call_method1("exports", args)?.extract()
}

/// A callable giving the names a candidate's globals export into `namespace` (L4), for
/// code that runs on the worker thread (the T1 candidate view).
pub(crate) fn exports_function<'py>(
    py: Python<'py>,
    compiled: &Compiled,
    namespace: &str,
    registry: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    HELPER.module(py).getattr("Exports")?.call1((namespace, registry, compiled.imported.clone()))
}

/// A new registry of contributed objects and script globals (see `script.py`).
pub(crate) fn new_registry(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(HELPER.module(py).getattr("Registry")?.call0()?.unbind())
}

/// Records in `registry` (`new_registry`) a script's globals and the objects it exports
/// (L4: a sibling's import of them is told apart from the script's own definitions).
pub(crate) fn register_script(
    registry: &Bound<'_, PyAny>,
    globals: &Bound<'_, PyDict>,
    exports: &[String],
) -> PyResult<()> {
    registry.call_method1(pyo3::intern!(registry.py(), "add_script"), (globals, exports.to_vec())).map(drop)
}

/// Drops from `registry` exactly what `register_script` recorded for `globals`.
pub(crate) fn forget_script(registry: &Bound<'_, PyAny>, globals: &Bound<'_, PyDict>) -> PyResult<()> {
    registry.call_method1(pyo3::intern!(registry.py(), "forget_script"), (globals,)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| {
            assert!(HELPER.module(py).hasattr("exports").unwrap());
        });
    }

    #[test]
    fn w1_only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, b"X = 1\n").unwrap();
        assert_eq!(read(&file, DEFAULT_SIZE_LIMIT).unwrap(), b"X = 1\n");
        let big = read(&file, 3).unwrap_err().to_string();
        assert!(big.contains("size limit of 3 bytes"), "{big}");
        let folder = read(dir.path(), DEFAULT_SIZE_LIMIT).unwrap_err().to_string();
        assert!(folder.contains("not a regular file (a directory)"), "{folder}");
        let zero = dir.path().join("z.py");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let device = read(&zero, DEFAULT_SIZE_LIMIT).unwrap_err().to_string();
        assert!(device.contains("a device"), "{device}");
    }

    #[test]
    fn w1_a_file_changed_just_now_is_waited_for_and_an_old_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, b"").unwrap();
        let wait = settle_wait(&std::fs::metadata(&file).unwrap()).expect("just written");
        assert!(wait <= SETTLE);
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        assert_eq!(settle_wait(&std::fs::metadata(&file).unwrap()), None);
    }

    #[test]
    fn w1_a_read_that_saw_fewer_bytes_than_the_size_is_not_settled() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, b"X = 1\n").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert!(is_settled(&meta, &meta, 6));
        assert!(!is_settled(&meta, &meta, 3), "a short read is a read that overlapped a write");
        std::fs::write(&file, b"X = 12\n").unwrap();
        assert!(!is_settled(&meta, &std::fs::metadata(&file).unwrap(), 6));
    }

    #[test]
    fn parse_reports_bindings_and_imports() {
        crate::python::attach(|py| {
            let src = b"from game.ai import Brain, Eye as E\nimport os.path\nX = 1\nif X:\n    Y, Z = 2, 3\ndef f():\n    W = 1\nclass C: pass\n";
            let compiled = compile(py, Path::new("t.py"), src, None).unwrap();
            assert_eq!(compiled.bindings, ["C", "X", "Y", "Z", "f"]);
            assert_eq!(compiled.imported, ["Brain", "E", "os"]);
            assert_eq!(
                compiled.imports,
                [("game.ai".to_string(), "Brain".to_string()), ("game.ai".into(), "Eye".into())]
            );
        });
    }

    /// A reload takes the name lists of the version before only when its changed pieces bind
    /// and import the same names (issue 17); every version must list what a fresh compile does.
    #[test]
    fn a_reload_lists_the_names_a_fresh_compile_lists() {
        let versions = [
            "import os\nX = 1\ndef f():\n    return X\n",
            "import os\nX = 1\ndef g():\n    return X\n",
            "import os\nX = 1\ndef g():\n    return 2\n",
            "import sys\nX = 1\ndef g():\n    return 2\n",
            "from game import Y\nX = 1\ndef g():\n    return 2\n",
            "from game import Y\nY = 1\ndef g():\n    return 2\n",
            "from game import Y\nY = 1\ndef h():\n    return 2\n",
            "from game import Y\nY = 1\nfrom game import Y\ndef h():\n    return 2\n",
        ];
        crate::python::attach(|py| {
            let mut previous: Option<Py<PyAny>> = None;
            for text in versions {
                let file = Path::new("t.py");
                let reloaded = compile(py, file, text.as_bytes(), previous.as_ref()).unwrap();
                let fresh = compile(py, file, text.as_bytes(), None).unwrap();
                assert_eq!(reloaded.bindings, fresh.bindings, "{text}");
                assert_eq!(reloaded.imported, fresh.imported, "{text}");
                assert_eq!(reloaded.imports, fresh.imports, "{text}");
                previous = Some(reloaded.source);
            }
        });
    }
}
