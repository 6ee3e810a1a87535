//! The harness half of relive: scenario files that rewrite `.py` files step by step, drive
//! the reloader and check what happened (scenarios.md).
//!
//! `model` parses and validates a file (`python_range` its `python` key), `runner` runs one
//! in this process (with `session_api` for the Python its steps run, `deadline` bounding it,
//! `log_capture` for its log lines), `transcript` renders and normalises the result,
//! `snapshot` compares it with insta, `error` types what goes wrong. [`run_isolated`] runs a
//! scenario in a fresh process, as both `relive scenario` and `cargo test` do.

mod deadline;
pub mod error;
mod log_capture;
pub mod model;
pub mod python_range;
pub mod runner;
mod session_api;
pub mod snapshot;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use error::ScenarioError;
pub use model::Scenario;
pub use transcript::Transcript;

/// A scenario file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file.
    pub file: PathBuf,
    /// Its name: the path below the scenarios folder, without `.toml` (`update/identity`).
    pub name: String,
    /// Where its snapshot lives: `snapshots/` beside the `scenarios` folder that holds it,
    /// else `snapshots/` inside the file's folder.
    pub snapshots: PathBuf,
}

/// Every `*.toml` under `paths` (files or folders), sorted by name.
///
/// # Errors
/// A path that does not exist.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for path in paths {
        let path = std::path::absolute(path)?;
        if path.is_file() {
            let root = scenarios_root(&path);
            found.push(describe(&root, &path));
        } else if path.is_dir() {
            let root = scenarios_root(&path);
            let mut folders = vec![path.clone()];
            while let Some(folder) = folders.pop() {
                for entry in std::fs::read_dir(&folder)? {
                    let entry = entry?.path();
                    if entry.is_dir() {
                        folders.push(entry);
                    } else if entry.extension().is_some_and(|e| e == "toml") {
                        found.push(describe(&root, &entry));
                    }
                }
            }
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            ));
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup_by(|a, b| a.file == b.file);
    Ok(found)
}

/// The folder named `scenarios` that holds `path`, or else the folder of `path` itself.
fn scenarios_root(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(path).to_path_buf() }
        })
}

fn describe(root: &Path, file: &Path) -> Found {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let name =
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
    let snapshots = if root.file_name().is_some_and(|n| n == "scenarios") {
        root.parent().unwrap_or(root).join("snapshots")
    } else {
        root.join("snapshots")
    };
    Found { file: file.to_path_buf(), name, snapshots }
}

/// Runs a scenario in a fresh process of `relive` (the binary at `relive`), so it gets a
/// fresh interpreter; returns its transcript, or one whose `error` says what went wrong.
pub fn run_isolated(relive: &Path, found: &Found) -> Transcript {
    let failed =
        |error: String| Transcript { name: found.name.clone(), error: Some(error), ..Transcript::default() };
    // The transcript comes back through a file: scripts may print to stdout and stderr.
    let out = match tempfile::NamedTempFile::new() {
        Ok(out) => out,
        Err(e) => return failed(format!("cannot make a temp file: {e}")),
    };
    // A Python host relaunches itself as `python -m relive` (issue 15).
    let output = crate::python::relaunch_command()
        .unwrap_or_else(|| Command::new(relive))
        .args(["scenario", "--in-process", "--name", &found.name, "--transcript"])
        .arg(out.path())
        .arg(&found.file)
        .env_remove("RELIVE_LOG")
        .output();
    match output {
        Err(e) => failed(format!("cannot start {}: {e}", relive.display())),
        Ok(output) => match std::fs::read(out.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Transcript>(&bytes).ok())
        {
            Some(transcript) => transcript,
            None => failed(format!(
                "the scenario process ended without a transcript ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        },
    }
}
