"""R8's state rule: which module-level names keep their current objects across a reload.

A name bound only by plain value statements whose syntax trees, compared without
positions and in order, equal those of the version in effect keeps its object, unless one
of them reads a name a changed statement binds or mutates (a changed `class` excepted).
What the rest of the script changes in a kept object is merged by R8a (merge.py). Loaded by src/engine/update.rs before
`update.py`, which imports it.
"""

import ast
import collections
import hashlib
import itertools


def _stmt_kind(stmt):
    if isinstance(stmt, ast.ClassDef):
        return "class"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def"
    return "value"


def _binds(stmt):
    if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {stmt.name}
    names = set()
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            names.add(alias.asname or alias.name.split(".")[0])
        return names
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    for target in targets:
        if isinstance(target, (ast.Name, ast.Tuple, ast.List, ast.Starred)):
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    if isinstance(stmt, (ast.If, ast.Try, ast.While, ast.For, ast.With)):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _reads(stmt):
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _walk_module_level(stmt):
    """Like ast.walk, without descending into function or class bodies or lambdas: what
    runs when the statement runs."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            todo.append(child)


def _mutates(stmt):
    """Names a statement mutates when it runs: `X[k] = ...`, `X.a = ...`, `del X[k]`,
    `X.m(...)`. Function and class bodies do not count: defining them mutates nothing."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return set()
    names = set()
    for node in _walk_module_level(stmt):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            targets = [node.func]
        for target in targets:
            base = target
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if base is not target and isinstance(base, ast.Name):
                names.add(base.id)
    return names


_NO_NAMES = ()


def _digest(text):
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _names(names):
    # Tuples: a statement binds, reads and mutates a few names, and a tuple of them costs
    # a fraction of a set (R12: summaries stay small).
    return tuple(names) if names else _NO_NAMES


def summarize(node, lines, first_line):
    """(fingerprint, kind, binds, reads, mutates) of one top-level statement; `lines` are
    the lines of the piece of source it is in, which starts at line `first_line`.

    Only fingerprints and name sets are kept, never syntax trees or source text, so a
    summary is a small fraction of the statement it describes (R12). A value statement's
    fingerprint is the digest of its syntax tree without positions (R8). A `def` or `class`
    is fingerprinted by its source text, which is much cheaper; an edit that only touches
    its whitespace or comments then counts as a change, which can only make R8 keep fewer
    values, never more.
    """
    kind = _stmt_kind(node)
    if kind == "value":
        fingerprint = _digest(ast.dump(node, include_attributes=False))
    else:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        text = "".join(lines[first - first_line : node.end_lineno - first_line + 1])
        fingerprint = _digest(kind + ":" + text)
    # Only value statements can be kept, so only their reads matter.
    reads = _names(_reads(node)) if kind == "value" else _NO_NAMES
    return (fingerprint, kind, _names(_binds(node)), reads, _names(_mutates(node)))


def kept_names(old_source, new_source):
    """Names whose current objects survive the reload (R8's state rule), from the statement
    summaries (`summarize`) of the version in effect and of the new one, in order (each
    source.py's `Source` keeps its summaries and their `Index`, computed once).

    When the two versions share most of their pieces in the same order (`Source.delta`),
    only the names the changed statements bind are compared (`_kept_after_delta`); the
    answer is the same (a test compares the two on random edits)."""
    delta = new_source.delta(old_source)
    if delta is None:
        return kept_names_in_full(old_source, new_source)
    return _kept_after_delta(old_source, new_source, *delta)


def kept_names_in_full(old_source, new_source):
    """`kept_names` from every statement of both versions.

    A name's binding statements are compared in order (swapping `x = 1` and `x = 2` is a
    change). A statement that only mutates a name (`CONFIG["a"] = 2`, `LOG.append(x)`) does
    not un-keep it: R8a merges what the script left in the object into the kept one. Such a
    changed mutation does count as a change for statements that read the name."""
    new = new_source.summaries()
    old_index, new_index = old_source.index(), new_source.index()
    old_seq, new_seq = old_index.sequences, new_index.sequences
    # Names whose binding statements differ, in order. A changed class statement does not
    # count for readers: its class is updated in place (R8's exception).
    # Only names whose sequences differ can differ for readers (most names of a big
    # module do not: compare the sequences first, cheaply).
    rebound = {name for name in old_seq.keys() | new_seq.keys() if old_seq.get(name) != new_seq.get(name)}
    changed_binds = {
        name for name in rebound if _for_readers(old_seq.get(name, ())) != _for_readers(new_seq.get(name, ()))
    }
    # Mutations by changed, added or removed statements (a multiset difference: statements
    # with one fingerprint mutate the same names).
    for fingerprint in new_index.counts - old_index.counts:
        changed_binds.update(new_index.mutates[fingerprint])
    for fingerprint in old_index.counts - new_index.counts:
        changed_binds.update(old_index.mutates[fingerprint])
    # Only value statements can be kept.
    keep = {i for i in new_index.values if rebound.isdisjoint(new[i][2])}
    progress = True
    while progress:
        progress = False
        for i in sorted(keep):
            if not changed_binds.isdisjoint(new[i][3]):
                keep.discard(i)
                changed_binds.update(new[i][2])
                progress = True
    # A name is kept when every statement binding it is.
    kept = set().union(*(new[i][2] for i in keep))
    return {name for name in kept if all(i in keep for i in new_index.binders[name])}


