"""Python-side helpers for one script: decode, fresh globals, export rules, waits.

Loaded once by src/engine/script.rs. Rust passes values in as arguments; nothing here keeps
state except the `Registry` objects Rust creates and owns, one per reloader.
"""

import builtins
import codecs
import collections
import io
import itertools
import tokenize
import types
import unittest

MARKER = "__relive__"


class GlobalsMarker:
    """Placed in every globals dict relive creates, so its lifetime can be observed (R12)."""

    __slots__ = ("path", "base", "contrib", "__weakref__")

    def __init__(self, path):
        self.path = path
        self.base = None  # R8a: what module-level code left in its objects (fingerprint.py)
        self.contrib = None  # R8b: what it changed in other scripts' objects (contrib.py)

    def __repr__(self):
        return f"<relive globals of {self.path}>"


class Registry:
    """Which objects relive scripts contributed, and which globals dicts are scripts' own.

    Used to tell an object a script defined from one it imported from a sibling (L4).
    Objects are kept by id with the object itself, so an id is never reused while listed;
    each script's entries are remembered so that forgetting it drops exactly what it added,
    whatever its globals hold by then (R12: nothing replaced stays alive here).
    """

    def __init__(self):
        self.contributed = {}
        self.script_globals = {}
        self.by_script = {}

    def add_script(self, g, exported):
        self.script_globals[id(g)] = g
        values = list(map(g.__getitem__, exported))
        ids = list(map(id, values))
        self.contributed.update(zip(ids, values))
        self.by_script[id(g)] = ids

    def forget_script(self, g):
        self.script_globals.pop(id(g), None)
        keys = self.by_script.pop(id(g), ())
        collections.deque(map(self.contributed.pop, keys, itertools.repeat(None)), maxlen=0)


class UndecodableSource(ValueError):
    """Source bytes that are not text in their declared (or default) encoding (E1)."""


def _plain_head(data):
    """Whether `data` starts with neither a BOM nor a coding comment in its first two lines
    (where PEP 263 looks): then it is UTF-8 without asking `tokenize`."""
    first = data.find(b"\n")
    second = data.find(b"\n", first + 1) if first >= 0 else -1
    head = data if second < 0 else data[:second]
    return not data.startswith(codecs.BOM_UTF8) and b"coding" not in head


def decode(data, filename):
    """Bytes to text by PEP 263: a coding cookie or a BOM, else UTF-8."""
    try:
        encoding = "utf-8" if _plain_head(data) else tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError as err:
        if "unknown encoding" in str(err):
            raise UndecodableSource(str(err)) from None
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise UndecodableSource(
            f"line {line} is not valid {encoding} (byte {data[err.start]:#04x}); "
            "save the file as UTF-8 or declare its encoding with a PEP 263 coding comment"
        ) from None


def new_globals(namespace, path, display_path):
    """Fresh globals for one execution of a script (L3)."""
    return {
        "__name__": namespace,
        "__file__": path,
        "__builtins__": builtins,
        "__doc__": None,
        MARKER: GlobalsMarker(display_path),
    }


def exports(g, namespace, registry, imported):
    """The names a script exports into its namespace, sorted (L4).

    With `__all__`, exactly those names. Otherwise every public module-level name except
    modules, unittest test cases, names only import statements bind (`imported`), and
    classes, functions and objects the script did not define.
    """
    if "__all__" in g:
        names = list(g["__all__"])
        missing = [n for n in names if n not in g]
        if missing:
            raise AttributeError(f"__all__ names {', '.join(map(repr, missing))}, which the script does not define")
        return sorted(set(names))
    imported = set(imported)
    function = types.FunctionType
    return sorted(
        name
        for name, value in g.items()
        if name not in imported
        and (
            not name.startswith("_")  # a function defined here, the most common case
            if type(value) is function and value.__globals__ is g
            else _is_exported(name, value, g, namespace, registry)
        )
    )


class Exports:
    """`exports` of one candidate's globals, remembered (`names`): the candidate view asks
    when the candidate joins it, and the batch reads the answer after the run instead of
    walking the globals again (issue 17)."""

    __slots__ = ("namespace", "registry", "imported", "names")

    def __init__(self, namespace, registry, imported):
        self.namespace, self.registry, self.imported = namespace, registry, imported
        self.names = None

    def __call__(self, g):
        self.names = exports(g, self.namespace, self.registry, self.imported)
        return self.names


def _is_exported(name, value, g, namespace, registry):
    if name.startswith("_") or isinstance(value, types.ModuleType):
        return False
    if isinstance(value, type):
        if issubclass(value, unittest.TestCase):
            return False
        return _defines_class(value, g, namespace, registry)
    if isinstance(value, types.FunctionType):
        return _defines_function(value, g)
    if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType)):
        return False
    if _is_atom(value):
        return True
    return id(value) not in registry.contributed


def _defines_function(fn, g):
    """A function is defined by the script when it, or what it wraps, runs in its globals."""
    if getattr(fn, "__globals__", None) is g:
        return True
    seen = set()
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        if getattr(fn, "__globals__", None) is g:
            return True
        fn = getattr(fn, "__wrapped__", None)
    return False


def _defines_class(cls, g, namespace, registry):
    """A class of this namespace is the script's when one of its methods (unwrapped
    through `__wrapped__`, so decorators of other scripts do not hide it) runs in the
    script's globals, or when none runs in another script's globals."""
    if getattr(cls, "__module__", None) != namespace or id(cls) in registry.contributed:
        return False
    foreign = False
    for member in vars(cls).values():
        for fn in _member_functions(member):
            if _defines_function(fn, g):
                return True
            if id(getattr(fn, "__globals__", None)) in registry.script_globals:
                foreign = True
    return not foreign


def _member_functions(member):
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        return [f for f in (member.fget, member.fset, member.fdel) if f is not None]
    return [member] if isinstance(member, types.FunctionType) else []


def _is_atom(value):
    return isinstance(value, (int, float, complex, str, bytes, bool, type(None), tuple, frozenset))


def wait_target(exc, namespaces):
    """What a failed script waits for, when the failure is about a relive namespace (L6).

    Returns ("name", namespace, name), ("namespace", namespace, None),
    ("anything", namespace, None), or None for a real error.
    """
    if isinstance(exc, ModuleNotFoundError):
        missing = exc.name or ""
        owner = _owning_namespace(missing, namespaces)
        if owner is None:
            return None
        parent, _, leaf = missing.rpartition(".")
        if parent in namespaces:
            return ("name", parent, leaf)
        return ("namespace", missing, None)
    if isinstance(exc, ImportError):
        if exc.name in namespaces:
            name = _quoted_name(str(exc))
            return ("name", exc.name, name) if name else ("anything", exc.name, None)
        return None
    if isinstance(exc, AttributeError):
        obj = getattr(exc, "obj", None)
        module_name = getattr(obj, "__name__", None) if isinstance(obj, types.ModuleType) else None
        if module_name in namespaces and exc.name:
            return ("name", module_name, exc.name)
    return None


def _owning_namespace(dotted, namespaces):
    while dotted:
        if dotted in namespaces:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def _quoted_name(message):
    # "cannot import name 'Brain' from 'game.ai' (unknown location)"
    prefix = "cannot import name '"
    if message.startswith(prefix):
        return message[len(prefix):].split("'", 1)[0]
    return None
