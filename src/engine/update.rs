//! Update mode (R2–R10) and overwrite mode (O1): putting a tested candidate into effect.
//!
//! The patching itself lives in Python: `update.py` (the translator and the apply),
//! `journal.py` (the undo journal), `state_rule.py` (R8's module-level state rule) and
//! `shape_change.py` (R7's enum and dataclass checks, with the Python versions whose enum
//! internals are known: `.ci/python-versions`); this file passes it the retained and candidate globals and
//! turns its answer into [`Changes`] or a rejection. Nothing here decides *whether* to
//! apply: the engine calls this only for a candidate that compiled, ran and passed its tests.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule};

use super::commit::{self, CommitError, CommitFailure};

use crate::python::{Helper, PyFailure};
use crate::report::Changes;

static HELPER: Helper = Helper::new(include_str!("update.py"), c"src/engine/update.py", c"_relive_update");
static JOURNAL: Helper =
    Helper::new(include_str!("journal.py"), c"src/engine/journal.py", c"_relive_journal");
static STATE_RULE: Helper =
    Helper::new(include_str!("state_rule.py"), c"src/engine/state_rule.py", c"_relive_state_rule");
static FINGERPRINT: Helper =
    Helper::new(include_str!("fingerprint.py"), c"src/engine/fingerprint.py", c"_relive_fingerprint");
static OBJECTS: Helper =
    Helper::new(include_str!("objects.py"), c"src/engine/objects.py", c"_relive_objects");
static PAIRING: Helper =
    Helper::new(include_str!("pairing.py"), c"src/engine/pairing.py", c"_relive_pairing");
static TRANSLATE: Helper =
    Helper::new(include_str!("translate.py"), c"src/engine/translate.py", c"_relive_translate");
static PATCHING: Helper =
    Helper::new(include_str!("patching.py"), c"src/engine/patching.py", c"_relive_patching");
static CLASS_CACHES: Helper =
    Helper::new(include_str!("class_caches.py"), c"src/engine/class_caches.py", c"_relive_class_caches");
static MERGE: Helper = Helper::new(include_str!("merge.py"), c"src/engine/merge.py", c"_relive_merge");
static CONTRIB: Helper =
    Helper::new(include_str!("contrib.py"), c"src/engine/contrib.py", c"_relive_contrib");
static CONTRIB_APPLY: Helper =
    Helper::new(include_str!("contrib_apply.py"), c"src/engine/contrib_apply.py", c"_relive_contrib_apply");
static SHAPE_CHANGE: Helper =
    Helper::new(include_str!("shape_change.py"), c"src/engine/shape_change.py", c"_relive_shape_change");

