"""The `verify` option: after an applied reload, compare the live namespaces of a script
directory with a fresh load of the same files in a child Python process, and name each
name that differs (the guiding principle: fresh-load equivalence).

This file is both the helper relive loads (`task`, `read_differences`) and the child program
(`child_main`, run by src/engine/verify.rs as `python -c <this source> + child_main()`).

The child's fresh load is a plain-Python rendition of L1-L6: scripts (test files left out)
run in sorted path order into namespace modules it creates, a script failing with
`ImportError`/`AttributeError` is retried after the others, and each script exports what
L4 exports. Descriptions compare, per exported name: its kind; for classes their members,
bases, nested classes, enum members and values, dataclass fields, abstract methods;
module containers and instances by structure and names; functions by name and arity.
Identity is the one thing not compared, and nothing of the live program is called (so what
a function computes is not compared either).
"""

import builtins
import dataclasses
import enum
import json
import os
import sys
import types
import unittest


def _atom(v):
    return isinstance(v, (int, float, str, bytes, bool, type(None))) and not isinstance(v, enum.Enum)


def _value(v, root, depth=1):
    if depth > 5:
        return "..."
    if _atom(v):
        return (type(v).__name__, v)
    if isinstance(v, enum.Enum):
        return ("member", type(v).__qualname__, v.name, _value(v.value, root, depth + 1))
    if isinstance(v, type):
        return ("class", v.__qualname__)
    if isinstance(v, (types.FunctionType, types.MethodType)):
        return ("function", v.__qualname__)
    if isinstance(v, dict):
        return ("dict", [(_value(k, root, depth + 1), _value(x, root, depth + 1)) for k, x in list(v.items())])
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_value(x, root, depth + 1) for x in list(v)])
    if isinstance(v, (set, frozenset)):
        return (type(v).__name__, sorted(repr(_value(x, root, depth + 1)) for x in list(v)))
    state = getattr(v, "__dict__", None)
    if isinstance(state, dict) and _ours(type(v), root):
        return ("instance", type(v).__qualname__, sorted((k, _value(x, root, depth + 1)) for k, x in list(state.items())))
    return ("other", type(v).__qualname__)


def _ours(obj, root):
    module = getattr(obj, "__module__", None) or ""
    return module == root or module.startswith(root + ".")


def _class(cls, root):
    members = []
    for k in sorted(vars(cls)):
        if k.startswith("__") or k.startswith("_abc") or k in ("_is_protocol", "_is_runtime_protocol"):
            continue
        m = vars(cls)[k]
        if isinstance(m, type) and m.__qualname__.startswith(cls.__qualname__ + "."):
            members.append((k, _class(m, root)))
        elif isinstance(m, types.FunctionType):
            members.append((k, "function", bool(getattr(m, "__isabstractmethod__", False))))
        elif isinstance(m, (property, staticmethod, classmethod)):
            members.append((k, type(m).__name__))
        elif k.startswith("_") or isinstance(m, (enum.Enum, dataclasses.Field)):
            continue
        else:
            members.append((k, _value(m, root)))
    out = [("bases", [b.__qualname__ for b in cls.__bases__]), ("members", members)]
    if isinstance(cls, enum.EnumMeta):
        out.append(("enum", [(n, _value(m.value, root), type(m) is cls) for n, m in cls.__members__.items()]))
        return out
    if dataclasses.is_dataclass(cls):
        out.append(("fields", [(f.name, _value(f.default, root)) for f in dataclasses.fields(cls)]))
    out.append(("abstract", sorted(getattr(cls, "__abstractmethods__", ()))))
    return out


def describe(module, root, names=None):
    """name -> description text, for the public names of a namespace module."""
    out = {}
    for n, v in list(vars(module).items()):
        if n.startswith("_") or isinstance(v, types.ModuleType) or (names is not None and n not in names):
            continue
        if isinstance(v, type):
            out[n] = repr(("class", _class(v, root)))
        elif isinstance(v, types.FunctionType):
            # Never called: calling the live program's functions could change its state.
            out[n] = repr(("function", v.__qualname__, v.__code__.co_argcount))
        else:
            out[n] = repr(_value(v, root))
    return out


def task(directory, root):
    """The child's input: the directory, its base namespace and the descriptions of the live
    namespaces under it, as JSON."""
    live = {}
    for name, module in list(sys.modules.items()):
        if name == root or name.startswith(root + "."):
            live[name] = describe(module, root)
    return json.dumps({"directory": directory, "root": root, "live": live})


def read_differences(text):
    """The child's output: (qualified name, live description or None, fresh description)."""
    return [tuple(json.loads(line)) for line in text.splitlines() if line.strip()]


# --- the child ------------------------------------------------------------------------


def _scripts(directory):
    found = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py") and not f.startswith(".")]
    present = set(found)

    def is_test(path):
        folder, name = os.path.split(path)
        stem = name[:-3]
        if stem.endswith("_unittest") and os.path.join(folder, stem[: -len("_unittest")] + ".py") in present:
            return True
        return stem.startswith("test_") and os.path.join(folder, stem[len("test_") :] + ".py") in present

    return sorted(p for p in found if not is_test(p))


def _namespace(name):
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__path__ = []
        sys.modules[name] = module
        if "." in name:
            parent, _, leaf = name.rpartition(".")
            setattr(_namespace(parent), leaf, module)
    return module


def _exports(g, namespace):
    names = g.get("__all__")
    if names is not None:
        return [(n, g[n]) for n in names if n in g]
    out = []
    for n, v in g.items():
        if n.startswith("_") or isinstance(v, types.ModuleType):
            continue
        if isinstance(v, type) and issubclass(v, unittest.TestCase):
            continue
        if isinstance(v, (type, types.FunctionType)) and getattr(v, "__module__", None) != namespace:
            continue
        out.append((n, v))
    return out


def fresh_load(directory, root):
    """Load `directory` under the namespace `root` the way relive loads it (simplified)."""
    pending = _scripts(directory)
    progress = True
    while pending and progress:
        progress = False
        for path in list(pending):
            rel = os.path.relpath(os.path.dirname(path), directory)
            namespace = root if rel == "." else root + "." + rel.replace(os.sep, ".")
            module = _namespace(namespace)
            g = {"__name__": namespace, "__file__": path, "__builtins__": builtins}
            try:
                with open(path, "rb") as f:
                    exec(compile(f.read(), path, "exec"), g)
            except (ImportError, AttributeError):
                continue
            except BaseException:  # noqa: BLE001 - a script that fails is not loaded
                pending.remove(path)
                continue
            pending.remove(path)
            progress = True
            for n, v in _exports(g, namespace):
                if n not in vars(module):
                    setattr(module, n, v)


def child_main():
    """Reads {directory, root, live} as JSON on stdin; prints one line per difference."""
    task = json.load(sys.stdin)
    root = task["root"]
    fresh_load(task["directory"], root)
    for namespace, live in sorted(task["live"].items()):
        module = sys.modules.get(namespace)
        if module is None:
            continue
        for name, text in sorted(describe(module, root).items()):
            if live.get(name) != text:
                print(json.dumps([f"{namespace}.{name}", live.get(name), text]))
