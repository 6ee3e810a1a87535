//! Random edit sequences (R3–R11): a seeded generator writes a script of classes (methods,
//! properties, class attributes) and functions, then edits it round after round. After every
//! round the live namespace must compute what a fresh load of the current file computes,
//! captured objects keep their identity (or forward to the new function) while their name
//! exists, rejected rounds change nothing, and one class object lives per class.
//!
//! The generator also writes the shapes of real-world code: a decorator registry
//! (`@route(...)`), an `__init_subclass__` plugin registry, nested classes, enums with mixins
//! (`IntEnum`, `StrEnum`, `str`/`int` mixins), ABCs with concrete subclasses,
//! `runtime_checkable` protocols, dataclasses and names bound several times (reordered
//! statements), and at one random round the program adds entries to the kept registries.
//! After every round the fresh-load oracle (`oracle.rs`) compares the live namespace with a
//! fresh load of the same file, followed by the program's additions, in a child `python3`
//! (R3, R5, R8, R8a).
//!
//! 100 seeds × 10 rounds by default; `RELIVE_PROPTEST_SEEDS=N` runs more, and
//! `RELIVE_PROPTEST_FIRST_SEED=N` starts at seed N (to replay a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use relive::{Outcome, Reloader};

use crate::oracle;
use crate::util::{Rng, ScriptDir, eval, python_lock, run};

#[derive(Clone, Debug, Default)]
struct Class {
    methods: BTreeMap<String, i64>,
    properties: BTreeMap<String, i64>,
    attributes: BTreeMap<String, i64>,
    nested: Option<i64>,
}

#[derive(Clone, Debug)]
enum Definition {
    Class(String, Class),
    Function(String, i64),
    /// `@route("/p{k}")` or `@route("/q{k}")` over `def r{k}()`.
    Route(usize, bool, i64),
    /// `class Plug{k}(PluginBase)`, registered by `__init_subclass__`.
    Plugin(usize, i64),
    /// `class E{k}(<mixin>)` with members from a fixed pool and a method value.
    Enum(usize, usize, BTreeSet<usize>, i64),
    /// `class A{k}(abc.ABC)` with abstract methods, and `A{k}Impl` implementing some.
    Abc(usize, BTreeSet<usize>, BTreeSet<usize>),
    /// `@runtime_checkable class P{k}(Protocol)` with methods `m{i}`.
    Protocol(usize, BTreeSet<usize>),
    /// `@dataclass class D{k}` with int fields with defaults.
    Data(usize, BTreeMap<usize, i64>),
    /// `X{k} = value`: a name may be bound several times.
    Binding(usize, i64),
}

/// What the program does at run time to the registries of the prelude.
const PROGRAM: &str = "REG['/runtime'] = 0\nORDER.append('runtime')\nPLUGINS['Runtime'] = 1\n";

const MIXINS: [&str; 5] = ["enum.IntEnum", "enum.StrEnum", "str, enum.Enum", "int, enum.Enum", "enum.Enum"];

const PRELUDE: &str = "import abc, dataclasses, enum, typing\n\nREG = {}\nORDER = []\n\ndef route(path):\n    def register(fn):\n        REG[path] = fn\n        ORDER.append(path)\n        return fn\n    return register\n\nPLUGINS = {}\n\nclass PluginBase:\n    def __init_subclass__(cls, **kwargs):\n        super().__init_subclass__(**kwargs)\n        PLUGINS[cls.__name__] = cls\n\n";

fn member_value(mixin: usize, k: usize) -> String {
    match mixin {
        1 | 2 => format!("'v{k}'"),
        _ => format!("{}", k + 1),
    }
}

fn some(rng: &mut Rng, n: usize) -> BTreeSet<usize> {
    let mut set = BTreeSet::new();
    for i in 0..n {
        if rng.chance(50) {
            set.insert(i);
        }
    }
    if set.is_empty() {
        set.insert(rng.below(n));
    }
    set
}

