//! Callbacks (R13): validate before tests, and class created / class updated / applied /
//! rejected events after a reload, from Rust and from Python (`import relive`).
//!
//! Events fire only after the apply has committed; a callback that raises or panics is
//! logged at ERROR and changes nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};
use serde::Serialize;

use crate::python;
use crate::report::{Outcome, ReloadReport, ScriptPath};
use crate::script_api::{CallbackKind, ReportPayload, ScriptApi};

/// Something a reload did, for listeners (R13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A class new in this version.
    ClassCreated {
        /// The script.
        path: ScriptPath,
        /// The class's qualified name.
        qualname: String,
    },
    /// A class updated in place (the retained class).
    ClassUpdated {
        /// The script.
        path: ScriptPath,
        /// The class's qualified name.
        qualname: String,
    },
    /// A reload or a new script went live.
    Applied {
        /// The script.
        path: ScriptPath,
        /// Its version now.
        version: u32,
    },
    /// A reload was rejected.
    Rejected {
        /// The script.
        path: ScriptPath,
        /// Why, as the report says it.
        reason: String,
    },
}

/// A validate callback: gets the candidate's globals; an `Err` rejects the candidate.
pub type Validator = dyn Fn(Python<'_>, &Bound<'_, PyDict>) -> Result<(), String> + Send + Sync;

type Listener = Box<dyn FnMut(&Event) + Send>;

/// The Rust-side callbacks of one reloader.
#[derive(Default)]
pub(crate) struct Callbacks {
    listeners: Vec<Listener>,
    validators: Vec<Arc<Validator>>,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Callbacks({} listeners, {} validators)", self.listeners.len(), self.validators.len())
    }
}

impl Callbacks {
    pub(crate) fn listen(&mut self, listener: Listener) {
        self.listeners.push(listener);
    }

    pub(crate) fn validate_with(&mut self, validator: Arc<Validator>) {
        self.validators.push(validator);
    }

    /// One Python callable running the Rust validators, then `relive.on_validate` ones.
    pub(crate) fn validate_function<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCFunction>> {
        let validators = self.validators.clone();
        PyCFunction::new_closure(
            py,
            Some(c"validate"),
            None,
            move |args: &Bound<'_, PyTuple>, _| -> PyResult<()> {
                let py = args.py();
                let candidate = args.get_item(0)?.cast_into::<PyDict>()?;
                for validator in &validators {
                    validator(py, &candidate).map_err(pyo3::exceptions::PyValueError::new_err)?;
                }
                ScriptApi::get(py).validate(&candidate)?;
                Ok(())
            },
        )
    }

    /// Tells Rust listeners and Python callbacks what a reload did.
    pub(crate) fn fire(&mut self, py: Python<'_>, report: &ReloadReport, classes: &Bound<'_, PyDict>) {
        for event in events_of(report) {
            for listener in &mut self.listeners {
                if catch_unwind(AssertUnwindSafe(|| listener(&event))).is_err() {
                    log::error!("a callback panicked on {event:?}; the reload stands");
                }
            }
            let api = ScriptApi::get(py);
            let (kind, payload) = match &event {
                Event::ClassCreated { qualname, .. } => {
                    (CallbackKind::ClassCreated, classes.get_item(qualname).ok().flatten())
                }
                Event::ClassUpdated { qualname, .. } => {
                    (CallbackKind::ClassUpdated, classes.get_item(qualname).ok().flatten())
                }
                Event::Applied { .. } | Event::Rejected { .. } => {
                    let payload = ReportPayload {
                        path: report.path.as_str(),
                        outcome: report.outcome.as_str(),
                        version: report.version,
                        reason: report.reason.as_ref().map(|r| r.to_string()),
                    };
                    let kind = if matches!(event, Event::Applied { .. }) {
                        CallbackKind::Applied
                    } else {
                        CallbackKind::Rejected
                    };
                    (kind, api.report(payload).ok())
                }
            };
            let Some(payload) = payload else { continue };
            let kind_name = kind.as_str();
            match api.fire(kind, &payload) {
                Ok(errors) => {
                    for error in errors {
                        log::error!(
                            "{}: {kind_name} callback raised {error}; the reload stands",
                            report.path
                        );
                    }
                }
                Err(err) => log::error!(
                    "{}: {kind_name} callbacks failed: {}",
                    report.path,
                    python::PyFailure::from_err(py, &err)
                ),
            }
        }
    }
}

/// The events a report stands for, in a fixed order: classes created, classes updated,
/// then applied or rejected.
pub(crate) fn events_of(report: &ReloadReport) -> Vec<Event> {
    let path = report.path.clone();
    let mut events = Vec::new();
    if let Some(changes) = &report.changes {
        for qualname in &changes.classes_created {
            events.push(Event::ClassCreated { path: path.clone(), qualname: qualname.clone() });
        }
        for qualname in &changes.classes_updated {
            events.push(Event::ClassUpdated { path: path.clone(), qualname: qualname.clone() });
        }
    }
    match report.outcome {
        Outcome::Reloaded | Outcome::Loaded => {
            events.push(Event::Applied { path, version: report.version.unwrap_or(1) })
        }
        Outcome::Rejected => events.push(Event::Rejected {
            path,
            reason: report.reason.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        }),
        _ => {}
    }
    events
}
