"""One batch's apply (R2, R14, R15): every member's changes are planned into one journal,
with one translation memo, and made in one step by src/engine/commit.rs, or none is.

Loaded once by src/engine/batch_helper.rs (its typed wrapper), after `update.py` (which it
drives: `Apply` does the patching of one member). The memo is shared across the batch's members, in dependency
order: once a script is applied, its candidate objects map to their retained counterparts,
so a dependent built against that candidate (`from game import LIMIT`, R15) translates the
objects it imported into the ones that will be in effect. Nothing changes while members
are planned; the commit undoes what it made if a change fails. Also here: the import targets of a test file,
from its syntax tree, for R15's dependency graph.
"""

import ast
import sys
import types

from _relive_journal import MISSING, Journal
from _relive_objects import ATOM_TYPES


def import_targets(tree):
    """Module-level imports of a test file: ([(module, name)] of `from module import name`,
    [module] of `import module`), looking inside if/try/with/for/while bodies but not into
    defs. A script's come from its pieces (`Source.import_targets`, source.py)."""
    names, modules = [], []
    todo = list(tree.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            names.extend((stmt.module, alias.name) for alias in stmt.names)
        elif isinstance(stmt, ast.Import):
            modules.extend(alias.name for alias in stmt.names)
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(stmt, field, None) or ())
    return names, modules


def file_import_targets(path):
    """`import_targets` of a file; nothing for a file that does not parse."""
    try:
        with open(path, "rb") as handle:
            return import_targets(ast.parse(handle.read()))
    except (OSError, SyntaxError, ValueError):
        return [], []


def _same(a, b):
    if a is b:
        return True
    return type(a) in ATOM_TYPES and type(a) is type(b) and a == b


def _kept_given(kept, new_source, changed):
    """`kept` less what reads `changed` names, transitively, and those names themselves."""
    if not changed:
        return kept
    statements = new_source.value_statements()
    dirty = set(changed)
    progress = True
    while progress:
        progress = False
        for binds, reads in statements:
            if not dirty.isdisjoint(reads) and not dirty.issuperset(binds):
                dirty.update(binds)
                progress = True
    return kept - dirty


class Batch:
    """The journal and the translation memo of one batch's apply. `update.apply` and
    `update.overwrite` plan into it; after the commit, `finish` runs what each member asked
    for, and `close` drops everything."""

    def __init__(self, namespaces, touched, proxies=()):
        self.journal = Journal()
        # What each planned member runs once the batch is committed (update._finish).
        self.finishes = []
        self.memo = {}
        self.keep_alive = []
        # R8b: each registry's planned contents, shared by the members (contrib_apply.py).
        self.contrib_planned = {}
        # A namespace proxy of the batch's view (T1) a candidate kept somewhere (a class
        # attribute, a default) is the real namespace module once the batch applies.
        for dotted, proxy in proxies:
            self.memo[id(proxy)] = sys.modules.get(dotted, proxy)
            self.keep_alive.append(proxy)
        self.namespaces = set(namespaces)
        # Namespaces with a member in this batch: a module import of one counts as changed.
        self.touched = set(touched)
        # The imported names of the last member applied that took new objects (R15).
        self.changed_imports = []

    def share(self, applying):
        """One translation memo for the whole batch, in dependency order: once a member is
        applied, its candidate objects map to their retained counterparts, so a dependent
        translates what it imported from that candidate into what is now in effect."""
        applying.memo = self.memo
        applying.keep_alive = self.keep_alive
        applying.contrib_planned = self.contrib_planned

    def adjust(self, applying, kept, new_source):
        """R8's kept names for a member, where its imports from relive namespaces that take
        new objects count as changed statements (R15): values computed from them are
        recomputed, the rest is kept."""
        candidate, retained = applying.candidate, applying.retained
        changed, modules = set(), set()
        for name in new_source.relive_bindings(self.namespaces):
            value = candidate.get(name, MISSING)
            if isinstance(value, types.ModuleType):
                if value.__name__ in self.touched:
                    modules.add(name)
                continue
            if value is not MISSING and not _same(self.memo.get(id(value), value), retained.get(name, MISSING)):
                changed.add(name)
        # A namespace module is the same object; what is read from it may have changed.
        self.changed_imports = sorted(changed)
        return _kept_given(kept, new_source, changed | modules)

    def settle(self, candidate):
        """A member that goes live as it is (a new script, overwrite mode): its objects are
        the live ones, so later members translate them to themselves."""
        for value in candidate.values():
            if type(value) not in ATOM_TYPES:
                self.memo.setdefault(id(value), value)
                self.keep_alive.append(value)

    def install(self, module, names, values):
        """Put a new script's exports into its namespace, through the journal."""
        self.settle(values)
        for name in names:
            self.journal.set_item(module.__dict__, name, values[name])

    def finish(self):
        """After the commit: each member's follow-up (class and typing caches, R8a bases).
        Returns what raised, as text; the commit stands."""
        errors = []
        for finish in self.finishes:
            try:
                finish()
            except Exception as exc:  # noqa: BLE001 - committed changes are never undone
                errors.append(f"{type(exc).__name__}: {exc}")
        return errors

    def close(self):
        """Done (committed or not): drop the journal and the memo (R12)."""
        self.journal.entries.clear()
        self.finishes.clear()
        self.memo.clear()
        self.keep_alive.clear()
        self.contrib_planned.clear()
