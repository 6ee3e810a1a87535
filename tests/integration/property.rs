//! Random edit sequences (R3–R11): a seeded generator writes a script of classes (methods,
//! properties, class attributes) and functions, then edits it round after round. After every
//! round the live namespace must compute what a fresh load of the current file computes,
//! captured objects keep their identity (or forward to the new function) while their name
//! exists, rejected rounds change nothing, and one class object lives per class.
//!
//! 100 seeds × 10 rounds by default; `RELIVE_PROPTEST_SEEDS=N` runs more.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, eval, python_lock, run};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Debug)]
struct Class {
    methods: BTreeMap<String, i64>,
    properties: BTreeMap<String, i64>,
    attributes: BTreeMap<String, i64>,
}

#[derive(Clone, Debug)]
enum Definition {
    Class(String, Class),
    Function(String, i64),
}

#[derive(Clone, Debug, Default)]
struct Model {
    definitions: Vec<Definition>,
}

impl Model {
    fn generate(rng: &mut Rng) -> Model {
        let mut model = Model::default();
        for c in 0..1 + rng.below(3) {
            let mut class =
                Class { methods: BTreeMap::new(), properties: BTreeMap::new(), attributes: BTreeMap::new() };
            for m in 0..1 + rng.below(3) {
                class.methods.insert(format!("m{m}"), rng.below(100) as i64);
            }
            if rng.chance(50) {
                class.properties.insert("p0".into(), rng.below(100) as i64);
            }
            class.attributes.insert("A0".into(), rng.below(100) as i64);
            model.definitions.push(Definition::Class(format!("C{c}"), class));
        }
        for f in 0..1 + rng.below(3) {
            model.definitions.push(Definition::Function(format!("f{f}"), rng.below(100) as i64));
        }
        model
    }

    fn render(&self, raise_at: Option<usize>) -> String {
        let mut text = String::new();
        for (i, definition) in self.definitions.iter().enumerate() {
            if raise_at == Some(i) {
                text.push_str("raise ValueError('a broken edit')\n\n");
            }
            match definition {
                Definition::Class(name, class) => {
                    let _ = writeln!(text, "class {name}:");
                    for (attr, value) in &class.attributes {
                        let _ = writeln!(text, "    {attr} = {value}");
                    }
                    for (method, value) in &class.methods {
                        let _ = writeln!(
                            text,
                            "    def {method}(self):\n        return {value} + self.{}",
                            first_attr(class)
                        );
                    }
                    for (prop, value) in &class.properties {
                        let _ =
                            writeln!(text, "    @property\n    def {prop}(self):\n        return {value}");
                    }
                }
                Definition::Function(name, value) => {
                    let _ = writeln!(text, "def {name}():\n    return {value}");
                }
            }
            text.push('\n');
        }
        text
    }

    fn names(&self) -> Vec<String> {
        self.definitions
            .iter()
            .map(|d| match d {
                Definition::Class(n, _) | Definition::Function(n, _) => n.clone(),
            })
            .collect()
    }

    /// One random edit.
    fn edit(&mut self, rng: &mut Rng) {
        let i = rng.below(self.definitions.len());
        match rng.below(8) {
            0 => {
                let j = rng.below(self.definitions.len());
                self.definitions.swap(i, j);
            }
            1 if self.definitions.len() > 1 => {
                self.definitions.remove(i);
            }
            2 => {
                let name = format!("f{}", rng.below(5));
                if !self.names().contains(&name) {
                    self.definitions.push(Definition::Function(name, rng.below(100) as i64));
                }
            }
            3 => {
                let name = format!("C{}", rng.below(4));
                if !self.names().contains(&name) {
                    let mut class = Class {
                        methods: BTreeMap::new(),
                        properties: BTreeMap::new(),
                        attributes: BTreeMap::new(),
                    };
                    class.methods.insert("m0".into(), rng.below(100) as i64);
                    class.attributes.insert("A0".into(), 1);
                    self.definitions.push(Definition::Class(name, class));
                }
            }
            _ => match &mut self.definitions[i] {
                Definition::Function(_, value) => *value = rng.below(100) as i64,
                Definition::Class(_, class) => match rng.below(5) {
                    0 => {
                        class.methods.insert(format!("m{}", rng.below(4)), rng.below(100) as i64);
                    }
                    1 if class.methods.len() > 1 => {
                        let key = class.methods.keys().nth(rng.below(class.methods.len())).cloned().unwrap();
                        class.methods.remove(&key);
                    }
                    2 => {
                        if class.properties.is_empty() {
                            class.properties.insert("p0".into(), rng.below(100) as i64);
                        } else {
                            class.properties.clear();
                        }
                    }
                    3 => {
                        class.attributes.insert("A0".into(), rng.below(100) as i64);
                    }
                    _ => {
                        for value in class.methods.values_mut() {
                            *value = rng.below(100) as i64;
                        }
                    }
                },
            },
        }
    }
}

