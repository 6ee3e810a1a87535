//! Synthetic namespaces: real module objects in `sys.modules`, one per script folder (L1),
//! their ownership (L2) and their clean removal (L7, L9).
//!
//! Each namespace is a package-like module (`__path__ = []`), so `import game.ai` and
//! `from game.ai import Brain` work from any Python code. Parents are created as needed
//! and every namespace is an attribute of its parent. This file never executes scripts.

use std::collections::BTreeMap;
use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyModule};

use crate::engine::error::Error;
use crate::layout::ScriptPath;

/// Who keeps a name a script exports into its namespace (L5), for loads and reloads alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Nobody else holds it: the script takes it.
    Free,
    /// A sub-namespace of that name exists: it keeps the name, the script is ignored.
    SubNamespace,
    /// Another script earlier in sorted path order holds it: it keeps the name.
    Kept,
    /// Another script later in sorted path order holds it: the script takes the name over.
    TakenOver,
}

/// L5: a sub-namespace wins over any script; among scripts of one namespace, the first in
/// sorted path order wins. `holder` is the path of the script holding the name, if any.
pub(crate) fn claim(claimant: &ScriptPath, subnamespace: bool, holder: Option<&ScriptPath>) -> Claim {
    match holder {
        _ if subnamespace => Claim::SubNamespace,
        None => Claim::Free,
        Some(holder) if holder < claimant => Claim::Kept,
        Some(_) => Claim::TakenOver,
    }
}

/// L5 among the members of one batch (a load is one batch): which member claimed each name,
/// so a member claiming later but earlier in path order takes it over. Loads and reloads
/// keep their claims in one of these; what holds a name *outside* the batch (scripts in
/// effect, sub-namespaces) each asks on its own.
#[derive(Debug, Default)]
pub(crate) struct BatchClaims {
    /// namespace -> name -> the member holding it (looked up without allocating: a
    /// reload claims every name its script exports).
    holders: BTreeMap<String, BTreeMap<String, usize>>,
    /// member -> its path.
    paths: BTreeMap<usize, ScriptPath>,
    /// (member, name): names members lost to one earlier in path order, in order.
    lost: Vec<(usize, String)>,
}

impl BatchClaims {
    /// Member `me`, at `path`, claims `namespace.name` against the other member holding it
    /// (L5; `subnamespace`: a sub-namespace of that name exists). `Kept`: the holder, whose
    /// path comes with it, keeps it. `TakenOver`: `me` holds it now and the holder (its path
    /// comes with it) lost it. `Free` or `SubNamespace`: no other member holds it, or a
    /// sub-namespace wins; nothing is recorded (see [`Self::hold`]).
    pub(crate) fn claim(
        &mut self,
        me: usize,
        path: &ScriptPath,
        namespace: &str,
        name: &str,
        subnamespace: bool,
    ) -> (Claim, Option<ScriptPath>) {
        let holder = self.holders.get(namespace).and_then(|names| names.get(name)).copied();
        let Some(holder) = holder.filter(|h| *h != me) else {
            return (claim(path, subnamespace, None), None);
        };
        let holder_path = self.paths[&holder].clone();
        let verdict = claim(path, subnamespace, Some(&holder_path));
        if verdict == Claim::TakenOver {
            self.lost.push((holder, name.to_string()));
            self.hold(me, path, namespace, name);
        }
        (verdict, Some(holder_path))
    }

    /// Member `me`, at `path`, holds `namespace.name` (a name it claimed and was free).
    pub(crate) fn hold(&mut self, me: usize, path: &ScriptPath, namespace: &str, name: &str) {
        self.paths.entry(me).or_insert_with(|| path.clone());
        match self.holders.get_mut(namespace) {
            Some(names) => names.insert(name.to_string(), me),
            None => self.holders.entry(namespace.to_string()).or_default().insert(name.to_string(), me),
        };
    }

    /// The names members lost to one earlier in path order, as (member, name), in order.
    pub(crate) fn take_lost(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.lost)
    }
}

