"""Update mode: put a candidate into effect in place, through an undo journal (R2-R10).

Loaded once by src/engine/update.rs, which calls `apply` after the candidate has been
compiled, executed, validated and tested. Every change to a live object goes through a
`Journal`; if anything fails, the journal undoes every change in reverse order and the
failure becomes a rejection. Checks that can reject (R7) run before the first change.

The translator (`Apply.xlate`) is the one way candidate objects enter the live program
(R4b): candidate classes become their retained counterparts, candidate functions are
patched into the retained ones or rebound to the retained globals, and instances of
candidate classes are moved to the retained classes (R6). It walks only what is installed,
never the heap (R12). The journal and the memo are dropped when `apply` returns.
"""

import abc
import collections
import dataclasses
import enum
import functools
import types

from _relive_journal import MISSING, Journal
from _relive_merge import Merger
from _relive_shape_change import dataclass_problem, enum_member_pairs, enum_problem
from _relive_state_rule import kept_names

MARKER = "__relive__"
ATOMS = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis), type(NotImplemented), range)
ATOM_TYPES = frozenset(ATOMS)
LAYOUT = {"__dict__", "__weakref__", "__module__", "_abc_impl"}


class Rejected(Exception):
    """A change relive will not apply; the message is one line naming the class and change."""


# --- applying ---------------------------------------------------------------------------


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