fn first_attr(class: &Class) -> &str {
    class.attributes.keys().next().map(String::as_str).unwrap_or("A0")
}

/// What the current definitions compute, as one string, evaluated by Python over the
/// namespace `game` or over a fresh load of the same source.
const FINGERPRINT: &str = r#"
def _fp(ns, names):
    out = []
    for n in names:
        v = ns[n] if isinstance(ns, dict) else getattr(ns, n)
        if isinstance(v, type):
            i = v()
            members = sorted(k for k in vars(v) if not k.startswith('__'))
            out.append((n, [(k, getattr(i, k)() if callable(getattr(i, k)) else getattr(i, k)) for k in members]))
        else:
            out.append((n, v()))
    return repr(out)

def _fpi(instance, cls):
    members = sorted(k for k in vars(cls) if not k.startswith('__'))
    return repr([(k, getattr(instance, k)() if callable(getattr(instance, k)) else getattr(instance, k)) for k in members])
"#;

#[test]
fn random_edit_sequences_keep_fresh_load_equivalence_and_identity() {
    let _py = python_lock();
    let seeds: u64 = std::env::var("RELIVE_PROPTEST_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    run(&format!("import builtins\nexec({FINGERPRINT:?}, builtins.__dict__)"));
    let mut rejected_rounds = 0;
    for seed in 0..seeds {
        let mut rng = Rng(seed * 7919 + 1);
        let mut model = Model::generate(&mut rng);
        let dir = ScriptDir::new();
        let file = dir.write("a.py", &model.render(None));
        let mut r = Reloader::builder().tests(false).build().unwrap();
        assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded, "seed {seed}");
        // Capture every class, an instance of it, and every function, at the start.
        run(
            "import builtins, sys\ng = sys.modules['game']\nbuiltins._cap = {n: (v, v() if isinstance(v, type) else None) for n, v in vars(g).items() if not n.startswith('__')}",
        );
        for round in 0..10 {
            let before = model.clone();
            let broken = rng.chance(15);
            model.edit(&mut rng);
            let raise_at = broken.then(|| rng.below(model.definitions.len()));
            let source = model.render(raise_at);
            std::fs::write(&file, &source).unwrap();
            let report = r.reload(&file).unwrap();
            let context = format!("seed {seed} round {round}:\n{source}\n{report}");
            if broken {
                assert_eq!(report.outcome, Outcome::Rejected, "{context}");
                rejected_rounds += 1;
                model = before;
            } else {
                assert!(matches!(report.outcome, Outcome::Reloaded | Outcome::Unchanged), "{context}");
            }
            let names = model.names();
            let fresh_source = model.render(None);
            let expected: String = eval(&format!(
                "(lambda d: (exec({fresh_source:?}, d), _fp(d, {names:?}))[1])({{'__name__': 'fresh'}})"
            ));
            let live: String = eval(&format!("_fp(sys.modules['game'], {names:?})"));
            assert_eq!(live, expected, "{context}");
            // Captured objects: identity while the name exists, and they run the new code.
            let identity: bool = eval(&format!(
                "all(getattr(sys.modules['game'], n) is v for n, (v, _) in __import__('builtins')._cap.items() \
                 if n in {names:?} and isinstance(v, type))"
            ));
            assert!(identity, "class identity lost: {context}");
            let behaviour: bool = eval(&format!(
                "all(v() == getattr(sys.modules['game'], n)() for n, (v, _) in __import__('builtins')._cap.items() \
                 if n in {names:?} and not isinstance(v, type) and callable(v) and not isinstance(getattr(sys.modules['game'], n), type))"
            ));
            assert!(behaviour, "a captured function does not run the new body: {context}");
            let instances: bool = eval(&format!(
                "all(_fpi(i, v) == _fpi(v(), v) \
                 for n, (v, i) in __import__('builtins')._cap.items() if i is not None and n in {names:?} and getattr(sys.modules['game'], n) is v)"
            ));
            assert!(instances, "an old instance does not see the new class: {context}");
        }
        let classes: i64 = eval(
            "(__import__('gc').collect(), max(__import__('collections').Counter(o.__qualname__ for o in __import__('gc').get_objects() \
             if isinstance(o, type) and o.__module__ == 'game').values() or [1]))[1]",
        );
        assert_eq!(classes, 1, "seed {seed}: more than one live class object per class");
        drop(r);
    }
    run("import builtins\ndel builtins._cap, builtins._fp, builtins._fpi");
    assert!(rejected_rounds > 0, "the generator inserts failing statements now and then");
}
