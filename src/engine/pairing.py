"""Planning an apply (R3, R5, R7): pair candidate classes and functions with the retained
ones and run every check that can reject, before anything changes.

`Pairing` is a mixin of update.py's `Apply`.
"""

import collections
import dataclasses
import enum
import functools
import types

import _relive_objects
from _relive_journal import MISSING
from _relive_objects import (
    ATOMS,
    LAYOUT,
    Rejected,
    _twins,
    _cell,
    _globals_chain,
    _own_functions,
    _slot_names,
    _slots,
    _fmt_tuple,
)
from _relive_shape_change import dataclass_problem, enum_member_pairs, enum_problem


class Pairing:
    """Which candidate objects take the place of which retained ones."""


    def is_candidate_function(self, fn):
        return isinstance(fn, types.FunctionType) and fn.__globals__ is self.candidate

    def is_retained_function(self, fn):
        return isinstance(fn, types.FunctionType) and fn.__globals__ is self.retained

    def is_candidate_class(self, cls):
        if not isinstance(cls, type) or getattr(cls, "__module__", None) != self.ns:
            return False
        if id(cls) in self.registry.contributed:
            return False
        candidate = self.candidate
        for member in cls.__dict__.values():
            # The common case, a plain method of the candidate, without the walk below.
            if type(member) is types.FunctionType and member.__globals__ is candidate:
                return True
        foreign_script = False
        has_methods = False
        for member in cls.__dict__.values():
            for fn in _own_functions(member):
                has_methods = True
                if any(g is self.candidate for g in _globals_chain(fn)):
                    return True
                if id(fn.__globals__) in self.registry.script_globals:
                    foreign_script = True
        if foreign_script or any(v is cls for v in self.retained.values()):
            return False
        if has_methods:
            return True
        # Without methods nothing tells whose class it is: the candidate's only when its own
        # globals bind it (or the class it is nested in), never a class another script made.
        outer = cls.__qualname__.split(".")[0]
        return any(v is cls for v in self.candidate.values()) or isinstance(self.candidate.get(outer), type)

    # planning: pair classes and functions, validate; nothing changes yet

    def pair_class(self, old, new):
        self.memo[id(new)] = old
        self.keep_alive.append(new)
        self.class_pairs.append((old, new))
        for name, member in new.__dict__.items():
            if isinstance(member, type) and self.is_candidate_class(member):
                prior = old.__dict__.get(name, MISSING)
                if isinstance(prior, type) and prior.__qualname__ == member.__qualname__:
                    self.pair_class(prior, member)

    def pair_class_twin(self, old, new):
        """A class whose statement did not change and whose candidate holds nothing the
        retained one lacks: every member the same object, an equal constant, a twin function
        (`pair_twins`) or such a nested class; the same metaclass and bases. Updating it in
        place would change nothing, so it is only paired, as `pair_class` would, and reported
        updated (issue 17): its pairs go into `class_twins`, which the rest of the apply passes
        over. Returns False, pairing nothing, for any other class."""
        found = []
        if not self._class_twins(old, new, found):
            return False
        for retained, candidate in found:
            if isinstance(candidate, type):
                self.class_pairs.append((retained, candidate))
                self.class_twins.add(id(retained))
            else:
                self.paired_old.add(id(retained))
            self.memo[id(candidate)] = retained
            self.keep_alive.append(candidate)
        return True

    def _class_twins(self, old, new, found):
        if type(old) is not type(new):
            return False
        if new.__bases__ != old.__bases__ and tuple(self.memo.get(id(b), b) for b in new.__bases__) != old.__bases__:
            return False
        old_dict, new_dict = old.__dict__, new.__dict__
        if old_dict.keys() != new_dict.keys():
            return False
        found.append((old, new))
        slots = _slot_names(new) if "__slots__" in new_dict else ()
        for name, member in new_dict.items():
            if name in LAYOUT or name in slots:
                continue
            prior = old_dict[name]
            if prior is member or _same_constant(prior, member):
                continue
            if isinstance(member, type):
                if not (
                    isinstance(prior, type)
                    and prior.__qualname__ == member.__qualname__
                    and self.is_candidate_class(member)
                    and self._class_twins(prior, member, found)
                ):
                    return False
            else:
                functions = _descriptor_functions(prior, member)
                if functions is None or not all(self._function_twins(o, n) for o, n in functions):
                    return False
                found.extend(functions)
        return True

    def _function_twins(self, old, new):
        return (
            _twins(old, new, self.retained, self.candidate)
            and id(old) not in self.paired_old
            and id(new) not in self.memo
        )

    def pair_functions(self, old, new):
        """Pair functions that can be patched in place (same free-variable names, R5)."""
        if not (self.is_retained_function(old) and self.is_candidate_function(new)):
            return
        if id(new) in self.function_pairs or id(new) in self.memo:
            return
        if id(old) in self.paired_old:
            return  # one old function takes one new body; a second name gets its own copy
        if old.__code__.co_freevars != new.__code__.co_freevars:
            self.forwarded.append((old, new))
            return
        self.function_pairs[id(new)] = (old, new)
        self.paired_old.add(id(old))
        self.memo[id(new)] = old
        self.keep_alive.append(new)
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            old_value = _cell(old_cell)
            new_value = _cell(new_cell)
            if (
                isinstance(old_value, types.FunctionType)
                and isinstance(new_value, types.FunctionType)
                and old_value.__code__.co_name == new_value.__code__.co_name
            ):
                self.pair_functions(old_value, new_value)
        old_wrapped = old.__dict__.get("__wrapped__")
        new_wrapped = new.__dict__.get("__wrapped__")
        if old_wrapped is not None and new_wrapped is not None:
            self.pair_functions(old_wrapped, new_wrapped)

    def pair_twins(self, old, new):
        """A function whose statement did not change (source.py reused its code object) and
        that has nothing to patch: the candidate's maps to the retained one, with no pair to
        patch (issue 17: a reload's cost follows its change)."""
        if not _twins(old, new, self.retained, self.candidate) or id(old) in self.paired_old or id(new) in self.memo:
            return False
        self.paired_old.add(id(old))
        self.memo[id(new)] = old
        self.keep_alive.append(new)
        return True

    def pair_wrapper(self, old, new):
        """Foreign wrappers (a decorator of another script or a library) made by the same code
        keep their identity: only their cells change, the wrapped functions pair (R5)."""
        if id(new) in self.memo or id(old) in self.paired_old:
            return
        self.wrapper_pairs[id(new)] = (old, new)
        self.paired_old.add(id(old))
        self.memo[id(new)] = old
        self.keep_alive.append(new)
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            old_value, new_value = _cell(old_cell), _cell(new_cell)
            if isinstance(old_value, types.FunctionType) and isinstance(new_value, types.FunctionType):
                self.pair_members(old_value, new_value)

    def pair_members(self, old, new):
        """Pair functions behind class members, or module-level values, of the same name."""
        if self.pair_twins(old, new):
            return
        if (
            isinstance(old, types.FunctionType)
            and isinstance(new, types.FunctionType)
            and old.__code__ is new.__code__
            and old.__globals__ is new.__globals__
            and old.__globals__ is not self.retained
            and old.__closure__ is not None
            and old is not new
        ):
            self.pair_wrapper(old, new)
        elif isinstance(old, types.FunctionType):
            self.pair_functions(old, new)
        elif type(old) is type(new) and isinstance(old, (staticmethod, classmethod)):
            self.pair_functions(old.__func__, new.__func__)
        elif isinstance(old, property) and isinstance(new, property):
            for part in ("fget", "fset", "fdel"):
                o, n = getattr(old, part), getattr(new, part)
                if o is not None and n is not None:
                    self.pair_functions(o, n)
        elif isinstance(old, functools._lru_cache_wrapper) and isinstance(new, functools._lru_cache_wrapper):
            self.pair_functions(old.__wrapped__, new.__wrapped__)

    def pair_module_twins(self, kept):
        """Pairs the module-level functions whose statements did not change and that have
        nothing to patch (`pair_twins`), all in one call: most of a big module's functions,
        so the rest of the apply walks only the others (issue 17). Returns the others, as
        (name, value) of the candidate's globals in order."""
        self.twins, others = _relive_objects._pair_module_twins(
            self.retained, self.candidate, kept, self.memo, self.paired_old, self.keep_alive
        )
        return others

    def plan(self, kept, imported):
        self.others = self.pair_module_twins(kept)
        # Values the candidate imported, or that are other scripts' contributions, are
        # live already: never walk or change them (R12: the walk stays inside the candidate).
        for name, value in self.others:
            if isinstance(value, ATOMS):
                continue
            if name in imported or id(value) in self.registry.contributed:
                self.memo.setdefault(id(value), value)
        for name, new in self.others:
            dunder = name.startswith("__") and name.endswith("__")
            if name in kept or dunder and not isinstance(new, types.FunctionType):
                continue
            old = self.retained.get(name, MISSING)
            if old is MISSING:
                continue
            if isinstance(new, type) and self.is_candidate_class(new):
                if isinstance(old, type) and old.__module__ == self.ns and old.__qualname__ == new.__qualname__:
                    if not self.pair_class_twin(old, new):
                        self.pair_class(old, new)
                continue
            self.pair_members(old, new)
        # A kept name's candidate value stands for its current object, unless it is a
        # function or class paired by its own name above (`ALIAS = f`: `f` is still patched).
        for name in kept:
            if name in self.retained and name in self.candidate:
                value = self.candidate[name]
                if not isinstance(value, ATOMS) and id(value) not in self.memo:
                    self.memo[id(value)] = self.retained[name]
                    self.keep_alive.append(value)
        for old, new in self.class_pairs:
            if id(old) in self.class_twins:
                continue
            for name, member in new.__dict__.items():
                prior = old.__dict__.get(name, MISSING)
                if prior is not MISSING and not isinstance(member, type):
                    self.pair_members(prior, member)
        for old, new in self.class_pairs:
            if id(old) not in self.class_twins:
                self.validate(old, new)

    def validate(self, old, new):
        """R7: reject what cannot be applied in place, before any change."""
        name = old.__qualname__
        if self.xlate_type(type(new)) is not type(old):
            raise Rejected(f"class {name}: metaclass changed {type(old).__name__} -> {type(new).__name__}")
        if _slots(old) != _slots(new):
            raise Rejected(
                f"class {name}: __slots__ changed {_fmt_tuple(_slots(old) or ())} -> {_fmt_tuple(_slots(new) or ())}"
            )
        if issubclass(old, tuple) and hasattr(old, "_fields") and old._fields != getattr(new, "_fields", None):
            raise Rejected(
                f"class {name}: named tuple fields changed {_fmt_tuple(old._fields)} -> {_fmt_tuple(new._fields)}"
            )
        if dataclasses.is_dataclass(old) and dataclasses.is_dataclass(new):
            self.validate_dataclass(name, old, new)
        if isinstance(old, enum.EnumMeta):
            self.validate_enum(name, old, new)

    def validate_dataclass(self, name, old, new):
        problem = dataclass_problem(name, old, new)
        if problem is not None:
            raise Rejected(problem)

    def validate_enum(self, name, old, new):
        problem = enum_problem(name, old, new)
        if problem is not None:
            raise Rejected(problem)
        for member, prior in enum_member_pairs(old, new):
            self.memo[id(member)] = prior
            self.keep_alive.append(member)


