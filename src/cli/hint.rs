//! A hint when failing scripts import a name no module answers to while the directory's
//! namespace is another (a copied or renamed folder): `--namespace NAME` loads it under the
//! name the scripts use.

use std::path::Path;

use pyo3::prelude::*;

use crate::python::Helper;
use crate::report::LoadReport;

static HELPER: Helper = Helper::new(include_str!("hint.py"), c"src/cli/hint.py", c"_relive_hint");

/// The hint for `report` of the directory `dir`, when one applies.
pub fn namespace_hint(report: &LoadReport, dir: &Path, defaulted: bool) -> Option<String> {
    let files: Vec<String> =
        report.failures().map(|s| dir.join(s.path.as_str()).to_string_lossy().into_owned()).collect();
    if files.is_empty() {
        return None;
    }
    let names: Vec<String> = crate::python::attach(|py| {
        HELPER.module(py).call_method1("unresolved_imports", (files, report.namespace.as_str()))?.extract()
    })
    .ok()?;
    let why = if defaulted { " (the folder's name)" } else { "" };
    let what = match names.as_slice() {
        [] => return None,
        [name] => format!(
            "run with --namespace {name} (or set namespace = \"{name}\" under [tool.relive] in pyproject.toml)"
        ),
        _ => "run with --namespace and the one they use".to_string(),
    };
    let listed = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    Some(format!(
        "hint: scripts import {listed}, which no module provides, while this directory's namespace is `{}`{why}; \
         if they mean this directory, {what}",
        report.namespace
    ))
}
