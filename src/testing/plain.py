"""Plain test functions without pytest (T8): which names are tests, how they run as
unittest cases, and assertion introspection.

Loaded once by src/testing/plain.rs. `collect` finds the plain tests a globals dict
defines and wraps each as a `unittest.TestCase`, so they run, skip, time out and report
like any other test (runner.py runs them). `rewrite_statement` takes a top-level statement
of a script or test file and, when it defines a test (a module-level `test*` function, a
`Test*` class), returns a copy in which each bare `assert` inside keeps the values it
compared, so `assert add(1, 2) == 4` fails with `assert 3 == 4 (where 3 = add(1, 2))`. Everything else compiles
exactly as written: asserts in the program's own code are never touched, and the tree the
caller holds (R8 compares it) is not changed.

Each rewritten assert evaluates its parts once, in Python's order, into local temporaries
named `_relive_assert_<n>`; the message expression runs only when the assertion fails.
"""

import ast
import copy
import functools
import inspect
import types
import unittest

PREFIX = "_relive_assert_"
EXPLAIN = "_relive_explain_assert"
LIMIT = 240

_OPERATORS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


def is_test_function_name(name):
    return name.startswith("test")


def is_test_class_name(name):
    return name.startswith("Test")


def is_rewritten(node):
    """Whether `rewrite_statement` changes a top-level statement: a test that asserts."""
    return _is_test_definition(node) and _has_assert(node)


def rewrite_statement(node):
    """A top-level statement with the asserts of its tests introspecting (a changed copy),
    or the statement itself when it is not a test that asserts."""
    if not is_rewritten(node):
        return node
    return ast.fix_missing_locations(_Rewriter().visit(copy.deepcopy(node)))


