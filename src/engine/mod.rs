//! The reload engine: the [`Reloader`], its builder, and the tables of directories and
//! scripts it owns.
//!
//! This file orchestrates; each concern has its own file:
//! - loading a directory: `directory` (a directory's listing and namespaces; which files
//!   are scripts is `crate::layout`'s), `namespace` (modules in `sys.modules`, and L5's
//!   `claim`: who keeps a duplicated name), `resolve` (load order, parking and waking, L6),
//!   `load` (one directory's all-or-nothing load, L7: its scripts become batch members run
//!   by `batch_build` under the load policy), `load_step` (a load member's run: checked in
//!   one job, its exports installed at once by L5's `Installer`, parked while it waits);
//! - one script: `script` (its code, globals and exports, with `script.py`), `split` and
//!   `source.py` (its top-level statements, each parsed and compiled once: a reload compiles
//!   only what changed, R1; what it reads from their syntax trees is in `facts.py`), `candidate`
//!   (executing and testing a candidate under the timeout, and L6's test-file wait);
//! - reloading: `reload` (what changed files become), `batch` (one batch's pipeline:
//!   members and their dependents, build, test, decide; its builds in `batch_build`, the
//!   resolver-driven run of a batch's members, shared with loads, one member's run by the
//!   batch's policy in `batch_step`; its tests in `batch_test`),
//!   `dependents` (R15's import graph), `pending` (W2: pending scripts retried as one
//!   batch that grows while it runs, as the scripts it wakes join it),
//!   `apply` (putting a batch into effect), `batch_helper` (`batch.py`'s typed wrapper: the
//!   batch's journal and translation memo, import targets), `update` (applying one script in
//!   place, with the Python in `update.py`, `journal.py`, `state_rule.py` and
//!   `shape_change.py`);
//! - the rest: `leaks` (names left behind), `callbacks` (listeners and validators), `pump`
//!   (watching), `error` (the engine's errors).

mod apply;
mod batch;
mod batch_build;
mod batch_helper;
mod batch_step;
mod batch_test;
mod callbacks;
mod candidate;
mod commit;
mod dependents;
mod directory;
mod error;
mod leaks;
mod load;
mod load_step;
mod namespace;
mod pending;
mod pump;
mod reload;
mod resolve;
mod script;
mod split;
mod twins;
mod update;
mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Serialize;

use callbacks::Callbacks;
pub use callbacks::{Event, Validator};
pub use error::Error;
pub use leaks::Leak;
use leaks::Leaks;
use namespace::{DirId, Namespaces};
pub use pump::StopHandle;
pub use script::check_source;
pub(crate) use script::read_wait;

use crate::python;
use crate::report::{LoadReport, RemoveReport, ScriptPath};
use crate::script_api::ScriptApi;

/// How reloads put new code into effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Patch classes and functions in place; identity is kept (R rules). The default.
    #[default]
    Update,
    /// Replace the script's globals and exports with the new version's (O1).
    Overwrite,
}

/// Settings of a [`Reloader`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Update or overwrite.
    pub mode: Mode,
    /// Whether scripts' unit tests run (T7).
    pub tests: bool,
    /// Per-script bound on module-level execution plus tests (T6).
    pub test_timeout: Duration,
    /// Keep what loaded when some scripts of a directory fail (L7).
    pub partial: bool,
    /// Remove names a new version no longer defines instead of leaking them (R10).
    pub prune: bool,
    /// Delay between the last file event of a burst and the reload (W1).
    pub watch_window: Duration,
    /// After each applied reload, collect and warn when more than one class object per
    /// name survives (R12). Walks the whole heap: a debugging aid, off by default.
    pub debug_leaks: bool,
    /// The largest script read, in bytes; a larger one is refused (W1, default 16 MiB).
    pub size_limit: u64,
    /// After each applied reload, compare the live namespaces with a fresh load of the same
    /// files in a child Python process and warn about each name that differs (a debugging
    /// aid: one interpreter start and one fresh load per applied reload).
    pub verify: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Update,
            tests: true,
            test_timeout: Duration::from_secs(10),
            partial: false,
            prune: false,
            watch_window: crate::watch::DEFAULT_WINDOW,
            debug_leaks: false,
            size_limit: script::DEFAULT_SIZE_LIMIT,
            verify: false,
        }
    }
}

/// Builds a [`Reloader`]; every setting has a default.
#[derive(Debug, Default, Clone)]
pub struct ReloaderBuilder {
    config: Config,
}

