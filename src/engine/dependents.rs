//! R15's dependency graph, as plain data: who imports whose names.
//!
//! A script *depends on* the scripts whose names it imports at module level from a relive
//! namespace, in any import form (`from game import LIMIT`, `from game.lib import n as foo`,
//! `import game.lib`, `from game import lib`); a test file's imports count for its script.
//! Read from syntax trees (`import_targets` in `batch.py`), never by running anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pyo3::prelude::*;

/// What a script or a test file imports at module level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Imports {
    /// `(module, name)` of `from module import name` (`*` included).
    pub(crate) names: Vec<(String, String)>,
    /// `module` of `import module` (with or without `as`).
    pub(crate) modules: Vec<String>,
}

impl Imports {
    /// The imports of a parsed script (its syntax tree).
    pub(crate) fn of_tree(py: Python<'_>, tree: &Bound<'_, PyAny>) -> PyResult<Imports> {
        let (names, modules) = super::apply::helper(py).call_method1("import_targets", (tree,))?.extract()?;
        Ok(Imports { names, modules })
    }

    /// The imports of a file on disk (a test file); none when it does not parse.
    pub(crate) fn of_file(py: Python<'_>, file: &Path) -> PyResult<Imports> {
        let path = file.to_string_lossy();
        let (names, modules) =
            super::apply::helper(py).call_method1("file_import_targets", (path.as_ref(),))?.extract()?;
        Ok(Imports { names, modules })
    }

    /// The imports of `script`'s test file, if it has one (T1, R15).
    pub(crate) fn of_test_file(py: Python<'_>, script: &Path) -> Imports {
        let Some(test_file) = crate::testing::discover::test_file_for(script) else {
            return Imports::default();
        };
        Imports::of_file(py, &test_file).unwrap_or_default()
    }
}

/// One script as the graph sees it.
pub(crate) struct Node<'a> {
    /// Its namespace.
    pub(crate) namespace: &'a str,
    /// Names it binds in its namespace (its exports, or its top-level bindings).
    pub(crate) binds: Vec<&'a str>,
    /// Its own imports.
    pub(crate) imports: &'a Imports,
    /// Its test file's imports.
    pub(crate) test_imports: &'a Imports,
}

/// Edges of the graph: `deps[s]` are the scripts `s` imports from, `test_deps[s]` those its
/// test file imports from.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub(crate) deps: Vec<BTreeSet<usize>>,
    pub(crate) test_deps: Vec<BTreeSet<usize>>,
}

impl Graph {
    /// The graph of `nodes`; `namespaces` are every relive namespace.
    pub(crate) fn new(nodes: &[Node<'_>], namespaces: &BTreeSet<String>) -> Graph {
        let mut binders: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            members.entry(node.namespace).or_default().push(i);
            for name in &node.binds {
                binders.entry((node.namespace, name)).or_default().push(i);
            }
        }
        let resolve = |imports: &Imports, me: Option<usize>| -> BTreeSet<usize> {
            let mut found = BTreeSet::new();
            let whole = |namespace: &str, found: &mut BTreeSet<usize>| {
                found.extend(members.get(namespace).into_iter().flatten().copied());
            };
            for (module, name) in &imports.names {
                if !namespaces.contains(module) {
                    continue;
                }
                let child = format!("{module}.{name}");
                if name == "*" {
                    whole(module, &mut found);
                } else if namespaces.contains(&child) {
                    whole(&child, &mut found);
                } else {
                    found.extend(
                        binders.get(&(module.as_str(), name.as_str())).into_iter().flatten().copied(),
                    );
                }
            }
            for module in imports.modules.iter().filter(|m| namespaces.contains(*m)) {
                whole(module, &mut found);
            }
            if let Some(me) = me {
                found.remove(&me);
            }
            found
        };
        Graph {
            deps: nodes.iter().enumerate().map(|(i, n)| resolve(n.imports, Some(i))).collect(),
            test_deps: nodes.iter().enumerate().map(|(i, n)| resolve(n.test_imports, Some(i))).collect(),
        }
    }