/// `state_rule.py` (R8's summaries of statements, used by `source.py`).
pub(crate) fn state_rule_module(py: Python<'_>) -> &Bound<'_, PyModule> {
    STATE_RULE.module(py)
}

/// `update.py`, loaded after the modules it imports.
pub(crate) fn update_module(py: Python<'_>) -> &Bound<'_, PyModule> {
    JOURNAL.module(py);
    if let Err(err) = super::twins::install(OBJECTS.module(py)) {
        log::error!("cannot install relive's native twin check, the Python one is used: {err}");
    }
    STATE_RULE.module(py);
    SHAPE_CHANGE.module(py);
    FINGERPRINT.module(py);
    MERGE.module(py);
    CONTRIB.module(py);
    CONTRIB_APPLY.module(py);
    CLASS_CACHES.module(py);
    PAIRING.module(py);
    TRANSLATE.module(py);
    PATCHING.module(py);
    HELPER.module(py)
}

/// Wraps a validate callback so that the candidate's R8a snapshot is taken right after its
/// module-level code ran, before validate and tests (`fingerprint.py`).
/// Names bound by import statements are other modules' objects: never walked (R12).
/// R8b (`contrib.py`): what the script can reach through its imports from relive
/// namespaces is copied now, right before its module-level code runs in `globals`, and
/// compared right after it (its contribution into other scripts' objects).
pub(crate) fn snapshot_before<'py>(
    py: Python<'py>,
    validate: &Bound<'py, PyAny>,
    imported: &[String],
    globals: &Bound<'py, PyDict>,
    source: &Bound<'py, PyAny>,
    namespaces: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let validate = FINGERPRINT.module(py).call_method1("snapshot_before", (validate, imported.to_vec()))?;
    CONTRIB.module(py).call_method1("record", (validate, globals, source, namespaces))
}

/// R8b: whether the candidate in `globals` changed something beyond the tracked depth (the
/// reload report then says that outside effects may exist). False when that cannot be told.
pub(crate) fn possible_untracked(py: Python<'_>, globals: &Bound<'_, PyDict>) -> bool {
    CONTRIB
        .module(py)
        .call_method1("untracked", (globals,))
        .and_then(|lines| lines.len())
        .is_ok_and(|n| n > 0)
}

/// R1, R8b: a candidate that does not go live takes its contribution back out of other
/// scripts' objects (`prune`d scripts too, W3). A failure here is logged, never raised.
pub(crate) fn undo_contribution(py: Python<'_>, globals: &Bound<'_, PyDict>) {
    if let Err(err) = CONTRIB.module(py).call_method1("undo_candidate", (globals,)) {
        log::error!("R8b: cannot undo a contribution: {err}");
    }
}

/// What to apply.
pub(crate) struct Candidate<'a, 'py> {
    pub(crate) namespace: &'a str,
    pub(crate) module: &'a Bound<'py, PyModule>,
    pub(crate) retained: &'a Bound<'py, PyDict>,
    pub(crate) candidate: &'a Bound<'py, PyDict>,
    pub(crate) registry: &'a Bound<'py, PyAny>,
    /// The pieces of the version in effect and of the candidate (`source.py`, R8).
    pub(crate) old_source: &'a Bound<'py, PyAny>,
    pub(crate) new_source: &'a Bound<'py, PyAny>,
    /// Names only the candidate's import statements bind: live already, never walked.
    pub(crate) imported: &'a [String],
    pub(crate) exports_old: &'a [String],
    pub(crate) exports_new: &'a [String],
    pub(crate) prune: bool,
    /// The batch (`batch.py`): its journal takes the planned changes, its translation memo
    /// is shared by the batch's members (R15).
    pub(crate) batch: &'a Bound<'py, PyAny>,
}

/// Why applying did not happen; every change made was undone.
pub(crate) enum ApplyError {
    /// A shape change relive does not apply (R7).
    Rejected(String),
    /// Something raised half-way (R2).
    Failed(PyFailure),
}

/// What an apply changed, and the classes it created or updated by qualified name (for
/// the R13 callbacks; dropped after they fire).
pub(crate) struct Applied<'py> {
    pub(crate) changes: Changes,
    pub(crate) classes: Bound<'py, PyDict>,
}

/// Applies in update mode: in place, through the journal.
pub(crate) fn apply_update<'py>(py: Python<'py>, c: &Candidate<'_, 'py>) -> Result<Applied<'py>, ApplyError> {
    let helper = update_module(py);
    let arguments = || -> PyResult<Bound<'py, PyDict>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("namespace", c.namespace)?;
        kwargs.set_item("module", c.module)?;
        kwargs.set_item("retained", c.retained)?;
        kwargs.set_item("candidate", c.candidate)?;
        kwargs.set_item("registry", c.registry)?;
        kwargs.set_item("old_source", c.old_source)?;
        kwargs.set_item("new_source", c.new_source)?;
        kwargs.set_item("imported", c.imported.to_vec())?;
        kwargs.set_item("exports_old", c.exports_old.to_vec())?;
        kwargs.set_item("exports_new", c.exports_new.to_vec())?;
        kwargs.set_item("prune", c.prune)?;
        kwargs.set_item("batch", c.batch)?;
        Ok(kwargs)
    };
    let kwargs = arguments().map_err(|err| ApplyError::Failed(PyFailure::from_err(py, &err)))?;
    let summary = helper.call_method("apply", (), Some(&kwargs)).map_err(|err| classify(py, helper, &err))?;
    if let Ok(warnings) = summary.get_item("warnings").and_then(|w| w.extract::<Vec<String>>()) {
        for warning in warnings {
            log::warn!("{warning}");
        }
    }
    let read = || -> PyResult<Applied<'py>> {
        let classes = summary.get_item("class_objects")?.cast_into::<PyDict>()?;
        Ok(Applied { changes: read_summary(&summary)?, classes })
    };
    read().map_err(|err| ApplyError::Failed(PyFailure::from_err(py, &err)))
}