# Constants whose equal values are the same value (not floats: 0.0 == -0.0; not ranges:
# range(0) == range(5, 5)).
_PLAIN_CONSTANTS = frozenset((int, bool, str, bytes, type(None), type(Ellipsis), type(NotImplemented)))


def _same_constant(a, b):
    """Equal immutable constants of one type (a plain constant, or a tuple of them): a class
    body's `__module__`, `__doc__`, `__slots__`, `x = 1`."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(map(_same_constant, a, b))
    return type(a) in _PLAIN_CONSTANTS and a == b


_DESCRIBED = ("__doc__", "__name__", "__qualname__", "__annotations__")


def _descriptor_functions(old, new):
    """The (old, new) functions behind two class members that are the same kind of thing
    with the same attributes, or None: plain functions, `staticmethod`, `classmethod` and
    `property` objects (what `Patcher.install_member` keeps in place)."""
    if type(old) is not type(new):
        return None
    if isinstance(new, types.FunctionType):
        return [(old, new)]
    if type(new) in (staticmethod, classmethod):
        if any(getattr(old, a, None) != getattr(new, a, None) for a in _DESCRIBED):
            return None
        return [(old.__func__, new.__func__)]
    if type(new) is property and old.__doc__ == new.__doc__:
        parts = [(getattr(old, p), getattr(new, p)) for p in ("fget", "fset", "fdel")]
        if any((o is None) != (n is None) for o, n in parts):
            return None
        return [(o, n) for o, n in parts if n is not None]
    return None
