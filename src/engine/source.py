"""A script's source as pieces, one per top-level statement, each parsed and compiled once
(issue 17: a reload costs what the change costs).

Loaded by src/engine/script.rs after state_rule.py, plain.py and facts.py (what the engine
reads from a piece's syntax tree), which it uses. `build` takes a script's text, where its statements start (src/engine/split.rs) and the `Source`
of the version before. A piece whose text did not change keeps its code object (moved when
its lines moved) and what the engine read from its syntax tree; only changed and new pieces
are parsed and compiled. When that cannot be done exactly (a piece does not parse on its
own, a `__future__` import out of place), the whole text is parsed as one, as a fresh load
parses it: the result is the same, only slower.

Executing a `Source` runs its pieces' code objects in order into one globals dict, which is
what running the module's code does: a piece that is not the first one never sets
`__doc__`, and `__annotations__` is set up first when any piece annotates.
"""

import __future__
import ast
import itertools
import operator
import re
import types

from _relive_facts import Facts, is_docstring
from _relive_plain import rewrite_statement
from _relive_state_rule import Bound, Index

# A cheap filter (a match is checked on the syntax tree); a leading `\b` makes it 20 times slower.
_RELATIVE_IMPORT = re.compile(r"from\s+\.")
_FUTURE_PLACE = re.compile(r"d?f*")
_BINDINGS = operator.attrgetter("bindings")
_IMPORTED = operator.attrgetter("imported")
_FROM_IMPORTS = operator.attrgetter("from_imports")
_MODULE_IMPORTS = operator.attrgetter("module_imports")
_FUTURE = operator.attrgetter("future")
_SHAPE = operator.attrgetter("shape")
_FACTS = operator.attrgetter("facts")
_LINE_OF = operator.attrgetter("line")
_CODE = operator.attrgetter("code")
_ANNOTATES = operator.attrgetter("annotates")
# What a module with annotations runs first (CPython's SETUP_ANNOTATIONS, in fresh globals).
_ANNOTATIONS_SETUP = compile("__annotations__ = {}", "<relive annotations>", "exec", dont_inherit=True)


class RelativeImportError(SyntaxError):
    """A relative import in a script (L3): scripts import namespaces by absolute name."""


class Piece:
    """One top-level statement, with the decorators before it and the comments after it
    (or a few statements the splitter did not tell apart). Its code is compiled when a
    reload first reuses it: a load runs the whole module's code."""

    __slots__ = ("text", "line", "first", "flags", "code", "facts")

    def __init__(self, text, line, first, flags, code, facts):
        self.text = text
        self.line = line
        self.first = first  # compiled as the module's first piece (its docstring counts)
        self.flags = flags
        self.code = code
        self.facts = facts