impl ReloaderBuilder {
    /// Update (default) or overwrite mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Run scripts' unit tests on load and reload (default true).
    pub fn tests(mut self, tests: bool) -> Self {
        self.config.tests = tests;
        self
    }

    /// Per-script timeout for module-level code and tests (default 10 s).
    pub fn test_timeout(mut self, timeout: Duration) -> Self {
        self.config.test_timeout = timeout;
        self
    }

    /// Keep the scripts that loaded when others fail; the rest are pending (default false).
    pub fn partial(mut self, partial: bool) -> Self {
        self.config.partial = partial;
        self
    }

    /// Remove names a new version no longer defines (default false: leak them).
    pub fn prune(mut self, prune: bool) -> Self {
        self.config.prune = prune;
        self
    }

    /// The largest script relive reads, in bytes; a larger one is refused with an error
    /// naming it (W1, default 16 MiB).
    pub fn size_limit(mut self, bytes: u64) -> Self {
        self.config.size_limit = bytes;
        self
    }

    /// Delay between the last file event of a burst and the reload (default 20 ms, W1).
    /// With a window no longer than the default, a single save its writer closed (inotify's
    /// close-after-write) is applied 3 ms after the close; a longer window is always waited.
    pub fn watch_window(mut self, window: Duration) -> Self {
        self.config.watch_window = window;
        self
    }

    /// Warn after each applied reload when more than one class object per name survives a
    /// collection (R12). Walks the heap after every reload: for debugging only.
    pub fn debug_leaks(mut self, on: bool) -> Self {
        self.config.debug_leaks = on;
        self
    }

    /// After each applied reload, compare the live namespaces with a fresh load of the same
    /// files in a child Python process and log at WARN each name that differs, with both
    /// descriptions. Costs one interpreter start and one fresh load per applied reload.
    pub fn verify(mut self, on: bool) -> Self {
        self.config.verify = on;
        self
    }

    /// Starts the interpreter if needed and makes the reloader.
    ///
    /// # Errors
    /// [`Error::Python`] when relive's own Python helpers cannot be set up.
    pub fn build(self) -> Result<Reloader, Error> {
        python::attach(|py| {
            ScriptApi::get(py);
            let registry = script::new_registry(py).map_err(|e| Error::python(py, &e))?;
            Ok(Reloader {
                config: self.config,
                namespaces: Namespaces::default(),
                directories: BTreeMap::new(),
                scripts: BTreeMap::new(),
                registry,
                leaks: Leaks::default(),
                callbacks: Callbacks::default(),
                event_classes: None,
                watcher: None,
                next_directory: 0,
                fail_apply_after: None,
                stop: StopHandle::default(),
                self_written: BTreeMap::new(),
                pumping: false,
                test_files: std::sync::Arc::default(),
            })
        })
    }
}

/// A registered script directory.
#[derive(Debug)]
struct Directory {
    /// The path as the caller gave it, for messages and reports.
    given: PathBuf,
    /// Canonical path.
    root: PathBuf,
    /// Base namespace.
    namespace: String,
    /// Scripts that did not load yet (W2), with the relive name each waits for, if its
    /// failure was a missing one; the others wait for an edit.
    pending: BTreeMap<PathBuf, Option<crate::report::Wait>>,
    /// Scripts deleted in update mode without `prune`, kept so a re-created script
    /// re-claims its names and classes keep their identity (W3).
    removed: BTreeMap<PathBuf, Script>,
}

/// A script in effect.
#[derive(Debug)]
struct Script {
    directory: DirId,
    path: ScriptPath,
    namespace: String,
    /// The retained globals: the one globals dict of this script's code (update mode).
    globals: Py<PyDict>,
    version: u32,
    /// Names this script contributes to its namespace, sorted.
    contributions: Vec<String>,
    /// The bytes in effect, to tell an identical write (R11).
    bytes: Vec<u8>,
    /// The source in effect as pieces (`source.py`), for R8's statement comparison and for
    /// compiling only what the next version changes.
    source: Py<PyAny>,
    /// What it imports at module level (R15's graph).
    imports: dependents::Imports,
    /// What its test file imports at module level (R15's graph).
    test_imports: dependents::Imports,
}

