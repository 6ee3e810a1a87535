"""Update mode: plan putting a candidate into effect in place (R2-R10).

Loaded once by src/engine/update.rs, which calls `apply` after the candidate has been
compiled, executed, validated and tested. Every change to a live object is planned into
the batch's `Journal` (batch.py); nothing changes until src/engine/commit.rs makes all of a
batch's changes in one step, undoing them in reverse order if one fails. Checks that can
reject (R7) run while planning.

`Apply` is assembled from one mixin per concern: pairing and checks (pairing.py), the
translator (translate.py, R4b/R6), in-place patching (patching.py, R3/R5) and the R8a merge
into kept objects (merge.py). It walks only what is installed, never the heap (R12). The
journal and the memo belong to the batch, which drops them when it closes.
"""

import collections
import functools
import types

from _relive_class_caches import clear_typing_caches, refresh
from _relive_contrib_apply import Contributions
from _relive_merge import Merger
from _relive_objects import MARKER, MISSING, Rejected, _bases_names, _cell, _kind  # noqa: F401 - Rejected is read by update.rs
from _relive_pairing import Pairing
from _relive_patching import Patcher
from _relive_state_rule import kept_names
from _relive_translate import Translator


class Apply(Pairing, Translator, Patcher, Merger, Contributions):
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
        self.class_twins = set()  # id(retained) of pairs with nothing to update (pairing.py)
        self.function_pairs = {}  # id(new) -> (old, new)
        self.paired_old = set()  # id(old) of paired functions
        self.wrapper_pairs = {}  # id(new) -> (old, new): foreign wrappers sharing their code
        self.forwarded = []  # (old, new) functions whose free variables changed
        self.class_objects = {}
        self.twins = set()  # module-level names whose functions are in effect already
        self.others = []  # the candidate's other globals, (name, value) in order
        self.replaced_kept = []  # kept names whose object R8a replaced
        self.installed = {}  # name -> what the commit puts into the retained globals
        self.next_base = None
        self.next_contrib = None  # R8b: the script's contribution once committed
        self.contrib_planned = {}
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

    def run(self, kept, imported, exports_old, exports_new, prune):
        imported = set(imported)
        self.plan(kept, imported)
        changing = [pair for pair in self.class_pairs if id(pair[0]) not in self.class_twins]
        for old, new in sorted(changing, key=lambda p: len(p[0].__mro__)):
            bases = tuple(self.xlate(b) for b in new.__bases__)
            if bases != old.__bases__:
                reject = (
                    f"class {old.__qualname__}: base change {_bases_names(old.__bases__)} -> "
                    f"{_bases_names(bases)} refused by CPython"
                )
                self.journal.set_attr(old, "__bases__", bases, reject=reject)
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
            if id(old) in self.class_twins:
                self.summary["classes_updated"].append(old.__qualname__)
                self.class_objects[old.__qualname__] = old
            else:
                self.update_class(old, new)
        self.next_base = self.merge_state(kept, imported, _base(self.retained), _base(self.candidate))
        self.update_globals(kept, prune)
        self.update_namespace(exports_old, exports_new, prune)
        # R8b last: the candidate's functions and classes translate to what was installed.
        self.next_contrib = self.replace_contributions()
        return self.summary

    def update_globals(self, kept, prune):
        # The module's twins (`pair_module_twins`) are in effect already.
        for name, value in self.others:
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
            self.installed[name] = new
        if prune:
            for name in list(self.retained):
                if name not in self.candidate and not (name.startswith("__") and name.endswith("__")):
                    self.journal.del_item(self.retained, name)

    def update_namespace(self, exports_old, exports_new, prune):
        names = self.module.__dict__
        for name in exports_new:
            value = self.installed.get(name, MISSING)
            if value is MISSING:
                value = self.retained[name]
            if names.get(name, MISSING) is not value:
                self.journal.set_item(names, name, value)
        exported = set(exports_new)  # a list: `in` on it made this quadratic in the exports
        for name in exports_old:
            if name in exported:
                continue
            if name in self.candidate or prune:
                if self.module.__dict__.get(name, MISSING) is not MISSING:
                    self.journal.del_item(self.module.__dict__, name)


def _base(g):
    marker = g.get(MARKER)
    return getattr(marker, "base", None)


