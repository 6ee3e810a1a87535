//! The fresh-load oracle: what the live namespace `game` looks like, compared with a fresh
//! load of the same source in a child `python3` process (the guiding principle: after any
//! applied reload, everything a script exports behaves as after a fresh start).
//!
//! Compared per exported name of the fresh load: kind; for classes their members (kinds and
//! values), bases, nested classes, enum members and values (and that value lookup gives the
//! member itself), dataclass fields, `__abstractmethods__`, whether an instance can be made,
//! what its zero-argument methods return and which `runtime_checkable` protocols it
//! satisfies; module-level containers and instances by structure and names; what
//! zero-argument functions return. Identity is the one thing not compared.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::util::eval;

/// Python shared by both sides: `_describe(ns)` maps each public name to a string.
pub const DESCRIBE: &str = r#"
import abc as _abc, dataclasses as _dc, enum as _enum, types as _types, typing as _typing

def _o_atom(v):
    return isinstance(v, (int, float, str, bytes, bool, type(None))) and not isinstance(v, _enum.Enum)

def _o_value(v, depth=1):
    if depth > 5:
        return '...'
    if _o_atom(v):
        return (type(v).__name__, v)
    if isinstance(v, _enum.Enum):
        return ('member', type(v).__qualname__, v.name, _o_value(v.value, depth + 1))
    if isinstance(v, type):
        return ('class', v.__qualname__)
    if isinstance(v, (_types.FunctionType, _types.MethodType)):
        return ('function', v.__qualname__)
    if isinstance(v, dict):
        return ('dict', type(v).__name__, [(_o_value(k, depth + 1), _o_value(x, depth + 1)) for k, x in v.items()])
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_o_value(x, depth + 1) for x in v])
    if isinstance(v, (set, frozenset)):
        return (type(v).__name__, sorted(repr(_o_value(x, depth + 1)) for x in v))
    state = getattr(v, '__dict__', None)
    if isinstance(state, dict) and type(v).__module__ == 'game':
        return ('instance', type(v).__qualname__, sorted((k, _o_value(x, depth + 1)) for k, x in state.items()))
    return ('other', type(v).__qualname__)

def _o_call(f):
    try:
        return ('returns', _o_value(f()))
    except Exception as e:
        return ('raises', type(e).__name__)

def _o_protocols(ns, only):
    return sorted(
        (n, v) for n, v in _o_items(ns, only)
        if isinstance(v, type) and getattr(v, '_is_runtime_protocol', False) and v.__module__ == 'game'
    )

def _o_class(cls, protocols):
    members = []
    for k in sorted(vars(cls)):
        if k.startswith('__') or k.startswith('_abc') or k in ('_is_protocol', '_is_runtime_protocol'):
            continue
        m = vars(cls)[k]
        if isinstance(m, type) and m.__qualname__.startswith(cls.__qualname__ + '.'):
            members.append((k, _o_class(m, protocols)))
        elif isinstance(m, _types.FunctionType):
            members.append((k, 'function', bool(getattr(m, '__isabstractmethod__', False))))
        elif isinstance(m, property):
            members.append((k, 'property'))
        elif isinstance(m, (staticmethod, classmethod)):
            members.append((k, type(m).__name__))
        elif k.startswith('_') or isinstance(m, (_enum.Enum, _dc.Field)):
            continue
        else:
            members.append((k, _o_value(m)))
    out = [('bases', [b.__qualname__ for b in cls.__bases__]), ('members', members)]
    if isinstance(cls, _enum.EnumMeta):
        out.append(('enum', [(n, _o_value(m.value), type(m) is cls, cls(m.value) is m, isinstance(m, cls)) for n, m in cls.__members__.items()]))
        out.append(('enum methods', [(n, _o_call(getattr(m, 'describe'))) for n, m in cls.__members__.items() if hasattr(m, 'describe')]))
        return out
    if _dc.is_dataclass(cls):
        out.append(('fields', [(f.name, _o_value(f.default)) for f in _dc.fields(cls)]))
    out.append(('abstract', sorted(getattr(cls, '__abstractmethods__', ()))))
    if getattr(cls, '_is_protocol', False):
        return out
    try:
        inst = cls()
    except Exception as e:
        out.append(('new', 'raises', type(e).__name__))
        return out
    calls = []
    for k in sorted(dir(cls)):
        if k.startswith('_'):
            continue
        m = getattr(inst, k)
        if isinstance(m, _types.MethodType):
            calls.append((k, _o_call(m)))
        elif not callable(m):
            calls.append((k, _o_value(m)))
    out.append(('instance', calls, sorted(vars(inst).items()) if hasattr(inst, '__dict__') else None))
    out.append(('protocols', [(n, isinstance(inst, p)) for n, p in protocols]))
    return out

