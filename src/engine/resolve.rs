//! Load order and dependency resolution (L6), as plain data: no Python here.
//!
//! Scripts run in sorted path order, except that a script whose top-level
//! `from NAMESPACE import NAME` names a name another script binds at top level runs after
//! that script (read from the syntax trees, so an acyclic set runs each script about once).
//! A script that still fails on a missing relive name is *parked* and runs again only when
//! that name (or, when the error cannot tell, anything) is exported. Whatever stays parked
//! at the end is unresolvable; parked scripts waiting on each other form cycles.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::Wait;

/// The static order: sorted index order, each script preceded by the scripts it imports
/// from (depth first, ties broken by index, cycles cut where they close).
pub(crate) fn static_order(deps: &[Vec<usize>]) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    let mut marks = vec![Mark::New; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    for root in 0..deps.len() {
        // Explicit stack: deep import chains must not overflow the Rust stack.
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next == 0 {
                if marks[node] != Mark::New {
                    stack.pop();
                    continue;
                }
                marks[node] = Mark::Visiting;
            }
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                if marks[dep] == Mark::New {
                    stack.push((dep, 0));
                }
            } else {
                marks[node] = Mark::Done;
                order.push(node);
                stack.pop();
            }
        }
    }
    order
}

/// Drives a load: which script runs next, who is parked, who wakes.
#[derive(Debug)]
pub(crate) struct Resolver {
    rank: Vec<usize>,
    ready: BTreeSet<(usize, usize)>,
    parked: BTreeMap<usize, Wait>,
}

impl Resolver {
    /// A resolver for scripts `0..order.len()`, run in `order` (see [`static_order`]).
    pub(crate) fn new(order: &[usize]) -> Resolver {
        let mut rank = vec![0; order.len()];
        for (position, &script) in order.iter().enumerate() {
            rank[script] = position;
        }
        let ready = order.iter().map(|&s| (rank[s], s)).collect();
        Resolver { rank, ready, parked: BTreeMap::new() }
    }

    /// The next script to execute, if any can progress.
    pub(crate) fn next(&mut self) -> Option<usize> {
        self.ready.pop_first().map(|(_, script)| script)
    }

    /// The next script to execute, if it satisfies `fresh`; it stays ready otherwise.
    pub(crate) fn next_if(&mut self, fresh: impl Fn(usize) -> bool) -> Option<usize> {
        let &(_, script) = self.ready.first()?;
        fresh(script).then(|| self.next()).flatten()
    }

    /// Adds `script` (the next index: `0..order.len()` and those joined before it) while
    /// the batch runs: it is ranked after every script so far and ready at once (a pending
    /// script woken by what the batch exports joins it, W2).
    pub(crate) fn join(&mut self, script: usize) {
        assert_eq!(script, self.rank.len(), "scripts join in index order");
        self.rank.push(script);
        self.ready.insert((script, script));
    }

    /// Puts back a script taken with [`Self::next`] that did not run.
    pub(crate) fn requeue(&mut self, script: usize) {
        self.ready.insert((self.rank[script], script));
    }

    /// Whether no script is parked: then no export wakes anyone, and the ready scripts run
    /// in rank order whatever they export.
    pub(crate) fn is_calm(&self) -> bool {
        self.parked.is_empty()
    }

    /// `script` ran and exported `names` (namespace, name): wake whoever waited for them.
    pub(crate) fn exported(&mut self, names: &[(String, String)]) {
        if names.is_empty() {
            return;
        }
        let exported = |namespace: &str, name: &str| names.iter().any(|(ns, n)| ns == namespace && n == name);
        // A load creates every namespace before any script runs: one missing stays missing.
        let woken: Vec<usize> = self
            .parked
            .iter()
            .filter(|(_, wait)| wakes(wait, exported, true, |_| false))
            .map(|(&script, _)| script)
            .collect();
        for script in woken {
            self.parked.remove(&script);
            self.ready.insert((self.rank[script], script));
        }
    }

    /// `script` failed on a missing relive name: park it until `wait` may be satisfied.
    pub(crate) fn park(&mut self, script: usize, wait: Wait) {
        self.parked.insert(script, wait);
    }

    /// Scripts still parked, with what each waits for, by index.
    pub(crate) fn into_parked(self) -> BTreeMap<usize, Wait> {
        self.parked
    }
}

/// Whether a script waiting for `wait` may run again (L6 within a load, W2 after a batch):
/// a name waiter once `exported(namespace, name)` says its name was exported, an
/// "anything" waiter once anything was (`any`), a namespace waiter once its namespace
/// exists.
pub(crate) fn wakes(
    wait: &Wait,
    exported: impl Fn(&str, &str) -> bool,
    any: bool,
    namespace_exists: impl Fn(&str) -> bool,
) -> bool {
    match wait {
        Wait::Name { namespace, name } => exported(namespace, name),
        Wait::Anything { .. } => any,
        Wait::Namespace { namespace } => namespace_exists(namespace),
    }
}