/// Makes every change a batch planned (`batch.py`'s journal) in one step (R2,
/// `commit.rs`), then runs each member's follow-up. On failure nothing stays changed, and
/// the error comes with the index of the journal entry that failed.
pub(crate) fn commit_batch(
    py: Python<'_>,
    batch: &Bound<'_, PyAny>,
    fail_after: Option<usize>,
) -> Result<(), (usize, ApplyError)> {
    let failed = |err: PyErr| (0, ApplyError::Failed(PyFailure::from_err(py, &err)));
    let journal = batch.getattr("journal").and_then(|j| j.getattr("entries")).map_err(failed)?;
    let journal = journal.cast_into::<PyList>().map_err(|e| failed(e.into()))?;
    let missing = JOURNAL.module(py).getattr("MISSING").map_err(failed)?;
    match commit::commit(py, &journal, &missing, fail_after) {
        Ok(_) => {}
        Err(CommitFailure { error: CommitError::Rejected(message), entry }) => {
            return Err((entry, ApplyError::Rejected(message)));
        }
        Err(CommitFailure { error: CommitError::Failed(err), entry }) => {
            return Err((entry, ApplyError::Failed(PyFailure::from_err(py, &err))));
        }
    }
    // Committed: what follows never undoes it (class caches, typing caches, R8a bases).
    match batch.call_method0("finish").and_then(|errors| errors.extract::<Vec<String>>()) {
        Ok(errors) => errors.iter().for_each(|e| log::error!("after an apply: {e}")),
        Err(err) => log::error!("after an apply: {}", PyFailure::from_err(py, &err)),
    }
    Ok(())
}

/// Applies in overwrite mode: the candidate's exports replace the namespace entries (O1).
pub(crate) fn apply_overwrite<'py>(
    py: Python<'py>,
    c: &Candidate<'_, 'py>,
) -> Result<Applied<'py>, ApplyError> {
    let helper = update_module(py);
    let args =
        (c.module, c.retained, c.candidate, c.exports_old.to_vec(), c.exports_new.to_vec(), c.prune, c.batch);
    let planned = helper.call_method1("overwrite", args).map_err(|err| classify(py, helper, &err))?;
    let (classes, warnings): (Bound<'py, PyDict>, Vec<String>) =
        planned.extract().map_err(|e| ApplyError::Failed(PyFailure::from_err(py, &e)))?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    let mut created: Vec<String> = classes.keys().iter().map(|k| k.to_string()).collect();
    created.sort();
    let changes =
        Changes { values_replaced: c.exports_new.to_vec(), classes_created: created, ..Changes::default() };
    Ok(Applied { changes, classes })
}

/// Classes of `namespaces` with more than one live class object after a collection
/// (the `debug_leaks` option, R12). Walks the heap.
pub(crate) fn surviving_class_versions(
    py: Python<'_>,
    namespaces: &[String],
) -> PyResult<Vec<(String, usize)>> {
    update_module(py).call_method1("surviving_class_versions", (namespaces.to_vec(),))?.extract()
}

fn classify(py: Python<'_>, helper: &Bound<'_, PyModule>, err: &PyErr) -> ApplyError {
    let rejected = helper.getattr("Rejected").is_ok_and(|kind| err.is_instance(py, &kind));
    if rejected {
        ApplyError::Rejected(err.value(py).to_string())
    } else {
        ApplyError::Failed(PyFailure::from_err(py, err))
    }
}

