"""The scenario session: the helpers `run` code and `check` expressions see (scenarios.md).

Loaded once by src/scenario/runner.rs. The runner publishes what the reloader knows before
each step through `publish`; the helpers read it. Paths are relative to the temp folder.
"""

import ast
import gc
import sys
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
    """Evaluate a check; returns (ok, detail): detail names the values when it fails."""
    try:
        ok = bool(eval(code, session))
    except Exception as exc:  # noqa: BLE001 - a raising check is a failing check
        return False, f"raised {type(exc).__name__}: {exc}"
    if ok:
        return True, ""
    return False, explain(expression, session)


def explain(expression, session):
    names = []
    for node in ast.walk(ast.parse(expression, mode="eval")):
        if isinstance(node, ast.Name) and node.id in session and node.id not in names:
            value = session[node.id]
            if not callable(value) or isinstance(value, type):
                names.append(node.id)
    parts = []
    for name in names:
        try:
            parts.append(f"{name} = {session[name]!r}")
        except Exception:  # noqa: BLE001
            parts.append(f"{name} = <unprintable>")
    return "; ".join(parts)


def compile_check(expression, filename):
    return compile(expression, filename, "eval")


def compile_run(code, filename):
    return compile(code, filename, "exec")
