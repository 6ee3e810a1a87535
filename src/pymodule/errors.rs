//! relive's errors as Python exceptions: `ReliveError` and one subclass per kind of
//! consequence, chosen by the error's variant, never by its text.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::engine::Error;

create_exception!(relive, ReliveError, PyException, "relive could not do what was asked.");
create_exception!(
    relive,
    NamespaceError,
    ReliveError,
    "A namespace cannot be used: invalid, taken by another module, or owned by another directory (L1, L2)."
);
create_exception!(
    relive,
    DirectoryError,
    ReliveError,
    "A script directory or file is missing, unreadable, not registered or not a script relive watches."
);
create_exception!(
    relive,
    WatchError,
    ReliveError,
    "The file watcher could not start or watch a directory (W1)."
);
create_exception!(
    relive,
    InterpreterError,
    ReliveError,
    "Python failed inside relive where no script was at fault."
);
create_exception!(
    relive,
    BusyError,
    ReliveError,
    "The reloader is in use by another thread, runs in the background, or is closed."
);

/// Adds the exception classes to the module.
pub(super) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("ReliveError", py.get_type::<ReliveError>())?;
    module.add("NamespaceError", py.get_type::<NamespaceError>())?;
    module.add("DirectoryError", py.get_type::<DirectoryError>())?;
    module.add("WatchError", py.get_type::<WatchError>())?;
    module.add("InterpreterError", py.get_type::<InterpreterError>())?;
    module.add("BusyError", py.get_type::<BusyError>())?;
    Ok(())
}

/// An engine error as the Python exception of its kind, with the error's message.
pub(super) struct Raised(pub(super) Error);

impl From<Raised> for PyErr {
    fn from(Raised(err): Raised) -> PyErr {
        let message = err.to_string();
        match err {
            Error::InvalidNamespace { .. }
            | Error::InvalidFolderName { .. }
            | Error::NamespaceTaken { .. }
            | Error::NamespaceOwned { .. } => NamespaceError::new_err(message),
            Error::MissingDirectory { .. }
            | Error::NotADirectory { .. }
            | Error::Io { .. }
            | Error::AlreadyRegistered { .. }
            | Error::NotRegistered { .. }
            | Error::OutsideDirectories { .. }
            | Error::Ignored { .. } => DirectoryError::new_err(message),
            Error::Watch { .. } => WatchError::new_err(message),
            Error::Python { .. } => InterpreterError::new_err(message),
        }
    }
}

/// A `BusyError` saying why the reloader cannot do this now.
pub(super) fn busy(why: &str) -> PyErr {
    BusyError::new_err(why.to_string())
}
