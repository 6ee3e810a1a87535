//! R8b under random edit sequences: `h.py` registers handlers into the registries of `bus.py`
//! (a route dict filled by `@route(path)`, an event table `defaultdict(list)` filled by
//! `@on(event)`, a module-level plugin registry filled by `__init_subclass__`; a registry
//! held as a class attribute is not generated: see the R8b limits in docs/semantics.md). Each round adds, removes,
//! renames (a registration moves to another key or event) or edits registrations; some
//! rounds end in a `raise` after registering (rejected), and some edit `bus.py` instead, so
//! `h.py` is rebuilt as its dependent (R15). After every round the registries must hold what
//! a fresh load of both current files holds (plus the route the program added at run time),
//! in the same order, and every registered function and class must be the live one of `h.py`
//! (identity kept, no candidate reachable).
//!
//! 30 seeds × 12 rounds by default; `RELIVE_R8B_SEEDS=N` runs more.

use std::collections::BTreeMap;

use relive::{Outcome, Reloader};

use crate::util::{Rng, ScriptDir, eval, python_lock};

/// A registration of `h.py`: its kind (0 route, 1 event handler, 2 plugin), its key index
/// and the value its body returns.
#[derive(Clone, Debug)]
struct Registration {
    kind: usize,
    key: usize,
    value: i64,
}

fn bus(version: i64) -> String {
    format!(
        "import collections\n\nROUTES = {{}}\nEVENTS = collections.defaultdict(list)\n\n\
         def route(path):\n    def register(fn):\n        ROUTES[path] = fn\n        return fn\n    return register\n\n\
         def on(event):\n    def register(fn):\n        EVENTS[event].append(fn)\n        return fn\n    return register\n\n\
         PLUGINS = {{}}\n\nclass Plugin:\n    def __init_subclass__(cls, **kw):\n        super().__init_subclass__(**kw)\n        PLUGINS[cls.key] = cls\n\n\
         def version():\n    return {version}\n"
    )
}

fn handlers(regs: &BTreeMap<usize, Registration>, raise: bool) -> String {
    let mut text = String::from("from game import route, on, Plugin\n");
    for (k, r) in regs {
        match r.kind {
            0 => text.push_str(&format!("\n@route('/p{}')\ndef h{k}():\n    return {}\n", r.key, r.value)),
            1 => text.push_str(&format!("\n@on('e{}')\ndef h{k}():\n    return {}\n", r.key, r.value)),
            _ => text.push_str(&format!(
                "\nclass P{k}(Plugin):\n    key = 'k{}'\n\n    def run(self):\n        return {}\n",
                r.key, r.value
            )),
        }
    }
    if raise {
        text.push_str("\nraise RuntimeError('broken round')\n");
    }
    text
}

/// What the registries hold, by name and behaviour, in order (routes and plugins by key).
const DESCRIBE: &str = "(lambda m: repr((sorted((k, f.__name__, f()) for k, f in m.ROUTES.items()), \
    [(e, [(f.__name__, f()) for f in fs]) for e, fs in sorted(m.EVENTS.items()) if fs], \
    sorted((k, c.__name__, c().run()) for k, c in m.PLUGINS.items()))))";

fn edit(regs: &mut BTreeMap<usize, Registration>, next: &mut usize, rng: &mut Rng) {
    let keys: Vec<usize> = regs.keys().copied().collect();
    match rng.below(4) {
        0 if regs.len() < 8 => {
            let r = Registration { kind: rng.below(3), key: rng.below(3), value: rng.below(100) as i64 };
            // One route or plugin per key: a fresh load would keep only the last one.
            if !regs.values().any(|o| o.kind == r.kind && o.key == r.key && r.kind != 1) {
                regs.insert(*next, r);
                *next += 1;
            }
        }
        1 if !keys.is_empty() => {
            regs.remove(&keys[rng.below(keys.len())]);
        }
        2 if !keys.is_empty() => {
            let k = keys[rng.below(keys.len())];
            let key = rng.below(3);
            let kind = regs[&k].kind;
            if kind == 1 || !regs.values().any(|o| o.kind == kind && o.key == key) {
                regs.get_mut(&k).expect("listed").key = key;
            }
        }
        _ if !keys.is_empty() => {
            regs.get_mut(&keys[rng.below(keys.len())]).expect("listed").value = rng.below(100) as i64;
        }
        _ => {}
    }
}

