//! The scenario suite: every file under `scenarios/` is a test (libtest-mimic), run in its
//! own process with a fresh interpreter, its transcript compared with its snapshot under
//! `snapshots/` by insta. Works with `cargo test` and `cargo nextest run`, filters and
//! `--list` included.
//!
//! A scenario whose `python` range excludes the Python relive was built against is an
//! ignored trial (counted as ignored in the summary, never as passed), and the reason is
//! printed to stderr before the run. Run anyway (`--include-ignored`), it fails as not run.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use relive::scenario::python_range::{self, PythonVersion};
use relive::scenario::{self, snapshot};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = scenario::discover(&[root.join("scenarios")]).expect("scenarios/ exists");
    let relive = PathBuf::from(env!("CARGO_BIN_EXE_relive"));
    let running = PythonVersion::running();
    let trials = found
        .into_iter()
        .map(|item| {
            // A range that does not parse is not a skip: the trial runs and reports the
            // scenario file error with its line.
            let skip = std::fs::read_to_string(&item.file)
                .ok()
                .and_then(|text| python_range::of_scenario(&text).ok().flatten())
                .and_then(|range| range.skip_reason(running));
            if let (Some(reason), false) = (&skip, args.list) {
                eprintln!("scenario {} skipped: {reason}", item.name);
            }
            let ignored = skip.is_some();
            let relive = relive.clone();
            Trial::test(item.name.clone(), move || -> Result<(), Failed> {
                let transcript = scenario::run_isolated(&relive, &item);
                if let Some(reason) = &transcript.skipped {
                    return Err(format!("not run: {reason}").into());
                }
                if !transcript.passed() {
                    return Err(format!("{}\n\n{transcript}", transcript.failures().join("\n")).into());
                }
                snapshot::assert(
                    &item.snapshots,
                    &item.name,
                    &transcript.description,
                    &item.file,
                    &transcript.to_string(),
                );
                Ok(())
            })
            .with_kind("scenario")
            .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
