"""The journal of an apply (R2): every change the apply will make to a live object, in
order, recorded while it plans and made by src/engine/commit.rs in one step.

Nothing is changed while the apply plans: Python code runs then, and another thread could
see a half-made change. The commit makes every change from Rust without running Python
bytecode (so the interpreter cannot switch threads in between), records what each change
replaced, and undoes them in reverse order if one fails.

An entry is `(change, target, key, value, reject)`: `change` a `Change`, `reject` the
one-line message (R7) when CPython refusing the change (a `TypeError`) means the reload is
rejected, else None. Changes: `CLASS_MEMBER` (`value` MISSING deletes it, with
`type.__setattr__` so no metaclass hook runs), `ATTRIBUTE`, `ITEM` (a dict's or list's item;
MISSING deletes), `CELL`, `CONTENTS` (a set's or dict's contents), `DICT` (a dict refilled in
a new key order, through OrderedDict's own methods or dict's), `SEQUENCE` (a list's or
deque's items).

Loaded by src/engine/update.rs before the apply's modules, which import it.
"""

import enum

MISSING = object()


class Change(enum.IntEnum):
    """What a journal entry changes: src/engine/commit.rs reads these numbers into its own
    `Change` (a unit test there holds the two lists equal)."""

    CLASS_MEMBER = 0
    ATTRIBUTE = 1
    ITEM = 2
    CELL = 3
    CONTENTS = 4
    DICT = 5
    SEQUENCE = 6


class Journal:
    """The changes an apply will make, in order (R2)."""

    def __init__(self):
        self.entries = []

    def _add(self, kind, target, key, value, reject=None):
        self.entries.append((kind, target, key, value, reject))

    def set_class_attr(self, cls, name, value):
        if cls.__dict__.get(name, MISSING) is value:
            return
        self._add(Change.CLASS_MEMBER, cls, name, value)

    def del_class_attr(self, cls, name):
        self._add(Change.CLASS_MEMBER, cls, name, MISSING)

    def set_attr(self, obj, name, value, reject=None):
        if getattr(obj, name) is value:
            return
        self._add(Change.ATTRIBUTE, obj, name, value, reject)

    def set_item(self, container, key, value):
        old = container.get(key, MISSING) if isinstance(container, dict) else container[key]
        if old is value:
            return
        self._add(Change.ITEM, container, key, value)

    def del_item(self, container, key):
        self._add(Change.ITEM, container, key, MISSING)

    def set_cell(self, cell, value):
        try:
            old = cell.cell_contents
        except ValueError:
            old = MISSING
        if old is value:
            return
        self._add(Change.CELL, cell, None, value)

    def replace_sequence(self, sequence, new_items):
        """Replace a list's or deque's items, keeping the object."""
        self._add(Change.SEQUENCE, sequence, None, list(new_items))

    replace_list = replace_sequence

    def replace_contents(self, container, new_items):
        """Replace a set's or dict's contents (rebuilt because its keys changed)."""
        self._add(Change.CONTENTS, container, None, list(new_items))

    def rebuild_dict(self, container, items):
        """Refill a dict in a new key order, keeping the object (R8a)."""
        self._add(Change.DICT, container, None, list(items))
