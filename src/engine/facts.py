"""What the engine reads from one piece of a script's syntax tree (issue 17): the names it
binds and imports, its `__future__` imports, whether it holds a test to rewrite (T8), and,
when a reload first asks, R8's statement summaries and R15's value statements.

Loaded by src/engine/script.rs after state_rule.py and plain.py, which it uses, and before
source.py, which keeps one `Facts` per piece.
"""

import ast
import re

from _relive_plain import is_rewritten
from _relive_state_rule import summarize

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Facts:
    """What the engine reads from one piece's syntax tree (positions play no part). The
    import and binding facts are read when the piece is parsed; R8's statement summaries
    and R15's value statements only when a reload first needs them, from the piece's text
    (a load pays nothing for them)."""

    __slots__ = (
        "text",
        "flags",
        "bindings",
        "imported",
        "from_imports",
        "module_imports",
        "annotates",
        "future",
        "rewrites",
        "docstring",
        "shape",
        "_summaries",
        "_values",
    )

    def __init__(self, nodes, text, flags):
        self.text = text
        self.flags = flags
        bindings, imported, from_imports, module_imports = set(), set(), [], []
        annotates = False
        for stmt in _module_level(nodes):
            _scan(stmt, bindings, imported, from_imports, module_imports)
            annotates = annotates or isinstance(stmt, ast.AnnAssign)
        self.bindings = tuple(bindings)  # tuples: a piece's few names cost less than a set
        self.imported = tuple(imported)
        self.from_imports = tuple(from_imports)  # (module, name, asname, level)
        self.module_imports = tuple(module_imports)  # (name, asname)
        self.annotates = annotates
        self.future = tuple(
            alias.name
            for node in nodes
            if isinstance(node, ast.ImportFrom) and node.module == "__future__"
            for alias in node.names
        )
        self.rewrites = any(map(is_rewritten, nodes))  # T8: it holds a test that asserts
        self.docstring = bool(nodes) and is_docstring(nodes[0])
        # Per statement: "d" a string (a docstring if first), "f" a `__future__` import, "o"
        # anything else: where `__future__` imports may be (see `_future_flags`).
        self.shape = "".join(_shape(node) for node in nodes)
        self._summaries = self._values = None

    def summaries(self):
        """R8's summary of each statement (state_rule.py)."""
        if self._summaries is None:
            self._derive()
        return self._summaries

    def values(self):
        """(binds, reads) of each statement that is not a `def` or `class` (R15)."""
        if self._values is None:
            self._derive()
        return self._values

    def _derive(self, nodes=None, first_line=1):
        """Reads R8's summaries and R15's value statements from `nodes`, the statements of
        `text` parsed with `text` starting at `first_line` (parsed now when not given)."""
        if nodes is None:
            nodes = compile(self.text, "<relive piece>", "exec", ast.PyCF_ONLY_AST | self.flags, dont_inherit=True).body
        lines = _LINE.findall(self.text)
        self._summaries = tuple(summarize(node, lines, first_line) for node in nodes)
        self._values = tuple(_value_statement(node) for node in nodes if not isinstance(node, _DEFS))


def is_docstring(node):
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _shape(node):
    if is_docstring(node):
        return "d"
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return "f"
    return "o"


def _module_level(nodes):
    """Statements that run when `nodes` run: into if/try/with/for/while, not into defs."""
    todo = list(nodes)
    while todo:
        stmt = todo.pop(0)
        yield stmt
        if isinstance(stmt, _DEFS):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo.extend(getattr(stmt, field, None) or ())


def _scan(stmt, bindings, imported, from_imports, module_imports):
    if isinstance(stmt, _DEFS):
        bindings.add(stmt.name)
    elif isinstance(stmt, ast.Import):
        for alias in stmt.names:
            imported.add(alias.asname or alias.name.split(".")[0])
            module_imports.append((alias.name, alias.asname))
    elif isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            if alias.name != "*":
                imported.add(alias.asname or alias.name)
            from_imports.append((stmt.module, alias.name, alias.asname, stmt.level))
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            _names(target, bindings)
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        _names(stmt.target, bindings)
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if item.optional_vars is not None:
                _names(item.optional_vars, bindings)
    elif isinstance(stmt, ast.ExceptHandler) and stmt.name:
        bindings.add(stmt.name)


def _names(target, bindings):
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            bindings.add(node.id)


def _value_statement(stmt):
    binds, reads = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            (binds if isinstance(node.ctx, ast.Store) else reads).add(node.id)
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        binds.update(alias.asname or alias.name.split(".")[0] for alias in stmt.names)
    # Tuples: a set of a few names costs several times as much (R12).
    return tuple(binds), tuple(reads)
