"""R8a: merge what the script changed in a kept object into it, in place.

The *base* is the snapshot of what the version in effect left in its module-level objects
when it ran, the *new* snapshot what the candidate left in its own (fingerprint.py). For a
name R8 keeps, the difference base -> new is applied to the live object through the apply's
journal, translated (R4b): entries the script added, changed or removed follow the script;
what the program put there at run time stays; where both changed an entry the script wins
and a warning names it. Another kind of object that differs is replaced by the candidate's,
with a warning. Equal base and new change nothing.

`Merger` is a mixin of update.py's `Apply` (it uses `xlate`, `journal`, `memo`, `retained`,
`candidate` and `summary`). It returns the script's next base: the new snapshot re-pointed
at live objects (`rebase`), so nothing of the candidate stays in it (R12).
"""

import collections
import difflib

from _relive_fingerprint import MAX_DEPTH, Node, Snapshot, _instance_dict

_MISSING = object()


class Merger:
    def merge_state(self, kept, imported, old_base, new_base):
        """Merge kept names; returns the next base for every name of the new snapshot."""
        next_base = {}
        self.live_digests, self.live_imported = None, imported
        self.merged = {}
        for name, new in (new_base or {}).items():
            old = (old_base or {}).get(name, _MISSING)
            live = self.retained.get(name, _MISSING)
            cand = self.candidate.get(name, _MISSING)
            if name not in kept or name in imported or live is _MISSING or cand is live or old is _MISSING:
                next_base[name] = self.rebase(new)
                continue
            next_base[name] = self.merge_top(name, old, new, live, cand)
        return next_base

    def live_snapshot(self):
        """The fingerprints of the objects in effect, prepared when a merge first needs them."""
        if self.live_digests is None:
            self.live_digests = Snapshot(self.retained, self.live_imported)
            self.live_digests.prepare()
        return self.live_digests

    # the next base

    def rebase(self, node):
        """A candidate's node, pointing at the objects the apply installs instead."""
        if not isinstance(node, Node):
            return node
        done = {}
        return self._rebase(node, done)

    def _rebase(self, node, done):
        if id(node) in done:
            return done[id(node)]
        result = Node(node.kind, node.type_fp, self.xlate(node.handle))
        done[id(node)] = result
        result.keys, result.values, result.digest = node.keys, node.values, node.digest
        result.items = [self.xlate(e) for e in node.items] if node.kind == "list" else None
        result.children = {i: self._rebase(c, done) for i, c in node.children.items()}
        return result

    # merging

    def merge_top(self, name, old, new, live, cand):
        if _digest(old) == _digest(new):
            return _strip(old)
        if isinstance(old, Node) and isinstance(new, Node) and self.mergeable(old, new, live):
            return self.merge_node(name, old, new, live)
        # Another kind of object, or a different type: the candidate's replaces it (R8a).
        self.memo.pop(id(cand), None)
        value = self.xlate(cand)
        self.journal.set_item(self.retained, name, value)
        self.installed[name] = value
        self.replaced_kept.append(name)
        self.warn(f"{name}: kept object replaced by the new version's (it is not a container relive merges)")
        return self.rebase(new)

    def mergeable(self, old, new, live):
        return old.kind == new.kind and old.type_fp == new.type_fp and self.live_snapshot().container_kind(live) == new.kind

    def merge_node(self, path, base, new, live):
        done = self.merged.get(id(live))
        if done is not None:
            return done
        if base.digest == new.digest:
            return base
        result = Node(new.kind, new.type_fp, live)
        self.merged[id(live)] = result
        result.keys, result.values, result.digest = new.keys, new.values, new.digest
        result.items = None
        if new.kind == "list":
            self.merge_list(path, base, new, live, result)
        elif new.kind == "set":
            self.merge_set(path, base, new, live)
        else:
            self.merge_mapping(path, base, new, live, result)
        return result

    def merge_child(self, path, base_child, new_child, live_value, new_value):
        """A changed entry: merged into the live value when both are containers of one kind,
        else the new value (translated). Returns (value to store, next base child or None)."""
        if (
            isinstance(base_child, Node)
            and isinstance(new_child, Node)
            and live_value is not _MISSING
            and self.mergeable(base_child, new_child, live_value)
        ):
            return live_value, self.merge_node(path, base_child, new_child, live_value)
        value = self.xlate(new_value)
        return value, (self.rebase(new_child) if new_child is not None else None)

    def merge_mapping(self, path, base, new, live, result):
        """dict (keys in order) or script instance (attributes, no order)."""
        is_dict = new.kind == "dict"
        target = live if is_dict else _instance_dict(live)
        base_index = {k: i for i, k in enumerate(base.keys)}
        new_index = {k: i for i, k in enumerate(new.keys)}
        live_keys = list(target)
        live_by_digest = {self.key_digest(k): k for k in live_keys}
        values = {}
        for digest, j in new_index.items():
            key = new.items[2 * j]
            new_value = new.items[2 * j + 1]
            live_key = live_by_digest.get(digest, _MISSING)
            live_value = target[live_key] if live_key is not _MISSING else _MISSING
            i = base_index.get(digest)
            where = f"{path}[{key!r}]" if is_dict else f"{path}.{key}"
            if i is not None and base.values[i] == new.values[j]:
                if live_value is _MISSING:
                    continue  # the program removed it: it stays removed
                child = base.children.get(i)
                if child is not None:
                    result.children[j] = child
                continue
            both_nodes = isinstance(base.children.get(i), Node) and isinstance(new.children.get(j), Node)
            if i is not None and live_value is not _MISSING and not both_nodes:
                if self.digest_of(live_value) != base.values[i]:
                    self.warn(f"{where}: changed by the program and by the script; the script's value wins")
            value, child = self.merge_child(where, base.children.get(i), new.children.get(j), live_value, new_value)
            if child is not None:
                result.children[j] = child
            values[digest] = (self.xlate(key) if live_key is _MISSING else live_key, value)
        removed = []
        for digest, i in base_index.items():
            if digest in new_index or digest not in live_by_digest:
                continue
            live_key = live_by_digest[digest]
            if self.digest_of(target[live_key]) != base.values[i]:
                where = f"{path}[{live_key!r}]" if is_dict else f"{path}.{live_key}"
                self.warn(f"{where}: changed by the program, removed by the script")
            removed.append(digest)
        live_order = [self.key_digest(k) for k in live_keys]
        order = self.merged_order(list(base.keys), list(new.keys), live_order)
        keys = {d: k for d, k in live_by_digest.items()}
        keys.update({d: k for d, (k, _) in values.items()})
        order = [d for d in order if d not in removed and d in keys]
        if not is_dict or order == live_order:
            for digest, (key, value) in values.items():
                if key in target and target[key] is value:
                    continue
                self.journal.set_item(target, key, value)
            for digest in removed:
                self.journal.del_item(target, live_by_digest[digest])
            return
        items = []
        for digest in order:
            key = keys[digest]
            items.append((key, values[digest][1] if digest in values else target[key]))
        self.journal.rebuild_dict(target, items)

    def merge_set(self, path, base, new, live):
        base_digests = collections.Counter(base.values)
        new_digests = collections.Counter(new.values)
        live_by_digest = {self.digest_of(e): e for e in live}
        adds = [self.xlate(new.items[j]) for j, d in enumerate(new.values) if d not in base_digests]
        drops = [live_by_digest[d] for d in base.values if d not in new_digests and d in live_by_digest]
        if adds or drops:
            contents = [e for e in live if not any(e is d for d in drops)] + adds
            self.journal.replace_contents(live, contents)

    def merge_list(self, path, base, new, live, result):
        """The script's edit (base -> new, by fingerprints) applied to the live list: base
        items are found by identity, inserted runs land right after the live position of the
        nearest preceding base item (script first), the program's elements stay."""
        live_items = list(live)
        positions = self.base_positions(base, live_items)
        removals = set()
        after = collections.defaultdict(list)  # live position (-1: front) -> [new index]
        replaced = {}  # live position -> new index (pairwise, merged or replaced)
        became = [None] * len(new.values)
        matcher = difflib.SequenceMatcher(None, list(base.values), list(new.values), autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for k in range(i2 - i1):
                    p = positions[i1 + k]
                    became[j1 + k] = live_items[p] if p is not None else _MISSING
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                for k in range(i2 - i1):
                    p = positions[i1 + k]
                    if p is None:
                        self.warn(f"{path}[{i1 + k}]: removed by the program, replaced by the script")
                        after[self.anchor(positions, i1 + k)].append(j1 + k)
                    else:
                        replaced[p] = (i1 + k, j1 + k)
                continue
            for i in range(i1, i2):
                if positions[i] is None:
                    self.warn(f"{path}[{i}]: removed by the program and by the script")
                else:
                    removals.add(positions[i])
            after[self.anchor(positions, i1)].extend(range(j1, j2))
        out = []

        def insert(indices):
            for j in indices:
                value = self.xlate(new.items[j])
                became[j] = value
                if j in new.children:
                    result.children[j] = self.rebase(new.children[j])
                out.append(value)

        insert(after.get(-1, ()))
        for p, element in enumerate(live_items):
            if p in replaced:
                i, j = replaced[p]
                value, child = self.merge_child(
                    f"{path}[{j}]", base.children.get(i), new.children.get(j), element, new.items[j]
                )
                if child is not None:
                    result.children[j] = child
                became[j] = value
                out.append(value)
            elif p not in removals:
                out.append(element)
            insert(after.get(p, ()))
        if base.children:
            base_index = {id(handle): i for i, handle in enumerate(base.items or ()) if i in base.children}
            for j, element in enumerate(became):
                if j not in result.children and element is not _MISSING and element is not None:
                    i = base_index.get(id(element))
                    if i is not None:
                        result.children[j] = base.children[i]
        result.items = [e if e is not _MISSING else None for e in became]
        if len(out) != len(live_items) or any(a is not b for a, b in zip(out, live_items)):
            self.journal.replace_list(live, out)

    def base_positions(self, base, live_items):
        """Where each base item is in the live list: by identity first, else by digest."""
        by_id = collections.defaultdict(list)
        for p, element in enumerate(live_items):
            by_id[id(element)].append(p)
        used = set()
        positions = []
        handles = base.items or []
        for i in range(len(base.values)):
            found = None
            handle = handles[i] if i < len(handles) else None
            for p in by_id.get(id(handle), ()):
                if p not in used and handle is not None:
                    found = p
                    break
            positions.append(found)
            if found is not None:
                used.add(found)
        missing = [i for i, p in enumerate(positions) if p is None]
        if missing:
            by_digest = collections.defaultdict(list)
            for p, element in enumerate(live_items):
                if p not in used:
                    by_digest[self.digest_of(element)].append(p)
            for i in missing:
                candidates = by_digest.get(base.values[i])
                if candidates:
                    positions[i] = candidates.pop(0)
        return positions

    @staticmethod
    def anchor(positions, i):
        for k in range(i - 1, -1, -1):
            if positions[k] is not None:
                return positions[k]
        return -1

    @staticmethod
    def merged_order(base, new, live):
        """Three-way order of dict keys (digests): the new order, with each key only the
        live dict has placed after the nearest preceding key of the new version it followed
        there; keys the program added after every key the script knows stay at the end,
        where a fresh load followed by the program's additions puts them."""
        known = set(base) | set(new)
        new_set = set(new)
        last_known = max((i for i, d in enumerate(live) if d in known), default=-1)
        previous = None
        extra = collections.defaultdict(list)
        tail = []
        for i, d in enumerate(live):
            if d in known:
                previous = d if d in new_set else previous
            elif i > last_known:
                tail.append(d)
            else:
                extra[previous].append(d)
        result = list(extra.get(None, ()))
        for d in new:
            result.append(d)
            result.extend(extra.get(d, ()))
        return result + tail

    def digest_of(self, value):
        return self.live_snapshot().value(value, 1)[0]

    def key_digest(self, key):
        return self.live_snapshot().value(key, MAX_DEPTH)[0]

    def warn(self, message):
        path = getattr(self.retained.get("__relive__"), "path", self.ns)
        self.summary["warnings"].append(f"{path}: R8a: {message}")


def _strip(node, seen=None):
    """A base keeps entries only for lists (the live elements); a first load's snapshot
    also holds the entries of dicts, sets and instances, dropped here (R12)."""
    if not isinstance(node, Node):
        return node
    seen = set() if seen is None else seen
    todo = [node]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.kind != "list":
            current.items = None
        todo.extend(current.children.values())
    return node


def _digest(entry):
    return entry.digest if isinstance(entry, Node) else entry
