//! Why a scenario could not run to its end. A step whose expectation or check does not hold
//! is a failure in its transcript, not an error; these stop the scenario.

use std::fmt;

/// What the scenario was doing to a file when the file system refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Making the folders on the way to a file.
    CreateFolders,
    /// Writing a file.
    Write,
    /// Deleting a file.
    Delete,
    /// Renaming a file.
    Rename,
}

impl fmt::Display for FileAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileAction::CreateFolders => "create folders for",
            FileAction::Write => "write",
            FileAction::Delete => "delete",
            FileAction::Rename => "rename",
        })
    }
}

/// An error that stops a scenario (its transcript shows it as `error: ...`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The scenario's temporary folder could not be made or resolved.
    #[error("the scenario's temp folder failed: {0}")]
    TempFolder(std::io::Error),
    /// A step's file operation failed.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// What was being done.
        action: FileAction,
        /// The path as the scenario wrote it.
        path: String,
        /// The file system's answer.
        source: std::io::Error,
    },
    /// A path leads out of the temporary folder (through a link made by `run` code).
    #[error("{path} leads outside the scenario's temp folder")]
    Escapes {
        /// The path as the scenario wrote it.
        path: String,
    },
    /// `write_encoded` text that the encoding cannot represent.
    #[error("cannot encode {path} as {encoding}: {message}")]
    Encode {
        /// The path as the scenario wrote it.
        path: String,
        /// The encoding asked for.
        encoding: String,
        /// Python's message.
        message: String,
    },
    /// The reloader refused to start or to watch.
    #[error("{0}")]
    Reloader(#[from] crate::Error),
    /// The harness's own Python code failed (a traceback summary).
    #[error("{0}")]
    Python(String),
}