class Source:
    """A script's text as pieces, ready to run and to compare with the next version."""

    __slots__ = (
        "pieces", "facts", "flags", "suffix", "whole", "_summaries", "_index", "_bound", "_bindings", "_imported",
        "_from_imports", "_module_imports", "__weakref__",
    )

    def __init__(self, pieces, flags, suffix, whole=None, facts=None):
        self.pieces = pieces
        # One per piece; for a source compiled whole (a load), one for the whole text.
        self.facts = facts if facts is not None else list(map(_FACTS, pieces))
        self.flags = flags
        self.suffix = suffix  # what its pieces were compiled with (see `_Compiling`)
        self.whole = whole  # the whole module's code, when it was compiled as one
        self._summaries = None
        self._index = None
        self._bound = None
        self._bindings = self._imported = self._from_imports = self._module_imports = None

    def code(self):
        """The code objects to run in order into one globals dict."""
        if self.whole is not None:
            return (self.whole,)
        parts = tuple(map(_CODE, self.pieces))
        if any(map(_ANNOTATES, itertools.islice(self.facts, 1, None))):
            return (_ANNOTATIONS_SETUP,) + parts
        return parts

    def summaries(self):
        """R8's statement summaries, in order (state_rule.py)."""
        if self._summaries is None:
            self._summaries = tuple(itertools.chain.from_iterable(map(Facts.summaries, self.facts)))
        return self._summaries

    def index(self):
        """What R8's state rule reads of the summaries (state_rule.py's `Index`)."""
        if self._index is None:
            self._index = Index(self.summaries())
        return self._index

    def bound(self):
        """What R8's state rule reads of the summaries when only a few statements changed
        (state_rule.py's `Bound`)."""
        if self._bound is None:
            self._bound = Bound(self.summaries())
        return self._bound

    def bound_after(self, old, removed, added):
        """`bound`, computed from `old`'s when this version differs from it by the
        statements `removed` and `added` (`delta`)."""
        if self._bound is None:
            self._bound = old.bound().after(removed, added)
        return self._bound

    def delta(self, old):
        """The statement summaries of the pieces only `old` has and of those only this
        version has, when the pieces the two share are in the same order, each once; else
        None. A piece both versions share is one object (`_build_from`), so this compares
        pieces by identity and reads only the changed pieces' statements."""
        if self.whole is not None or old.whole is not None:
            return None
        new_set, old_set = set(self.facts), set(old.facts)
        common = new_set & old_set
        if not common or len(new_set) != len(self.facts) or len(old_set) != len(old.facts):
            return None
        shared = common.__contains__
        if list(filter(shared, old.facts)) != list(filter(shared, self.facts)):
            return None
        removed = map(Facts.summaries, itertools.filterfalse(shared, old.facts))
        added = map(Facts.summaries, itertools.filterfalse(shared, self.facts))
        return list(itertools.chain.from_iterable(removed)), list(itertools.chain.from_iterable(added))

    def bindings(self):
        """Names its module-level statements bind other than by importing, sorted."""
        if self._bindings is None:
            self._bindings = sorted(_union(_BINDINGS, self.facts))
        return self._bindings

    def imported(self):
        """Names only its import statements bind, sorted (never exported, L4)."""
        if self._imported is None:
            self._imported = sorted(_union(_IMPORTED, self.facts).difference(self.bindings()))
        return self._imported

    def names_of(self, previous):
        """Takes the name lists of `previous`, which binds and imports the same names."""
        self._bindings, self._imported = previous.bindings(), previous.imported()

    def from_imports(self):
        """(module, name, asname, level) of its module-level `from` imports, in order."""
        if self._from_imports is None:
            self._from_imports = tuple(itertools.chain.from_iterable(map(_FROM_IMPORTS, self.facts)))
        return self._from_imports

    def module_imports(self):
        """(name, asname) of its module-level `import` statements, in order."""
        if self._module_imports is None:
            self._module_imports = tuple(itertools.chain.from_iterable(map(_MODULE_IMPORTS, self.facts)))
        return self._module_imports

    def imports(self):
        """(module, name) of its module-level `from MODULE import NAME` statements (L6)."""
        return [(module or "", name) for module, name, _, _ in self.from_imports()]

    def import_targets(self):
        """([(module, name)] of `from module import name`, [module] of `import module`)."""
        names = [(module, name) for module, name, _, level in self.from_imports() if not level and module]
        modules = [name for name, _ in self.module_imports()]
        return names, modules

    def import_roots(self, namespaces):
        """(local name, module, attribute or None) of its module-level imports from relive
        namespaces (R8b)."""
        roots = []
        for module, name, asname, level in self.from_imports():
            if not level and module in namespaces and name != "*":
                roots.append((asname or name, module, name))
        for name, asname in self.module_imports():
            if name in namespaces and asname:
                roots.append((asname, name, None))
            elif name.split(".")[0] in namespaces:
                roots.append((name.split(".")[0], name, None))
        return roots

    def relive_bindings(self, namespaces):
        """Names its module-level imports bind from relive namespaces (R15)."""
        bound = set()
        for module, name, asname, level in self.from_imports():
            if not level and module in namespaces and name != "*":
                bound.add(asname or name)
        for name, asname in self.module_imports():
            if name in namespaces or name.split(".")[0] in namespaces:
                bound.add(asname or name.split(".")[0])
        return bound

    def value_statements(self):
        """(binds, reads) of each top-level statement that is not a `def` or `class`."""
        return [v for f in self.facts for v in f.values()]


def build(text, lines, offsets, filename, previous):
    """The `Source` of `text`, whose pieces start at `lines` (counted from 1) and at
    `offsets` (in characters), from split.rs, reusing what `previous` (a `Source` or None)
    compiled. Raises SyntaxError (and RelativeImportError) as compiling the whole text
    would."""
    if previous is not None and previous.pieces:
        source = _build_from(previous, _piece_texts(text, offsets), lines, filename)
        if source is not None:
            return source
    elif previous is not None:
        # The first reload after a load: one parse of the whole text makes every piece.
        source = _build_first(text, _piece_texts(text, offsets), lines, filename)
        if source is not None:
            return source
    return _parse_whole(text, filename)


def _piece_texts(text, offsets):
    ends = itertools.chain(itertools.islice(offsets, 1, None), (len(text),))
    return list(map(text.__getitem__, map(slice, offsets, ends)))


