//! W2: pending scripts are retried once what they wait for is exported.
//!
//! After a batch, the pending scripts outside it that its applied scripts woke (a name they
//! waited for was exported, or anything was, or their namespace exists now) run as one
//! batch of new members, with every other pending script waiting beside it: when a member
//! of that batch exports a name a waiting script needs, that script joins the batch while
//! it runs (`batch_build.rs` grows it, `Resolver::join`), and is built against the member's
//! candidate, after it. Rounds repeat while scripts load. Only the scripts that load are
//! reported (and announced, R13); the others stay pending, waiting for what they waited for
//! unless their own run says otherwise.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pyo3::prelude::*;

use super::batch::{Member, Role};
use super::{Error, Reloader, candidate, resolve};
use crate::layout;
use crate::report::{Outcome, ReloadReport, ScriptPath, Wait};

/// Pending scripts outside a batch that may join it, each with what it waits for.
pub(super) struct Waiters(Vec<(PathBuf, Wait)>);

impl Waiters {
    /// Takes out the waiters that `exported(namespace, name)`, an export of anything
    /// (`any`) or a namespace that exists now wake.
    fn take_woken(
        &mut self,
        exported: impl Fn(&str, &str) -> bool,
        any: bool,
        namespace_exists: impl Fn(&str) -> bool,
    ) -> Vec<(PathBuf, Wait)> {
        let (woken, waiting) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(_, wait)| resolve::wakes(wait, &exported, any, &namespace_exists));
        self.0 = waiting;
        woken
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Reloader {
    /// Retries the pending scripts outside the batch that wait for a name the batch exported
    /// (or for anything new), until none loads any more (W2). Scripts that failed for
    /// another reason wait for an edit.
    pub(super) fn retry_pending(
        &mut self,
        py: Python<'_>,
        batch: &BTreeSet<ScriptPath>,
        mut exported: BTreeSet<(String, String)>,
    ) -> Result<Vec<ReloadReport>, Error> {
        let mut reports: Vec<ReloadReport> = Vec::new();
        loop {
            let done: BTreeSet<&ScriptPath> = reports.iter().map(|r| &r.path).collect();
            let mut waiters = self.waiters(batch, &done)?;
            let woken = waiters.take_woken(
                |namespace, name| exported.contains(&(namespace.to_string(), name.to_string())),
                !exported.is_empty(),
                |namespace| self.namespaces.module(py, namespace).is_some(),
            );
            let mut members = Vec::new();
            for (file, wait) in woken {
                self.add_woken(py, &mut members, file, wait)?;
            }
            if members.is_empty() {
                return Ok(reports);
            }
            for m in 0..members.len() {
                members[m].upstream = self.upstream_of(py, &members, m)?;
            }
            let ran = self.run_members(py, members, false, Some(&mut waiters))?;
            // A script that stays pending is not reported; one that loaded is, with the
            // removal of the test file it had been loaded as (T5).
            let loaded: Vec<ReloadReport> =
                ran.into_iter().filter(|r| r.outcome != Outcome::Pending).collect();
            if !loaded.iter().any(|r| r.outcome == Outcome::Loaded) {
                return Ok(reports);
            }
            exported.extend(self.exported_by(&loaded));
            reports.extend(loaded);
        }
    }

    /// `(namespace, name)` of every name the applied scripts of `reports` export.
    pub(super) fn exported_by(&self, reports: &[ReloadReport]) -> BTreeSet<(String, String)> {
        let applied: BTreeSet<(&str, &str)> = reports
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Reloaded | Outcome::Loaded))
            .map(|r| (r.namespace.as_str(), r.path.as_str()))
            .collect();
        self.scripts
            .values()
            .filter(|s| applied.contains(&(s.namespace.as_str(), s.path.as_str())))
            .flat_map(|s| s.contributions.iter().map(|n| (s.namespace.clone(), n.clone())))
            .collect()
    }

    /// The pending scripts that wait for a relive name, but those of `batch` and those
    /// loaded already (`done`); a test file whose script exists again is no script (T5).
    fn waiters(&self, batch: &BTreeSet<ScriptPath>, done: &BTreeSet<&ScriptPath>) -> Result<Waiters, Error> {
        let mut waiters = Vec::new();
        for directory in self.directories.values() {
            for (file, wait) in &directory.pending {
                let Some(wait) = wait else { continue };
                if layout::script_for(file).is_some() {
                    continue;
                }
                let path = self.locate(file)?.found.path;
                if !batch.contains(&path) && !done.contains(&path) {
                    waiters.push((file.clone(), wait.clone()));
                }
            }
        }
        Ok(Waiters(waiters))
    }

    /// The waiters that the names `exported` by members of a running batch wake (or their
    /// namespace, made since), added to `members` (W2: the batch grows); their indices.
    pub(super) fn join_woken(
        &mut self,
        py: Python<'_>,
        members: &mut Vec<Member>,
        waiters: &mut Waiters,
        exported: &BTreeSet<(String, String)>,
    ) -> Result<Vec<usize>, Error> {
        let woken = waiters.take_woken(
            |namespace, name| exported.contains(&(namespace.to_string(), name.to_string())),
            !exported.is_empty(),
            |namespace| self.namespaces.module(py, namespace).is_some(),
        );
        let before = members.len();
        for (file, wait) in woken {
            self.add_woken(py, members, file, wait)?;
        }
        for m in before..members.len() {
            members[m].upstream = self.upstream_of(py, members, m)?;
        }
        Ok((before..members.len()).collect())
    }

    /// A woken pending script as a new member of `members`, unless it no longer reads or
    /// compiles (it waits for an edit then).
    fn add_woken(
        &self,
        py: Python<'_>,
        members: &mut Vec<Member>,
        file: PathBuf,
        wait: Wait,
    ) -> Result<(), Error> {
        let change = self.locate(&file)?;
        if members.iter().any(|m| m.change.found.file == change.found.file) {
            return Ok(());
        }
        let Ok((bytes, compiled)) = candidate::build(py, &file, self.config.size_limit) else {
            return Ok(());
        };
        let kind = self.kind_of(&change);
        let mut member = Member::new(change, bytes, Some(compiled), Role::Changed, kind);
        member.waited = Some(wait);
        members.push(member);
        Ok(())
    }
}