def _kept_after_delta(old_source, new_source, removed, added):
    """`kept_names` when the versions differ only by the statements `removed` and `added`,
    the rest being the same statements in the same order: only names those bind can have
    different binding sequences."""
    touched = set().union(*(s[2] for s in removed), *(s[2] for s in added))
    bound = new_source.bound_after(old_source, removed, added)
    old_seq = _touched_sequences(old_source, old_source.bound(), removed, touched)
    new_seq = _touched_sequences(new_source, bound, added, touched)
    rebound = {name for name in touched if old_seq.get(name) != new_seq.get(name)}
    changed_binds = {
        name for name in rebound if _for_readers(old_seq.get(name, ())) != _for_readers(new_seq.get(name, ()))
    }
    plus = collections.Counter(s[0] for s in added)
    minus = collections.Counter(s[0] for s in removed)
    mutates = {s[0]: s[4] for s in removed}
    mutates.update((s[0], s[4]) for s in added)
    for fingerprint in (plus - minus).keys() | (minus - plus).keys():
        changed_binds.update(mutates[fingerprint])
    keep = [s for s in bound.values if rebound.isdisjoint(s[2])]
    dropped = set().union(*(s[2] for s in bound.values if not rebound.isdisjoint(s[2])))
    while True:
        readers = [s for s in keep if not changed_binds.isdisjoint(s[3])]
        if not readers:
            break
        gone = set(map(id, readers))
        keep = [s for s in keep if id(s) not in gone]
        for s in readers:
            changed_binds.update(s[2])
            dropped.update(s[2])
    # A name is kept when it is bound by value statements only, all of them kept.
    return bound.value_counts.keys() - bound.definition_counts.keys() - dropped


def _sequences(statements, names):
    """name -> the (kind, fingerprint) of every statement binding it, in order, for `names`."""
    sequences = {}
    for fingerprint, kind, binds, _, _ in [s for s in statements if not names.isdisjoint(s[2])]:
        for name in binds:
            if name in names:
                sequences.setdefault(name, []).append((kind, fingerprint))
    return {name: tuple(seq) for name, seq in sequences.items()}


def _touched_sequences(source, bound, changed, names):
    """`_sequences` of `names` in `source`, read from its `changed` statements alone when
    no other statement of it binds any of the names."""
    counts = collections.Counter(name for s in changed for name in s[2] if name in names)
    if all(bound.binders(name) == counts[name] for name in names):
        return _sequences(changed, names)
    return _sequences(source.summaries(), names)


class Bound:
    """Per version: its value statements, and how many value statements and how many other
    statements bind each name (names bound by none are left out)."""

    __slots__ = ("values", "value_counts", "definition_counts")

    def __init__(self, statements):
        self.values = [s for s in statements if s[1] == "value"]
        definitions = (s[2] for s in statements if s[1] != "value")
        self.value_counts = dict(collections.Counter(itertools.chain.from_iterable(s[2] for s in self.values)))
        self.definition_counts = dict(collections.Counter(itertools.chain.from_iterable(definitions)))

    def after(self, removed, added):
        """The `Bound` of a version that has this one's statements but `removed`, and
        `added`: computed from those alone."""
        bound = Bound(())
        gone = set(map(id, removed))
        bound.values = [s for s in self.values if id(s) not in gone] + [s for s in added if s[1] == "value"]
        bound.value_counts = self.value_counts.copy()
        bound.definition_counts = self.definition_counts.copy()
        for statements, step in ((removed, -1), (added, 1)):
            for _, kind, binds, _, _ in statements:
                counts = bound.value_counts if kind == "value" else bound.definition_counts
                for name in binds:
                    count = counts.get(name, 0) + step
                    if count:
                        counts[name] = count
                    else:
                        del counts[name]
        return bound

    def binders(self, name):
        """How many statements bind `name`."""
        return self.value_counts.get(name, 0) + self.definition_counts.get(name, 0)


class Index:
    """What `kept_names` reads of one version's summaries, computed once per version."""

    __slots__ = ("sequences", "binders", "counts", "mutates", "values")

    def __init__(self, statements):
        sequences, binders = {}, {}
        for i, (fingerprint, kind, binds, _, _) in enumerate(statements):
            for name in binds:
                sequences.setdefault(name, []).append((kind, fingerprint))
                binders.setdefault(name, []).append(i)
        # name -> the (kind, fingerprint) of every statement binding it, in order.
        self.sequences = {name: tuple(seq) for name, seq in sequences.items()}
        self.binders = binders  # name -> the indices of the statements binding it
        self.counts = collections.Counter(s[0] for s in statements)  # fingerprint -> statements
        self.mutates = {s[0]: s[4] for s in statements}  # fingerprint -> names it mutates
        self.values = [i for i, s in enumerate(statements) if s[1] == "value"]


def _for_readers(sequence):
    return tuple((kind, None if kind == "class" else fingerprint) for kind, fingerprint in sequence)
