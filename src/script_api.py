"""The functions scripts reach with `import relive` to talk to the reloader (R13).

relive loads this module as `_relive_script_api`. When the host is a Rust program it is
also `sys.modules["relive"]`; when the host is Python, `relive` is the package, which
re-exports these same functions, so scripts read alike under either host.

    import relive

    @relive.on_validate
    def check(candidate_globals):      # before tests; raise to reject the candidate
        assert "VERSION" in candidate_globals

    relive.on_class_updated(lambda cls: cls.cache.clear())
    relive.on_applied(lambda report: print(report.path, report.version))
    relive.version("ai/brain.py")        # the script's version, or None

Callbacks are held strongly unless registered with `weak=True`. An exception inside a
callback is logged by relive and never aborts or half-applies a reload. Class and report
callbacks run after the reload has been applied.
"""

import types
import weakref

_KINDS = ("validate", "class_created", "class_updated", "applied", "rejected")
_callbacks = {kind: [] for kind in _KINDS}
_versions = {}  # kept up to date by relive: script path -> version


def _strong(fn):
    return lambda: fn


def _register(kind, fn, weak):
    if weak:
        ref = weakref.WeakMethod(fn) if hasattr(fn, "__self__") else weakref.ref(fn)
    else:
        ref = _strong(fn)
    _callbacks[kind].append(ref)
    return fn


def _decorator(kind):
    def register(fn=None, *, weak=False):
        if fn is None:
            return lambda f: _register(kind, f, weak)
        return _register(kind, fn, weak)

    register.__name__ = f"on_{kind}"
    register.__doc__ = f"Register a callback for {kind.replace('_', ' ')} events."
    return register


on_validate = _decorator("validate")
on_class_created = _decorator("class_created")
on_class_updated = _decorator("class_updated")
on_applied = _decorator("applied")
on_rejected = _decorator("rejected")


def remove(fn):
    """Unregister `fn` from every event."""
    for kind in _KINDS:
        _callbacks[kind] = [r for r in _callbacks[kind] if r() is not fn]


def version(path):
    """The version of the script at `path` (relative to its directory), or None."""
    return _versions.get(path)


def _live(kind):
    alive = []
    for ref in list(_callbacks[kind]):
        fn = ref()
        if fn is None:
            _callbacks[kind].remove(ref)
        else:
            alive.append(fn)
    return alive


def _validate(candidate):
    """Run every validate callback; the first exception rejects the candidate."""
    for fn in _live("validate"):
        fn(candidate)


def _fire(kind, payload):
    """Call every callback of `kind`; return the errors they raised, as text."""
    errors = []
    for fn in _live(kind):
        try:
            fn(payload)
        except Exception as exc:  # noqa: BLE001 - a callback must not abort a reload (R13)
            errors.append(f"{getattr(fn, '__qualname__', fn)!s}: {type(exc).__name__}: {exc}")
    return errors


def _report(path, outcome, version, reason):
    return types.SimpleNamespace(path=path, outcome=outcome, version=version, reason=reason)


_emit = None  # set by relive: (level, logger name, message) -> None


class _LogBridge:
    """Forwards records of Python's `logging` to relive's log (W5)."""

    def __new__(cls):
        import logging

        class Bridge(logging.Handler):
            def emit(self, record):
                if _emit is None:
                    return
                try:
                    _emit(record.levelno, record.name, self.format(record))
                except Exception:  # noqa: BLE001 - logging must never raise into script code
                    self.handleError(record)

        return Bridge()


def _install_log_bridge():
    import logging

    root = logging.getLogger()
    if not any(type(h).__name__ == "Bridge" for h in root.handlers):
        root.addHandler(_LogBridge())
        root.setLevel(logging.DEBUG)
