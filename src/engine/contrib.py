"""R8b: what a script's module-level code changes in other scripts' objects (its contribution).

Design (the "shallow snapshot, replace at apply" variant of state-merge-notes.md, section 2):
right before a candidate's module-level code runs (first load, load retry, reload, R15
rebuild), `before` copies shallowly every container reachable from the objects the script
imports from relive namespaces (`from game.bus import bus`, `import game.bus as b`) and from
the module-level values of the scripts that define them (`from game import on` reaches the
table `on` fills), to
`DEPTH` containers; right after it ran, `after` compares them by identity. The difference is
the candidate's contribution: per live container, the dict keys it set (with their priors)
or deleted, the list items it added or removed, the set elements it added or removed; a
container the run created is recorded with its contents. Before and after are the same
objects, so shallow copies are enough and no fingerprint is needed.

Why this variant (not "hide the old contribution first"): it changes nothing in the live
program before the candidate runs, needs no anchors, and a rejected candidate is undone by
identity alone. Its costs: while a candidate runs and is tested, the old registrations and
the candidate's are both in place (a test that emits on a bus sees both); and a registry
that skips a duplicate *by name* keeps the old entry and drops the candidate's (it is then
re-pointed at the retained function only if it is keyed by the function). Time: O(containers
reachable to DEPTH) per candidate, paid on every build of a script that imports relive names.

Depth: DEPTH = 3 containers below a module-level value (an instance and its `__dict__` count
as one): `app.routes` is 1, `bus.handlers[event]` 2, `cli.commands["db"].commands` 3. A
container at depth DEPTH + 1 whose size the run changed is reported as a possible untracked
effect (`untracked`), never assumed absent. Functions (closures, singledispatch registries),
C containers, weak containers and ABC `register()` are not tracked.

A contribution holds live containers and the values put in them (candidate objects until the
apply translates them, contrib_apply.py); what a script keeps between reloads (its retained
marker's `contrib`) holds only live, retained objects (R12).
"""

import collections
import sys
import types

DEPTH = 3
_MISSING = object()
_CONTAINERS = (dict, list, set, collections.deque)


class Entry:
    """What one run changed in one live container."""

    __slots__ = ("container", "kind", "sets", "dels", "adds", "removes", "created")

    def __init__(self, container, kind):
        self.container = container
        self.kind = kind  # "dict", "list" or "set"
        self.sets = {}  # dict key -> (value, prior or _MISSING)
        self.dels = {}  # dict key -> prior
        self.adds = []  # list items / set elements added
        self.removes = []  # list items / set elements removed
        self.created = set()  # dict keys whose value is a container the run created

    def empty(self):
        return not (self.sets or self.dels or self.adds or self.removes)


class Run:
    """The copies taken before a candidate ran, then its contribution."""

    __slots__ = ("copies", "frontier", "roots", "entries", "untracked")

    def __init__(self):
        self.copies = {}  # id -> (container, copy)
        self.frontier = {}  # id -> (container, size)
        self.roots = []  # (local name, live object)
        self.entries = None  # id(container) -> Entry, once `after` ran
        self.untracked = []  # descriptions of effects beyond DEPTH


def _kind(obj):
    if isinstance(obj, dict):
        return "dict"
    if isinstance(obj, (list, collections.deque)):
        return "list"
    if isinstance(obj, set):
        return "set"
    return None


def _copy(obj):
    kind = _kind(obj)
    if kind == "dict":
        return dict(obj)
    if kind == "list":
        return list(obj)
    return set(obj)


def _live_roots(source, namespaces):
    """(local name, object) of each module-level value the script imports."""
    found = []
    for local, module_name, attr in source.import_roots(namespaces):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        if attr is None:
            found.extend((None, v) for k, v in list(vars(module).items()) if not k.startswith("__"))
            continue
        value = getattr(module, attr, _MISSING)
        if value is not _MISSING and not isinstance(value, types.ModuleType):
            found.append((local, value))
    # The module-level values of the scripts that define what it imports: `from game import
    # on` reaches the `EVENTS` table `on` registers into (R15's graph, one step).
    owners = {}
    for _, value in list(found):
        g = _owner_globals(value)
        if g is not None:
            owners[id(g)] = g
    for g in owners.values():
        found.extend((None, v) for k, v in list(g.items()) if not k.startswith("__") and not isinstance(v, types.ModuleType))
    return found


