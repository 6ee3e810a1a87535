"""Translation (R4b, R6): the one way candidate objects enter the live program. Candidate
classes become their retained counterparts, candidate functions are patched into the
retained ones or rebound to the retained globals, instances of candidate classes are moved
to the retained classes, and containers (typing aliases included) are updated or rebuilt so
that no candidate object stays reachable from them. Walks only what is installed (R12).

`Translator` is a mixin of update.py's `Apply`.
"""

import collections
import dataclasses
import enum
import functools
import operator
import types
import typing

from _relive_journal import MISSING
from _relive_objects import ATOM_TYPES, ATOMS, LAYOUT, _all_slots, _cell

_ALIASES = (types.GenericAlias, types.UnionType, typing._GenericAlias)


class Translator:
    def xlate_type(self, cls):
        return self.memo.get(id(cls), cls)

    # translating candidate objects into the live program (R4b, R6)

    def xlate(self, obj):
        if type(obj) in ATOM_TYPES:
            return obj
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        # Instances of script subclasses of atoms (IntEnum and str-mixin Enum members, a
        # `class Name(str)`) are translated like any instance (R3, R6); others are values.
        if isinstance(obj, ATOMS) and not self.walks_into(type(obj)):
            return obj
        if isinstance(obj, type):
            if self.is_candidate_class(obj):
                return self.adopt_class(obj)
            return obj
        if isinstance(obj, types.FunctionType):
            if obj.__globals__ is self.candidate:
                return self.rebind(obj)
            return self.xlate_foreign_function(obj)
        if isinstance(obj, types.MethodType):
            func, owner = self.xlate(obj.__func__), self.xlate(obj.__self__)
            result = obj if func is obj.__func__ and owner is obj.__self__ else types.MethodType(func, owner)
            return self.remember(obj, result)
        if isinstance(obj, (staticmethod, classmethod)):
            func = self.xlate(obj.__func__)
            return self.remember(obj, obj if func is obj.__func__ else type(obj)(func))
        if isinstance(obj, property):
            parts = [self.xlate(p) for p in (obj.fget, obj.fset, obj.fdel)]
            same = all(a is b for a, b in zip(parts, (obj.fget, obj.fset, obj.fdel)))
            return self.remember(obj, obj if same else property(*parts, obj.__doc__))
        if isinstance(obj, _ALIASES):
            return self.xlate_alias(obj)
        if isinstance(obj, functools.partial):
            func = self.xlate(obj.func)
            args = tuple(self.xlate(a) for a in obj.args)
            keywords = {k: self.xlate(v) for k, v in obj.keywords.items()}
            same = func is obj.func and all(a is b for a, b in zip(args, obj.args)) and all(
                keywords[k] is v for k, v in obj.keywords.items()
            )
            return self.remember(obj, obj if same else functools.partial(func, *args, **keywords))
        if isinstance(obj, dataclasses.Field):
            self.memo[id(obj)] = obj
            for attr in ("type", "default", "default_factory"):
                value = getattr(obj, attr, MISSING)
                if value is not MISSING:
                    new = self.xlate(value)
                    if new is not value:
                        self.journal.set_attr(obj, attr, new)
            return obj
        if isinstance(obj, functools._lru_cache_wrapper):
            self.memo[key] = obj
            self.xlate(obj.__wrapped__)
            return obj
        if isinstance(obj, list):
            self.memo[key] = obj
            for i, item in enumerate(obj):
                new = self.xlate(item)
                if new is not item:
                    self.journal.set_item(obj, i, new)
            return obj if type(obj) is list else self.xlate_instance(obj)
        if isinstance(obj, collections.deque):
            self.memo[key] = obj
            items = [self.xlate(i) for i in obj]
            if any(a is not b for a, b in zip(items, obj)):
                self.journal.replace_sequence(obj, items)
            return obj if type(obj) is collections.deque else self.xlate_instance(obj)
        if isinstance(obj, dict):
            self.xlate_dict(obj)
            if isinstance(obj, collections.defaultdict) and obj.default_factory is not None:
                factory = self.xlate(obj.default_factory)
                if factory is not obj.default_factory:
                    self.journal.set_attr(obj, "default_factory", factory)
            return obj if type(obj) is dict else self.xlate_instance(obj)
        if type(obj) in (set, frozenset):
            items = [self.xlate(i) for i in obj]
            if all(a is b for a, b in zip(items, obj)):
                return self.remember(obj, obj)
            if type(obj) is frozenset:
                return self.remember(obj, frozenset(items))
            self.memo[key] = obj
            self.journal.replace_contents(obj, items)
            return obj
        if type(obj) is tuple or (isinstance(obj, tuple) and hasattr(obj, "_fields")):
            items = [self.xlate(i) for i in obj]
            if all(a is b for a, b in zip(items, obj)):
                return self.remember(obj, obj)
            rebuilt = tuple(items) if type(obj) is tuple else self.xlate(type(obj))._make(items)
            return self.remember(obj, rebuilt)
        if isinstance(obj, enum.property):
            # 3.12+: an enum member whose name a base already uses (a `str` mixin's
            # `upper`) sits in the class dict as a redirect holding the member itself;
            # 3.11's redirect looks the member up by name. See shape_change.py.
            self.memo[key] = obj
            member = obj.__dict__.get("member", MISSING)
            if member is not MISSING:
                translated = self.xlate(member)
                if translated is not member:
                    self.journal.set_attr(obj, "member", translated)
            return obj
        return self.xlate_instance(obj)

    def xlate_alias(self, obj):
        """`Box[int]`, `Optional[Box]`, `list[Box]` in annotations and values: rebuilt when
        they name a candidate class (R4b, R12)."""
        origin = getattr(obj, "__origin__", None)
        args = getattr(obj, "__args__", ())
        new_origin = self.xlate(origin) if origin is not None else None
        new_args = tuple(self.xlate(a) for a in args)
        if new_origin is origin and all(a is b for a, b in zip(new_args, args)):
            return self.remember(obj, obj)
        if isinstance(obj, types.UnionType):
            return self.remember(obj, functools.reduce(operator.or_, new_args))
        if isinstance(obj, types.GenericAlias):
            return self.remember(obj, types.GenericAlias(new_origin, new_args))
        if new_origin is origin:
            return self.remember(obj, obj.copy_with(new_args))
        args = new_args[0] if len(new_args) == 1 else new_args
        return self.remember(obj, new_origin[args])

    def remember(self, obj, result):
        self.memo[id(obj)] = result
        self.keep_alive.append(obj)
        return result

    def xlate_dict(self, obj):
        self.memo[id(obj)] = obj
        keys = list(obj)
        new_keys = [self.xlate(k) for k in keys]
        if any(a is not b for a, b in zip(keys, new_keys)):
            values = [self.xlate(obj[k]) for k in keys]
            self.journal.replace_contents(obj, list(zip(new_keys, values)))
            return obj
        for k in keys:
            value = obj[k]
            new = self.xlate(value)
            if new is not value:
                self.journal.set_item(obj, k, new)
        return obj

    def xlate_instance(self, obj):
        cls = type(obj)
        target = self.memo.get(id(cls))
        if target is None and self.is_candidate_class(cls):
            target = self.xlate(cls)  # a class made inside a function: adopted
        if target is not None and target is not cls and isinstance(obj, enum.Enum):
            return self.clone_member(obj, target)
        self.memo[id(obj)] = obj
        if target is not None and target is not cls:
            reject = f"class {target.__qualname__}: an instance cannot be moved to the retained class"
            self.journal.set_attr(obj, "__class__", target, reject=reject)
        elif target is None and not self.walks_into(cls):
            return obj
        state = getattr(obj, "__dict__", None)
        if type(state) is dict:
            self.xlate_dict(state)
        for slot in _all_slots(type(obj)):
            try:
                value = object.__getattribute__(obj, slot)
            except AttributeError:
                continue
            new = self.xlate(value)
            if new is not value:
                self.journal.set_attr(obj, slot, new)
        return obj

    def clone_member(self, member, target):
        """A member an enum gained (R7): made anew in the retained class, as its mixin makes
        members, since CPython 3.11 cannot move an `int` subclass instance to another class."""
        member_type = target.__dict__.get("_member_type_", object)
        clone = object.__new__(target) if member_type is object else member_type.__new__(target, member._value_)
        self.remember(member, clone)
        for name, value in list(vars(member).items()):
            vars(clone)[name] = self.xlate(value)
        return clone

    def walks_into(self, cls):
        """Instances of script classes are walked; library objects are not (R12: no heap walk)."""
        module = getattr(cls, "__module__", None) or ""
        return module == self.ns or module.split(".")[0] == self.ns.split(".")[0]

    def rebind(self, fn):
        """A candidate function not paired with a retained one: a copy on the retained globals."""
        cells = None
        if fn.__closure__ is not None:
            cells = tuple(types.CellType() for _ in fn.__closure__)
        new = types.FunctionType(fn.__code__, self.retained, fn.__name__, None, cells)
        self.remember(fn, new)
        if cells is not None:
            for cell, old_cell in zip(cells, fn.__closure__):
                value = _cell(old_cell)
                if value is not MISSING:
                    cell.cell_contents = self.xlate(value)
        self.copy_function_attributes(new, fn, record=False)
        return new

    def xlate_foreign_function(self, fn):
        """Functions made by other code keep their globals; candidate objects in their
        cells, defaults and `__wrapped__` are translated (frozen dataclasses close over cls)."""
        self.memo[id(fn)] = fn
        for cell in fn.__closure__ or ():
            value = _cell(cell)
            if value is MISSING:
                continue
            new = self.xlate(value)
            if new is not value:
                self.journal.set_cell(cell, new)
        if fn.__defaults__:
            defaults = tuple(self.xlate(d) for d in fn.__defaults__)
            if any(a is not b for a, b in zip(defaults, fn.__defaults__)):
                self.journal.set_attr(fn, "__defaults__", defaults)
        if fn.__dict__:
            self.xlate_dict(fn.__dict__)
        if fn.__annotations__:
            self.xlate_dict(fn.__annotations__)
        return fn

    def copy_function_attributes(self, target, source, record=True):
        values, new_dict = self.function_attributes(source)
        for name, value in values.items():
            if record:
                self.journal.set_attr(target, name, value)
            else:
                setattr(target, name, value)
        if record:
            self.journal.set_attr(target, "__dict__", new_dict)
        else:
            target.__dict__.update(new_dict)

    def function_attributes(self, source):
        """What copy_function_attributes gives a function: (attributes, its new __dict__)."""
        values = {
            "__defaults__": tuple(self.xlate(d) for d in source.__defaults__) if source.__defaults__ else None,
            "__kwdefaults__": {k: self.xlate(v) for k, v in source.__kwdefaults__.items()}
            if source.__kwdefaults__
            else None,
            "__annotations__": {k: self.xlate(v) for k, v in source.__annotations__.items()},
            "__doc__": source.__doc__,
            "__name__": source.__name__,
            "__qualname__": source.__qualname__,
            "__module__": source.__module__,
        }
        return values, {k: self.xlate(v) for k, v in source.__dict__.items()}

    def adopt_class(self, cls):
        """A class new in this version: kept, with its functions rebound and bases translated."""
        self.memo[id(cls)] = cls
        self.summary["classes_created"].append(cls.__qualname__)
        self.class_objects[cls.__qualname__] = cls
        bases = tuple(self.xlate(b) for b in cls.__bases__)
        if any(a is not b for a, b in zip(bases, cls.__bases__)):
            reject = f"class {cls.__qualname__}: cannot derive from the retained base"
            self.journal.set_attr(cls, "__bases__", bases, reject=reject)
        for name, member in list(cls.__dict__.items()):
            if name in LAYOUT:
                continue
            new = self.xlate(member)
            if new is not member:
                self.journal.set_class_attr(cls, name, new)
        return cls

    # changing the live program
