//! The scenario suite: every file under `scenarios/` is a test (libtest-mimic), run in its
//! own process with a fresh interpreter, its transcript compared with its snapshot under
//! `snapshots/` by insta. Works with `cargo test` and `cargo nextest run`, filters and
//! `--list` included.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use relive::scenario::{self, snapshot};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = scenario::discover(&[root.join("scenarios")]).expect("scenarios/ exists");
    let relive = PathBuf::from(env!("CARGO_BIN_EXE_relive"));
    let trials = found
        .into_iter()
        .map(|item| {
            let relive = relive.clone();
            Trial::test(item.name.clone(), move || -> Result<(), Failed> {
                let transcript = scenario::run_isolated(&relive, &item);
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
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