/// Loads script directories into namespaces and reloads them as they change.
///
/// ```no_run
/// let mut reloader = relive::Reloader::builder().build()?;
/// let report = reloader.add_directory("game", "scripts/")?;
/// println!("{report}");
/// # Ok::<(), relive::Error>(())
/// ```
#[derive(Debug)]
pub struct Reloader {
    config: Config,
    namespaces: Namespaces,
    directories: BTreeMap<DirId, Directory>,
    /// Scripts in effect, by canonical file path.
    scripts: BTreeMap<PathBuf, Script>,
    /// Python-side registry of contributed objects (L4, see `script.py`).
    registry: Py<PyAny>,
    leaks: Leaks,
    callbacks: Callbacks,
    /// Classes created or updated by the apply being reported, for R13 callbacks.
    event_classes: Option<Py<PyDict>>,
    watcher: Option<crate::watch::FileWatcher>,
    next_directory: DirId,
    /// Test hook for R2: make the next applies fail after this many journaled changes.
    fail_apply_after: Option<usize>,
    /// Set to interrupt running candidates (W4); see [`Reloader::stop_handle`].
    stop: StopHandle,
    /// Scripts that rewrote their own file while they ran, with that write's time: the
    /// watcher's event for it is not reloaded (W1, no reload loop).
    self_written: BTreeMap<PathBuf, std::time::SystemTime>,
    /// Whether the batch being applied came from the watcher (`pump`), not a direct reload.
    pumping: bool,
    /// Test files compiled, by path and bytes (R15 retests many per batch).
    test_files: std::sync::Arc<candidate::TestFileCache>,
}

impl Reloader {
    /// A builder with the default settings.
    pub fn builder() -> ReloaderBuilder {
        ReloaderBuilder::default()
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Loads every script of `directory` into the namespace `namespace` and its
    /// sub-namespaces (L1–L8). A load that fails is an outcome in the report, not an error:
    /// by default nothing of it is kept (L7).
    ///
    /// # Errors
    /// A missing directory, an invalid or taken namespace, a folder name that cannot be a
    /// namespace, a directory that is registered already, or an interpreter failure.
    pub fn add_directory(
        &mut self,
        namespace: &str,
        directory: impl AsRef<Path>,
    ) -> Result<LoadReport, Error> {
        let directory = directory.as_ref();
        python::attach(|py| self.load_directory(py, namespace, directory))
    }

    /// Removes a directory: its namespaces and contributions leave `sys.modules` and their
    /// parents, and its scripts, pending scripts and leaks are forgotten (L9). Objects the
    /// program still holds keep working with their retained globals.
    ///
    /// # Errors
    /// [`Error::NotRegistered`] when the directory is not registered.
    pub fn remove_directory(&mut self, directory: impl AsRef<Path>) -> Result<RemoveReport, Error> {
        let given = directory.as_ref();
        let root = given.canonicalize().unwrap_or_else(|_| given.to_path_buf());
        let id = self
            .directories
            .iter()
            .find(|(_, d)| d.root == root || d.given == given)
            .map(|(&id, _)| id)
            .ok_or_else(|| Error::NotRegistered { path: given.to_path_buf() })?;
        python::attach(|py| {
            let removed: Vec<PathBuf> =
                self.scripts.iter().filter(|(_, s)| s.directory == id).map(|(f, _)| f.clone()).collect();
            for file in &removed {
                let script = self.scripts.remove(file).expect("listed above");
                self.forget_contributions(py, &script)?;
                self.publish_version(py, &script.path, None);
            }
            let namespaces = self.namespaces.owned_by(id);
            self.leaks.forget_namespaces(&namespaces);
            self.namespaces.remove(py, &namespaces).map_err(|e| Error::python(py, &e))?;
            let directory = self.directories.remove(&id).expect("found above");
            self.test_files.forget_under(&directory.root);
            if let Some(watcher) = self.watcher.as_mut() {
                watcher.unwatch(&directory.root);
            }
            log::info!("removed {} ({})", directory.namespace, directory.given.display());
            Ok(RemoveReport {
                namespace: directory.namespace,
                directory: directory.given.display().to_string(),
                namespaces,
                scripts: removed.len(),
            })
        })
    }

    /// Every namespace relive owns or made as a parent, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces.names().map(str::to_string).collect()
    }

    /// The version of the script at `file` (1 after load), `None` when it is not in effect.
    pub fn version(&self, file: impl AsRef<Path>) -> Option<u32> {
        let file = file.as_ref().canonicalize().ok()?;
        self.scripts.get(&file).map(|s| s.version)
    }

    /// Scripts in effect, as (base namespace, path relative to their directory), sorted.
    pub fn scripts(&self) -> Vec<(String, ScriptPath)> {
        self.scripts
            .values()
            .map(|s| (self.directories[&s.directory].namespace.clone(), s.path.clone()))
            .collect()
    }