fn read_summary(summary: &Bound<'_, PyAny>) -> PyResult<Changes> {
    let names = |key: &str| -> PyResult<Vec<String>> {
        let mut names: Vec<String> = summary.get_item(key)?.extract()?;
        names.sort();
        names.dedup();
        Ok(names)
    };
    let kinds: Vec<(String, String, String)> = summary.get_item("kind_changed")?.extract()?;
    Ok(Changes {
        classes_updated: names("classes_updated")?,
        classes_created: names("classes_created")?,
        functions_rebound: names("functions_rebound")?,
        functions_forwarded: names("functions_forwarded")?,
        values_replaced: names("values_replaced")?,
        values_kept: names("kept")?,
        kind_changed: kinds.into_iter().map(|(n, a, b)| format!("{n}: {a} -> {b}")).collect(),
        ..Changes::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_compiles() {
        crate::python::attach(|py| assert!(update_module(py).hasattr("apply").unwrap()));
    }

    /// R7: the versions whose enum internals relive trusts are exactly the ones CI runs.
    #[test]
    fn r7_enum_tested_versions_are_the_ci_versions() {
        let ci: Vec<(u32, u32)> = include_str!("../../.ci/python-versions")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (major, minor) = line.split_once('.').expect("a version is major.minor");
                (major.parse().expect("a number"), minor.parse().expect("a number"))
            })
            .collect();
        let tested: Vec<(u32, u32)> = crate::python::attach(|py| {
            SHAPE_CHANGE.module(py).getattr("TESTED_PYTHONS").unwrap().extract().unwrap()
        });
        assert_eq!(tested, ci);
    }

    fn kept(old: &str, new: &str) -> Vec<String> {
        crate::python::attach(|py| {
            let source = |text: &str| {
                let compiled =
                    super::super::script::compile(py, std::path::Path::new("t.py"), text.as_bytes(), None);
                compiled.unwrap().source.bind(py).clone()
            };
            let names: std::collections::BTreeSet<String> = STATE_RULE
                .module(py)
                .call_method1("kept_names", (source(old), source(new)))
                .unwrap()
                .extract()
                .unwrap();
            names.into_iter().collect()
        })
    }

    #[test]
    fn r8_an_unchanged_value_statement_is_kept() {
        assert_eq!(kept("REG = []\ndef f():\n    return 1\n", "REG = []\ndef f():\n    return 2\n"), ["REG"]);
    }

    #[test]
    fn r8_a_statement_reading_a_changed_name_is_not_kept() {
        assert_eq!(
            kept("LIMIT = 1\nDOUBLE = LIMIT * 2\n", "LIMIT = 2\nDOUBLE = LIMIT * 2\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn r8_a_changed_class_does_not_invalidate_its_instances() {
        let old = "class P:\n    x = 1\nDEFAULT = P()\n";
        let new = "class P:\n    x = 2\nDEFAULT = P()\n";
        assert_eq!(kept(old, new), ["DEFAULT"]);
    }

    #[test]
    fn r8_a_changed_function_invalidates_its_results() {
        let old = "def make():\n    return 1\nMADE = make()\n";
        let new = "def make():\n    return 2\nMADE = make()\n";
        assert_eq!(kept(old, new), Vec::<String>::new());
    }

    #[test]
    fn r8_binding_statements_are_compared_in_order() {
        assert_eq!(kept("x = 1\nx = 2\n", "x = 2\nx = 1\n"), Vec::<String>::new());
        assert_eq!(kept("A = 1\nB = 2\n", "B = 2\nA = 1\n"), ["A", "B"]);
    }

    /// R8: the state rule read from the changed statements alone (`Source.delta`) answers
    /// as the rule read from every statement, over random edits of a module: values changed,
    /// added, removed, swapped, and only a comment changed.
    #[test]
    fn r8_kept_names_from_the_changed_pieces_equal_the_full_rule() {
        const POOL: &[&str] = &[
            "A = 1",
            "A = 2",
            "B = A + 1",
            "C = [A, B]",
            "C.append(3)",
            "D = {}",
            "D['k'] = B",
            "def f():\n    return A",
            "def f():\n    return 2",
            "class K:\n    x = 1",
            "class K:\n    x = B",
            "E = K()",
            "F = f()",
            "a, b = 1, B",
            "G = a + b",
            "for i in range(2):\n    H = i",
            "if A:\n    I = 1",
            "B = 5",
            "J = D",
            "D.update(x=1)",
            "x = 1",
            "x = 2",
            "A = 1  # one",
            "a = 0",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        crate::python::attach(|py| {
            let state_rule = STATE_RULE.module(py);
            let (mut fast, mut rounds) = (0, 0);
            for _ in 0..40 {
                let mut lines: Vec<&str> = (0..3 + next(6)).map(|_| POOL[next(POOL.len())]).collect();
                let mut previous: Option<Py<PyAny>> = None;
                for _ in 0..8 {
                    let text = lines.join("\n") + "\n";
                    let file = std::path::Path::new("t.py");
                    let compiled =
                        super::super::script::compile(py, file, text.as_bytes(), previous.as_ref());
                    let source = compiled.expect("compiles").source;
                    if let Some(old) = &previous {
                        let args = (old.bind(py), source.bind(py));
                        let full: std::collections::BTreeSet<String> =
                            state_rule.call_method1("kept_names_in_full", args).unwrap().extract().unwrap();
                        let quick: std::collections::BTreeSet<String> =
                            state_rule.call_method1("kept_names", args).unwrap().extract().unwrap();
                        assert_eq!(quick, full, "{:?} after an edit", lines);
                        // A `Bound` derived from the version before's equals one computed anew.
                        let summaries = source.bind(py).call_method0("summaries").unwrap();
                        let fresh = state_rule.getattr("Bound").unwrap().call1((summaries,)).unwrap();
                        let derived = source.bind(py).call_method0("bound").unwrap();
                        for attribute in ["value_counts", "definition_counts"] {
                            let (a, b) =
                                (derived.getattr(attribute).unwrap(), fresh.getattr(attribute).unwrap());
                            assert!(a.eq(&b).unwrap(), "{attribute}: {a} != {b} for {lines:?}");
                        }
                        let ids = |bound: &Bound<'_, PyAny>| -> Vec<usize> {
                            let values = bound.getattr("values").unwrap();
                            let mut ids: Vec<usize> =
                                values.try_iter().unwrap().map(|v| v.unwrap().as_ptr() as usize).collect();
                            ids.sort();
                            ids
                        };
                        assert_eq!(ids(&derived), ids(&fresh), "value statements for {lines:?}");
                        let delta = source.bind(py).call_method1("delta", (old.bind(py),)).unwrap();
                        fast += usize::from(!delta.is_none());
                        rounds += 1;
                    }
                    previous = Some(source);
                    let at = next(lines.len());
                    match next(4) {
                        0 => lines[at] = POOL[next(POOL.len())],
                        1 => lines.insert(at, POOL[next(POOL.len())]),
                        2 if lines.len() > 2 => drop(lines.remove(at)),
                        _ if at + 1 < lines.len() => lines.swap(at, at + 1),
                        _ => lines.push(POOL[next(POOL.len())]),
                    }
                }
            }
            assert!(fast * 3 > rounds, "the quick path ran for {fast} of {rounds} reloads");
        });
    }

    /// R8a: a statement that mutates a kept name no longer re-runs its binding (the merge
    /// brings the change into the kept object), but readers of the name see a change.
    #[test]
    fn r8a_a_changed_mutation_keeps_the_name_and_invalidates_its_readers() {
        assert_eq!(kept("CONFIG = {}\nCONFIG['a'] = 1\n", "CONFIG = {}\nCONFIG['a'] = 2\n"), ["CONFIG"]);
        assert_eq!(kept("LOG = []\nLOG.append('x')\n", "LOG = []\n"), ["LOG"]);
        assert_eq!(kept("LOG = []\nOTHER = 1\n", "LOG = []\nOTHER = 2\n"), ["LOG"]);
        assert_eq!(kept("C = {}\nC['a'] = 1\nY = C['a']\n", "C = {}\nC['a'] = 2\nY = C['a']\n"), ["C"]);
    }
}