def _owner_globals(value):
    """The globals of the script that defined `value` (a function, a class, an instance of a
    script class), or None."""
    if not isinstance(value, (types.FunctionType, type)):
        value = type(value)
    if isinstance(value, type):
        functions = [getattr(m, "__func__", m) for m in vars(value).values()]
        value = next((f for f in functions if isinstance(f, types.FunctionType)), None)
        if value is None:
            return None
    g = value.__globals__
    return g if MARKER in g else None


def _script_type(cls, namespaces):
    return getattr(cls, "__module__", None) in namespaces


def _children(obj, namespaces):
    """(container, depth step) pairs below `obj`: the containers it holds."""
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, collections.deque)):
        return list(obj)
    return []


def _expand(obj, namespaces):
    """The container `obj` stands for: itself, an instance's `__dict__` (script classes), or
    for a script class, the values of its class dict (walked, not diffed)."""
    if isinstance(obj, _CONTAINERS):
        return obj, None
    if isinstance(obj, type):
        return None, list(obj.__dict__.values()) if _script_type(obj, namespaces) else None
    if _script_type(type(obj), namespaces):
        # Through object's own lookup: recording runs no code of the script's classes.
        try:
            d = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            return None, None
        if isinstance(d, dict):
            return d, None
    return None, None


def before(source, namespaces):
    """Copies of the containers the script can reach through its imports (see the module doc)."""
    run = Run()
    namespaces = set(namespaces)
    run.roots = _live_roots(source, namespaces)
    level = [v for _, v in run.roots]
    seen = set()
    for depth in range(DEPTH + 2):
        following = []
        for obj in level:
            container, walk = _expand(obj, namespaces)
            if walk is not None:
                following.extend(walk)
                continue
            if container is None or id(container) in seen:
                continue
            seen.add(id(container))
            if depth > DEPTH:
                run.frontier[id(container)] = (container, len(container))
                continue
            run.copies[id(container)] = (container, _copy(container))
            following.extend(_children(container, namespaces))
        level = following
    return run


def after(run):
    """The contribution: what changed in each copied container (by identity)."""
    entries = {}
    for key, (container, old) in run.copies.items():
        entry = _diff(container, old, run.copies)
        if not entry.empty():
            entries[key] = entry
    # Containers the run created inside tracked ones: recorded with their contents.
    for entry in list(entries.values()):
        for k in entry.created:
            _record_created(entry.sets[k][0], entries, run.copies)
        if entry.kind == "list":
            for item in entry.adds:
                if isinstance(item, _CONTAINERS) and id(item) not in run.copies:
                    _record_created(item, entries, run.copies)
    run.untracked = [
        f"a {type(c).__name__} beyond depth {DEPTH} changed size ({size} -> {len(c)})"
        for c, size in run.frontier.values()
        if len(c) != size
    ]
    run.entries = entries
    run.copies = {}
    run.frontier = {}
    # Only the imported names stay (for `foreign_roots`): objects its own globals hold
    # anyway, never other scripts' whole module state (R12).
    run.roots = [(name, value) for name, value in run.roots if name is not None]
    return run


def _diff(container, old, copies):
    entry = Entry(container, _kind(container))
    if entry.kind == "dict":
        for k, v in container.items():
            prior = old.get(k, _MISSING)
            if prior is not v:
                entry.sets[k] = (v, prior)
                if isinstance(v, _CONTAINERS) and id(v) not in copies:
                    entry.created.add(k)
        for k, v in old.items():
            if k not in container:
                entry.dels[k] = v
    elif entry.kind == "list":
        before_ids = collections.Counter(id(x) for x in old)
        after_ids = collections.Counter(id(x) for x in container)
        entry.adds = _surplus(container, after_ids - before_ids)
        entry.removes = _surplus(old, before_ids - after_ids)
    else:
        entry.adds = [x for x in container if x not in old]
        entry.removes = [x for x in old if x not in container]
    return entry


