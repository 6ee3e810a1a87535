"""R8a bases: what a script's module-level code left in its module-level objects, as
fingerprints (see the shared state-merge notes).

A snapshot is taken right after module-level code ran, before validate callbacks and tests
(so test pollution is not merged), on the first load and for every candidate. It maps each
module-level name whose value is not an atom, function, class or module to either

* a `Node`, for a mergeable container (dict, list, deque, set, or an instance with a
  `__dict__` of a class defined in a relive namespace): its entries as 64-bit digests of
  their canonical fingerprints, with child nodes for nested containers; or
* an int, the digest of any other value (library objects are compared, never merged).

What is kept between reloads (R12) is digests plus references to live objects: the
container itself and, for lists, the element each item became. A candidate's snapshot also
holds its entries (`items`) until the apply turns it into the next base (`merge.rebase`).
Python's `hash()` is never used as a digest: `hash(-1) == hash(-2)`.

Loaded by src/engine/update.rs before `merge.py` and `update.py`, which import it.
"""

import array
import collections
import datetime
import decimal
import enum
import fractions
import functools
import hashlib
import itertools
import logging
import operator
import pathlib
import re
import types
import uuid

MARKER = "__relive__"
MAX_DEPTH = 8
LONG = 256
_NO_VALUE = object()
_VALUE_TYPES = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    pathlib.PurePath,
    re.Pattern,
    range,
)
_SKIP_TOP = (types.FunctionType, type, types.ModuleType, types.BuiltinFunctionType)


class Node:
    """A mergeable container: kind, type fingerprint, handle, entry digests, children."""

    __slots__ = ("kind", "type_fp", "handle", "keys", "values", "items", "children", "digest")

    def __init__(self, kind, type_fp, handle):
        self.kind = kind  # "dict", "list", "set" or "inst"
        self.type_fp = type_fp
        self.handle = handle
        self.keys = array.array("Q")
        self.values = array.array("Q")
        self.items = []  # dict/inst: [k0, v0, k1, v1, ...]; list/set: elements
        self.children = {}  # entry index -> Node
        self.digest = 0


def _digest_bytes(data):
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _digest(fp):
    return _digest_bytes(repr(fp).encode("utf-8", "surrogatepass"))


