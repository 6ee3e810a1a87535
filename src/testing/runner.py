"""Runs a candidate's module-level code and its unit tests, on relive's worker thread.

Loaded once by src/testing/runner_api.rs (its typed wrapper). `run` executes the candidate
and then its tests (T1, T2, T6) and returns plain data (`Outcome`, `Tests`, `Record`);
`retest` runs the tests of the code in effect (T5). The caller bounds both with one
deadline: when it expires it raises `ScriptTimeout` in this thread and sets
`deadline.expired`, so the run stops after the current test.
"""

import functools
import inspect
import io
import os
import posix
import sys
import threading
import time
import unittest

import _relive_failure as failure
import _relive_plain as plain

MARKER = "__relive__"


class ScriptTimeout(BaseException):
    """Raised asynchronously in the worker when the per-script timeout expires (T6)."""


class ProcessExit(BaseException):
    """Candidate code or a test called `os._exit`: an error of that candidate, and the
    process lives on (E1)."""


_real_exit = posix._exit
# Threads running a candidate or its tests: `os._exit` there raises ProcessExit.
_guarded = set()


def _guarded_exit(status):
    """`os._exit` while relive runs candidate code: an error of the candidate (E1);
    anywhere else, the real exit."""
    if threading.get_ident() in _guarded:
        raise ProcessExit(f"os._exit({status!r}) called by candidate code; relive kept the process alive")
    _real_exit(status)


os._exit = posix._exit = _guarded_exit

# Files candidate code opened for writing, resolved: a script that rewrites its own file
# must not be reloaded in a loop (W1). Taken by `take_written` (src/testing/runner_api.rs).
_written = set()
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _audit(event, args):
    if event != "open" or threading.get_ident() not in _guarded:
        return
    path, mode, flags = args
    writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
    if writes and isinstance(path, (str, bytes, os.PathLike)):
        try:
            _written.add(os.path.realpath(os.fsdecode(path)))
        except (TypeError, ValueError, OSError):
            pass


# Through a C audit hook when relive provides one (src/script_api.rs), so events other than
# `open` run no bytecode: an apply's commit must not switch threads (R2).
_add_open_hook = getattr(sys.modules.get("_relive_script_api"), "_add_open_hook", None)
if _add_open_hook is not None:
    _add_open_hook(_audit)
else:
    sys.addaudithook(_audit)


def take_written():
    """Files candidate code opened for writing since the last call, resolved (W1)."""
    written = sorted(_written)
    _written.clear()
    return written


class Record:
    """One test's result as plain data (read by `Record` in src/testing/runner_api.rs)."""

    __slots__ = (
        "id", "outcome", "duration_ms", "message", "traceback", "stdout", "stderr", "parent", "file", "line",
        "timed_out",
    )

    def __init__(self, id, outcome, message, traceback="", duration_ms=0.0, stdout="", stderr="", parent=None,
                 location=None, timed_out=False):
        self.id = id
        # One of "pass", "fail", "error", "skip", "xfail", "unexpected-success".
        self.outcome = outcome
        self.duration_ms = duration_ms
        self.message = message
        self.traceback = traceback
        self.stdout = stdout
        self.stderr = stderr
        # For a sub-test, the id of the test it belongs to (T3).
        self.parent = parent
        # The test function's (file, first line), for JUnit.
        self.file, self.line = location if location is not None else (None, None)
        # The per-script timeout (or a stop request) ended this test (T6).
        self.timed_out = timed_out


class Tests:
    """What a test run found (read by `RawTests` in src/testing/runner_api.rs): `found` is
    None when the test file failed to load, `test_file_found` the number of tests the test
    file defines, `wait` what a test file that failed on a missing relive name waits for
    (L6), and `error` that failure as (type name, message)."""

    __slots__ = ("found", "records", "test_file_found", "wait", "error")

    def __init__(self, found, records, test_file_found=None, wait=None, error=None):
        self.found = found
        self.records = records
        self.test_file_found = test_file_found
        self.wait = wait
        self.error = error


