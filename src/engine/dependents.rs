//! R15's dependency graph, as plain data: who imports whose names.
//!
//! A script *depends on* the scripts whose names it imports at module level from a relive
//! namespace, in any import form (`from game import LIMIT`, `from game.lib import n as foo`,
//! `import game.lib`, `from game import lib`); a test file's imports count for its script.
//! Read from syntax trees (`Source.import_targets` in `source.py` for scripts,
//! `import_targets` in `batch.py` for test files), never by running anything.

use std::collections::BTreeSet;
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
    /// The imports of a compiled script (its pieces, `source.py`).
    pub(crate) fn of_source(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Imports> {
        super::batch_helper::import_targets(py, source)
    }

    /// The imports of a file on disk (a test file); none when it does not parse.
    pub(crate) fn of_file(py: Python<'_>, file: &Path) -> PyResult<Imports> {
        super::batch_helper::file_import_targets(py, file)
    }

    /// The imports of `script`'s test file, if it has one (T1, R15).
    pub(crate) fn of_test_file(py: Python<'_>, script: &Path) -> Imports {
        let Some(test_file) = crate::layout::test_file_for(script) else {
            return Imports::default();
        };
        Imports::of_file(py, &test_file).unwrap_or_default()
    }
}

/// A script others may depend on: its namespace and the names it binds there (its exports
/// in effect and its candidate's top-level bindings).
pub(crate) struct Target<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) binds: BTreeSet<&'a str>,
}

impl Imports {
    /// Whether these imports reach `target` (R15's edge), in any import form: a name it
    /// binds (`from game import LIMIT`, `as` included), its whole namespace (`import
    /// game.lib`, `from game import lib`, `from game.lib import *`). No allocation: the
    /// graph is walked on every batch, over every script in effect (scale, issue 7).
    pub(crate) fn reach(&self, target: &Target<'_>) -> bool {
        let namespace = target.namespace;
        let child = |module: &str, name: &str| {
            namespace.strip_prefix(module).and_then(|rest| rest.strip_prefix('.')) == Some(name)
        };
        self.names.iter().any(|(module, name)| {
            (module == namespace && (name == "*" || target.binds.contains(name.as_str())))
                || child(module, name)
        }) || self.modules.iter().any(|module| module == namespace)
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

    fn target<'a>(namespace: &'a str, binds: &[&'a str]) -> Target<'a> {
        Target { namespace, binds: binds.iter().copied().collect() }
    }

    #[test]
    fn r15_every_import_form_reaches_its_target() {
        let config = target("game", &["LIMIT"]);
        let lib = target("game.lib", &["n"]);
        assert!(imports(&[("game", "LIMIT")], &[]).reach(&config));
        assert!(!imports(&[("game", "OTHER")], &[]).reach(&config));
        assert!(imports(&[("game.lib", "n")], &[]).reach(&lib), "from game.lib import n as foo");
        assert!(imports(&[], &["game.lib"]).reach(&lib), "import game.lib (as lib)");
        assert!(imports(&[("game", "lib")], &[]).reach(&lib), "from game import lib");
        assert!(imports(&[("game.lib", "*")], &[]).reach(&lib), "from game.lib import *");
        assert!(!imports(&[("game", "lib")], &[]).reach(&config), "a sub-namespace is not a name of game");
        assert!(!imports(&[("os", "path")], &["json", "game"]).reach(&lib));
        assert!(!imports(&[("game", "library")], &[]).reach(&target("game.lib", &[])));
    }
}
