"""relive: live-reload directories of Python scripts into this program, gated by their tests.

A host program registers script directories; each becomes a namespace of real modules
(`scripts/` is `game`, `scripts/ai/` is `game.ai`). When a script changes, relive runs the
new version and its unit tests, and only then patches it in place: classes keep their
identity, existing instances see the new methods. A change whose tests fail is rejected and
the old code keeps running.

Game-loop style, everything on the host's thread::

    import relive

    with relive.Reloader() as reloader:
        print(reloader.add_directory("game", "scripts"))
        reloader.watch()
        while running:
            for report in reloader.pump():
                print(report)
            ...

Scripts themselves `import relive` for `on_validate`, `on_applied`, `version`, ...: the
same functions whether the host is this package or a Rust program.

relive logs to the `logging` logger `relive` and never touches the root logger.
"""

import threading  # noqa: F401 - issue 15: the host's thread must import it first
import atexit
import json
import os
import weakref

from . import _relive
from ._relive import (
    BusyError,
    DirectoryError,
    InterpreterError,
    NamespaceError,
    ReliveError,
    WatchError,
)
from ._report import Record, Report

__version__ = _relive.__version__

# The functions scripts call (R13), the very objects a Rust host gives them.
_script_api = _relive.script_api()
on_validate = _script_api.on_validate
on_class_created = _script_api.on_class_created
on_class_updated = _script_api.on_class_updated
on_applied = _script_api.on_applied
on_rejected = _script_api.on_rejected
remove = _script_api.remove
version = _script_api.version

__all__ = [
    "BusyError",
    "DirectoryError",
    "InterpreterError",
    "NamespaceError",
    "Record",
    "Reloader",
    "ReliveError",
    "Report",
    "WatchError",
    "on_applied",
    "on_class_created",
    "on_class_updated",
    "on_rejected",
    "on_validate",
    "remove",
    "version",
]

# Every open reloader, closed at exit before the interpreter finalizes (issue 15).
_open = weakref.WeakSet()


class Reloader:
    """Loads script directories into namespaces and reloads them as they change.

    mode: "update" patches classes and functions in place (identity kept), "overwrite"
        replaces a script's globals and exports (O1).
    tests: run each script's unit tests after loading and before every reload goes live.
    test_timeout: seconds allowed per script for module-level code plus tests (T6).
    prune: remove names a new version no longer defines instead of keeping them (R10).
    partial: keep the scripts that loaded when others fail (L7); the rest are pending.

    Use it as a context manager, or call `close()`: either removes its namespaces and
    stops its threads. Reloaders still open at exit are closed then.
    """

    def __init__(self, mode="update", tests=True, test_timeout=10.0, prune=False, partial=False):
        self._native = _relive.Reloader(mode, tests, float(test_timeout), prune, partial)
        _open.add(self)

    def add_directory(self, namespace, path):
        """Load every script of the folder `path` into `namespace` and its sub-namespaces.

        Returns the load `Report`; a script that fails is an outcome in it, not an
        exception (by default nothing of the folder is kept then). Raises `NamespaceError`
        or `DirectoryError` when the request itself cannot be done.
        """
        return Report._from_native(self._native.add_directory(namespace, os.fspath(path)))

    def remove_directory(self, path):
        """Remove a registered folder: its namespaces leave `sys.modules` (L9)."""
        return Report._from_native(self._native.remove_directory(os.fspath(path)))

    def reload(self, path):
        """Reload one script now, on this thread; returns its `Report`."""
        return Report._from_native(self._native.reload(os.fspath(path)))

    def reload_batch(self, paths):
        """Reload scripts changed together as one batch (R14); returns their reports."""
        return [Report._from_native(r) for r in self._native.reload_batch([os.fspath(p) for p in paths])]

    def watch(self):
        """Start watching the registered folders; changes wait for `pump()`."""
        self._native.watch()

    def pump(self):
        """Apply the changes that arrived, on this thread; never waits. Returns reports."""
        return [Report._from_native(r) for r in self._native.pump()]

    def wait_for_changes(self, timeout):
        """Wait up to `timeout` seconds for changes and apply them, on this thread.

        The GIL is released while waiting and Ctrl-C raises `KeyboardInterrupt`. Starts
        watching if needed. Returns the reports (empty when nothing changed in time).
        """
        return [Report._from_native(r) for r in self._native.wait_for_changes(float(timeout))]

    def start_background(self, on_report=None):
        """Apply changes on relive's own thread from now on, until `stop()`.

        `on_report(report)` is called on that thread after each reload. Meanwhile only
        `stop`, `close`, `leaks`, `version` and `namespaces` may be called.
        """
        callback = None if on_report is None else (lambda rendered: on_report(Report._from_native(rendered)))
        self._native.start_background(callback)

    def stop(self):
        """Stop background mode and join relive's thread; watching goes on for `pump()`."""
        self._native.stop()

    def close(self):
        """Stop everything and remove every namespace; the reloader is unusable after."""
        self._native.close()
        _open.discard(self)

    @property
    def closed(self):
        """Whether `close()` was called."""
        return self._native.closed

    @property
    def in_background(self):
        """Whether relive's thread applies changes."""
        return self._native.in_background

    def leaks(self):
        """Names kept in namespaces although their script no longer defines them (R10)."""
        return [Record(leak) for leak in json.loads(self._native.leaks())]

    def version(self, path):
        """The version of the script at `path` (1 after load), or None when not in effect."""
        return self._native.version(os.fspath(path))

    def namespaces(self):
        """Every namespace this reloader made, sorted."""
        return self._native.namespaces()

    def on_event(self, callback):
        """Call `callback(event)` with each event of every reload (R13); returns `callback`.

        An event is a `Record` whose `kind` says what happened. An exception inside the
        callback is reported as unraisable and changes nothing.
        """
        self._native.on_event(lambda document: callback(Record(json.loads(document))))
        return callback

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __repr__(self):
        try:
            state = "closed" if self.closed else ("background" if self.in_background else "open")
        except BusyError:
            state = "busy"
        return f"<relive.Reloader {state}>"


@atexit.register
def _close_all():
    # Runs before finalization: no relive thread or Python work is left for it (issue 15).
    for reloader in list(_open):
        try:
            reloader.close()
        except ReliveError:
            pass