class Apply(Merger):
    """One apply of a candidate onto a retained script."""

    def __init__(self, namespace, module, retained, candidate, registry, journal):
        self.ns = namespace
        self.module = module
        self.retained = retained
        self.candidate = candidate
        self.registry = registry
        self.journal = journal
        self.memo = {}
        self.keep_alive = []
        self.class_pairs = []  # (retained, candidate), parents before nested classes
        self.function_pairs = {}  # id(new) -> (old, new)
        self.paired_old = set()  # id(old) of paired functions
        self.wrapper_pairs = {}  # id(new) -> (old, new): foreign wrappers sharing their code
        self.forwarded = []  # (old, new) functions whose free variables changed
        self.class_objects = {}
        self.replaced_kept = []  # kept names whose object R8a replaced
        self.next_base = None
        self.summary = {
            "warnings": [],
            "classes_updated": [],
            "classes_created": [],
            "functions_rebound": [],
            "functions_forwarded": [],
            "values_replaced": [],
            "kept": [],
            "kind_changed": [],
        }

    # candidate or retained?

    def is_candidate_function(self, fn):
        return isinstance(fn, types.FunctionType) and fn.__globals__ is self.candidate

    def is_retained_function(self, fn):
        return isinstance(fn, types.FunctionType) and fn.__globals__ is self.retained

    def is_candidate_class(self, cls):
        if not isinstance(cls, type) or getattr(cls, "__module__", None) != self.ns:
            return False
        if id(cls) in self.registry.contributed:
            return False
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

    def plan(self, kept, imported):
        # Values the candidate imported, or that are other scripts' contributions, are
        # live already: never walk or change them (R12: the walk stays inside the candidate).
        for name, value in self.candidate.items():
            if isinstance(value, ATOMS):
                continue
            if name in imported or id(value) in self.registry.contributed:
                self.memo.setdefault(id(value), value)
        for name in kept:
            if name in self.retained and name in self.candidate:
                value = self.candidate[name]
                if not isinstance(value, ATOMS):
                    self.memo[id(value)] = self.retained[name]
                    self.keep_alive.append(value)
        for name, new in self.candidate.items():
            if name.startswith("__") and name.endswith("__") or name in kept:
                continue
            old = self.retained.get(name, MISSING)
            if old is MISSING:
                continue
            if isinstance(new, type) and self.is_candidate_class(new):
                if isinstance(old, type) and old.__module__ == self.ns and old.__qualname__ == new.__qualname__:
                    self.pair_class(old, new)
                continue
            self.pair_members(old, new)
        for old, new in self.class_pairs:
            for name, member in new.__dict__.items():
                prior = old.__dict__.get(name, MISSING)
                if prior is not MISSING and not isinstance(member, type):
                    self.pair_members(prior, member)
        for old, new in self.class_pairs:
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
        self.memo[id(obj)] = obj
        if target is not None and target is not cls:
            try:
                self.journal.set_attr(obj, "__class__", target)
            except TypeError as err:
                raise Rejected(
                    f"class {target.__qualname__}: an instance cannot be moved to the retained class ({err})"
                ) from None
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
        new_dict = {k: self.xlate(v) for k, v in source.__dict__.items()}
        for name, value in values.items():
            if record:
                self.journal.set_attr(target, name, value)
            else:
                setattr(target, name, value)
        if record:
            self.journal.set_attr(target, "__dict__", new_dict)
        else:
            target.__dict__.update(new_dict)

    def adopt_class(self, cls):
        """A class new in this version: kept, with its functions rebound and bases translated."""
        self.memo[id(cls)] = cls
        self.summary["classes_created"].append(cls.__qualname__)
        self.class_objects[cls.__qualname__] = cls
        bases = tuple(self.xlate(b) for b in cls.__bases__)
        if any(a is not b for a, b in zip(bases, cls.__bases__)):
            try:
                self.journal.set_attr(cls, "__bases__", bases)
            except TypeError as err:
                raise Rejected(f"class {cls.__qualname__}: cannot derive from the retained base ({err})") from None
        for name, member in list(cls.__dict__.items()):
            if name in LAYOUT:
                continue
            new = self.xlate(member)
            if new is not member:
                self.journal.set_class_attr(cls, name, new)
        return cls

    # changing the live program

    def patch_function(self, old, new):
        """R5: the old function object takes the new code and attributes, cells by name."""
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            value = _cell(new_cell)
            if value is MISSING:
                continue
            translated = self.xlate(value)
            if translated is not _cell(old_cell):
                self.journal.set_cell(old_cell, translated)
        changed = old.__code__ != new.__code__
        self.journal.set_attr(old, "__code__", new.__code__)
        self.copy_function_attributes(old, new)
        if changed:
            self.summary["functions_rebound"].append(old.__qualname__)

    def forward(self, old, new):
        """R5 fallback: old references run the new function through a trampoline."""
        target = self.xlate(new)
        code = _trampoline_code(old.__code__.co_freevars)
        self.journal.set_attr(old, "__code__", code)
        self.journal.set_attr(old, "__defaults__", None)
        self.journal.set_attr(old, "__kwdefaults__", {"__relive_target__": target})
        self.journal.set_attr(old, "__dict__", {"__wrapped__": target})
        self.summary["functions_forwarded"].append(old.__qualname__)
        return target

    def update_class(self, old, new):
        name = old.__qualname__
        for member_name, member in new.__dict__.items():
            if member_name in LAYOUT or member_name in _slot_names(new):
                continue
            if isinstance(member, type) and self.memo.get(id(member)) is old.__dict__.get(member_name):
                continue
            self.journal.set_class_attr(old, member_name, self.install_member(old.__dict__.get(member_name, MISSING), member))
        for member_name in list(old.__dict__):
            if member_name in LAYOUT or member_name in _slot_names(old):
                continue
            if member_name not in new.__dict__:
                self.journal.del_class_attr(old, member_name)
        self.summary["classes_updated"].append(name)
        self.class_objects[name] = old

    def install_member(self, old, new):
        """The value to install for a class member or global: the patched old object when
        its functions were paired, else the translated candidate value."""
        if isinstance(new, types.FunctionType) and (id(new) in self.function_pairs or id(new) in self.wrapper_pairs):
            return self.memo[id(new)]
        if isinstance(new, (staticmethod, classmethod)) and type(old) is type(new):
            if self.memo.get(id(new.__func__)) is old.__func__:
                # 3.10+: the descriptor copies the function's doc, name and annotations.
                for attr in ("__doc__", "__name__", "__qualname__", "__annotations__"):
                    if hasattr(new, attr) and getattr(old, attr, MISSING) != getattr(new, attr):
                        self.journal.set_attr(old, attr, getattr(new, attr))
                return old
        if isinstance(new, property) and isinstance(old, property):
            parts_old = (old.fget, old.fset, old.fdel)
            parts_new = (new.fget, new.fset, new.fdel)
            if all(
                (o is None and n is None) or (o is not None and n is not None and self.memo.get(id(n)) is o)
                for o, n in zip(parts_old, parts_new)
            ):
                if old.__doc__ != new.__doc__:
                    self.journal.set_attr(old, "__doc__", new.__doc__)
                return old
        if isinstance(new, functools._lru_cache_wrapper) and isinstance(old, functools._lru_cache_wrapper):
            if self.memo.get(id(new.__wrapped__)) is old.__wrapped__:
                old.cache_clear()
                return old
        return self.xlate(new)

    def run(self, kept, imported, exports_old, exports_new, prune):
        imported = set(imported)
        self.plan(kept, imported)
        for old, new in sorted(self.class_pairs, key=lambda p: len(p[0].__mro__)):
            bases = tuple(self.xlate(b) for b in new.__bases__)
            if bases != old.__bases__:
                try:
                    self.journal.set_attr(old, "__bases__", bases)
                except TypeError as err:
                    raise Rejected(
                        f"class {old.__qualname__}: base change {_bases_names(old.__bases__)} -> "
                        f"{_bases_names(bases)} refused by CPython ({err})"
                    ) from None
        for old, new in list(self.function_pairs.values()):
            self.patch_function(old, new)
        for old, new in self.forwarded:
            self.forward(old, new)
        for old, new in list(self.wrapper_pairs.values()):
            for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
                value = _cell(new_cell)
                if value is not MISSING:
                    translated = self.xlate(value)
                    if translated is not _cell(old_cell):
                        self.journal.set_cell(old_cell, translated)
            # The wrapper keeps its identity; its metadata (doc, __wrapped__, attributes the
            # decorator set) follows the new version.
            self.copy_function_attributes(old, new)
        for old, new in self.class_pairs:
            self.update_class(old, new)
        self.next_base = self.merge_state(kept, imported, _base(self.retained), _base(self.candidate))
        self.update_globals(kept, prune)
        self.update_namespace(exports_old, exports_new, prune)
        for old, _ in self.class_pairs:
            if isinstance(old, abc.ABCMeta):
                abc.update_abstractmethods(old)
        return self.summary

    def update_globals(self, kept, prune):
        for name, value in self.candidate.items():
            if name in (MARKER, "__builtins__"):
                continue
            if name in kept and name in self.retained:
                if name not in self.replaced_kept:
                    self.summary["kept"].append(name)
                continue
            old = self.retained.get(name, MISSING)
            if isinstance(value, type) and self.memo.get(id(value)) is old:
                continue
            new = self.install_member(old, value)
            if old is not MISSING and new is not old and _kind(old) != _kind(new) and not name.startswith("__"):
                self.summary["kind_changed"].append((name, _kind(old), _kind(new)))
            if new is not old and not name.startswith("__") and not isinstance(value, (types.FunctionType, type, types.ModuleType)):
                self.summary["values_replaced"].append(name)
            self.journal.set_item(self.retained, name, new)
        if prune:
            for name in list(self.retained):
                if name not in self.candidate and not (name.startswith("__") and name.endswith("__")):
                    self.journal.del_item(self.retained, name)

    def update_namespace(self, exports_old, exports_new, prune):
        for name in exports_new:
            self.set_namespace(name, self.retained[name])
        for name in exports_old:
            if name in exports_new:
                continue
            if name in self.candidate or prune:
                if self.module.__dict__.get(name, MISSING) is not MISSING:
                    self.journal.del_item(self.module.__dict__, name)

    def set_namespace(self, name, value):
        self.journal.set_item(self.module.__dict__, name, value)


