"""R8b at apply: the old version's contribution is replaced by the candidate's, in place.

`Contributions` is a mixin of update.py's `Apply` (it uses `xlate`, `journal`, `retained`,
`candidate`, `warn`, and `contrib_planned`, the batch's planned state of each container so
that two members of one batch touching one registry plan on each other's result). Every
change goes through the batch's journal, so it commits with the rest of the batch (R2).

Per live container, for the old version's entry `o` (retained objects) and the candidate's
`n` (candidate objects, translated here, R4b):
- dict: keys the candidate set take their translated values; keys only the old version set
  are removed when they still hold its value (a value the program put there stays), and a
  value it had overwritten comes back; a container the old version created is removed with
  its key only when nothing but the old version's entries is left in it.
- list: the old version's items are removed by identity; the candidate's, translated, take
  the place of the first of them (an edited handler keeps its position), or stay where the
  candidate put them.
- set: the old version's elements leave unless the candidate added them again.
When the candidate imported a candidate object (a dependency rebuilt in the same batch, R15)
its registrations went there: the old contribution is then kept as it is.
"""

from _relive_contrib import _MISSING, DEPTH, Entry, Run, _expand, after, foreign_roots


class Contributions:
    def replace_contributions(self):
        """Plans the replacement; returns the script's next contribution (retained objects)."""
        old = _run(self.retained)
        new = _run(self.candidate)
        if new is not None and new.entries is None:
            after(new)
        if new is None:
            # Not tracked this time (relive's own failure was logged): keep the old one.
            return old
        foreign = foreign_roots(new, self.candidate)
        keep_old = bool(foreign)
        self._retranslate(foreign)
        old_entries = old.entries if old is not None and old.entries else {}
        next_run = Run()
        next_run.entries = {}
        next_run.untracked = list(new.untracked)
        for key in list(old_entries) + [k for k in new.entries if k not in old_entries]:
            o, n = old_entries.get(key), new.entries.get(key)
            if n is None and keep_old:
                next_run.entries[key] = o
                continue
            entry = self._replace(o, n, new.entries, old_entries)
            if not entry.empty():
                next_run.entries[key] = entry
        return next_run

    def _retranslate(self, names):
        """A dependency rebuilt in the same batch (R15) handed this candidate its own objects
        (a candidate class whose registry the apply installs): what this candidate put into
        them is translated now that its objects are paired (one translator per batch)."""
        namespaces = {self.ns}
        level = [self.candidate[name] for name in sorted(names) if name in self.candidate]
        seen = set()
        for _depth in range(DEPTH + 1):
            following = []
            for obj in level:
                container, walk = _expand(obj, namespaces | {getattr(type(obj), "__module__", None)})
                if walk is not None:
                    following.extend(walk)
                    continue
                if container is None or id(container) in seen:
                    continue
                seen.add(id(container))
                following.extend(self._retranslate_one(container))
            level = following

    def _retranslate_one(self, container):
        if isinstance(container, dict):
            for k, v in list(container.items()):
                t = self.xlate(v)
                if t is not v:
                    self.journal.set_item(container, k, t)
            return list(container.values())
        if isinstance(container, list):
            items = [self.xlate(x) for x in container]
            if any(a is not b for a, b in zip(items, container)):
                self.journal.replace_sequence(container, items)
            return list(container)
        return []

    def _planned(self, container, make):
        planned = self.contrib_planned
        if id(container) not in planned:
            planned[id(container)] = (container, make(container))
        return planned[id(container)][1]

    def _replace(self, o, n, new_entries, old_entries):
        c = (n or o).container
        kind = (n or o).kind
        if kind == "dict":
            return self._replace_dict(c, o, n, new_entries, old_entries)
        if kind == "list":
            return self._replace_list(c, o, n)
        return self._replace_set(c, o, n)

    def _replace_dict(self, c, o, n, new_entries, old_entries):
        state = self._planned(c, dict)
        entry = Entry(c, "dict")
        o_sets = o.sets if o else {}
        for k, (value, prior) in (n.sets if n else {}).items():
            v = self.xlate(value)
            if k in o_sets and prior is o_sets[k][0]:
                prior = o_sets[k][1]
            elif prior is not _MISSING and k in o_sets:
                # The program changed the entry since; the script wins (R8b).
                self.warn(f"{k!r}: the program's value is replaced by the script's registration")
            if state.get(k, _MISSING) is not v:
                self.journal.set_item(c, k, v)
                state[k] = v
            entry.sets[k] = (v, prior)
            if k in n.created or (o and k in o.created):
                entry.created.add(k)
        for k, (v, prior) in o_sets.items():
            if n is not None and k in n.sets:
                continue
            if state.get(k, _MISSING) is not v:
                continue  # the program changed or removed it: it stays as it is
            if k in o.created and not _only_old(v, old_entries, new_entries):
                entry.sets[k] = (v, prior)
                entry.created.add(k)
                continue
            if prior is _MISSING:
                self.journal.del_item(c, k)
                del state[k]
            else:
                self.journal.set_item(c, k, prior)
                state[k] = prior
        for k, prior in (o.dels if o else {}).items():
            if (n is None or k not in n.dels) and k not in state:
                self.journal.set_item(c, k, prior)
                state[k] = prior
        entry.dels = dict(n.dels) if n else {}
        return entry

    def _replace_list(self, c, o, n):
        state = self._planned(c, list)
        new_items = [self.xlate(x) for x in (n.adds if n else ())]
        by_candidate = {id(x): t for x, t in zip(n.adds if n else (), new_items)}
        old_ids = {id(x) for x in (o.adds if o else ())}
        result, placed = [], False
        for x in state:
            if id(x) in by_candidate:
                continue
            if id(x) in old_ids:
                if not placed:
                    result.extend(new_items)
                    placed = True
                continue
            result.append(x)
        if not placed:
            result = [by_candidate.get(id(x), x) for x in state if id(x) not in old_ids]
        if len(result) != len(state) or any(a is not b for a, b in zip(result, state)):
            self.journal.replace_sequence(c, result)
            state[:] = result
        entry = Entry(c, "list")
        entry.adds = new_items
        entry.removes = list(n.removes) if n else []
        return entry

    def _replace_set(self, c, o, n):
        state = self._planned(c, set)
        new_items = [self.xlate(x) for x in (n.adds if n else ())]
        result = [x for x in state if not _among(x, n.adds if n else ())]
        gone = [x for x in (o.adds if o else ()) if not _among(x, new_items)]
        result = [x for x in result if not _among(x, gone)]
        for x in new_items:
            if not _among(x, result):
                result.append(x)
        if len(result) != len(state) or any(not _among(x, state) for x in result):
            self.journal.replace_contents(c, result)
            state.clear()
            state.update(result)
        entry = Entry(c, "set")
        entry.adds = new_items
        entry.removes = list(n.removes) if n else []
        return entry


def _among(x, items):
    return any(x is y for y in items)


def _only_old(container, old_entries, new_entries):
    """Whether a container the old version created holds nothing but its own entries and
    the candidate adds nothing to it: then it goes with the old contribution."""
    if id(container) in new_entries:
        return False
    o = old_entries.get(id(container))
    mine = set()
    if o is not None:
        mine = {id(x) for x in o.adds} if o.kind != "dict" else set(o.sets)
    if isinstance(container, dict):
        return all(k in mine for k in container)
    return all(id(x) in mine for x in container)


def _run(g):
    marker = g.get("__relive__")
    return getattr(marker, "contrib", None) if marker is not None else None

