//! R2 for other threads: the changes an apply planned (`journal.py`) made in one step that
//! no other Python thread can observe half-done.
//!
//! CPython switches threads only while it runs bytecode (at its eval-breaker checks) or when
//! a thread releases the GIL. The commit runs no bytecode: every change goes through C
//! (`type.__setattr__`, `PyObject_SetAttr`, `PyDict_SetItem`, slice assignment), the cyclic
//! collector is paused so an allocation cannot run finalizers, and replaced values stay
//! referenced by the undo log until the commit ends, so no `__del__` runs either. What can
//! still run Python is user code the change itself calls (a key's `__hash__`/`__eq__`, a
//! metaclass `mro()`, an audit hook of the program); relive's own audit hook is C-level for
//! the events a commit raises (see `open_events_only` in src/script_api.rs).
//!
//! If a change fails, every change made so far is undone in reverse order (R2); a failure
//! tagged with a rejection message (R7: CPython refusing a base change or an instance move)
//! becomes that rejection.

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

/// Why a commit did not happen; every change made was undone.
pub(crate) enum CommitError {
    /// CPython refused a change tagged with this one-line message (R7).
    Rejected(String),
    /// Something else raised.
    Failed(PyErr),
}

/// A commit that failed at one entry of its journal; every change made was undone.
pub(crate) struct CommitFailure {
    pub(crate) error: CommitError,
    /// The index of the journal entry that failed (for an injected failure, the last made).
    pub(crate) entry: usize,
}

impl From<PyErr> for CommitError {
    fn from(err: PyErr) -> Self {
        CommitError::Failed(err)
    }
}

/// What a journal entry changes (`Change` in `journal.py`, by number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// A class member, set or deleted without running a metaclass hook.
    ClassMember,
    /// An attribute.
    Attribute,
    /// A dict's or list's item.
    Item,
    /// A closure cell's contents.
    Cell,
    /// A set's or dict's contents.
    Contents,
    /// A dict refilled in a new key order.
    Dict,
    /// A list's or deque's items.
    Sequence,
}

impl Change {
    /// In `journal.py`'s numbering.
    const ALL: [Change; 7] = [
        Change::ClassMember,
        Change::Attribute,
        Change::Item,
        Change::Cell,
        Change::Contents,
        Change::Dict,
        Change::Sequence,
    ];
}

impl<'a, 'py> FromPyObject<'a, 'py> for Change {
    type Error = PyErr;

    fn extract(object: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let number: usize = object.extract()?;
        Change::ALL
            .get(number)
            .copied()
            .ok_or_else(|| PyValueError::new_err(format!("unknown journal change {number}")))
    }
}

/// One change made: what to put back.
struct Undo<'py> {
    kind: Change,
    target: Bound<'py, PyAny>,
    key: Bound<'py, PyAny>,
    old: Bound<'py, PyAny>,
}

struct Committer<'py> {
    py: Python<'py>,
    missing: Bound<'py, PyAny>,
    type_setattr: Bound<'py, PyAny>,
    type_delattr: Bound<'py, PyAny>,
    ordered_dict: Bound<'py, PyAny>,
    dict_type: Bound<'py, PyAny>,
    done: Vec<Undo<'py>>,
}

/// Makes every change of `journal` (a list of `(kind, target, key, value, reject)`), in
/// order; `missing` is the journal's MISSING marker. `fail_after` injects a failure after
/// that many changes (a test hook, R2). Returns how many changes were made.
pub(crate) fn commit<'py>(
    py: Python<'py>,
    journal: &Bound<'py, PyList>,
    missing: &Bound<'py, PyAny>,
    fail_after: Option<usize>,
) -> Result<usize, CommitFailure> {
    let at_start = |err: PyErr| CommitFailure { error: CommitError::Failed(err), entry: 0 };
    let type_object = py.get_type::<PyType>();
    let mut committer = Committer {
        py,
        missing: missing.clone(),
        type_setattr: type_object.getattr("__setattr__").map_err(at_start)?,
        type_delattr: type_object.getattr("__delattr__").map_err(at_start)?,
        ordered_dict: py.import("collections").and_then(|c| c.getattr("OrderedDict")).map_err(at_start)?,
        dict_type: py.get_type::<PyDict>().into_any(),
        done: Vec::with_capacity(journal.len()),
    };
    let gc = py.import("gc").map_err(at_start)?;
    let collecting = gc.call_method0("isenabled").and_then(|e| e.is_truthy()).map_err(at_start)?;
    gc.call_method0("disable").map_err(at_start)?;
    let mut result = Ok(());
    for (entry, change) in journal.iter().enumerate() {
        if let Err(error) = committer.make(&change) {
            result = Err(CommitFailure { error, entry });
            break;
        }
        if fail_after.is_some_and(|n| committer.done.len() >= n) {
            let message = format!("injected failure after {} changes", committer.done.len());
            result =
                Err(CommitFailure { error: CommitError::Failed(PyRuntimeError::new_err(message)), entry });
            break;
        }
    }
    if result.is_err() {
        committer.undo_all();
    }
    let made = committer.done.len();
    // The undo log (the replaced values) is dropped before collections resume.
    drop(committer);
    if collecting {
        gc.call_method0("enable").map_err(at_start)?;
    }
    result.map(|()| made)
}