def apply(
    namespace,
    module,
    retained,
    candidate,
    registry,
    old_source,
    new_source,
    imported,
    exports_old,
    exports_new,
    prune,
    batch,
):
    """Plan putting `candidate` into effect over `retained`, within `batch` (batch.py): the
    changes go into the batch's journal and nothing changes yet; src/engine/commit.rs makes
    every member's changes in one step, then the batch calls each member's `finish`. Uses
    the batch's translation memo (R15). Returns a summary dict, or raises `Rejected` (or
    any exception)."""
    journal = batch.journal
    first = len(journal.entries)
    applying = Apply(namespace, module, retained, candidate, registry, journal)
    batch.share(applying)
    try:
        kept = kept_names(old_source, new_source)
        kept = batch.adjust(applying, kept, new_source)
        summary = applying.run(kept, imported, exports_old, exports_new, prune)
    finally:
        applying.merged = applying.live_digests = None
    summary["changes"] = len(journal.entries) - first
    summary["class_objects"] = applying.class_objects
    # Classes this member's plan changes: only their caches can be stale after the commit.
    touched = {id(entry[1]) for entry in journal.entries[first:]}
    changed = [
        old
        for old, _ in applying.class_pairs
        if id(old) not in applying.class_twins and _class_touched(old, touched)
    ]
    batch.finishes.append(
        functools.partial(_finish, changed, registry, retained, applying.next_base, applying.next_contrib)
    )
    return summary


def _class_touched(cls, touched):
    """Whether a planned change targets `cls` or a function it holds (a method patched in
    place, its `__isabstractmethod__` included; through staticmethod, classmethod and
    property wrappers)."""
    if id(cls) in touched:
        return True
    for value in list(vars(cls).values()):
        inner = [value, getattr(value, "__func__", None)]
        if isinstance(value, property):
            inner += [value.fget, value.fset, value.fdel]
        if any(x is not None and id(x) in touched for x in inner):
            return True
    return False


def _finish(updated, registry, retained, next_base, next_contrib=None):
    """After the commit: class caches (R3), typing caches (R12), the next R8a base and R8b
    contribution."""
    refresh(updated, registry.script_globals.values(), retained)
    clear_typing_caches()
    marker = retained.get(MARKER)
    if marker is not None and next_base is not None:
        marker.base = next_base
    if marker is not None:
        marker.contrib = next_contrib


class _AsIs(Contributions):
    """R8b in overwrite mode (O1): the candidate's objects go live as they are, so what it
    registered in other scripts' objects stays as it is, and the old version's
    registrations are taken out (`contrib_apply.py` with nothing to translate)."""

    def __init__(self, retained, candidate, batch):
        self.ns = candidate.get("__name__")
        self.retained, self.candidate = retained, candidate
        self.journal, self.contrib_planned = batch.journal, batch.contrib_planned
        self.warnings = []

    def xlate(self, value):
        return value

    def warn(self, message):
        path = getattr(self.retained.get(MARKER), "path", self.ns)
        self.warnings.append(f"{path}: R8b: {message}")


def _set_contrib(marker, contrib):
    if marker is not None:
        marker.contrib = contrib


def overwrite(module, retained, candidate, exports_old, exports_new, prune, batch):
    """Overwrite mode (O1): the candidate's exports replace the namespace entries; nothing
    is patched. Planned into the `batch`'s journal like update mode (committed with the
    rest of the batch, R2, R15); the old version's registrations in other scripts' objects
    are taken out (R8b). Returns the candidate's classes by qualified name (every one of them
    is new, for class-created callbacks) and the warnings to log."""
    journal = batch.journal
    batch.settle(candidate)
    contributions = _AsIs(retained, candidate, batch)
    next_contrib = contributions.replace_contributions()
    batch.finishes.append(functools.partial(_set_contrib, candidate.get(MARKER), next_contrib))
    for name in exports_new:
        journal.set_item(module.__dict__, name, candidate[name])
    for name in exports_old:
        if name not in exports_new and (name in candidate or prune) and name in module.__dict__:
            journal.del_item(module.__dict__, name)
    namespace = candidate.get("__name__")
    classes = {
        value.__qualname__: value
        for value in candidate.values()
        if isinstance(value, type) and value.__module__ == namespace
    }
    return classes, contributions.warnings


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