/// Which registered directory owns a namespace.
pub(crate) type DirId = u64;

#[derive(Debug)]
struct Entry {
    module: Py<PyModule>,
    /// `None` for a parent relive made only to hold a directory's namespace (`mods` of
    /// `mods.game`).
    owner: Option<DirId>,
}

/// Every namespace relive made, by dotted name.
#[derive(Debug, Default)]
pub(crate) struct Namespaces {
    entries: BTreeMap<String, Entry>,
}

impl Namespaces {
    /// Checks that `name` can become the base namespace of the directory `root` (L2).
    ///
    /// The folder itself, found by Python on `sys.path` as a namespace package (a `game/`
    /// folder beside the host's `app.py`), does not take the name (issue 15).
    pub(crate) fn check_available(
        &self,
        py: Python<'_>,
        name: &str,
        root: &Path,
        owner_path: impl Fn(DirId) -> std::path::PathBuf,
    ) -> Result<(), Error> {
        if let Some(owner) = self.owner_of(name) {
            return Err(Error::NamespaceOwned { name: name.to_string(), directory: owner_path(owner) });
        }
        let mut prefix = String::new();
        for component in name.split('.') {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(component);
            if self.entries.contains_key(&prefix) {
                continue;
            }
            let own_folder = (prefix == name).then_some(root);
            if let Some(module) =
                foreign_module(py, &prefix, own_folder).map_err(|e| Error::python(py, &e))?
            {
                return Err(Error::NamespaceTaken { name: name.to_string(), module });
            }
        }
        Ok(())
    }

    /// Checks that a namespace a directory's folder needs is not a module relive does not
    /// own (L2): `game.extra` put in `sys.modules` by other code. `folder` is the
    /// registered folder when `name` is its base namespace (see `check_available`).
    pub(crate) fn check_not_foreign(
        &self,
        py: Python<'_>,
        name: &str,
        folder: Option<&Path>,
    ) -> Result<(), Error> {
        if self.entries.contains_key(name) {
            return Ok(());
        }
        match foreign_module(py, name, folder).map_err(|e| Error::python(py, &e))? {
            Some(module) => Err(Error::NamespaceTaken { name: name.to_string(), module }),
            None => Ok(()),
        }
    }

    /// The directory owning `name`, if a directory does.
    pub(crate) fn owner_of(&self, name: &str) -> Option<DirId> {
        self.entries.get(name).and_then(|e| e.owner)
    }

    /// Every namespace name relive has made.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The last components of the namespaces directly under `name` (`b` for `a.b`).
    pub(crate) fn children(&self, name: &str) -> std::collections::HashSet<&str> {
        let prefix = format!("{name}.");
        self.entries
            .range(prefix.clone()..)
            .map(|(dotted, _)| dotted)
            .take_while(|dotted| dotted.starts_with(&prefix))
            .map(|dotted| &dotted[prefix.len()..])
            .filter(|rest| !rest.contains('.'))
            .collect()
    }

