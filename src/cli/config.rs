//! The `[tool.relive]` table of a `pyproject.toml`, found from the script directory upward,
//! and the settings it gives once command-line flags override it.
//!
//! ```toml
//! [tool.relive]
//! namespace = "arena"        # base namespace (default: the folder's name)
//! mode = "update"            # or "overwrite" (watch)
//! tests = true               # run the scripts' tests
//! test_timeout = 10.0        # seconds per script
//! delay = 90                 # watch: ms without events before a reload
//! include = ["**/*.py"]      # globs relative to the script directory
//! exclude = ["drafts/**"]
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use relive::Mode;

/// What a `[tool.relive]` table may say; any other key is an error naming the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    namespace: Option<String>,
    mode: Option<Mode>,
    tests: Option<bool>,
    #[serde(alias = "test-timeout")]
    test_timeout: Option<f64>,
    delay: Option<u64>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    relive: Option<toml::Value>,
}

/// The options `check` and `watch` share; each overrides the configuration file.
#[derive(Debug, Args)]
pub struct Common {
    /// The script directory.
    pub dir: PathBuf,
    /// Base namespace (default: `namespace` from [tool.relive], else the directory's name).
    #[arg(long, short)]
    pub namespace: Option<String>,
    /// Do not discover or run the scripts' unit tests.
    #[arg(long)]
    pub no_tests: bool,
    /// Per-script timeout in seconds for module-level code plus tests [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub test_timeout: Option<f64>,
    /// Only `.py` files matching GLOB (relative to the directory, `**` for any depth) are
    /// relive's; repeatable; replaces `include` from [tool.relive].
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// `.py` files matching GLOB are ignored; repeatable; replaces `exclude` from
    /// [tool.relive].
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Read no pyproject.toml.
    #[arg(long)]
    pub no_config: bool,
}

/// Settings after the file and the flags.
#[derive(Debug)]
pub struct Settings {
    pub namespace: Option<String>,
    pub mode: Option<Mode>,
    pub tests: bool,
    pub test_timeout: Duration,
    pub delay: Option<u64>,
}

impl Common {
    /// Reads the configuration (unless `--no-config`), applies the flags over it, and
    /// registers the include/exclude filter for the directory.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let (file, config) = if self.no_config { (None, FileConfig::default()) } else { find(&self.dir)? };
        if let Some(file) = &file {
            log::info!("settings from [tool.relive] in {}", file.display());
        }
        let seconds = self.test_timeout.or(config.test_timeout).unwrap_or(10.0);
        let settings = Settings {
            namespace: self.namespace.clone().or(config.namespace),
            mode: config.mode,
            tests: !self.no_tests && config.tests.unwrap_or(true),
            test_timeout: super::positive_seconds("--test-timeout (or test_timeout)", seconds)?,
            delay: config.delay,
        };
        let include =
            if self.include.is_empty() { config.include.unwrap_or_default() } else { self.include.clone() };
        let exclude =
            if self.exclude.is_empty() { config.exclude.unwrap_or_default() } else { self.exclude.clone() };
        if !include.is_empty() || !exclude.is_empty() {
            let include = glob_set(&include).context("bad include glob")?;
            let exclude = glob_set(&exclude).context("bad exclude glob")?;
            relive::layout::filter::set_filter(
                &self.dir,
                std::sync::Arc::new(move |rel: &str| {
                    (include.is_empty() || include.is_match(rel)) && !exclude.is_match(rel)
                }),
            );
        }
        Ok(settings)
    }
}

/// The nearest `pyproject.toml` with a `[tool.relive]` table, from `dir` upward.
fn find(dir: &Path) -> anyhow::Result<(Option<PathBuf>, FileConfig)> {
    let start = std::path::absolute(dir)?;
    for folder in start.ancestors() {
        let file = folder.join("pyproject.toml");
        if !file.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let project: PyProject =
            toml::from_str(&text).with_context(|| format!("cannot parse {}", file.display()))?;
        if let Some(table) = project.tool.and_then(|t| t.relive) {
            let config = FileConfig::deserialize(table)
                .with_context(|| format!("bad [tool.relive] in {}", file.display()))?;
            return Ok((Some(file), config));
        }
    }
    Ok((None, FileConfig::default()))
}

/// Globs matched against `/`-separated paths: `*` stays within a folder, `**` crosses them.
fn glob_set(globs: &[String]) -> anyhow::Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let glob: Glob = GlobBuilder::new(glob).literal_separator(true).build()?;
        set.add(glob);
    }
    Ok(set.build()?)
}