def _surplus(items, counts):
    out = []
    counts = collections.Counter(counts)
    for x in reversed(items):
        if counts.get(id(x)):
            counts[id(x)] -= 1
            out.append(x)
    out.reverse()
    return out


def _record_created(container, entries, copies, depth=0):
    if id(container) in entries or depth > DEPTH:
        return
    entry = Entry(container, _kind(container))
    if entry.kind == "dict":
        entry.sets = {k: (v, _MISSING) for k, v in container.items()}
        entry.created = {k for k, v in container.items() if isinstance(v, _CONTAINERS) and id(v) not in copies}
    else:
        entry.adds = list(container)
    entries[id(container)] = entry
    for k in entry.created:
        _record_created(container[k], entries, copies, depth + 1)


def foreign_roots(run, candidate):
    """Local names whose candidate binding is not the live object the copies started from
    (a dependency rebuilt in the same batch): their contribution went into candidate objects."""
    return {name for name, value in run.roots if name is not None and candidate.get(name, value) is not value}


def undo(run):
    """Takes a candidate's contribution back out of the live containers, by identity
    (rejected code is not reachable once the rejection is reported, R1, R8b)."""
    if run is None or run.entries is None:
        return
    for entry in reversed(list(run.entries.values())):
        c = entry.container
        if entry.kind == "dict":
            for k, (value, prior) in entry.sets.items():
                if c.get(k, _MISSING) is value:
                    if prior is _MISSING:
                        del c[k]
                    else:
                        c[k] = prior
            for k, prior in entry.dels.items():
                if k not in c:
                    c[k] = prior
        elif entry.kind == "list":
            for item in entry.adds:
                for i in range(len(c) - 1, -1, -1):
                    if c[i] is item:
                        del c[i]
                        break
            c.extend(entry.removes)
        else:
            for item in entry.adds:
                c.discard(item)
            c.update(entry.removes)
    run.entries = {}


def record(validate, globals, source, namespaces):
    """Takes the copies now (right before the candidate's module-level code runs) and wraps
    the validate callback, which runs right after it: the contribution is computed first."""
    marker = globals.get(MARKER)
    if marker is None:
        return validate
    try:
        marker.contrib = before(source, namespaces)
    except Exception as err:  # noqa: BLE001 - relive's own failure never rejects a candidate
        marker.contrib = None
        _log().warning("%s: R8b: cannot copy what the script can reach (%s: %s)", marker.path, type(err).__name__, err)

    def contribution_then_validate(candidate):
        run = getattr(marker, "contrib", None)
        if run is not None and run.entries is None:
            try:
                after(run)
            except Exception as err:  # noqa: BLE001
                marker.contrib = None
                _log().warning("%s: R8b: cannot compare what the script changed (%s: %s)", marker.path, type(err).__name__, err)
            for line in getattr(marker.contrib, "untracked", ()):
                _log().warning("%s: R8b: possible untracked effect: %s", marker.path, line)
        if validate is not None:
            validate(candidate)

    return contribution_then_validate


def undo_candidate(globals):
    """A candidate that will not go live: its contribution is taken out (R1, R8b)."""
    marker = globals.get(MARKER)
    run = getattr(marker, "contrib", None)
    if run is None:
        return
    if run.entries is None:
        after(run)
    undo(run)
    marker.contrib = None


def forget(globals):
    """A script removed with `prune` (W3): its contribution is removed too."""
    undo_candidate(globals)


def untracked(globals):
    """Possible effects beyond what is tracked, of the candidate in `globals` (R8b)."""
    run = getattr(globals.get(MARKER), "contrib", None)
    return list(getattr(run, "untracked", ()) or ())


def _log():
    import logging

    return logging.getLogger("relive")


MARKER = "__relive__"