impl<'py> Committer<'py> {
    /// Makes the change of one journal entry and records what it replaced.
    fn make(&mut self, entry: &Bound<'py, PyAny>) -> Result<(), CommitError> {
        let entry = entry.cast::<PyTuple>().map_err(PyErr::from)?;
        let kind: Change = entry.get_item(0)?.extract()?;
        let target = entry.get_item(1)?;
        let key = entry.get_item(2)?;
        let value = entry.get_item(3)?;
        let reject = entry.get_item(4)?;
        match self.change(kind, &target, &key, &value) {
            Ok(old) => {
                self.done.push(Undo { kind, target, key, old });
                Ok(())
            }
            Err(err) if !reject.is_none() && err.is_instance_of::<PyTypeError>(self.py) => {
                let message: String = reject.extract()?;
                Err(CommitError::Rejected(format!("{message} ({})", err.value(self.py))))
            }
            Err(err) => Err(CommitError::Failed(err)),
        }
    }

    /// Makes one change; returns what it replaced.
    fn change(
        &self,
        kind: Change,
        target: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let old = self.read(kind, target, key)?;
        self.write(kind, target, key, value)?;
        Ok(old)
    }

    fn read(
        &self,
        kind: Change,
        target: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match kind {
            Change::ClassMember => target.getattr("__dict__")?.call_method1("get", (key, &self.missing))?,
            Change::Attribute => target.getattr(key.cast::<pyo3::types::PyString>()?)?,
            Change::Item => match target.cast::<PyDict>() {
                Ok(dict) => dict.get_item(key)?.unwrap_or_else(|| self.missing.clone()),
                Err(_) => target.get_item(key)?,
            },
            Change::Cell => match target.getattr("cell_contents") {
                Ok(value) => value,
                Err(err) if err.is_instance_of::<PyValueError>(self.py) => self.missing.clone(),
                Err(err) => return Err(err),
            },
            Change::Contents => target.call_method0("copy")?,
            Change::Dict => PyList::new(self.py, target.cast::<PyDict>()?.items())?.into_any(),
            Change::Sequence => {
                PyList::new(self.py, target.try_iter()?.collect::<PyResult<Vec<_>>>()?)?.into_any()
            }
        })
    }

    fn write(
        &self,
        kind: Change,
        target: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let missing = value.is(&self.missing);
        match kind {
            Change::ClassMember if missing => {
                // A member already gone (undo of an added one) stays gone.
                if target.getattr("__dict__")?.contains(key)? {
                    self.type_delattr.call1((target, key))?;
                }
            }
            Change::ClassMember => {
                self.type_setattr.call1((target, key, value))?;
            }
            Change::Attribute => target.setattr(key.cast::<pyo3::types::PyString>()?, value)?,
            Change::Item => match target.cast::<PyDict>() {
                Ok(dict) if missing => {
                    if dict.contains(key)? {
                        dict.del_item(key)?;
                    }
                }
                Ok(dict) => dict.set_item(key, value)?,
                Err(_) => target.set_item(key, value)?,
            },
            Change::Cell if missing => target.delattr("cell_contents")?,
            Change::Cell => target.setattr("cell_contents", value)?,
            Change::Contents => {
                target.call_method0("clear")?;
                target.call_method1("update", (value,))?;
            }
            Change::Dict => {
                let kind = if target.is_instance(&self.ordered_dict)? {
                    &self.ordered_dict
                } else {
                    &self.dict_type
                };
                kind.call_method1("clear", (target,))?;
                kind.call_method1("update", (target, value))?;
            }
            Change::Sequence => match target.cast::<PyList>() {
                Ok(list) => {
                    let len = list.len();
                    list.as_sequence().set_slice(0, len, value)?;
                }
                Err(_) => {
                    target.call_method0("clear")?;
                    target.call_method1("extend", (value,))?;
                }
            },
        }
        Ok(())
    }

    /// Puts back every change made, newest first. A change that cannot be put back is
    /// logged; the others are still undone.
    fn undo_all(&mut self) {
        while let Some(Undo { kind, target, key, old }) = self.done.pop() {
            if let Err(err) = self.write(kind, &target, &key, &old) {
                log::error!(
                    "undoing a change of an apply failed: {}",
                    crate::python::PyFailure::from_err(self.py, &err)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `journal.py`'s `Change` numbers its members as `Change::ALL` orders them.
    #[test]
    fn r2_journal_changes_are_numbered_alike_in_python_and_rust() {
        crate::python::attach(|py| {
            super::super::update::update_module(py);
            let python: Vec<(String, usize)> = py
                .import("_relive_journal")
                .unwrap()
                .getattr("Change")
                .unwrap()
                .try_iter()
                .unwrap()
                .map(|member| {
                    let member = member.unwrap();
                    (member.getattr("name").unwrap().extract().unwrap(), member.extract().unwrap())
                })
                .collect();
            let rust: Vec<(String, usize)> = Change::ALL
                .iter()
                .enumerate()
                .map(|(number, change)| (screaming_snake(&format!("{change:?}")), number))
                .collect();
            assert_eq!(python, rust);
            assert!(
                pyo3::types::PyInt::new(py, Change::ALL.len()).extract::<Change>().is_err(),
                "an unknown number is an error"
            );
        });
    }

    /// `ClassMember` -> `CLASS_MEMBER`.
    fn screaming_snake(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }
}
