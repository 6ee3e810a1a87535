"""Shared vocabulary of the update-mode apply: what counts as an atom, layout entries,
the `Rejected` error, and small readers of functions, cells and slots.

Loaded by src/engine/update.rs before the apply's modules, which import it.
"""

import types

from _relive_journal import MISSING

MARKER = "__relive__"
ATOMS = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis), type(NotImplemented), range)
ATOM_TYPES = frozenset(ATOMS)
LAYOUT = {"__dict__", "__weakref__", "__module__", "_abc_impl"}


class Rejected(Exception):
    """A change relive will not apply; the message is one line naming the class and change."""


def _own_functions(member):
    """The plain functions behind a class member, with how to reach them."""
    if isinstance(member, types.FunctionType):
        return [member]
    if isinstance(member, (staticmethod, classmethod)):
        return [member.__func__] if isinstance(member.__func__, types.FunctionType) else []
    if isinstance(member, property):
        return [f for f in (member.fget, member.fset, member.fdel) if isinstance(f, types.FunctionType)]
    return []


def _slots(cls):
    slots = cls.__dict__.get("__slots__", MISSING)
    if slots is MISSING:
        return None
    if isinstance(slots, str):
        return (slots,)
    return tuple(slots)


def _fmt_tuple(values):
    return "(" + ", ".join(repr(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def _bases_names(bases):
    return "(" + ", ".join(b.__qualname__ for b in bases) + ")"


def _globals_chain(fn):
    """The globals of a function and of what it wraps (`__wrapped__`)."""
    seen = set()
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        g = getattr(fn, "__globals__", None)
        if g is not None:
            yield g
        fn = getattr(fn, "__wrapped__", None)


def _kind(value):
    if isinstance(value, type):
        return "class"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        return "function"
    if isinstance(value, types.ModuleType):
        return "module"
    return "value"


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return MISSING


def _slot_names(cls):
    slots = _slots(cls) or ()
    return {s for s in slots if s not in ("__dict__", "__weakref__")}


def _all_slots(cls):
    names = []
    for klass in cls.__mro__:
        for slot in _slot_names(klass):
            names.append(_mangle(klass, slot))
    return names


def _mangle(cls, name):
    if name.startswith("__") and not name.endswith("__"):
        return f"_{cls.__name__.lstrip('_')}{name}"
    return name


def _bare_twins(old, new):
    """Two functions of the same code object without closures, defaults, annotations or
    attributes, with the same names and doc: patching one with the other changes nothing."""
    return (
        old.__closure__ is None
        and new.__closure__ is None
        and old.__defaults__ is None
        and new.__defaults__ is None
        and old.__kwdefaults__ is None
        and new.__kwdefaults__ is None
        and not old.__dict__
        and not new.__dict__
        and not old.__annotations__
        and not new.__annotations__
        and old.__name__ == new.__name__
        and old.__qualname__ == new.__qualname__
        and old.__module__ == new.__module__
        and old.__doc__ == new.__doc__
    )


def _twins(old, new, retained, candidate):
    """Whether `old` (running in `retained`) and `new` (running in `candidate`) are functions
    of one code object, bare twins (`_bare_twins`). src/engine/twins.rs replaces this with a
    version that reads the function objects' fields (same answer, a fraction of the cost)."""
    return (
        isinstance(old, types.FunctionType)
        and isinstance(new, types.FunctionType)
        and old.__code__ is new.__code__
        and old.__globals__ is retained
        and new.__globals__ is candidate
        and _bare_twins(old, new)
    )


def _pair_module_twins(retained, candidate, kept, memo, paired_old, keep_alive):
    """Pairs the functions of `candidate` that are twins (`_twins`) of the retained functions
    of the same names, in order, as pairing.py's `pair_twins` pairs one: unless the name is
    kept or either function is paired already, the retained function goes into `memo` under
    the candidate's id, into `paired_old`, and the candidate's into `keep_alive`. Returns the
    twins' names and the other (name, value) items, in order. src/engine/twins.rs replaces
    this too."""
    twins, others = set(), []
    for name, new in candidate.items():
        old = retained.get(name)
        if (
            _twins(old, new, retained, candidate)
            and name not in kept
            and id(old) not in paired_old
            and id(new) not in memo
        ):
            paired_old.add(id(old))
            memo[id(new)] = old
            keep_alive.append(new)
            twins.add(name)
        else:
            others.append((name, new))
    return twins, others