    /// The module of a namespace.
    pub(crate) fn module<'py>(&self, py: Python<'py>, name: &str) -> Option<Bound<'py, PyModule>> {
        self.entries.get(name).map(|e| e.module.bind(py).clone())
    }

    /// Creates `name` (and missing parents) for the directory `owner` whose base namespace
    /// is `base`; parents above `base` are implicit and removed with their last child.
    pub(crate) fn create(&mut self, py: Python<'_>, base: &str, name: &str, owner: DirId) -> PyResult<()> {
        let mut parent: Option<Bound<'_, PyModule>> = None;
        let components: Vec<&str> = name.split('.').collect();
        for depth in 1..=components.len() {
            let dotted = components[..depth].join(".");
            let owned = dotted == base || dotted.starts_with(&format!("{base}."));
            let module = match self.entries.get_mut(&dotted) {
                Some(entry) => {
                    if owned {
                        entry.owner = Some(owner);
                    }
                    entry.module.bind(py).clone()
                }
                None => {
                    let module = new_namespace_module(py, &dotted)?;
                    let entry = Entry { module: module.clone().unbind(), owner: owned.then_some(owner) };
                    self.entries.insert(dotted, entry);
                    module
                }
            };
            if let Some(parent) = &parent {
                parent.setattr(components[depth - 1], &module)?;
            }
            parent = Some(module);
        }
        Ok(())
    }

    /// Removes the namespaces `names` from `sys.modules` and from their parents, then every
    /// implicit parent left without children. Deepest names go first.
    pub(crate) fn remove(&mut self, py: Python<'_>, names: &[String]) -> PyResult<()> {
        let mut names: Vec<&String> = names.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.matches('.').count()));
        for name in names {
            self.remove_one(py, name)?;
        }
        loop {
            let orphan = self.entries.iter().rev().find(|(name, entry)| {
                entry.owner.is_none() && !self.entries.keys().any(|k| k.starts_with(&format!("{name}.")))
            });
            match orphan.map(|(name, _)| name.clone()) {
                Some(name) => self.remove_one(py, &name)?,
                None => return Ok(()),
            }
        }
    }

    /// Namespaces owned by `owner`, sorted.
    pub(crate) fn owned_by(&self, owner: DirId) -> Vec<String> {
        self.entries.iter().filter(|(_, e)| e.owner == Some(owner)).map(|(n, _)| n.clone()).collect()
    }

    fn remove_one(&mut self, py: Python<'_>, name: &str) -> PyResult<()> {
        let prefix = format!("{name}.");
        let owner = self.entries.get(name).and_then(|e| e.owner);
        let foreign_child =
            self.entries.iter().any(|(n, e)| n.starts_with(&prefix) && e.owner.is_some() && e.owner != owner);
        if foreign_child {
            // Another directory's namespace lives below: keep this one as its implicit parent.
            if let Some(entry) = self.entries.get_mut(name) {
                entry.owner = None;
            }
            return Ok(());
        }
        let Some(entry) = self.entries.remove(name) else { return Ok(()) };
        let module = entry.module.bind(py);
        let modules = py.import("sys")?.getattr("modules")?.cast_into::<PyDict>()?;
        if modules.get_item(name)?.is_some_and(|m| m.is(module)) {
            modules.del_item(name)?;
        }
        if let Some((parent, leaf)) = name.rsplit_once('.')
            && let Some(parent) = self.entries.get(parent)
        {
            let parent = parent.module.bind(py);
            if parent.getattr(leaf).is_ok_and(|m| m.is(module)) {
                parent.delattr(leaf)?;
            }
        }
        Ok(())
    }
}

fn new_namespace_module<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyModule>> {
    let spec = py
        .import("importlib.machinery")?
        .getattr("ModuleSpec")?
        .call((name, py.None()), Some(&[("is_package", true)].into_py_dict(py)?))?;
    let module = py.import("importlib.util")?.call_method1("module_from_spec", (spec,))?;
    module.setattr("__doc__", format!("relive namespace {name}"))?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item(name, &module)?;
    Ok(module.cast_into::<PyModule>()?)
}

