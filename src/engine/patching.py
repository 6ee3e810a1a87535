"""Changing the live program in place (R3, R5): functions take their new code, classes
their new dicts; the trampoline for functions whose free variables changed.

`Patcher` is a mixin of update.py's `Apply`.
"""

import collections
import dataclasses
import enum
import functools
import types

from _relive_journal import MISSING
from _relive_objects import LAYOUT, _cell, _slot_names


class Patcher:
    def patch_function(self, old, new):
        """R5: the old function object takes the new code and attributes, cells by name.
        (Twins, functions whose statement did not change, never come here: pairing.py.)"""
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            value = _cell(new_cell)
            if value is MISSING:
                continue
            translated = self.xlate(value)
            if translated is not _cell(old_cell):
                self.journal.set_cell(old_cell, translated)
        changed = old.__code__ != new.__code__
        if not changed and self._is_unchanged(old, new):
            # R5: the function in effect already is what the new version defines. Its code
            # may be an equal copy (compiled with the whole module at load): it takes the
            # piece's own, so the next reload finds the two functions twins at once.
            self.journal.set_attr(old, "__code__", new.__code__)
            return
        self.journal.set_attr(old, "__code__", new.__code__)
        self.copy_function_attributes(old, new)
        if changed:
            self.summary["functions_rebound"].append(old.__qualname__)

    def _is_unchanged(self, old, new):
        """Whether `old` (whose code equals `new`'s) has the attributes patching would give
        it, value for value: then patching it changes nothing but object identities a
        fresh load would not keep either, and the journal stays short (issue 17)."""
        if old.__code__.co_qualname != new.__code__.co_qualname:
            return False
        values, new_dict = self.function_attributes(new)
        values["__dict__"] = new_dict
        return all(_same(getattr(old, name), value) for name, value in values.items())

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
            if isinstance(member, type) and self.memo.get(id(member), MISSING) is old.__dict__.get(member_name):
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


_PLAIN = (str, int, bool, bytes, type(None))



def _same(a, b):
    """Identical, or equal immutable plain values (strings, integers, None; tuples and dicts
    of them, dicts in the same order): installing `b` in place of `a` would change nothing."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in _PLAIN:
        return a == b
    if type(a) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return False
