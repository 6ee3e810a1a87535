"""The scenario session: the helpers `run` code and `check` expressions see (scenarios.md).

Loaded once by src/scenario/session_api.rs (its typed wrapper, used by runner.rs). The runner
publishes what the reloader knows before each step through `publish`; the helpers read it.
Paths are relative to the temp folder.
"""

import ast
import gc
import sys
import types
import weakref

_state = {
    "namespaces": [],
    "globals": {},
    "versions": {},
    "tests": {},
    "leaks": [],
    "events": [],
}


def publish(namespaces, script_globals, versions, tests, leaks, events):
    _state.update(
        namespaces=list(namespaces),
        globals=dict(script_globals),
        versions=dict(versions),
        tests=dict(tests),
        leaks=list(leaks),
        events=list(events),
    )


def _collect():
    while gc.collect():
        pass


def live_classes(qualname):
    """Live class objects with this qualified name in the scenario's namespaces."""
    _collect()
    namespaces = set(_state["namespaces"])
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, type) and o.__qualname__ == qualname and getattr(o, "__module__", None) in namespaces
    )


def live_globals(path):
    """Live globals dicts of versions of `path`, known by relive's marker in each."""
    _collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "GlobalsMarker" and o.path == path)


def script_globals(path):
    return _state["globals"].get(path)


def _unwrap(obj):
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    seen = set()
    while not hasattr(obj, "__globals__") and id(obj) not in seen:
        seen.add(id(obj))
        inner = getattr(obj, "__func__", None) or getattr(obj, "__wrapped__", None)
        if inner is None:
            break
        obj = inner
    return obj


def rebound(obj, path):
    """Whether `obj` (unwrapped as needed) runs in the script's globals in effect."""
    g = script_globals(path)
    return g is not None and getattr(_unwrap(obj), "__globals__", None) is g


def tests_found(path):
    return _state["tests"].get(path, (0, 0))[0]


def tests_failed(path):
    return _state["tests"].get(path, (0, 0))[1]


def version(path):
    return _state["versions"].get(path)


def leaked(name, namespace=None):
    return any(n == name and (namespace is None or ns == namespace) for ns, n in _state["leaks"])


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return True
    return False


def events():
    return list(_state["events"])


def new_session():
    """A fresh session dict with the helpers and modules bound."""
    return {
        "__builtins__": __builtins__,
        "gc": gc,
        "sys": sys,
        "weakref": weakref,
        "live_classes": live_classes,
        "live_globals": live_globals,
        "script_globals": script_globals,
        "rebound": rebound,
        "tests_found": tests_found,
        "tests_failed": tests_failed,
        "version": version,
        "leaked": leaked,
        "raises": raises,
        "events": events,
    }


def bind_namespaces(session, owned, previous):
    """Bind each top-level namespace the reloader owns; drop those it no longer owns."""
    for name in previous:
        if name not in owned:
            session.pop(name, None)
    for name in owned:
        module = sys.modules.get(name)
        if module is not None:
            session[name] = module


class ScenarioTimeout(BaseException):
    """Raised in a step's `run` or `check` that outlives the scenario's timeout."""


def check(expression, code, session):
    """Evaluate a check once, recording the values of its parts (calls, attributes,
    comparisons' operands, names), as pytest's assertion rewriting does; returns (ok,
    detail): detail gives those values when it fails."""
    recorded = {}
    rewritten, parts = _rewrite(expression, code.co_filename)
    session[_RECORD] = lambda index, value: _keep(recorded, index, value)
    try:
        ok = bool(eval(rewritten if rewritten is not None else code, session))
    except Exception as exc:  # noqa: BLE001 - a raising check is a failing check
        values = _describe(parts, recorded)
        return False, f"raised {type(exc).__name__}: {exc}" + (f"  [{values}]" if values else "")
    finally:
        session.pop(_RECORD, None)
    if ok:
        return True, ""
    return False, _describe(parts, recorded)


_RECORD = "__relive_check_value__"
_REPR_LIMIT = 200
# Subtrees with their own scope or lazy parts: recorded whole, never inside.
_OPAQUE = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Values that only lead to the value of interest: not shown.
_PLUMBING = (
    types.ModuleType,
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.GeneratorType,
    type,
)
_RECORDED = (ast.Call, ast.Attribute, ast.Name, ast.Subscript, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)


def _keep(recorded, index, value):
    recorded[index] = value
    return value


class _Recorder(ast.NodeTransformer):
    """Wraps each interesting sub-expression `e` as `__relive_check_value__(i, e)`; `parts`
    keeps the source text of part i."""

    def __init__(self):
        self.parts = []

    def visit(self, node):
        text = ast.unparse(node) if isinstance(node, ast.expr) else ""
        if isinstance(node, _OPAQUE):
            return self._wrap(node, text)
        node = self.generic_visit(node)
        if isinstance(node, _RECORDED) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            return self._wrap(node, text)
        return node

    def _wrap(self, node, text):
        self.parts.append(text)
        index = ast.Constant(len(self.parts) - 1)
        call = ast.Call(ast.Name(_RECORD, ast.Load()), [index, node], [])
        return ast.copy_location(call, node)


def _rewrite(expression, filename):
    """(code, parts): the check compiled with its parts recorded, and each part's source
    text; the whole expression's own part is None (its value is the failed `False`)."""
    try:
        tree = ast.parse(expression, mode="eval")
        recorder = _Recorder()
        tree.body = recorder.visit(tree.body)
        ast.fix_missing_locations(tree)
        code = compile(tree, filename, "eval")
    except (SyntaxError, ValueError, TypeError):
        return None, []
    parts = recorder.parts
    if parts and isinstance(tree.body, ast.Call) and getattr(tree.body.func, "id", None) == _RECORD:
        parts[-1] = None
    return code, parts


def _describe(parts, recorded):
    """`part = value` for each recorded part worth showing, outermost first, each once;
    modules, functions, methods and classes used only to reach a value are left out."""
    shown, seen = [], set()
    for index in sorted(recorded, reverse=True):
        text = parts[index] if index < len(parts) else None
        value = recorded[index]
        if text is None or text in seen or _is_plumbing(value):
            continue
        seen.add(text)
        shown.append(f"{text} = {_short_repr(value)}")
    return "; ".join(shown)


def _is_plumbing(value):
    return isinstance(value, _PLUMBING)


def _short_repr(value):
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        return "<unprintable>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def compile_check(expression, filename):
    return compile(expression, filename, "eval")


def compile_run(code, filename):
    return compile(code, filename, "exec")
