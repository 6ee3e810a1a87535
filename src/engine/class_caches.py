"""What CPython and the standard library cache about classes, refreshed after an apply.

R3: after classes are updated, the `abc` caches are reset and `__abstractmethods__` is
recomputed for every updated class and every retained subclass of one, in any script, so
`isinstance` against ABCs and `runtime_checkable` protocols, and instantiation of abstract
classes, behave as after a fresh load. Subclasses are found through `__subclasses__()` and
ABCs through the scripts' globals: never a heap walk (R12).

R12: `typing` caches (`Box[int]` made while a candidate ran) hold candidate classes and
through them the candidate's globals; they are cleared after an apply.

Loaded by src/engine/update.rs before `update.py`, which calls `refresh` once the apply
has committed.
"""

import abc
import typing


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


def _script_abcs(script_globals):
    """ABCs (protocols included) that scripts define or hold at module level, and the ones
    nested in their classes."""
    found = {}
    for g in list(script_globals):
        for value in list(g.values()):
            if isinstance(value, abc.ABCMeta):
                found[id(value)] = value
            if isinstance(value, type):
                for member in list(value.__dict__.values()):
                    if isinstance(member, abc.ABCMeta):
                        found[id(member)] = member
    return list(found.values())


def refresh(updated, script_globals):
    """Recompute abstract methods and reset abc caches after `updated` classes changed."""
    for cls in _subclasses(updated):
        if isinstance(cls, abc.ABCMeta) or "__abstractmethods__" in cls.__dict__:
            abc.update_abstractmethods(cls)
        if isinstance(cls, abc.ABCMeta):
            cls._abc_caches_clear()
    for cls in _script_abcs(script_globals):
        cls._abc_caches_clear()
    _invalidate_negative_caches()


def clear_typing_caches():
    """R12: `typing`'s lru caches (parametrised generics, unions, literals) are dropped."""
    for clear in list(getattr(typing, "_cleanups", ())):
        clear()