def _base(g):
    marker = g.get(MARKER)
    return getattr(marker, "base", None)


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


@functools.lru_cache(maxsize=None)
def _trampoline_code(freevars):
    """A code object with exactly `freevars` that calls `__relive_target__` (R5)."""
    assigns = "".join(f"    {name} = None\n" for name in freevars)
    uses = "".join(f"        {name}\n" for name in freevars)
    source = (
        "def __relive_outer__():\n"
        f"{assigns}"
        "    def __relive_trampoline__(*args, __relive_target__, **kwargs):\n"
        f"{uses}"
        "        return __relive_target__(*args, **kwargs)\n"
        "    return __relive_trampoline__\n"
    )
    namespace = {}
    exec(compile(source, "<relive trampoline>", "exec"), namespace)
    code = namespace["__relive_outer__"]().__code__
    if code.co_freevars != freevars:
        code = code.replace(co_freevars=freevars)
    return code


def apply(
    namespace,
    module,
    retained,
    candidate,
    registry,
    old_source,
    new_source,
    new_tree,
    imported,
    exports_old,
    exports_new,
    prune,
    fail_after,
):
    """Put `candidate` into effect over `retained`. Returns a summary dict, or raises
    `Rejected` (or any exception) after undoing every change."""
    journal = Journal(fail_after)
    applying = Apply(namespace, module, retained, candidate, registry, journal)
    try:
        kept = kept_names(old_source, new_source, new_tree)
        summary = applying.run(kept, imported, exports_old, exports_new, prune)
    except BaseException:
        journal.undo()
        raise
    finally:
        applying.memo.clear()
        applying.keep_alive.clear()
        applying.merged = applying.live_digests = None
    marker = retained.get(MARKER)
    if marker is not None and applying.next_base is not None:
        marker.base = applying.next_base
    summary["changes"] = len(journal.entries)
    summary["class_objects"] = applying.class_objects
    journal.entries.clear()
    return summary


def overwrite(module, candidate, exports_old, exports_new, prune):
    """Overwrite mode (O1): the candidate's exports replace the namespace entries; nothing
    is patched. Atomic through the journal like update mode. Returns the candidate's
    classes by qualified name: every one of them is new (for class-created callbacks)."""
    journal = Journal()
    try:
        for name in exports_new:
            journal.set_item(module.__dict__, name, candidate[name])
        for name in exports_old:
            if name not in exports_new and (name in candidate or prune) and name in module.__dict__:
                journal.del_item(module.__dict__, name)
    except BaseException:
        journal.undo()
        raise
    namespace = candidate.get("__name__")
    return {
        value.__qualname__: value
        for value in candidate.values()
        if isinstance(value, type) and value.__module__ == namespace
    }


def surviving_class_versions(namespaces):
    """Debug aid (R12): after a full collection, qualified names of the given namespaces
    with more than one live class object, and how many. Walks the heap: never called on
    the reload path unless the reloader's `debug_leaks` option asks for it."""
    import gc

    gc.collect()
    counts = collections.Counter(
        (o.__module__, o.__qualname__)
        for o in gc.get_objects()
        if isinstance(o, type) and getattr(o, "__module__", None) in namespaces
    )
    return sorted((f"{module}.{name}", n) for (module, name), n in counts.items() if n > 1)