class Outcome:
    """How a run ended (read by `RunOutcome` in src/testing/runner_api.rs): `phase` is "exec",
    "validate" or "tests", `error` the exception that ended it or None, `tests` a `Tests`
    or None."""

    __slots__ = ("phase", "error", "tests")

    def __init__(self, phase, error, tests):
        self.phase = phase
        self.error = error
        self.tests = tests


class Deadline:
    """Shared between the worker and the watchdog; both only touch it holding the GIL."""

    __slots__ = ("finished", "expired", "stopped", "phase", "found", "current", "records")

    def __init__(self):
        self.finished = False
        self.expired = False
        # Expired because a stop was requested, not because time ran out (W4).
        self.stopped = False
        # Where the worker is, readable even when it is blocked inside C (T6).
        self.phase = "exec"
        self.found = 0
        self.current = None
        # The results recorded so far: kept when the worker is abandoned (T6).
        self.records = []


def run(code, candidate, test_code, test_path, tests_enabled, deadline, validate, view, join, namespaces):
    """Execute `code` (code objects, in order) into `candidate`, validate it (R13), then run its tests. With a `view`
    (T1, R15: the batch's candidates seen through their namespaces), everything runs inside
    it, and once validated the candidate joins it: `join` is (namespace, exports, own).

    Returns an `Outcome`.
    """
    phase, error, tests = "exec", None, None
    _guarded.add(threading.get_ident())
    if view is not None:
        view.enter()
    try:
        for part in code:
            exec(part, candidate)
        if validate is not None:
            phase = deadline.phase = "validate"
            validate(candidate)
        if view is not None and join is not None:
            view.add(*join, candidate)
        if tests_enabled:
            phase = deadline.phase = "tests"
            tests = _run_tests(candidate, test_code, test_path, deadline, namespaces)
    except BaseException as exc:  # noqa: B036 - a script's SystemExit must not end relive
        error = exc
    finally:
        deadline.finished = True
        _guarded.discard(threading.get_ident())
        if view is not None:
            view.leave()
    return Outcome(phase, error, tests)


def retest(g, test_code, test_path, deadline, view, namespaces):
    """Run the tests of `g`: the code in effect against a changed test file (T5), or a
    candidate of a batch once every candidate of it ran (R15), inside `view` when given."""
    error, tests = None, None
    deadline.phase = "tests"
    _guarded.add(threading.get_ident())
    if view is not None:
        view.enter()
    try:
        tests = _run_tests(g, test_code, test_path, deadline, namespaces)
    except BaseException as exc:  # noqa: B036
        error = exc
    finally:
        deadline.finished = True
        _guarded.discard(threading.get_ident())
        if view is not None:
            view.leave()
    return Outcome("tests", error, tests)


def _defined_cases(g):
    cases = []
    for value in list(g.values()):
        if isinstance(value, type) and issubclass(value, unittest.TestCase) and value is not unittest.TestCase:
            if any(getattr(f, "__globals__", None) is g for f in vars(value).values()):
                cases.append(value)
    return cases


def _run_tests(g, test_code, test_path, deadline, namespaces):
    """T1: the tests the script defines, plus those of its test file, which runs in a copy of
    the script's globals updated with its own names. Each file's tests form a group run
    between that file's own `setUpModule` and `tearDownModule` (T6)."""
    groups = [_Group(g, g.get("__file__"))]
    records = deadline.records = []
    if test_code is not None:
        test_globals = dict(g)
        test_globals.pop(MARKER, None)
        test_globals["__file__"] = test_path
        try:
            for part in test_code:
                exec(part, test_globals)
        except ScriptTimeout:
            raise
        except BaseException as exc:  # noqa: B036
            text = failure.format_exception(type(exc), exc, exc.__traceback__)
            records.append(Record(f"{test_path} (loading the test file)", "error", _message(exc), text))
            wait = _wait_target(exc, namespaces)
            return Tests(None, records, wait=wait, error=(type(exc).__name__, str(exc)) if wait is not None else None)
        groups.append(_Group(test_globals, test_path, exclude=groups[0].tests))
    found = deadline.found = sum(group.suite.countTestCases() for group in groups)
    result = RecordingResult(deadline, records)
    try:
        for group in groups:
            group.run(result)
            if result.shouldStop:
                break
    except BaseException as exc:  # noqa: B036 - SystemExit, KeyboardInterrupt, timeouts in fixtures
        result.interrupted(exc)
    result.restore_streams()
    test_file_found = groups[1].suite.countTestCases() if len(groups) > 1 else None
    return Tests(found, records, test_file_found)