def _build_from(previous, texts, lines, filename):
    """Pieces that did not change reused, the others parsed and compiled on their own;
    None when a piece does not (the caller then parses the whole text). Only the changed
    and moved pieces are looked at one by one."""
    known = {p.text: p for p in previous.pieces}
    flags = previous.flags  # every piece of `previous` was compiled with them
    pieces = list(map(known.get, texts))
    trees = {}
    for index in _to_parse(pieces, previous.pieces[0]):
        parsed = _parse_piece(texts[index], flags, filename)
        if parsed is None:
            return None
        trees[index], facts = parsed
        pieces[index] = Piece(texts[index], lines[index], index == 0, flags, None, facts)
    facts = list(map(_FACTS, pieces))
    if _future_flags(facts) != flags:
        return None
    same_names = _same_names(previous.facts, facts)
    compiling = _Compiling(filename, flags, facts, previous.suffix if same_names else None)
    # Code compiled beside other module-level imports is not reused (see `_Compiling`).
    reuse = compiling.suffix == previous.suffix
    if reuse:
        moved = itertools.compress(range(len(pieces)), map(operator.ne, map(_LINE_OF, pieces), lines))
        todo = sorted(trees.keys() | set(moved))
    else:
        todo = range(len(pieces))
    for index in todo:
        piece, line = pieces[index], lines[index]
        code = _moved(piece.code, line - piece.line) if reuse and index not in trees else None
        if code is None:
            try:
                code = compiling.piece(texts[index], line, index == 0, piece.facts, trees.get(index))
            except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
                return None
        if index in trees:
            piece.code = code  # a piece made just now
        else:
            pieces[index] = Piece(texts[index], line, index == 0, flags, code, piece.facts)
    source = Source(pieces, flags, compiling.suffix, facts=facts)
    if same_names:
        source.names_of(previous)
    return source


def _to_parse(found, first):
    """Where `found` (per piece: the previous version's piece with its text, or None) needs
    a parse: a new text, or a piece that was first and is not now, or the reverse (its
    docstring changes meaning)."""
    indices = range(len(found))
    todo = set(itertools.compress(indices, map(operator.is_, found, itertools.repeat(None))))
    todo.update(itertools.compress(indices, map(operator.is_, found, itertools.repeat(first))))
    todo.discard(0)
    if found and found[0] is not first:
        todo.add(0)
    return sorted(todo)


def _same_names(old, new):
    """Whether the pieces only `old` has (facts) and those only `new` has bind and import
    the same names: the name lists of the version before then hold."""
    old_set, new_set = set(old), set(new)
    removed, added = old_set - new_set, new_set - old_set
    same_bindings = _union(_BINDINGS, removed) == _union(_BINDINGS, added)
    return same_bindings and _union(_IMPORTED, removed) == _union(_IMPORTED, added)


def _union(attribute, facts):
    return set().union(*map(attribute, facts))


def _parse_piece(piece_text, flags, filename):
    """(syntax tree, facts) of a changed or new piece parsed on its own; None when it does
    not parse alone (the whole text then tells what is wrong, with the right lines)."""
    try:
        tree = compile(piece_text, filename, "exec", ast.PyCF_ONLY_AST | flags, dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None
    if _RELATIVE_IMPORT.search(piece_text) and _relative_import(tree):
        return None
    facts = Facts(tree.body, piece_text, flags)
    facts._derive(tree.body)  # the tree is at hand: a reload needs them right after
    return tree, facts


def _moved(code, delta):
    """`code` and the code objects in it with their lines moved by `delta`; None when that
    cannot be done: a class body that records its first line as a constant (3.13's
    `__firstlineno__`), or a move before line 1."""
    if delta == 0:
        return code
    if "__firstlineno__" in code.co_names or code.co_firstlineno + delta < 1:
        return None
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            const = _moved(const, delta)
            if const is None:
                return None
        consts.append(const)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=tuple(consts))


