//! relive live-reloads directories of Python scripts into a running program, safely.
//!
//! It embeds CPython (through pyo3) and loads each script directory into synthetic
//! namespaces (`scripts/` → `game`, `scripts/ai/` → `game.ai`): real modules in
//! `sys.modules` that any Python code can import. The contract it keeps is written down as
//! numbered rules (L loading, T tests, R reloading, O overwrite mode, W watching, E bad
//! input); documentation and tests name the rules they cover.
//!
//! ```no_run
//! use relive::Reloader;
//!
//! let mut reloader = Reloader::builder().build()?;
//! let report = reloader.add_directory("game", "examples/arena")?;
//! println!("{report}");
//! # Ok::<(), relive::Error>(())
//! ```
//!
//! A load is all or nothing (L7): when a script fails, the report says which, where and
//! why, and nothing of the directory stays in `sys.modules`.
//!
//! # Where the rules live
//! The contract is `docs/semantics.md` (each rule with its status); `docs/rule-index.md`
//! maps every rule to its functions, tests and scenarios. By family:
//! - **L, loading**: which files count in `layout`; the directory load in `engine::load`,
//!   its scripts run as a batch under the load policy (`engine::batch_build`), each
//!   installing its exports (L5) in `engine::load_step`,
//!   namespaces in `engine::namespace`, load order and waking in `engine::resolve`, one script's code
//!   and exports in `engine::script`.
//! - **T, tests**: the gate in `engine::candidate`; running a candidate and its tests under
//!   the timeout in [`testing`] (plain test functions, T8, and the candidate view, T1).
//! - **R, reloading**: a batch in `engine::reload`; applying a candidate in place in
//!   `engine::update` and its Python (`update.py`, `journal.py` for R2's undo, `state_rule.py`
//!   for R8, `shape_change.py` for R7); leaks in `engine::leaks`; callbacks (R13) in
//!   `engine::callbacks` and `script_api`.
//! - **O, overwrite mode**: `engine::update` (`update.py`'s overwrite path).
//! - **W, watching**: [`watch`] (coalescing, the event barrier), `engine::pump` and
//!   [`background`].
//! - **E, bad input**: reading and compiling in `engine::script` (only changed statements
//!   are compiled again: `engine::split` and `source.py`), failures as data in
//!   [`python::PyFailure`], errors in [`Error`] and [`report`].
//!
//! # Cargo features
//! - `cli` (default): the `relive` binary and [`cli`], its one entry point, shared with
//!   `python -m relive`.
//! - `harness` (default): the scenario harness ([`scenario`]) and JUnit output ([`junit`]).
//! - `python`: the Python extension module `relive._relive` behind the `relive` package
//!   (`python/relive/`), built by maturin as an abi3 wheel for CPython 3.11 and later.
//!
//! `cargo build --no-default-features` builds the engine alone: pyo3, notify, log, serde
//! and thiserror.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

// The CLI's modules name the crate `relive::…` as the binary does; this makes those paths
// resolve inside the library too, so `relive` and `python -m relive` share one CLI.
extern crate self as relive;

pub mod background;
#[cfg(feature = "cli")]
pub mod cli;
pub mod engine;
#[cfg(feature = "harness")]
pub mod junit;
pub mod layout;
#[cfg(feature = "python")]
mod pymodule;
pub mod python;
pub mod report;
#[cfg(feature = "harness")]
pub mod scenario;
mod script_api;
pub mod testing;
pub mod watch;

pub use engine::{Config, Error, Event, Leak, Mode, Reloader, ReloaderBuilder, StopHandle, Validator};
pub use report::{
    Changes, Duplicate, LoadReport, Outcome, RejectReason, ReloadReport, RemoveReport, ScriptLoad,
    ScriptPath, ScriptProblem, Timings, Totals, UnknownOutcome, Wait,
};
pub use testing::{TestOutcome, TestReport, TestResult};

/// The README's Rust examples compile as doc tests, so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
