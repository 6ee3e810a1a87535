"""What CPython and the standard library cache about classes, refreshed after an apply.

R3: after classes are updated, the `abc` caches are reset and `__abstractmethods__` is
recomputed for every updated class and every retained subclass of one, in any script, so
`isinstance` against ABCs and `runtime_checkable` protocols, and instantiation of abstract
classes, behave as after a fresh load. Subclasses are found through `__subclasses__()` and
ABCs through the scripts' globals: never a heap walk (R12). The ABCs of a script are
listed once and again only when that script is applied, so a reload does not walk every
script's globals (an ABC the program puts into a script's globals at run time is seen at
that script's next apply).

R12: `typing` caches (`Box[int]` made while a candidate ran) hold candidate classes and
through them the candidate's globals; they are cleared after an apply.

Loaded by src/engine/update.rs before `update.py`, which calls `refresh` once the apply
has committed.
"""

import abc
import typing
import weakref

from _relive_objects import MARKER

# A script's globals marker -> weak references to the ABCs its script holds (`_abcs_in`);
# weak, because a class reaches its script's globals and so the key.
_ABCS = weakref.WeakKeyDictionary()


class _Bump(abc.ABC):
    """Registering a class into an ABC bumps CPython's ABC invalidation token, which makes
    every ABC's negative cache stale; the registration is dropped right away."""


def _invalidate_negative_caches():
    _Bump.register(type("_relive_token", (), {}))
    _Bump._abc_registry_clear()


def _subclasses(classes):
    """The classes and, transitively, their subclasses, parents before children."""
    seen = {}
    todo = list(classes)
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen[id(cls)] = cls
        try:
            todo.extend(type.__subclasses__(cls))
        except TypeError:
            continue
    return sorted(seen.values(), key=lambda c: len(c.__mro__))


def _script_abcs(script_globals, applied):
    """ABCs (protocols included) that scripts define or hold at module level, and the ones
    nested in their classes: listed once per script, and again for the `applied` one."""
    found = {}
    for g in list(script_globals):
        marker = g.get(MARKER)
        abcs = None if marker is None or g is applied else _ABCS.get(marker)
        if abcs is None:
            abcs = _abcs_in(g)
            if marker is not None:
                _ABCS[marker] = abcs
        for ref in abcs:
            cls = ref()
            if cls is not None:
                found[id(cls)] = cls
    return list(found.values())


def _abcs_in(g):
    """Weak references to the ABCs of one script's globals and the ones nested in its
    classes."""
    found = {}
    for value in list(g.values()):
        if isinstance(value, abc.ABCMeta):
            found[id(value)] = value
        if isinstance(value, type):
            for member in list(value.__dict__.values()):
                if isinstance(member, abc.ABCMeta):
                    found[id(member)] = member
    return tuple(weakref.ref(cls) for cls in found.values())


def refresh(updated, script_globals, applied):
    """Recompute abstract methods and reset abc caches after `updated` classes changed;
    `applied` are the globals of the script just applied (its ABCs are listed again).
    Nothing is stale when no class changed."""
    if not updated:
        return
    for cls in _subclasses(updated):
        if isinstance(cls, abc.ABCMeta) or "__abstractmethods__" in cls.__dict__:
            abc.update_abstractmethods(cls)
        if isinstance(cls, abc.ABCMeta):
            cls._abc_caches_clear()
    for cls in _script_abcs(script_globals, applied):
        cls._abc_caches_clear()
    _invalidate_negative_caches()


def clear_typing_caches():
    """R12: `typing`'s lru caches (parametrised generics, unions, literals) are dropped."""
    for clear in list(getattr(typing, "_cleanups", ())):
        clear()