/// Cycles among parked scripts: `binder(script, wait)` names the parked script whose top
/// level binds what `script` waits for. Each cycle starts at its smallest index.
pub(crate) fn cycles(
    parked: &BTreeMap<usize, Wait>,
    binder: impl Fn(usize, &Wait) -> Option<usize>,
) -> Vec<Vec<usize>> {
    let edge: BTreeMap<usize, usize> = parked
        .iter()
        .filter_map(|(&s, wait)| binder(s, wait).filter(|b| parked.contains_key(b)).map(|b| (s, b)))
        .collect();
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut seen = BTreeSet::new();
    for &start in parked.keys() {
        let mut path = Vec::new();
        let mut node = Some(start);
        while let Some(current) = node {
            if !seen.insert(current) {
                if let Some(pos) = path.iter().position(|&p| p == current) {
                    let mut cycle: Vec<usize> = path[pos..].to_vec();
                    let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                    cycle.rotate_left(smallest);
                    found.push(cycle);
                }
                break;
            }
            path.push(current);
            node = edge.get(&current).copied();
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Wait {
        Wait::Name { namespace: "game".into(), name: n.into() }
    }

    #[test]
    fn static_order_is_sorted_without_dependencies() {
        assert_eq!(static_order(&[vec![], vec![], vec![]]), vec![0, 1, 2]);
    }

    #[test]
    fn static_order_runs_imported_scripts_first() {
        // 0 imports from 2, 2 imports from 1.
        assert_eq!(static_order(&[vec![2], vec![], vec![1]]), vec![1, 2, 0]);
    }

    #[test]
    fn static_order_survives_cycles_and_keeps_every_script_once() {
        let order = static_order(&[vec![1], vec![2], vec![0], vec![]]);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3]);
    }

    #[test]
    fn parked_script_wakes_only_for_its_name() {
        let mut r = Resolver::new(&[0, 1, 2]);
        assert_eq!(r.next(), Some(0));
        r.park(0, name("B"));
        assert_eq!(r.next(), Some(1));
        r.exported(&[("game".into(), "A".into())]);
        assert_eq!(r.next(), Some(2));
        r.exported(&[("game".into(), "B".into())]);
        assert_eq!(r.next(), Some(0));
        assert_eq!(r.next(), None);
        assert!(r.into_parked().is_empty());
    }

    #[test]
    fn l6_requeued_scripts_keep_their_rank_and_next_if_leaves_a_refused_one_ready() {
        let mut r = Resolver::new(&[2, 0, 1]);
        assert!(r.is_calm());
        assert_eq!(r.next(), Some(2));
        assert_eq!(r.next_if(|s| s != 0), None, "0 is next and refused");
        assert_eq!(r.next_if(|_| true), Some(0));
        assert_eq!(r.next(), Some(1));
        r.requeue(0);
        r.requeue(2);
        assert_eq!((r.next(), r.next(), r.next()), (Some(2), Some(0), None));
        r.park(1, name("X"));
        assert!(!r.is_calm());
    }

    #[test]
    fn l6_w2_wakes_a_name_waiter_for_its_name_an_anything_waiter_for_anything_a_namespace_waiter_once_it_exists()
     {
        let exported = |namespace: &str, name: &str| namespace == "game" && name == "B";
        assert!(wakes(&name("B"), exported, true, |_| false));
        assert!(!wakes(&name("C"), exported, true, |_| true));
        let anything = Wait::Anything { namespace: "game".into() };
        assert!(wakes(&anything, exported, true, |_| false));
        assert!(!wakes(&anything, |_, _| false, false, |_| true));
        let namespace = Wait::Namespace { namespace: "game.x".into() };
        assert!(!wakes(&namespace, exported, true, |_| false));
        assert!(wakes(&namespace, |_, _| false, false, |n| n == "game.x"));
    }

    #[test]
    fn w2_a_joined_script_runs_after_every_script_ranked_so_far() {
        let mut r = Resolver::new(&[1, 0]);
        assert_eq!(r.next(), Some(1));
        r.join(2);
        assert_eq!(r.next(), Some(0));
        r.park(0, name("B"));
        r.join(3);
        assert_eq!((r.next(), r.next(), r.next()), (Some(2), Some(3), None));
        r.exported(&[("game".into(), "B".into())]);
        assert_eq!(r.next(), Some(0), "a woken script keeps its rank");
    }

    #[test]
    fn anything_waiter_wakes_on_any_export_and_namespace_waiter_never() {
        let mut r = Resolver::new(&[0, 1, 2]);
        r.next();
        r.park(0, Wait::Anything { namespace: "game".into() });
        r.next();
        r.park(1, Wait::Namespace { namespace: "game.x".into() });
        assert_eq!(r.next(), Some(2));
        r.exported(&[("game".into(), "Z".into())]);
        assert_eq!(r.next(), Some(0));
        assert_eq!(r.next(), None);
        assert_eq!(r.into_parked().into_keys().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn three_script_cycle_starts_at_smallest() {
        // a(0) waits for c(2), c waits for b(1), b waits for a.
        let parked: BTreeMap<usize, Wait> =
            [(0, name("C")), (1, name("A")), (2, name("B"))].into_iter().collect();
        let binder = |_: usize, w: &Wait| match w {
            Wait::Name { name, .. } if name == "A" => Some(0),
            Wait::Name { name, .. } if name == "B" => Some(1),
            Wait::Name { name, .. } if name == "C" => Some(2),
            _ => None,
        };
        assert_eq!(cycles(&parked, binder), vec![vec![0, 2, 1]]);
    }

    #[test]
    fn a_chain_into_a_missing_name_is_no_cycle() {
        let parked: BTreeMap<usize, Wait> = [(0, name("B")), (1, name("Nope"))].into_iter().collect();
        let binder = |_: usize, w: &Wait| match w {
            Wait::Name { name, .. } if name == "B" => Some(1),
            _ => None,
        };
        assert!(cycles(&parked, binder).is_empty());
    }

    #[test]
    fn a_script_waiting_on_a_cycle_is_not_in_it() {
        // 0 -> 1 -> 2 -> 1
        let parked: BTreeMap<usize, Wait> =
            [(0, name("B")), (1, name("C")), (2, name("B"))].into_iter().collect();
        let binder = |_: usize, w: &Wait| match w {
            Wait::Name { name, .. } if name == "B" => Some(1),
            Wait::Name { name, .. } if name == "C" => Some(2),
            _ => None,
        };
        assert_eq!(cycles(&parked, binder), vec![vec![1, 2]]);
    }
}