    /// The globals dict in effect of the script at `file`: the retained globals in update
    /// mode.
    pub fn script_globals<'py>(&self, py: Python<'py>, file: impl AsRef<Path>) -> Option<Bound<'py, PyDict>> {
        let file = file.as_ref().canonicalize().ok()?;
        self.scripts.get(&file).map(|s| s.globals.bind(py).clone())
    }

    /// Pending scripts of partial loads (W2), as absolute paths.
    pub fn pending(&self) -> Vec<PathBuf> {
        self.directories.values().flat_map(|d| d.pending.keys().cloned()).collect()
    }

    /// Names `file` contributes to its namespace (L4), sorted.
    pub fn contributions(&self, file: impl AsRef<Path>) -> Option<Vec<String>> {
        let file = file.as_ref().canonicalize().ok()?;
        self.scripts.get(&file).map(|s| s.contributions.clone())
    }

    /// The namespace a loaded script contributes to.
    pub fn script_namespace(&self, file: impl AsRef<Path>) -> Option<String> {
        let file = file.as_ref().canonicalize().ok()?;
        self.scripts.get(&file).map(|s| s.namespace.clone())
    }

    /// Calls `listener` with every event of every reload, after it is applied or rejected
    /// (R13). A panic inside it is logged and changes nothing.
    pub fn on_event(&mut self, listener: impl FnMut(&Event) + Send + 'static) {
        self.callbacks.listen(Box::new(listener));
    }

    /// Calls `validator` with each candidate's globals after its module-level code ran and
    /// before its tests; an `Err` rejects the candidate with that message (R13).
    pub fn on_validate(
        &mut self,
        validator: impl Fn(Python<'_>, &Bound<'_, PyDict>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.callbacks.validate_with(std::sync::Arc::new(validator));
    }

    /// Evaluates a Python expression with every top-level namespace bound under its name
    /// (`game.tick()`); returns `repr` of the result, or `None` when it is `None`.
    ///
    /// # Errors
    /// What the expression raised, as text (a syntax error included).
    pub fn evaluate(&self, expression: &str) -> Result<Option<String>, python::PyFailure> {
        python::attach(|py| {
            let globals = PyDict::new(py);
            let evaluated = (|| -> PyResult<Option<String>> {
                for name in self.namespaces.names().filter(|n| !n.contains('.')) {
                    globals.set_item(name, self.namespaces.module(py, name))?;
                }
                let code = std::ffi::CString::new(expression).map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err("the expression contains a NUL byte")
                })?;
                let value = py.eval(&code, Some(&globals), None)?;
                Ok(if value.is_none() { None } else { Some(value.repr()?.to_string()) })
            })();
            evaluated.map_err(|err| python::PyFailure::from_err(py, &err))
        })
    }

    /// Every leaked name (R10), sorted by namespace and name.
    pub fn leaks(&self) -> Vec<Leak> {
        self.leaks.list()
    }

    /// Makes every following apply fail after `changes` journaled changes, to prove the
    /// undo journal restores the program (R2). For tests only.
    #[doc(hidden)]
    pub fn inject_apply_failure(&mut self, changes: Option<usize>) {
        self.fail_apply_after = changes;
    }

    /// Makes `relive.version(path)` answer `version` for `path` (`None` forgets it).
    fn publish_version(&self, py: Python<'_>, path: &ScriptPath, version: Option<u32>) {
        if let Err(err) = ScriptApi::get(py).set_version(path.as_str(), version) {
            log::error!(
                "cannot publish the version of {path} to the relive module: {}",
                python::PyFailure::from_err(py, &err)
            );
        }
    }

    fn forget_contributions(&self, py: Python<'_>, script: &Script) -> Result<(), Error> {
        script::forget_script(self.registry.bind(py), script.globals.bind(py))
            .map_err(|e| Error::python(py, &e))
    }
}

impl Drop for Reloader {
    /// Stops the watcher and removes every directory, so the process is left without
    /// relive's thread or namespaces.
    fn drop(&mut self) {
        self.end_monitoring();
        // Issue 15: a reloader dropped while the interpreter finalizes (held by a Python
        // module's globals) must not run Python; its namespaces go with the interpreter.
        if self.directories.is_empty() || python::attach_if_running(|_| ()).is_none() {
            return;
        }
        let roots: Vec<PathBuf> = self.directories.values().map(|d| d.root.clone()).collect();
        for root in roots {
            if let Err(err) = self.remove_directory(&root) {
                log::error!("could not remove {} while dropping the reloader: {err}", root.display());
            }
        }
    }
}