def _wait_target(exc, namespaces):
    """L6: what a test file that failed on a relive name not exported yet waits for."""
    script = sys.modules.get("_relive_script")
    if script is None or not namespaces:
        return None
    return script.wait_target(exc, set(namespaces))


class _NoModuleFixtures(unittest.TestSuite):
    """unittest looks module fixtures up in `sys.modules[cls.__module__]`, which for a script
    is its namespace, not the file that defines them; `_Group` calls them instead."""

    def _handleModuleFixture(self, test, result):
        pass

    def _handleModuleTearDown(self, result):
        pass


class _Group:
    """The tests one file defines (the script's or its test file's), with its module fixtures."""

    def __init__(self, g, path, exclude=()):
        self.g = g
        self.path = path
        cases = sorted((c for c in _defined_cases(g) if c not in exclude), key=lambda c: c.__qualname__)
        self.tests = cases
        loader = unittest.TestLoader()
        loader.suiteClass = _NoModuleFixtures
        self.suite = _NoModuleFixtures(loader.loadTestsFromTestCase(c) for c in cases)
        self.suite.addTests(plain.collect(g))
        for test in _tests_of(self.suite):
            _convert_interrupts(test)

    def _fixture(self, name):
        function = self.g.get(name)
        return function if getattr(function, "__globals__", None) is self.g else None

    def run(self, result):
        if not self.suite.countTestCases():
            return
        label = os.path.basename(self.path or "")
        set_up = self._fixture("setUpModule")
        if set_up is not None and not result.call_fixture(set_up, f"setUpModule ({label})"):
            return
        try:
            self.suite.run(result)
        finally:
            tear_down = self._fixture("tearDownModule")
            if tear_down is not None:
                result.call_fixture(tear_down, f"tearDownModule ({label})")


class TestInterrupted(Exception):
    """A test raised KeyboardInterrupt: reported as that test's error, and the run goes on
    (T6). unittest itself lets KeyboardInterrupt end the whole run."""