def _is_test_definition(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return is_test_function_name(node.name)
    return isinstance(node, ast.ClassDef) and is_test_class_name(node.name)


def _has_assert(node):
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


class _Rewriter(ast.NodeTransformer):
    def __init__(self):
        self.counter = 0

    def temp(self):
        self.counter += 1
        return f"{PREFIX}{self.counter}"

    def visit_Assert(self, node):
        statements, failed, parts = self._evaluate(node.test)
        message = node.msg if node.msg is not None else ast.Constant(None)
        explain = ast.Call(
            func=ast.Name(EXPLAIN, ast.Load()),
            args=[parts, message],
            keywords=[],
        )
        raise_ = ast.Raise(exc=ast.Call(ast.Name("AssertionError", ast.Load()), [explain], []), cause=None)
        statements.append(ast.If(test=failed, body=[raise_], orelse=[]))
        for statement in statements:
            ast.copy_location(statement, node)
        return statements

    def _store(self, statements, expr):
        name = self.temp()
        statements.append(ast.Assign(targets=[ast.Name(name, ast.Store())], value=expr))
        return ast.Name(name, ast.Load())

    def _evaluate(self, test):
        """Statements that evaluate `test` once, the condition for failure, and the parts
        the explainer shows: ("compare", left, op, right, left source, right source),
        ("not", value, source), or ("value", value, source)."""
        statements = []
        source = ast.unparse(test)
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _OPERATORS:
            left = self._store(statements, test.left)
            right = self._store(statements, test.comparators[0])
            result = ast.Compare(left=left, ops=[test.ops[0]], comparators=[right])
            op = _OPERATORS[type(test.ops[0])]
            parts = _tuple("compare", left, ast.Constant(op), right,
                           ast.Constant(_shown(test.left)), ast.Constant(_shown(test.comparators[0])))
            return statements, ast.UnaryOp(ast.Not(), result), parts
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            value = self._store(statements, test.operand)
            return statements, value, _tuple("not", value, ast.Constant(_shown(test.operand)))
        value = self._store(statements, test)
        return statements, ast.UnaryOp(ast.Not(), value), _tuple("value", value, ast.Constant(source))


def _shown(expr):
    """The source of a sub-expression when it is worth a `where` line (not a literal)."""
    if isinstance(expr, ast.Constant):
        return None
    return ast.unparse(expr)


def _tuple(*items):
    return ast.Tuple(elts=[i if isinstance(i, ast.AST) else ast.Constant(i) for i in items], ctx=ast.Load())


def _repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not hide the failure
        text = f"<{type(value).__name__} object (repr raised {type(exc).__name__})>"
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."


def explain(parts, message):
    """The failure message, one line: the user's message when given, then `assert <values>`
    and, for each part that is not a literal, what it was computed from:
    `assert 3 == 4 (where 3 = add(1, 2))`."""
    kind = parts[0]
    if kind == "compare":
        _, left, op, right, left_source, right_source = parts
        shown = f"assert {_repr(left)} {op} {_repr(right)}"
        sources = ((left, left_source), (right, right_source))
    elif kind == "not":
        _, value, source = parts
        shown, sources = f"assert not {_repr(value)}", ((value, source),)
    else:
        _, value, source = parts
        shown, sources = f"assert {_repr(value)}", ((value, source),)
    wheres = [f"{_repr(v)} = {src}" for v, src in sources if src is not None and src != _repr(v)]
    if wheres:
        shown += f" (where {', '.join(wheres)})"
    return shown if message is None else f"{message}: {shown}"


def install():
    """Make `explain` reachable from rewritten code: it names it as a global, which Python
    finds in builtins, so no name is added to a script's globals."""
    import builtins

    setattr(builtins, EXPLAIN, explain)


class PlainTest(unittest.TestCase):
    """One plain test function, or one `test*` method of a `Test*` class, as a unittest case.

    Its id is `<namespace>.<qualname>`, like a TestCase method's. Markers set by
    `unittest.skip*` and `expectedFailure` on the function are honoured.
    """

    def __init__(self, test_id, function, call):
        self._plain_id = test_id

        @functools.wraps(function)  # copies the skip and expected-failure markers
        def run_plain_test():
            return call()

        self.run_plain_test = run_plain_test
        super().__init__("run_plain_test")

    def id(self):
        return self._plain_id

    def __str__(self):
        return self._plain_id

    def __repr__(self):
        return f"<plain test {self._plain_id}>"


def collect(g):
    """The plain tests `g` defines, in definition order (T8): its `test*` functions and the
    `test*` methods of its `Test*` classes that are not TestCases. Functions and classes
    merely imported into `g` are not its tests."""
    tests = []
    for name, value in list(g.items()):
        if isinstance(value, types.FunctionType) and is_test_function_name(name):
            if getattr(inspect.unwrap(value), "__globals__", None) is g:
                tests.append(_function_test(value))
        elif isinstance(value, type) and is_test_class_name(name) and _is_plain_test_class(value, g):
            tests.extend(_method_tests(value))
    return tests


def _is_plain_test_class(cls, g):
    if issubclass(cls, unittest.TestCase) or not getattr(cls, "__test__", True):
        return False
    return any(getattr(f, "__globals__", None) is g for f in vars(cls).values())


def _test_id(function):
    return f"{function.__module__}.{function.__qualname__}"


def _parameters(function, skip_first=False):
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []
    return names[1:] if skip_first else names


def _takes_parameters(test_id, names):
    def fail():
        listed = ", ".join(names)
        raise TypeError(
            f"{test_id} takes parameters ({listed}); relive runs plain test functions without "
            "arguments (pytest fixtures are not supported): give them defaults or build the "
            "values inside the test"
        )

    return fail


def _function_test(function):
    test_id = _test_id(function)
    names = _parameters(function)
    call = _takes_parameters(test_id, names) if names else function
    return PlainTest(test_id, function, call)


def _method_tests(cls):
    tests = []
    for name in sorted(dir(cls)):
        function = inspect.getattr_static(cls, name)
        if not (is_test_function_name(name) and isinstance(function, types.FunctionType)):
            continue
        test_id = f"{_test_id(function)}"
        names = _parameters(function, skip_first=True)
        call = _takes_parameters(test_id, names) if names else functools.partial(_run_method, cls, name)
        tests.append(PlainTest(test_id, function, call))
    return tests


def _run_method(cls, name):
    """A fresh instance per test, with `setup_method`/`teardown_method` around it (T8)."""
    instance = cls()
    method = getattr(instance, name)
    setup = getattr(instance, "setup_method", None)
    if setup is not None:
        _call_fixture(setup, method)
    try:
        method()
    finally:
        teardown = getattr(instance, "teardown_method", None)
        if teardown is not None:
            _call_fixture(teardown, method)


def _call_fixture(fixture, method):
    # pytest passes the test method; a fixture written without that parameter is fine too.
    if _parameters(fixture):
        fixture(method)
    else:
        fixture()