class Snapshot:
    """One walk over a script's globals."""

    def __init__(self, g, imported=()):
        self.g = g
        self.imported = frozenset(imported)
        name = g.get("__name__") or ""
        self.root = name.split(".")[0]
        self.aliases = {}
        self.nodes = {}  # id(container) -> Node, so a container reached twice is one node
        self.path = set()
        self.type_fps = {}  # class -> its fingerprint, for the classes without parameters
        self.atom_digests = {}  # (str or int, value) -> digest: keys and values repeat

    def in_namespace(self, module):
        return isinstance(module, str) and (module == self.root or module.startswith(self.root + "."))

    def prepare(self):
        """Module-level objects are fingerprinted by name where another one holds them.
        Returns the module-level (name, value) pairs that can hold such an object."""
        entries = []
        # Functions, classes and modules, most of a module's names, dropped without a loop.
        skipped = map(isinstance, self.g.values(), itertools.repeat(_SKIP_TOP))
        for name, value in itertools.compress(self.g.items(), map(operator.not_, skipped)):
            if type(value) in _ATOMS:
                continue
            entries.append((name, value))
            if name.startswith("__") and name.endswith("__") or name in self.imported:
                continue
            self.aliases.setdefault(id(value), name)
        return entries

    def take(self):
        base = {}
        for name, value in self.prepare():
            if id(value) in self.aliases:
                digest, node = self.value(value, 0, top=True)
                base[name] = node if node is not None else digest
        return base

    # digests

    def value(self, value, depth, top=False):
        """(digest, Node or None) of a value."""
        if not top:
            alias = self.aliases.get(id(value))
            if alias is not None:
                return _digest(("g", alias)), None
        cls = type(value)
        if cls is str or cls is int:
            key = (cls, value)
            digest = self.atom_digests.get(key)
            if digest is None:
                digest = self.atom_digests[key] = _digest(self.leaf(value, depth))
            return digest, None
        kind = self.container_kind(value)
        if kind is not None and depth < MAX_DEPTH and id(value) not in self.path:
            node = self.nodes.get(id(value))
            if node is None:
                node = self.container(kind, value, depth)
            return node.digest, node
        return _digest(self.leaf(value, depth)), None

    def container_kind(self, value):
        if isinstance(value, dict):
            return "dict"
        if isinstance(value, (list, collections.deque)):
            return "list"
        if type(value) is set:
            return "set"
        cls = type(value)
        if (
            self.in_namespace(getattr(cls, "__module__", None))
            and type(_instance_dict(value)) is dict
            and not isinstance(value, (type, enum.Enum, BaseException))
            and not isinstance(value, _ATOMS)
        ):
            return "inst"
        return None

    def type_fp(self, value):
        cls = type(value)
        fp = self.type_fps.get(cls)
        if fp is not None:
            return fp
        fp = (cls.__module__, cls.__qualname__)
        if not isinstance(value, (collections.defaultdict, collections.deque)):
            fp = self.type_fps[cls] = repr(fp)
            return fp
        if isinstance(value, collections.defaultdict):
            fp += (self.leaf(value.default_factory, MAX_DEPTH),)
        if isinstance(value, collections.deque):
            fp += (value.maxlen,)
        return repr(fp)

    def container(self, kind, value, depth):
        node = Node(kind, self.type_fp(value), value)
        self.nodes[id(value)] = node
        self.path.add(id(value))
        try:
            if kind in ("dict", "inst"):
                entries = value.items() if kind == "dict" else _instance_dict(value).items()
                for i, (k, v) in enumerate(list(entries)):
                    node.keys.append(self.value(k, MAX_DEPTH)[0])
                    digest, child = self.value(v, depth + 1)
                    node.values.append(digest)
                    node.items += (k, v)
                    if child is not None:
                        node.children[i] = child
            else:
                elements = list(value)
                for i, element in enumerate(elements):
                    digest, child = self.value(element, depth + 1)
                    node.values.append(digest)
                    if child is not None:
                        node.children[i] = child
                node.items = elements
        finally:
            self.path.discard(id(value))
        values = sorted(node.values) if kind == "set" else node.values
        node.digest = _digest_bytes(
            b"".join(
                (kind.encode(), node.type_fp.encode("utf-8", "surrogatepass"), node.keys.tobytes())
            )
            + array.array("Q", values).tobytes()
        )
        return node

    def leaf(self, value, depth):
        """A hashable, repr-stable fingerprint: equal across two runs for "the same thing"."""
        cls = type(value)
        if cls in (int, bool, type(None), type(Ellipsis), type(NotImplemented)):
            return (cls.__name__, value)
        if cls in (str, bytes):
            if len(value) > LONG:
                data = value.encode("utf-8", "surrogatepass") if cls is str else value
                return (cls.__name__, len(value), hashlib.blake2b(data, digest_size=16).hexdigest())
            return (cls.__name__, value)
        if cls is float:
            return ("float", value.hex())
        if cls is complex:
            return ("complex", value.real.hex(), value.imag.hex())
        if depth > MAX_DEPTH + 4:
            return ("deep", cls.__qualname__)
        alias = self.aliases.get(id(value))
        if alias is not None and depth < MAX_DEPTH:
            return ("g", alias)
        if isinstance(value, types.FunctionType):
            return self.function(value, depth)
        if isinstance(value, type):
            return ("cls", value.__module__, value.__qualname__)
        if isinstance(value, enum.Enum):
            return ("enum", cls.__module__, cls.__qualname__, value._name_)
        if isinstance(value, types.ModuleType):
            return ("module", value.__name__)
        if isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            if owner is None or isinstance(owner, types.ModuleType):
                return ("builtin", getattr(value, "__module__", None), value.__qualname__)
            return ("bound", self.leaf(owner, depth + 1), value.__name__)
        if isinstance(value, types.MethodType):
            return ("method", self.leaf(value.__func__, depth + 1), self.leaf(value.__self__, depth + 1))
        if isinstance(value, (staticmethod, classmethod)):
            return (cls.__name__, self.leaf(value.__func__, depth + 1))
        if isinstance(value, functools.partial):
            return (
                "partial",
                self.leaf(value.func, depth + 1),
                tuple(self.leaf(a, depth + 1) for a in value.args),
                tuple(sorted((k, self.leaf(v, depth + 1)) for k, v in value.keywords.items())),
            )
        if isinstance(value, tuple):
            return ("tuple", cls.__qualname__, tuple(self.leaf(i, depth + 1) for i in value))
        if isinstance(value, frozenset):
            return ("frozenset", tuple(sorted(repr(self.leaf(i, depth + 1)) for i in value)))
        if isinstance(value, _VALUE_TYPES):
            return ("value", cls.__module__, cls.__qualname__, repr(value))
        kind = self.container_kind(value)
        if kind is not None:
            # A container too deep, or on a cycle: its digest without recursion.
            return ("container", kind, self.type_fp(value), len(value) if kind != "inst" else 0)
        if isinstance(value, (dict, list, set, collections.deque)):
            return ("container", cls.__qualname__, len(value))
        state = _instance_dict(value)
        if type(state) is dict and depth < MAX_DEPTH:
            return (
                "object",
                cls.__module__,
                cls.__qualname__,
                tuple(sorted((k, repr(self.leaf(v, depth + 2))) for k, v in list(state.items()))),
            )
        return ("opaque", getattr(cls, "__module__", None), cls.__qualname__)

    def function(self, fn, depth):
        if not self.in_namespace(fn.__module__) and fn.__globals__ is not self.g:
            return ("function", fn.__module__, fn.__qualname__)
        if "<" not in fn.__qualname__:
            return ("function", fn.__module__, fn.__qualname__)
        # A lambda or a closure made by a factory is not patched in place: its code, cells
        # and defaults are part of what it is (no line numbers: moving it is no change).
        cells = tuple(self.leaf(_cell(c), depth + 1) for c in fn.__closure__ or ())
        defaults = tuple(self.leaf(d, depth + 1) for d in fn.__defaults__ or ())
        return ("local", fn.__module__, fn.__qualname__, _code_fp(fn.__code__), cells, defaults)