#[derive(Clone, Debug, Default)]
struct Model {
    definitions: Vec<Definition>,
}

impl Model {
    fn generate(rng: &mut Rng) -> Model {
        let mut model = Model::default();
        for c in 0..1 + rng.below(3) {
            let mut class = Class::default();
            if rng.chance(30) {
                class.nested = Some(rng.below(100) as i64);
            }
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
        for _ in 0..2 + rng.below(4) {
            let definition = Model::new_shape(rng);
            if !model.definitions.iter().any(|d| d.name() == definition.name())
                || matches!(definition, Definition::Binding(..))
            {
                model.definitions.push(definition);
            }
        }
        model
    }

    /// One of the real-world shapes, with random contents.
    fn new_shape(rng: &mut Rng) -> Definition {
        let k = rng.below(3);
        let value = rng.below(100) as i64;
        match rng.below(7) {
            0 => Definition::Route(k, rng.chance(50), value),
            1 => Definition::Plugin(k, value),
            2 => {
                // One mixin per name: a changed mixin is rejected (R7), even for a name
                // removed and defined again.
                let k = rng.below(MIXINS.len());
                Definition::Enum(k, k, some(rng, 4), value)
            }
            3 => Definition::Abc(k, some(rng, 3), some(rng, 3)),
            4 => Definition::Protocol(k, some(rng, 4)),
            5 => Definition::Data(k, (0..1 + rng.below(3)).map(|f| (f, rng.below(100) as i64)).collect()),
            _ => Definition::Binding(k, value),
        }
    }

    /// Changes a real-world shape in place.
    fn edit_shape(definition: &mut Definition, rng: &mut Rng) {
        let value = rng.below(100) as i64;
        match definition {
            Definition::Route(_, renamed, v) => {
                if rng.chance(50) {
                    *renamed = !*renamed;
                } else {
                    *v = value;
                }
            }
            Definition::Plugin(_, v) | Definition::Binding(_, v) => *v = value,
            Definition::Enum(_, _, members, v) => {
                if rng.chance(50) {
                    *members = some(rng, 4);
                } else {
                    *v = value;
                }
            }
            Definition::Abc(_, abstract_methods, implemented) => {
                if rng.chance(50) {
                    *abstract_methods = some(rng, 3);
                } else {
                    *implemented = some(rng, 3);
                }
            }
            Definition::Protocol(_, methods) => *methods = some(rng, 4),
            Definition::Data(_, fields) => {
                let f = rng.below(4);
                if fields.len() > 1 && fields.contains_key(&f) && rng.chance(50) {
                    fields.remove(&f);
                } else {
                    fields.insert(f, value);
                }
            }
            Definition::Class(..) | Definition::Function(..) => {}
        }
    }

    fn render(&self, raise_at: Option<usize>) -> String {
        let mut text = String::from(PRELUDE);
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
                    if let Some(value) = class.nested {
                        let _ = writeln!(text, "    class Inner:\n        X = {value}");
                    }
                }
                Definition::Function(name, value) => {
                    let _ = writeln!(text, "def {name}():\n    return {value}");
                }
                other => render_shape(&mut text, other),
            }
            text.push('\n');
        }
        text
    }

    /// Names of the plain classes and functions (the original checks call them).
    fn names(&self) -> Vec<String> {
        self.definitions
            .iter()
            .filter_map(|d| match d {
                Definition::Class(n, _) | Definition::Function(n, _) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every name the current source binds at module level.
    fn all_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            ["REG", "ORDER", "route", "PLUGINS", "PluginBase"].map(String::from).to_vec();
        for definition in &self.definitions {
            names.push(definition.name());
            if let Definition::Abc(k, ..) = definition {
                names.push(format!("A{k}Impl"));
            }
        }
        names
    }

    fn has(&self, name: &str) -> bool {
        self.definitions.iter().any(|d| d.name() == name)
    }

    /// One random edit.
    fn edit(&mut self, rng: &mut Rng) {
        let i = rng.below(self.definitions.len());
        match rng.below(11) {
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
            8 | 9 => {
                let shape = Model::new_shape(rng);
                if !self.has(&shape.name()) || matches!(shape, Definition::Binding(..)) {
                    self.definitions.push(shape);
                }
            }
            3 => {
                let name = format!("C{}", rng.below(4));
                if !self.names().contains(&name) {
                    let mut class = Class::default();
                    class.methods.insert("m0".into(), rng.below(100) as i64);
                    class.attributes.insert("A0".into(), 1);
                    self.definitions.push(Definition::Class(name, class));
                }
            }
            _ => match &mut self.definitions[i] {
                Definition::Function(_, value) => *value = rng.below(100) as i64,
                Definition::Class(_, class) if rng.chance(15) => {
                    class.nested = if class.nested.is_some() && rng.chance(50) {
                        None
                    } else {
                        Some(rng.below(100) as i64)
                    };
                }
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
                other => Model::edit_shape(other, rng),
            },
        }
    }
}

impl Definition {
    /// The name the definition binds (for a shape with an `Impl`, its base's).
    fn name(&self) -> String {
        match self {
            Definition::Class(n, _) | Definition::Function(n, _) => n.clone(),
            Definition::Route(k, ..) => format!("r{k}"),
            Definition::Plugin(k, _) => format!("Plug{k}"),
            Definition::Enum(k, ..) => format!("E{k}"),
            Definition::Abc(k, ..) => format!("A{k}"),
            Definition::Protocol(k, _) => format!("P{k}"),
            Definition::Data(k, _) => format!("D{k}"),
            Definition::Binding(k, _) => format!("X{k}"),
        }
    }
}

fn render_shape(text: &mut String, definition: &Definition) {
    match definition {
        Definition::Route(k, renamed, value) => {
            let path = if *renamed { "q" } else { "p" };
            let _ = writeln!(text, "@route('/{path}{k}')\ndef r{k}():\n    return {value}");
        }
        Definition::Plugin(k, value) => {
            let _ = writeln!(text, "class Plug{k}(PluginBase):\n    V = {value}");
        }
        Definition::Enum(k, mixin, members, value) => {
            let _ = writeln!(text, "class E{k}({}):", MIXINS[*mixin]);
            for m in members {
                let _ = writeln!(text, "    M{m} = {}", member_value(*mixin, *m));
            }
            let _ = writeln!(text, "    def describe(self):\n        return {value}");
        }
        Definition::Abc(k, abstract_methods, implemented) => {
            let _ = writeln!(text, "class A{k}(abc.ABC):");
            for m in abstract_methods {
                let _ = writeln!(text, "    @abc.abstractmethod\n    def a{m}(self):\n        ...");
            }
            let _ = writeln!(text, "\nclass A{k}Impl(A{k}):\n    W = 1");
            for m in implemented {
                let _ = writeln!(text, "    def a{m}(self):\n        return {m}");
            }
        }
        Definition::Protocol(k, methods) => {
            let _ = writeln!(text, "@typing.runtime_checkable\nclass P{k}(typing.Protocol):");
            for m in methods {
                let _ = writeln!(text, "    def m{m}(self):\n        ...");
            }
        }
        Definition::Data(k, fields) => {
            let _ = writeln!(text, "@dataclasses.dataclass\nclass D{k}:");
            for (f, value) in fields {
                let _ = writeln!(text, "    x{f}: int = {value}");
            }
        }
        Definition::Binding(k, value) => {
            let _ = writeln!(text, "X{k} = {value}");
        }
        Definition::Class(..) | Definition::Function(..) => unreachable!("rendered by Model::render"),
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
            members = sorted(k for k in vars(v) if not k.startswith('__') and not isinstance(vars(v)[k], type))
            out.append((n, [(k, getattr(i, k)() if callable(getattr(i, k)) else getattr(i, k)) for k in members]))
        else:
            out.append((n, v()))
    return repr(out)

def _fpi(instance, cls):
    members = sorted(k for k in vars(cls) if not k.startswith('__') and not isinstance(vars(cls)[k], type))
    return repr([(k, getattr(instance, k)() if callable(getattr(instance, k)) else getattr(instance, k)) for k in members])
"#;

#[test]
fn random_edit_sequences_keep_fresh_load_equivalence_and_identity() {
    let _py = python_lock();
    let seeds: u64 = std::env::var("RELIVE_PROPTEST_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    run(&format!("import builtins\nexec({FINGERPRINT:?}, builtins.__dict__)"));
    oracle::install();
    run("import builtins, weakref\nbuiltins._stale = weakref.WeakSet()");
    let mut rejected_rounds = 0;
    let mut oracle_rounds = 0;
    // `RELIVE_PROPTEST_FIRST_SEED=N` starts there (to replay a failing seed).
    let first: u64 =
        std::env::var("RELIVE_PROPTEST_FIRST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    for seed in first..first + seeds {
        let mut rng = Rng(seed * 7919 + 1);
        let mut model = Model::generate(&mut rng);
        let dir = ScriptDir::new();
        let file = dir.write("a.py", &model.render(None));
        let mut r = Reloader::builder().tests(false).build().unwrap();
        assert_eq!(r.add_directory("game", dir.path()).unwrap().outcome, Outcome::Loaded, "seed {seed}");
        // Capture every class, an instance of it, and every function, at the start.
        run(
            "import builtins, sys\ng = sys.modules['game']\nbuiltins._cap = {n: (v, v() if isinstance(v, type) else None) for n, v in vars(g).items() if n[0] in 'Cf' and n[1:].isdigit()}",
        );
        let mut rounds = Vec::new();
        // Run-time actions of the program on the registries R8 keeps: R8a must keep them,
        // so the oracle replays them after each fresh load.
        let mut program = String::new();
        let act_at = rng.below(12);
        for round in 0..10 {
            if round == act_at {
                program = PROGRAM.to_string();
                run(&format!("import sys\nexec({PROGRAM:?}, dict(vars(sys.modules['game'])))"));
            }
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
            rounds.push((fresh_source, program.clone(), oracle::live_description(&model.all_names())));
        }
        oracle_rounds += rounds.len();
        let differences = oracle::differences(&rounds);
        assert!(
            differences.is_empty(),
            "seed {seed}: live differs from a fresh load:\n{differences}\nsources:\n{}",
            rounds
                .iter()
                .enumerate()
                .map(|(i, (s, p, _))| format!("--- round {i}\n{s}{p}"))
                .collect::<String>()
        );
        let classes: i64 = eval(
            "(__import__('gc').collect(), max(__import__('collections').Counter(o.__qualname__ for o in __import__('gc').get_objects() \
             if isinstance(o, type) and o.__module__ == 'game' and o not in _stale).values() or [1]))[1]",
        );
        if classes != 1 {
            let counts: String = eval(
                "repr(sorted((n, c) for n, c in __import__('collections').Counter(o.__qualname__ for o in __import__('gc').get_objects() \
                 if isinstance(o, type) and o.__module__ == 'game' and o not in _stale).items() if c > 1))",
            );
            panic!("seed {seed}: more than one live class object per class: {counts}");
        }
        drop(r);
        // Classes of a dropped reloader that something outside relive still holds (on 3.12,
        // a dataclass's generated methods keep the namespace dict of its seed) are not
        // counted against the next seed.
        run(
            "import builtins, gc\ngc.collect()\nbuiltins._stale.update(o for o in gc.get_objects() if isinstance(o, type) and o.__module__ == 'game')",
        );
    }
    run("import builtins\ndel builtins._cap, builtins._fp, builtins._fpi, builtins._stale");
    println!(
        "fresh-load oracle: {seeds} seeds, {oracle_rounds} rounds compared, {rejected_rounds} rejected rounds"
    );
    assert!(rejected_rounds > 0, "the generator inserts failing statements now and then");
}
