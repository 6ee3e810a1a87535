//! The scenario `python` key (scenarios.md): the CPython versions a scenario is for, such as
//! `">=3.12"` or `">=3.11, <3.13"`. A case whose right answer differs by version is two
//! scenarios with complementary ranges; on a version outside its range a scenario is
//! reported as skipped, with the reason, never as passed.
//!
//! Versions are `major.minor`: relive's behaviour is decided by the minor version it was
//! built against ([`crate::python::BUILD_PYTHON_VERSION`]).

use std::fmt;

/// The `python` key of a scenario file's text, read without validating the rest (the
/// harness decides whether to run a scenario before any interpreter starts).
///
/// # Errors
/// Text that is not TOML, or a bad range.
pub fn of_scenario(text: &str) -> Result<Option<PythonRange>, String> {
    #[derive(serde::Deserialize)]
    struct OnlyPython {
        python: Option<String>,
    }
    let only: OnlyPython = toml::from_str(text).map_err(|e| e.message().to_string())?;
    only.python.map(|range| PythonRange::parse(&range)).transpose()
}

/// A CPython `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PythonVersion {
    /// The major version (3).
    pub major: u32,
    /// The minor version (12).
    pub minor: u32,
}

impl PythonVersion {
    /// Parses `3.12`.
    ///
    /// # Errors
    /// Text that is not two dot-separated numbers.
    pub fn parse(text: &str) -> Result<PythonVersion, String> {
        let bad = || format!("{text:?} is not a Python version: expected major.minor, such as 3.12");
        let (major, minor) = text.trim().split_once('.').ok_or_else(bad)?;
        Ok(PythonVersion {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }

    /// The version relive was built against, and so runs.
    pub fn running() -> PythonVersion {
        PythonVersion::parse(crate::python::BUILD_PYTHON_VERSION).expect("build.rs writes major.minor")
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A comparison of one clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] =
        [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt)];

    fn holds(self, left: PythonVersion, right: PythonVersion) -> bool {
        match self {
            Op::Ge => left >= right,
            Op::Gt => left > right,
            Op::Le => left <= right,
            Op::Lt => left < right,
            Op::Eq => left == right,
            Op::Ne => left != right,
        }
    }

    fn as_str(self) -> &'static str {
        Op::ALL.iter().find(|(_, op)| *op == self).map(|(word, _)| *word).unwrap_or("==")
    }
}

/// The versions a scenario is for: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonRange {
    clauses: Vec<(Op, PythonVersion)>,
}

impl PythonRange {
    /// Parses `">=3.12"`, `"<3.12"`, `">=3.11, <3.13"`, `"==3.12"`.
    ///
    /// # Errors
    /// An empty range, a clause without a comparison, or a bad version; the message says
    /// what is expected.
    pub fn parse(text: &str) -> Result<PythonRange, String> {
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let clause = clause.trim();
            let (word, op) = Op::ALL.iter().find(|(word, _)| clause.starts_with(word)).ok_or_else(|| {
                format!("python clause {clause:?} needs a comparison: >=, >, <=, <, == or != and a version, such as \">=3.12\"")
            })?;
            clauses.push((*op, PythonVersion::parse(&clause[word.len()..])?));
        }
        Ok(PythonRange { clauses })
    }

    /// Whether `version` is in the range.
    pub fn contains(&self, version: PythonVersion) -> bool {
        self.clauses.iter().all(|(op, bound)| op.holds(version, *bound))
    }

    /// Why a scenario with this range does not run on `version`, or `None` when it runs.
    pub fn skip_reason(&self, version: PythonVersion) -> Option<String> {
        (!self.contains(version)).then(|| format!("for Python {self}; this is Python {version}"))
    }
}

impl fmt::Display for PythonRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.clauses.iter().map(|(op, v)| format!("{}{v}", op.as_str())).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> PythonVersion {
        PythonVersion::parse(text).unwrap()
    }

    #[test]
    fn ranges_compare_minor_versions() {
        let newer = PythonRange::parse(">=3.12").unwrap();
        assert!(!newer.contains(v("3.11")) && newer.contains(v("3.12")) && newer.contains(v("3.13")));
        let older = PythonRange::parse("<3.12").unwrap();
        assert!(older.contains(v("3.11")) && !older.contains(v("3.12")));
        let band = PythonRange::parse(" >=3.11 , <3.13 ").unwrap();
        assert!(band.contains(v("3.12")) && !band.contains(v("3.13")) && !band.contains(v("3.10")));
        assert!(PythonRange::parse("!=3.12").unwrap().contains(v("3.13")));
        assert!(PythonRange::parse("==3.12").unwrap().contains(v("3.12")));
        assert!(!PythonRange::parse(">3.12").unwrap().contains(v("3.12")));
        assert!(PythonRange::parse("<=3.12").unwrap().contains(v("3.12")));
        assert!(v("3.9") < v("3.10"), "numeric, not text, order");
    }

    #[test]
    fn a_skip_says_which_range_and_which_python() {
        let range = PythonRange::parse(">=3.11,<3.12").unwrap();
        assert_eq!(range.skip_reason(v("3.13")).unwrap(), "for Python >=3.11, <3.12; this is Python 3.13");
        assert_eq!(range.skip_reason(v("3.11")), None);
    }

    #[test]
    fn bad_ranges_say_what_is_expected() {
        assert!(PythonRange::parse("3.12").unwrap_err().contains("needs a comparison"));
        assert!(PythonRange::parse(">=3").unwrap_err().contains("expected major.minor"));
        assert!(PythonRange::parse(">=3.x").unwrap_err().contains("not a Python version"));
        assert!(PythonRange::parse("").unwrap_err().contains("needs a comparison"));
    }

    #[test]
    fn the_key_is_read_from_a_whole_file() {
        let text = "description = 'd'\npython = '<3.12'\n[[step]]\nexpect = 'loaded'\n";
        assert_eq!(of_scenario(text).unwrap(), Some(PythonRange::parse("<3.12").unwrap()));
        assert_eq!(of_scenario("description = 'd'\n").unwrap(), None);
        assert!(of_scenario("python = 'x'\n").is_err());
    }

    #[test]
    fn the_running_version_parses() {
        assert_eq!(PythonVersion::running().major, 3);
    }
}