def _tests_of(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests_of(item)
        else:
            yield item


def _convert_interrupts(test):
    method = getattr(test, test._testMethodName, None)
    if method is None:
        return

    @functools.wraps(method)  # keeps skip and expectedFailure markers
    def run_test_method(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise TestInterrupted("KeyboardInterrupt raised inside the test") from exc

    setattr(test, test._testMethodName, run_test_method)


def _interrupted_message(deadline):
    if deadline.stopped:
        return "timed out: interrupted by a stop request during this test"
    return "timed out: the per-script timeout expired during this test"


def _message(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _location(test):
    """(file, first line) of the function a test runs, for JUnit's `file` and `line`."""
    test = getattr(test, "test_case", test)  # a sub-test: its test's function
    function = getattr(test, getattr(test, "_testMethodName", ""), None)
    try:
        code = inspect.unwrap(function).__code__
    except (AttributeError, ValueError):
        return None
    return code.co_filename, code.co_firstlineno


class RecordingResult(unittest.TestResult):
    """Keeps each outcome as text (never the test or traceback objects, R12), with the
    output the test printed."""

    def __init__(self, deadline, records):
        super().__init__()
        self.deadline = deadline
        self.records = records
        self.current = None
        self.started = 0.0
        self.saved_streams = None
        self.out = self.err = None

    def startTest(self, test):
        super().startTest(test)
        self.current = test
        self.deadline.current = test.id()
        self.started = time.perf_counter()
        self.out, self.err = io.StringIO(), io.StringIO()
        self.saved_streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self.out, self.err

    def stopTest(self, test):
        self.restore_streams()
        super().stopTest(test)
        self.current = None
        self.deadline.current = None
        if self.deadline.expired:
            self.shouldStop = True

    def restore_streams(self):
        if self.saved_streams is not None:
            sys.stdout, sys.stderr = self.saved_streams
            self.saved_streams = None

    def _record(self, test, outcome, err=None, message=None, parent=None):
        duration = (time.perf_counter() - self.started) * 1000.0 if test is self.current else 0.0
        text = ""
        timed_out = False
        if err is not None:
            if issubclass(err[0], ScriptTimeout):
                # The message says it all: no traceback to repeat it (T6).
                self.deadline.expired = True
                self.shouldStop = True
                message = _interrupted_message(self.deadline)
                timed_out = True
            else:
                message = _message(err[1]) if message is None else message
                failure.hide_relive_frames(err[1])
                text = self._exc_info_to_string((err[0], err[1], failure.user_frames(err[2])), test)
        out = self.out.getvalue() if self.out is not None else ""
        errs = self.err.getvalue() if self.err is not None else ""
        self.records.append(
            Record(
                test.id(), outcome, message or "", text, duration, out, errs, parent, _location(test), timed_out
            )
        )

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "fail", err)

    def addError(self, test, err):
        super().addError(test, err)
        outcome = "error"
        if issubclass(err[0], SystemExit):
            self._record(test, outcome, err, message=f"SystemExit: the test called sys.exit({err[1].code!r})")
        elif issubclass(err[0], TestInterrupted):
            self._record(test, outcome, err, message=str(err[1]))
        else:
            self._record(test, outcome, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skip", message=reason)

    def addExpectedFailure(self, test, err):
        if issubclass(err[0], (TestInterrupted, SystemExit, ProcessExit)):
            # Interrupting or exiting is never the failure a test expected (T6).
            self.addError(test, err)
            return
        super().addExpectedFailure(test, err)
        self._record(test, "xfail", None, message=_message(err[1]))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected-success", message="the test was expected to fail but passed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            # A sub-test's failure is listed under its own id and counted once with its
            # test (T3): `parent` names the test it belongs to.
            self._record(subtest, outcome, err, parent=test.id())

    def interrupted(self, exc):
        """Something unittest does not catch ended the run (KeyboardInterrupt in a test,
        SystemExit or a timeout in a class fixture): an error of the running test or
        fixture, and the run ends (T6)."""
        self.restore_streams()
        test = self.current
        name = test.id() if test is not None else "tests (class or module fixture)"
        timed_out = isinstance(exc, ScriptTimeout)
        if timed_out:
            self.deadline.expired = True
            message = _interrupted_message(self.deadline)
            text = ""
        else:
            text = failure.format_exception(type(exc), exc, exc.__traceback__)
            where = "inside the test" if test is not None else "in a class or module fixture"
            message = f"{_message(exc)} raised {where}"
        location = _location(test) if test is not None else None
        self.records.append(Record(name, "error", message, text, location=location, timed_out=timed_out))

    def call_fixture(self, fixture, name):
        """Run a module fixture (T6); its failure is an error named after it. True when it
        returned normally."""
        try:
            fixture()
        except ScriptTimeout:
            raise
        except BaseException as exc:  # noqa: B036 - SystemExit or KeyboardInterrupt in a fixture
            text = failure.format_exception(type(exc), exc, exc.__traceback__)
            code = getattr(fixture, "__code__", None)
            location = (code.co_filename, code.co_firstlineno) if code is not None else None
            self.records.append(Record(name, "error", _message(exc), text, location=location))
            return False
        return True
