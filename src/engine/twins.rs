//! Planning's commonest question, answered in Rust (issue 17): is a candidate function the
//! twin of the retained one, made by the same unchanged statement, with nothing to patch?
//!
//! `objects.py`'s `_twins` says the same in Python; a reload asks it once per function the
//! module defines, and reading a function's attributes from Python costs a microsecond or
//! more (each `__code__` and `__globals__` read is an audit event). This reads the fields of
//! the function objects directly. The extension module (`python` feature) is built for the
//! stable ABI, which hides those fields: it keeps the Python version.

use pyo3::prelude::*;

/// Puts the Rust `_twins` into `objects` (`objects.py`), before the modules that import it
/// load; without the CPython internals (the stable ABI), the Python one stays.
pub(super) fn install(objects: &Bound<'_, PyModule>) -> PyResult<()> {
    #[cfg(not(Py_LIMITED_API))]
    if !objects.getattr("_twins")?.is_instance_of::<pyo3::types::PyCFunction>() {
        objects.setattr("_twins", wrap_pyfunction!(twins, objects)?)?;
        objects.setattr("_pair_module_twins", wrap_pyfunction!(pair_module_twins, objects)?)?;
    }
    #[cfg(Py_LIMITED_API)]
    let _ = objects;
    Ok(())
}

