"""The undo journal of an apply (R2): every change to a live object, recorded after it is
made, undone in reverse order when anything fails.

Loaded by src/engine/update.rs before `update.py`, which imports it.
"""

import collections

MISSING = object()


class Journal:
    """Every change to a live object, recorded after it is made so it can be undone (R2)."""

    def __init__(self, fail_after=None):
        self.entries = []
        self.fail_after = fail_after

    def _record(self, entry):
        self.entries.append(entry)
        if self.fail_after is not None and len(self.entries) >= self.fail_after:
            raise RuntimeError(f"injected failure after {len(self.entries)} changes")

    def set_class_attr(self, cls, name, value):
        old = cls.__dict__.get(name, MISSING)
        if old is value:
            return
        type.__setattr__(cls, name, value)
        self._record(("cls", cls, name, old))

    def del_class_attr(self, cls, name):
        old = cls.__dict__[name]
        type.__delattr__(cls, name)
        self._record(("cls", cls, name, old))

    def set_attr(self, obj, name, value):
        old = getattr(obj, name)
        if old is value:
            return
        setattr(obj, name, value)
        self._record(("attr", obj, name, old))

    def set_item(self, container, key, value):
        if isinstance(container, dict):
            old = container.get(key, MISSING)
        else:
            old = container[key]
        if old is value:
            return
        container[key] = value
        self._record(("item", container, key, old))

    def del_item(self, container, key):
        old = container[key]
        del container[key]
        self._record(("item", container, key, old))

    def set_cell(self, cell, value):
        try:
            old = cell.cell_contents
        except ValueError:
            old = MISSING
        if old is value:
            return
        cell.cell_contents = value
        self._record(("cell", cell, None, old))

    def replace_sequence(self, sequence, new_items):
        """Replace a deque's items, keeping the object."""
        old = list(sequence)
        sequence.clear()
        sequence.extend(new_items)
        self._record(("sequence", sequence, None, old))

    def replace_contents(self, container, new_items):
        """Replace a set's or dict's contents (rebuilt because its keys changed)."""
        old = container.copy()
        container.clear()
        container.update(new_items)
        self._record(("contents", container, None, old))

    def rebuild_dict(self, container, items):
        """Refill a dict in a new key order, keeping the object (R8a). An OrderedDict is
        written through its own methods; other dicts through dict's, so no user
        `__setitem__` runs."""
        old = list(container.items())
        kind = type(container) if isinstance(container, collections.OrderedDict) else dict
        kind.clear(container)
        kind.update(container, items)
        self._record(("dict", container, kind, old))

    def replace_list(self, sequence, new_items):
        """A list's or deque's items, keeping the object (R8a)."""
        old = list(sequence)
        if isinstance(sequence, list):
            list.__setitem__(sequence, slice(None), new_items)
        else:
            sequence.clear()
            sequence.extend(new_items)
        self._record(("sequence", sequence, None, old))

    def undo(self):
        while self.entries:
            kind, target, key, old = self.entries.pop()
            if kind == "cls":
                if old is MISSING:
                    if key in target.__dict__:
                        type.__delattr__(target, key)
                else:
                    type.__setattr__(target, key, old)
            elif kind == "attr":
                setattr(target, key, old)
            elif kind == "item":
                if old is MISSING:
                    target.pop(key, None)
                else:
                    target[key] = old
            elif kind == "cell":
                if old is MISSING:
                    del target.cell_contents
                else:
                    target.cell_contents = old
            elif kind == "contents":
                target.clear()
                target.update(old)
            elif kind == "sequence":
                if isinstance(target, list):
                    list.__setitem__(target, slice(None), old)
                else:
                    target.clear()
                    target.extend(old)
            elif kind == "dict":
                key.clear(target)
                key.update(target, old)
