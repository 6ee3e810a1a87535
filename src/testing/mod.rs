//! Script unit tests as the gate (T1–T7): discovery, running against a candidate with the
//! per-script timeout, and results as plain data.
//!
//! Which file holds a script's tests is decided in `crate::layout`. `plain` makes plain test
//! functions tests (T8), `run` executes a candidate and its tests on a worker thread bounded
//! by the timeout (calling `runner.py` through `runner_api`), `group` several such jobs in one
//! worker job (a load's scripts, a batch's builds or tests), each still bounded by its own
//! timeout, `result` holds the per-test outcomes, `view` the batch's candidates seen through
//! their namespaces (T1). Nothing here decides whether a change goes live: the engine reads
//! the results and decides.

pub(crate) mod group;
pub(crate) mod plain;
pub mod result;
pub(crate) mod run;
mod runner_api;
pub(crate) mod view;

pub use result::{TestFileWait, TestOutcome, TestReport, TestResult, UnknownTestOutcome};
