//! Errors of the engine: relive could not do what the caller asked.
//!
//! A script that fails (a syntax error, an exception, a blocked import) is not an error but
//! an outcome in a report. These variants are about the request itself: a missing folder, a
//! namespace that is taken, an interpreter failure.

use std::path::PathBuf;

use crate::python::PyFailure;

/// What went wrong with a request to the reloader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The script directory does not exist (E1).
    #[error("script directory {} does not exist", path.display())]
    MissingDirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// The path exists but is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// Listing or reading a directory failed.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A namespace name that is not a dotted Python identifier (L1).
    #[error("namespace {name:?} is not valid: {reason}")]
    InvalidNamespace {
        /// The name as given.
        name: String,
        /// Why it is not valid.
        reason: String,
    },
    /// A folder that holds scripts has a name Python cannot import (L1).
    #[error("folder {} cannot be a namespace: {name:?} is {reason}", folder.display())]
    InvalidFolderName {
        /// The folder.
        folder: PathBuf,
        /// Its name.
        name: String,
        /// "not a Python identifier" or "a Python keyword".
        reason: &'static str,
    },
    /// The namespace is a module relive does not own (L2).
    #[error("namespace {name} is already taken by the module {module}")]
    NamespaceTaken {
        /// The namespace asked for.
        name: String,
        /// The module that holds it (its repr).
        module: String,
    },
    /// Another directory owns the namespace (L2).
    #[error("namespace {name} is already owned by the script directory {}", directory.display())]
    NamespaceOwned {
        /// The namespace asked for.
        name: String,
        /// The directory that owns it.
        directory: PathBuf,
    },
    /// The directory is registered already.
    #[error("script directory {} is already registered as {namespace}", path.display())]
    AlreadyRegistered {
        /// The directory.
        path: PathBuf,
        /// Its namespace.
        namespace: String,
    },
    /// `remove_directory` for a directory that is not registered.
    #[error("script directory {} is not registered", path.display())]
    NotRegistered {
        /// The directory.
        path: PathBuf,
    },
    /// A file handed to `reload` is in no registered directory.
    #[error("{} is not in a registered script directory", path.display())]
    OutsideDirectories {
        /// The file.
        path: PathBuf,
    },
    /// A file handed to `reload` is not a script relive watches (not `.py`, or hidden).
    #[error("{} is not a script relive watches", path.display())]
    Ignored {
        /// The file.
        path: PathBuf,
    },
    /// The file watcher could not start or watch a directory (W1).
    #[error(transparent)]
    Watch {
        /// What notify said.
        #[from]
        source: crate::watch::Error,
    },
    /// The interpreter failed where no script was at fault.
    #[error("Python failed inside relive: {failure}")]
    Python {
        /// The exception, as text.
        failure: PyFailure,
    },
}

impl Error {
    pub(crate) fn python(py: pyo3::Python<'_>, err: &pyo3::PyErr) -> Error {
        Error::Python { failure: PyFailure::from_err(py, err) }
    }
}