#[test]
fn r8b_random_cross_script_registrations_match_a_fresh_load() {
    let _py = python_lock();
    let seeds: u64 = std::env::var("RELIVE_R8B_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mut rejected = 0;
    let mut rebuilt = 0;
    for seed in 0..seeds {
        let mut rng = Rng(seed * 104729 + 7);
        let mut regs = BTreeMap::new();
        let mut next = 0;
        for _ in 0..3 {
            edit(&mut regs, &mut next, &mut rng);
        }
        let mut bus_version = 0;
        let dir = ScriptDir::new();
        let bus_file = dir.write("bus.py", &bus(bus_version));
        let file = dir.write("h.py", &handlers(&regs, false));
        let mut r = Reloader::builder().tests(false).build().unwrap();
        assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded, "seed {seed}");
        crate::util::run("import sys\nsys.modules['game'].ROUTES['/program'] = lambda: -1");
        for round in 0..12 {
            let reports = if rng.below(5) == 0 {
                bus_version += 1;
                std::fs::write(&bus_file, bus(bus_version)).unwrap();
                rebuilt += 1;
                r.reload_batch([&bus_file]).unwrap()
            } else {
                let before = regs.clone();
                edit(&mut regs, &mut next, &mut rng);
                let broken = rng.below(6) == 0;
                std::fs::write(&file, handlers(&regs, broken)).unwrap();
                let reports = r.reload_batch([&file]).unwrap();
                if broken {
                    assert!(
                        reports.iter().all(|x| x.outcome == Outcome::Rejected),
                        "seed {seed}: {reports:?}"
                    );
                    rejected += 1;
                    regs = before;
                }
                reports
            };
            let source = handlers(&regs, false);
            let context = format!("seed {seed} round {round}:\n{source}\n{reports:?}");
            let fresh_bus = bus(bus_version);
            let fresh: String = eval(&format!(
                "(lambda sys, types: (lambda m: (sys.modules.__setitem__('freshgame', m), exec({fresh_bus:?}, vars(m)), \
                 exec({:?}, {{'__name__': 'freshgame'}}), m.ROUTES.__setitem__('/program', lambda: -1), \
                 {DESCRIBE}(m), sys.modules.pop('freshgame'))[4])(types.ModuleType('freshgame')))(sys, __import__('types'))",
                source.replace("from game import", "from freshgame import")
            ));
            let live: String = eval(&format!("{DESCRIBE}(sys.modules['game'])"));
            assert_eq!(live, fresh, "{context}");
            let identity: bool = eval(
                "(lambda m: all(f is getattr(m, f.__name__) for f in m.ROUTES.values() if f.__name__ != '<lambda>') \
                 and all(f is getattr(m, f.__name__) for fs in m.EVENTS.values() for f in fs) \
                 and all(c is getattr(m, c.__name__) for c in m.PLUGINS.values()))(sys.modules['game'])",
            );
            if !identity {
                let detail: String = eval(
                    "(lambda m: repr(([(f, getattr(m, f.__name__, None)) for f in m.ROUTES.values()], \
                     [(f, getattr(m, f.__name__, None)) for fs in m.EVENTS.values() for f in fs], \
                     [(c, getattr(m, c.__name__, None)) for c in m.PLUGINS.values()])))(sys.modules['game'])",
                );
                panic!("a registry holds something that is not the live object: {detail}\n{context}");
            }
        }
        drop(r);
    }
    println!("R8b random edits: {seeds} seeds, {rejected} rejected rounds, {rebuilt} dependent rebuilds");
    assert!(rejected > 0 && rebuilt > 0, "the generator makes rejected rounds and rebuilds");
}