/// Whether `old` (running in `retained`) and `new` (running in `candidate`) are functions
/// of one code object without closures, defaults, annotations or attributes, with the same
/// names, module and doc: patching `old` with `new` would change nothing.
#[cfg(not(Py_LIMITED_API))]
#[pyfunction]
fn twins(
    old: &Bound<'_, PyAny>,
    new: &Bound<'_, PyAny>,
    retained: &Bound<'_, PyAny>,
    candidate: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    use pyo3::ffi;
    // SAFETY: both are checked to be functions before their fields are read; the pointers
    // read are borrowed from objects the caller holds for the whole call.
    unsafe {
        if ffi::PyFunction_Check(old.as_ptr()) == 0 || ffi::PyFunction_Check(new.as_ptr()) == 0 {
            return Ok(false);
        }
        let o = &*(old.as_ptr() as *const ffi::PyFunctionObject);
        let n = &*(new.as_ptr() as *const ffi::PyFunctionObject);
        let bare = |f: &ffi::PyFunctionObject| {
            f.func_closure.is_null()
                && f.func_defaults.is_null()
                && f.func_kwdefaults.is_null()
                && empty_dict_or_null(f.func_dict)
                && empty_dict_or_null(f.func_annotations)
        };
        if !(o.func_code == n.func_code
            && o.func_globals == retained.as_ptr()
            && n.func_globals == candidate.as_ptr()
            && bare(o)
            && bare(n))
        {
            return Ok(false);
        }
        let py = old.py();
        for (a, b) in [
            (o.func_name, n.func_name),
            (o.func_qualname, n.func_qualname),
            (o.func_module, n.func_module),
            (o.func_doc, n.func_doc),
        ] {
            if a == b {
                continue;
            }
            if a.is_null() || b.is_null() {
                return Ok(false);
            }
            let (a, b) = (Bound::from_borrowed_ptr(py, a), Bound::from_borrowed_ptr(py, b));
            if !a.eq(&b)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Pairs the functions of `candidate` that are twins (`twins`) of the retained functions
/// of the same names, in order, as `pairing.py`'s `pair_twins` pairs one: unless the name
/// is kept or either function is paired already, the retained function goes into `memo`
/// under the candidate's id, into `paired_old`, and the candidate's into `keep_alive`.
/// Returns the twins' names and the other (name, value) items, in order.
#[cfg(not(Py_LIMITED_API))]
#[pyfunction]
fn pair_module_twins<'py>(
    retained: &Bound<'py, pyo3::types::PyDict>,
    candidate: &Bound<'py, pyo3::types::PyDict>,
    kept: &Bound<'py, PyAny>,
    memo: &Bound<'py, pyo3::types::PyDict>,
    paired_old: &Bound<'py, pyo3::types::PySet>,
    keep_alive: &Bound<'py, pyo3::types::PyList>,
) -> PyResult<(Bound<'py, pyo3::types::PySet>, Bound<'py, pyo3::types::PyList>)> {
    let py = retained.py();
    let twins_found = pyo3::types::PySet::empty(py)?;
    let others = pyo3::types::PyList::empty(py);
    for (name, new) in candidate.iter() {
        let old = retained.get_item(&name)?;
        let paired = match old {
            Some(old)
                if twins(&old, &new, retained.as_any(), candidate.as_any())? && !kept.contains(&name)? =>
            {
                let (old_id, new_id) = (old.as_ptr() as usize, new.as_ptr() as usize);
                if paired_old.contains(old_id)? || memo.contains(new_id)? {
                    false
                } else {
                    paired_old.add(old_id)?;
                    memo.set_item(new_id, &old)?;
                    keep_alive.append(&new)?;
                    twins_found.add(&name)?;
                    true
                }
            }
            _ => false,
        };
        if !paired {
            others.append((name, new))?;
        }
    }
    Ok((twins_found, others))
}

/// NULL, or an empty dict (annotations may also be a tuple until read: not empty then).
#[cfg(not(Py_LIMITED_API))]
unsafe fn empty_dict_or_null(object: *mut pyo3::ffi::PyObject) -> bool {
    // SAFETY: `object` is NULL or a live object the caller borrowed.
    object.is_null()
        || unsafe { pyo3::ffi::PyDict_CheckExact(object) != 0 && pyo3::ffi::PyDict_Size(object) == 0 }
}

#[cfg(all(test, not(Py_LIMITED_API)))]
mod tests {
    use pyo3::prelude::*;

    /// A copy of `objects.py` whose functions stay the Python ones.
    fn python_objects(py: Python<'_>) -> Bound<'_, PyModule> {
        let code = std::ffi::CString::new(include_str!("objects.py")).unwrap();
        PyModule::from_code(py, &code, c"objects_copy.py", c"_relive_objects_python").unwrap()
    }

    /// The Rust answer is the Python one (`objects.py`'s `_twins`) on twins and on each
    /// way two functions can differ.
    #[test]
    fn the_rust_twin_check_answers_as_the_python_one() {
        crate::python::attach(|py| {
            super::super::update::update_module(py);
            let objects = py.import("_relive_objects").unwrap();
            let python = python_objects(py).getattr("_twins").unwrap();
            let rust = objects.getattr("_twins").unwrap();
            assert!(rust.is_instance_of::<pyo3::types::PyCFunction>(), "the Rust check is installed");
            let cases = PyModule::from_code(py, CASES, c"twins_cases.py", c"_relive_twins_cases").unwrap();
            let pairs = cases.getattr("pairs").unwrap().call0().unwrap();
            let mut answers = Vec::new();
            for pair in pairs.try_iter().unwrap() {
                let (label, old, new, retained, candidate): (
                    String,
                    Py<PyAny>,
                    Py<PyAny>,
                    Py<PyAny>,
                    Py<PyAny>,
                ) = pair.unwrap().extract().unwrap();
                let args = (&old, &new, &retained, &candidate);
                let expected: bool = python.call1(args).unwrap().extract().unwrap();
                let got: bool = rust.call1(args).unwrap().extract().unwrap();
                assert_eq!(got, expected, "{label}");
                answers.push((label, got));
            }
            assert!(
                answers.iter().any(|(_, twin)| *twin) && answers.iter().any(|(_, twin)| !twin),
                "{answers:?}"
            );
        });
    }

    /// `pair_module_twins` in Rust pairs what `objects.py`'s `_pair_module_twins` pairs, in
    /// the same order, skipping kept names and functions paired already.
    #[test]
    fn the_rust_module_pairing_answers_as_the_python_one() {
        crate::python::attach(|py| {
            super::super::update::update_module(py);
            let objects = py.import("_relive_objects").unwrap();
            let python = python_objects(py).getattr("_pair_module_twins").unwrap();
            let rust = objects.getattr("_pair_module_twins").unwrap();
            assert!(rust.is_instance_of::<pyo3::types::PyCFunction>(), "the Rust pairing is installed");
            let case =
                PyModule::from_code(py, MODULE_CASE, c"module_case.py", c"_relive_module_case").unwrap();
            let run = |pair: &Bound<'_, PyAny>| -> (Vec<String>, Vec<String>, usize, usize) {
                case.getattr("run").unwrap().call1((pair,)).unwrap().extract().unwrap()
            };
            let (expected, got) = (run(&python), run(&rust));
            assert_eq!(got, expected);
            assert_eq!(got.0, ["f", "h"], "{got:?}");
        });
    }

    const MODULE_CASE: &std::ffi::CStr = c"
SOURCE = '''
def f():
    return 1
def g():
    return 2
def h():
    return 3
def k():
    return 4
X = 1
'''

def run(pair):
    code = compile(SOURCE, 'module_case.py', 'exec')
    retained, candidate = {'__name__': 'ns'}, {'__name__': 'ns'}
    exec(code, retained)
    exec(code, candidate)
    retained['g'].tag = 1                   # not a twin
    candidate['f2'] = candidate['f']        # one function under two names: paired once
    retained['f2'] = retained['f']
    memo = {id(candidate['k']): None}       # paired already
    paired_old, keep_alive = set(), []
    twins, others = pair(retained, candidate, {'X'}, memo, paired_old, keep_alive)
    return sorted(twins), [name for name, _ in others], len(memo), len(keep_alive)
";

    const CASES: &std::ffi::CStr = c"
SOURCE = '''
def f(x):
    return x
'''
ANNOTATED = 'from __future__ import annotations\\ndef f(x: int) -> int:\\n    return x\\n'

def make(source=SOURCE):
    code = compile(source, 'twins.py', 'exec')
    a, b = {'__name__': 'ns'}, {'__name__': 'ns'}
    exec(code, a)
    exec(code, b)
    return a, b

def pairs():
    out = []
    a, b = make()
    out.append(('twins', a['f'], b['f'], a, b))
    out.append(('globals swapped', a['f'], b['f'], b, a))
    out.append(('not functions', 1, b['f'], a, b))
    a, b = make(); b['f'].__defaults__ = (1,)
    out.append(('defaults', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__kwdefaults__ = {'y': 1}
    out.append(('kwdefaults', a['f'], b['f'], a, b))
    a, b = make(); a['f'].tag = 1
    out.append(('an attribute', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__dict__
    out.append(('an empty dict read', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__doc__ = 'doc'
    out.append(('doc', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__qualname__ = 'g'
    out.append(('qualname', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__module__ = 'other'
    out.append(('module', a['f'], b['f'], a, b))
    a, b = make(); a['f'].__annotations__
    out.append(('empty annotations read', a['f'], b['f'], a, b))
    a, b = make(ANNOTATED)
    out.append(('annotations', a['f'], b['f'], a, b))
    a, b = make()
    c, d = make()
    out.append(('other code', a['f'], d['f'], a, d))
    return out
";
}
