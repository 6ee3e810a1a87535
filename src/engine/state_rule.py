"""R8's state rule: which module-level names keep their current objects across a reload.

A statement that binds plain values and whose syntax tree, compared without positions,
equals a statement of the version in effect keeps its names' objects, unless it reads a
name a changed statement binds (a changed `class` excepted) or a changed, added or
removed statement mutates what it binds. Loaded by src/engine/update.rs before
`update.py`, which imports it.
"""

import ast
import collections



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


_STATEMENTS = collections.OrderedDict()


def _statements(source, tree=None):
    """(fingerprint, kind, node) per top-level statement. Cached by source, so the version
    in effect is parsed once, when it was the new version.

    A value statement's fingerprint is its syntax tree without positions (R8). A `def` or
    `class` is fingerprinted by its source text, which is much cheaper; an edit that only
    touches its whitespace or comments then counts as a change, which can only make R8
    keep fewer values, never more.
    """
    cached = _STATEMENTS.get(source)
    if cached is not None:
        _STATEMENTS.move_to_end(source)
        return cached
    if tree is None:
        tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    statements = []
    for node in tree.body:
        kind = _stmt_kind(node)
        if kind == "value":
            fingerprint = ast.dump(node, include_attributes=False)
        else:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            fingerprint = kind + ":" + "".join(lines[first - 1 : node.end_lineno])
        statements.append((fingerprint, kind, node))
    _STATEMENTS[source] = statements
    while len(_STATEMENTS) > 32:
        _STATEMENTS.popitem(last=False)
    return statements


def kept_names(old_source, new_source, new_tree=None):
    """Names whose current objects survive the reload (R8's state rule)."""
    old = _statements(old_source)
    new = _statements(new_source, new_tree)
    pool = collections.Counter(dump for dump, _, _ in old)
    unchanged = []
    for dump, _, _ in new:
        if pool[dump] > 0:
            pool[dump] -= 1
            unchanged.append(True)
        else:
            unchanged.append(False)
    removed = []
    remaining = collections.Counter(pool)
    for dump, kind, stmt in old:
        if remaining[dump] > 0:
            remaining[dump] -= 1
            removed.append(stmt)
    mutated = set()
    for (dump, kind, stmt), same in zip(new, unchanged):
        if not same:
            mutated |= _mutates(stmt)
    for stmt in removed:
        mutated |= _mutates(stmt)
    changed_binds = set()
    for (dump, kind, stmt), same in zip(new, unchanged):
        if not same and kind != "class":
            changed_binds |= _binds(stmt)
    # A removed statement that bound a name (a second `SPEED = 5`) changes that name too.
    for stmt in removed:
        if _stmt_kind(stmt) != "class":
            changed_binds |= _binds(stmt)
    keep = [same and kind == "value" for (_, kind, _), same in zip(new, unchanged)]
    progress = True
    while progress:
        progress = False
        for i, (dump, kind, stmt) in enumerate(new):
            if not keep[i]:
                continue
            binds = _binds(stmt)
            if binds & mutated or _reads(stmt) & changed_binds or binds & changed_binds:
                keep[i] = False
                changed_binds |= binds
                progress = True
    kept = set()
    for i, (_, _, stmt) in enumerate(new):
        if keep[i]:
            kept |= _binds(stmt)
    rebound_later = set()
    for i, (_, _, stmt) in enumerate(new):
        if not keep[i]:
            rebound_later |= _binds(stmt)
    return kept - rebound_later