def _instance_dict(value):
    """An object's `__dict__`, read without running a user `__getattribute__`."""
    try:
        return object.__getattribute__(value, "__dict__")
    except (AttributeError, TypeError):
        return None


def _code_fp(code):
    consts = tuple(_code_fp(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars)


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _NO_VALUE


_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def snapshot(g, imported=()):
    """The R8a snapshot of a globals dict (name -> Node or digest)."""
    return Snapshot(g, imported).take()


def snapshot_before(validate, imported):
    """Wraps the validate callback: the candidate's snapshot is taken right after its
    module-level code ran, before validate and tests (R8a), and kept on its marker."""

    def snapshot_then_validate(candidate):
        marker = candidate.get(MARKER)
        if marker is not None:
            try:
                marker.base = snapshot(candidate, imported)
            except Exception as err:  # noqa: BLE001 - never reject a candidate for relive's own failure
                # Without a base nothing is merged into this version's kept objects (R8a).
                marker.base = None
                logging.getLogger("relive").warning(
                    "%s: R8a: cannot take the snapshot of module-level objects (%s: %s); kept objects will not be merged",
                    marker.path,
                    type(err).__name__,
                    err,
                )
        if validate is not None:
            validate(candidate)

    return snapshot_then_validate


def base_size(base):
    """Bytes a script's bases take (R12): nodes, digests and item lists, not what they point at."""
    import sys

    seen = set()
    total = 0
    todo = list(base.values()) if base else []
    while todo:
        node = todo.pop()
        if not isinstance(node, Node) or id(node) in seen:
            total += 0 if isinstance(node, Node) else sys.getsizeof(node)
            continue
        seen.add(id(node))
        total += sys.getsizeof(node) + node.keys.buffer_info()[1] * 8 + node.values.buffer_info()[1] * 8
        total += sys.getsizeof(node.items) if node.items is not None else 0
        total += sys.getsizeof(node.children) + len(node.type_fp)
        todo.extend(node.children.values())
    return total
