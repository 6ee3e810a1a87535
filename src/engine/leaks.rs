//! The leak registry (R10): names a new version no longer defines stay in their namespace;
//! the registry records them per namespace until a later version re-claims them or the
//! directory is removed (L9).

use std::collections::BTreeMap;

use pyo3::prelude::*;
use serde::Serialize;

use crate::report::ScriptPath;

/// One leaked name, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// Dotted namespace name.
    pub namespace: String,
    /// The leaked name.
    pub name: String,
    /// The script that defined it.
    pub script: ScriptPath,
    /// The script's version that no longer defined it.
    pub version: u32,
}

#[derive(Debug)]
struct Entry {
    leak: Leak,
    /// The leaked object, kept so the registry can answer what it is.
    #[allow(dead_code)]
    object: Py<PyAny>,
}

/// Leaks per namespace, by name.
#[derive(Debug, Default)]
pub(crate) struct Leaks {
    entries: BTreeMap<(String, String), Entry>,
}

impl Leaks {
    pub(crate) fn record(&mut self, leak: Leak, object: Py<PyAny>) {
        log::warn!(
            "{}: {}.{} leaked (version {} no longer defines it)",
            leak.script,
            leak.namespace,
            leak.name,
            leak.version
        );
        self.entries.insert((leak.namespace.clone(), leak.name.clone()), Entry { leak, object });
    }

    /// Removes and returns the names of `names` that were leaked in `namespace` (R10).
    pub(crate) fn reclaim(&mut self, namespace: &str, names: &[String]) -> Vec<String> {
        let leaked: std::collections::HashSet<&str> =
            self.entries.keys().filter(|(ns, _)| ns == namespace).map(|(_, name)| name.as_str()).collect();
        let reclaimed: Vec<String> =
            names.iter().filter(|name| leaked.contains(name.as_str())).cloned().collect();
        for name in &reclaimed {
            self.entries.remove(&(namespace.to_string(), name.clone()));
        }
        reclaimed
    }

    /// Forgets every leak of the given namespaces (L9).
    pub(crate) fn forget_namespaces(&mut self, namespaces: &[String]) {
        self.entries.retain(|(ns, _), _| !namespaces.contains(ns));
    }

    /// Every leak, sorted by namespace and name.
    pub(crate) fn list(&self) -> Vec<Leak> {
        self.entries.values().map(|e| e.leak.clone()).collect()
    }
}