    /// The dependents of `changed`: scripts that import from them, transitively (rebuilt),
    /// and scripts only whose test files import from what the batch rebuilds (retested).
    /// Neither list holds a changed script; both are sorted.
    pub(crate) fn dependents(&self, changed: &BTreeSet<usize>) -> (Vec<usize>, Vec<usize>) {
        let mut importers: Vec<Vec<usize>> = vec![Vec::new(); self.deps.len()];
        for (script, deps) in self.deps.iter().enumerate() {
            for &dep in deps {
                importers[dep].push(script);
            }
        }
        let mut rebuilt: BTreeSet<usize> = BTreeSet::new();
        let mut todo: Vec<usize> = changed.iter().copied().collect();
        while let Some(script) = todo.pop() {
            for &importer in &importers[script] {
                if !changed.contains(&importer) && rebuilt.insert(importer) {
                    todo.push(importer);
                }
            }
        }
        let retested = (0..self.test_deps.len())
            .filter(|s| !changed.contains(s) && !rebuilt.contains(s))
            .filter(|&s| self.test_deps[s].iter().any(|d| changed.contains(d) || rebuilt.contains(d)))
            .collect();
        (rebuilt.into_iter().collect(), retested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(names: &[(&str, &str)], modules: &[&str]) -> Imports {
        Imports {
            names: names.iter().map(|(m, n)| (m.to_string(), n.to_string())).collect(),
            modules: modules.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn namespaces() -> BTreeSet<String> {
        ["game", "game.lib"].into_iter().map(String::from).collect()
    }

    #[test]
    fn r15_every_import_form_is_an_edge() {
        let none = Imports::default();
        let from_name = imports(&[("game", "LIMIT")], &[]);
        let alias = imports(&[("game.lib", "n")], &[]);
        let module = imports(&[], &["game.lib"]);
        let from_module = imports(&[("game", "lib")], &[]);
        let stdlib = imports(&[("os", "path")], &["json"]);
        let nodes = [
            Node { namespace: "game", binds: vec!["LIMIT"], imports: &none, test_imports: &none },
            Node { namespace: "game.lib", binds: vec!["n"], imports: &none, test_imports: &none },
            Node { namespace: "game", binds: vec!["A"], imports: &from_name, test_imports: &none },
            Node { namespace: "game", binds: vec!["B"], imports: &alias, test_imports: &none },
            Node { namespace: "game", binds: vec!["C"], imports: &module, test_imports: &none },
            Node { namespace: "game", binds: vec!["D"], imports: &from_module, test_imports: &none },
            Node { namespace: "game", binds: vec!["E"], imports: &stdlib, test_imports: &from_name },
        ];
        let graph = Graph::new(&nodes, &namespaces());
        let deps: Vec<Vec<usize>> = graph.deps.iter().map(|d| d.iter().copied().collect()).collect();
        assert_eq!(deps, vec![vec![], vec![], vec![0], vec![1], vec![1], vec![1], vec![]]);
        assert_eq!(graph.test_deps[6].iter().copied().collect::<Vec<_>>(), vec![0]);
        let (rebuilt, retested) = graph.dependents(&[0].into_iter().collect());
        assert_eq!((rebuilt, retested), (vec![2], vec![6]));
        let (rebuilt, retested) = graph.dependents(&[1].into_iter().collect());
        assert_eq!((rebuilt, retested), (vec![3, 4, 5], vec![]));
    }

    #[test]
    fn r15_dependents_are_transitive_and_exclude_the_changed() {
        let none = Imports::default();
        let a = imports(&[("game", "X")], &[]);
        let b = imports(&[("game", "Y")], &[]);
        let c = imports(&[("game", "Z"), ("game", "X")], &[]);
        let nodes = [
            Node { namespace: "game", binds: vec!["X"], imports: &none, test_imports: &none },
            Node { namespace: "game", binds: vec!["Y"], imports: &a, test_imports: &none },
            Node { namespace: "game", binds: vec!["Z"], imports: &b, test_imports: &none },
            Node { namespace: "game", binds: vec![], imports: &c, test_imports: &none },
        ];
        let graph = Graph::new(&nodes, &namespaces());
        assert_eq!(graph.dependents(&[0].into_iter().collect()).0, vec![1, 2, 3]);
        assert_eq!(graph.dependents(&[0, 2].into_iter().collect()).0, vec![1, 3]);
        assert_eq!(graph.dependents(&[3].into_iter().collect()).0, Vec::<usize>::new());
    }
}