def _o_items(ns, only=None):
    items = ns.items() if isinstance(ns, dict) else vars(ns).items()
    return [
        (n, v) for n, v in items
        if not n.startswith('_') and not isinstance(v, _types.ModuleType) and (only is None or n in only)
    ]

def _describe(ns, only=None):
    """`only`: the names a fresh load defines (leaked names of the live namespace are not
    part of what a fresh load has, R10)."""
    protocols = _o_protocols(ns, only)
    out = {}
    for n, v in _o_items(ns, only):
        if isinstance(v, type):
            if v.__module__ != 'game':
                continue
            out[n] = repr(('class', n, _o_class(v, protocols)))
        elif isinstance(v, _types.FunctionType):
            if v.__module__ != 'game':
                continue
            out[n] = repr(('function', n, _o_call(v) if v.__code__.co_argcount == 0 else None))
        else:
            out[n] = repr(_o_value(v))
    return out
"#;

/// The child: reads `[[source, program, live], ...]` as JSON, loads each source fresh, runs
/// the program's own run-time actions so far (`program`) on it, and prints one line per
/// name whose description differs (`round name: live != fresh`).
const CHILD: &str = r#"
import builtins, json, sys
rounds = json.load(sys.stdin)
problems = []
for i, (source, program, live) in enumerate(rounds):
    g = {'__name__': 'game', '__builtins__': builtins}
    exec(compile(source, 'a.py', 'exec'), g)
    exec(program, g)
    fresh = _describe(g)
    for name, text in fresh.items():
        if live.get(name) != text:
            problems.append(f"round {i} {name}:\n  live:  {live.get(name)}\n  fresh: {text}")
print("\n".join(problems))
"#;

/// The live description of the names `names` of the namespace `game`, as JSON (taken
/// after each round).
pub fn live_description(names: &[String]) -> String {
    eval(&format!(
        "__import__('json').dumps(__import__('builtins')._describe(sys.modules['game'], {names:?}))"
    ))
}

/// Installs `_describe` where `live_description` finds it.
pub fn install() {
    crate::util::run(&format!("import builtins\nexec({DESCRIBE:?}, builtins.__dict__)"));
}

/// The Python the child runs: the one relive is built against.
fn python() -> &'static str {
    relive::python::BUILD_PYTHON_EXECUTABLE.expect("build.rs bakes the interpreter path")
}

/// One round: the source, the program's run-time actions so far, the live description.
pub type Round = (String, String, String);

/// Compares each round's live description with a fresh load of its source followed by the
/// program's actions, in one child process; returns the differences (empty when none).
pub fn differences(rounds: &[Round]) -> String {
    let mut input = String::from("[");
    for (i, (source, program, live)) in rounds.iter().enumerate() {
        if i > 0 {
            input.push(',');
        }
        let (source, program) =
            (serde_json::to_string(source).unwrap(), serde_json::to_string(program).unwrap());
        input.push_str(&format!("[{source},{program},{live}]"));
    }
    input.push(']');
    let mut child = Command::new(python())
        .args(["-c", &format!("{DESCRIBE}\n{CHILD}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the fresh-load child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