def _parse_whole(text, filename):
    """The whole text parsed and compiled as one, as a fresh load does (its errors, with
    its lines). Its pieces are made when a reload first needs them: a load pays only for
    what a fresh load does, and for reading the facts of the whole text."""
    tree = compile(text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    _reject_relative_imports(tree, filename, text)
    flags = _future_flags_of(tree.body)
    facts = Facts(tree.body, text, flags)
    if facts.rewrites:
        code = _code(tree.body, True, flags, filename)
    else:
        code = compile(tree, filename, "exec", flags, dont_inherit=True)
    return Source((), flags, None, code, [facts])


def _build_first(text, texts, lines, filename):
    """Every piece of `text` made from one parse of it, cut where split.rs saw statements
    start; None when it saw a start inside a statement or a `__future__` import is out of
    place (the whole text is then compiled as one)."""
    tree = compile(text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    _reject_relative_imports(tree, filename, text)
    groups = _group(tree.body, lines)
    if groups is None:
        return None
    flags = _future_flags_of(tree.body)
    facts = []
    for nodes, piece_text, line in zip(groups, texts, lines):
        f = Facts(nodes, piece_text, flags)
        f._derive(nodes, line)
        facts.append(f)
    if _future_flags(facts) != flags:
        return None
    compiling = _Compiling(filename, flags, facts)
    pieces = [
        Piece(piece_text, line, index == 0, flags, compiling.piece(piece_text, line, index == 0, f), f)
        for index, (piece_text, line, f) in enumerate(zip(texts, lines, facts))
    ]
    return Source(pieces, flags, compiling.suffix)


def _group(body, lines):
    """`body`'s statements by the piece they start in, or None if a piece would start
    inside a statement or hold none."""
    first_lines = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", ())]) for s in body]
    if not set(lines[1:]) <= set(first_lines):
        return None
    groups = [[] for _ in lines]
    piece = 0
    for stmt, first in zip(body, first_lines):
        while piece + 1 < len(lines) and first >= lines[piece + 1]:
            piece += 1
        groups[piece].append(stmt)
    return groups


class _Compiling:
    """How one version's pieces compile. Each piece is compiled with a `suffix` naming the
    module's import-bound names (`if 0: import a, b`, which runs nothing): CPython compiles
    `mod.f()` differently when `mod` is a module-level import anywhere in the module, and
    a piece's code must be what compiling the whole module gives."""

    def __init__(self, filename, flags, facts, suffix=None):
        self.filename = filename
        self.flags = flags
        if suffix is None:
            names = sorted(_union(_IMPORTED, facts))
            suffix = f"\nif 0: import {', '.join(names)}\n" if names else ""
        self.suffix = suffix

    def piece(self, text, line, first, facts, tree=None):
        """A piece's code at `line`: compiled at line 1 and moved (so it can move again),
        from its text when nothing in it is rewritten, else from its syntax tree (`tree`,
        parsed from `text`, or parsed now)."""
        if not (facts.rewrites or (not first and facts.docstring)):
            code = compile(text + self.suffix, self.filename, "exec", self.flags, dont_inherit=True)
            code = _moved(code, line - 1)
            if code is not None:
                return code
        if tree is None:
            tree = compile(text, self.filename, "exec", ast.PyCF_ONLY_AST | self.flags, dont_inherit=True)
        suffix = ast.parse(self.suffix).body
        code = _moved(_code(tree.body + suffix, first, self.flags, self.filename), line - 1)
        if code is None:
            ast.increment_lineno(tree, line - 1)
            code = _code(tree.body + suffix, first, self.flags, self.filename)
        return code


def _code(nodes, first, flags, filename):
    """The code of a piece's statements: a piece that is not the module's first never
    takes a docstring, and its asserting tests are rewritten (T8)."""
    nodes = [rewrite_statement(node) for node in nodes]
    if not first and nodes and is_docstring(nodes[0]):
        nodes.insert(0, ast.copy_location(ast.Pass(), nodes[0]))
    module = ast.Module(body=nodes, type_ignores=[])
    return compile(module, filename, "exec", flags, dont_inherit=True)


def _future_flags_of(nodes):
    """The compiler flags of the `__future__` imports among `nodes`."""
    return _compiler_flags(
        alias.name
        for node in nodes
        if isinstance(node, ast.ImportFrom) and node.module == "__future__"
        for alias in node.names
    )


def _compiler_flags(features):
    flags = 0
    for name in features:
        flags |= getattr(getattr(__future__, name, None), "compiler_flag", 0)
    return flags


def _future_flags(facts):
    """The `__future__` flags of the pieces' `facts`; -1 when a `__future__` import is not
    where a compile of the whole text accepts it (after a docstring and other `__future__`
    imports only): then only that compile tells the error."""
    shape = "".join(map(_SHAPE, facts))
    last = shape.rfind("f")
    if last >= 0 and not _FUTURE_PLACE.fullmatch(shape[: last + 1]):
        return -1
    return _compiler_flags(itertools.chain.from_iterable(map(_FUTURE, facts)))


def _relative_import(tree):
    return any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))


def _reject_relative_imports(tree, filename, text):
    if not _RELATIVE_IMPORT.search(text):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            dots = "." * node.level
            line = text.splitlines()[node.lineno - 1] if node.lineno else None
            raise RelativeImportError(
                f"relative import 'from {dots}{node.module or ''} import ...' is not supported "
                "in relive scripts; import the namespace by its full name",
                (filename, node.lineno, node.col_offset + 1, line),
            )


def compiled(text, lines, offsets, filename, previous):
    """`build`, with what src/engine/script.rs takes from it: (source, code objects,
    bindings, imported names, `from` imports)."""
    source = build(text, lines, offsets, filename, previous)
    return source, source.code(), source.bindings(), source.imported(), source.imports()