/// `Some(description)` when `name` is a module relive does not own: loaded, or importable.
///
/// A namespace package (a plain folder on `sys.path`) whose folders are just `own_folder`,
/// the script directory being registered, is that directory seen by Python's import
/// system, not another module: it does not take the name (issue 15).
fn foreign_module(py: Python<'_>, name: &str, own_folder: Option<&Path>) -> PyResult<Option<String>> {
    let modules = py.import("sys")?.getattr("modules")?;
    if let Ok(module) = modules.get_item(name) {
        return Ok(Some(module.repr()?.to_string()));
    }
    if name.contains('.') {
        return Ok(None);
    }
    let spec = py.import("importlib.util")?.call_method1("find_spec", (name,))?;
    if spec.is_none() {
        return Ok(None);
    }
    let origin = spec.getattr("origin")?;
    let locations = spec.getattr("submodule_search_locations")?;
    if origin.is_none() && !locations.is_none() {
        let folders: Vec<std::path::PathBuf> =
            locations.try_iter()?.map(|l| l?.extract()).collect::<PyResult<_>>()?;
        let is_own = |folder: &std::path::PathBuf| {
            own_folder.is_some_and(|own| folder.canonicalize().is_ok_and(|f| f == own))
        };
        if !folders.is_empty() && folders.iter().all(is_own) {
            return Ok(None);
        }
        let listed: Vec<String> = folders.iter().map(|f| f.display().to_string()).collect();
        return Ok(Some(format!("<namespace package '{name}' (folders {})>", listed.join(", "))));
    }
    Ok(Some(format!("<module '{name}' from '{origin}'>")))
}

/// Whether `name` can be one component of a namespace: a Python identifier that is not a
/// keyword (L1).
pub(crate) fn check_component(py: Python<'_>, name: &str) -> Result<(), &'static str> {
    let string = pyo3::types::PyString::new(py, name);
    let identifier = string.call_method0("isidentifier").and_then(|v| v.is_truthy()).unwrap_or(false);
    if !identifier {
        return Err("not a Python identifier");
    }
    let keyword = py
        .import("keyword")
        .and_then(|k| k.call_method1("iskeyword", (name,)))
        .and_then(|v| v.is_truthy())
        .unwrap_or(false);
    if keyword { Err("a Python keyword") } else { Ok(()) }
}

/// Checks a dotted namespace name given by the caller (L1).
pub(crate) fn check_name(py: Python<'_>, name: &str) -> Result<(), Error> {
    for component in name.split('.') {
        check_component(py, component).map_err(|reason| Error::InvalidNamespace {
            name: name.to_string(),
            reason: format!("{component:?} is {reason}"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> ScriptPath {
        let root = Path::new("/scripts");
        ScriptPath::relative(root, &root.join(p)).expect("under the root")
    }

    #[test]
    fn l5_a_sub_namespace_wins_then_the_first_script_in_sorted_path_order() {
        let (a, b) = (path("a.py"), path("b.py"));
        assert_eq!(claim(&b, false, None), Claim::Free);
        assert_eq!(claim(&b, false, Some(&a)), Claim::Kept);
        assert_eq!(claim(&a, false, Some(&b)), Claim::TakenOver);
        assert_eq!(claim(&a, true, None), Claim::SubNamespace);
        assert_eq!(claim(&a, true, Some(&b)), Claim::SubNamespace);
    }

    #[test]
    fn l5_batch_claims_the_earlier_path_takes_a_name_over_and_the_later_one_loses_it() {
        let (a, b, c) = (path("a.py"), path("b.py"), path("c.py"));
        let mut claims = BatchClaims::default();
        assert_eq!(claims.claim(1, &b, "game", "X", false), (Claim::Free, None));
        claims.hold(1, &b, "game", "X");
        // The holder claiming again is not a duplicate of itself.
        assert_eq!(claims.claim(1, &b, "game", "X", false), (Claim::Free, None));
        assert_eq!(claims.claim(2, &c, "game", "X", false), (Claim::Kept, Some(b.clone())));
        assert_eq!(claims.claim(0, &a, "game", "X", false), (Claim::TakenOver, Some(b.clone())));
        // a holds it now: b claims it again in vain; another namespace is another name.
        assert_eq!(claims.claim(1, &b, "game", "X", false), (Claim::Kept, Some(a.clone())));
        assert_eq!(claims.claim(2, &c, "game.sub", "X", false), (Claim::Free, None));
        assert_eq!(claims.claim(2, &c, "game", "X", true).0, Claim::SubNamespace);
        assert_eq!(claims.take_lost(), vec![(1, "X".to_string())]);
        assert!(claims.take_lost().is_empty());
    }
}
