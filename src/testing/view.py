"""The candidate view (T1): while a candidate's tests run, imports of its namespace made on
the thread running them see the candidate's exports instead of the version in effect.

Loaded once by src/testing/view.rs, which makes one `CandidateView` per candidate. The
runner enters the view after the candidate's module-level code ran and leaves it after its
tests. Nothing in effect changes: `sys.modules` and the namespaces are untouched. While any
view is active, `builtins.__import__` is a wrapper that answers imports of the viewed
namespaces with *proxies* (fresh module objects holding the namespace's names with the
candidate's exports laid over them) on the viewing thread only; every other thread, and
every other import, goes to the original `__import__`. On leaving, the wrapper is removed
and any proxy the candidate's globals bound is replaced by the real namespace module.
"""

import builtins
import sys
import threading
import types

_lock = threading.Lock()
_active = {}  # thread id -> CandidateView
_original_import = builtins.__import__


class NamespaceProxy(types.ModuleType):
    """What a viewed namespace looks like to the tests: a module with its own dict."""


class CandidateView:
    """The candidate of one script seen through its namespace.

    `namespace`: its dotted namespace; `exports`: a callable giving the names the candidate
    exports (L4); `own`: the names the script's version in effect contributes, hidden unless
    the candidate exports them again. Any other name the namespace holds belongs to another
    script or a sub-namespace and wins over the candidate's (L5).
    """

    def __init__(self, namespace, exports, own):
        self.namespace = namespace
        self.exports = exports
        self.own = set(own)
        self.overlay = {}
        self.proxies = {}
        self.thread = None

    def enter(self, candidate):
        taken = set(vars(sys.modules[self.namespace])) - self.own
        self.overlay = {n: candidate[n] for n in self.exports(candidate) if n not in taken}
        self.proxies = {}
        self.thread = threading.get_ident()
        global _original_import
        with _lock:
            if not _active:
                _original_import = builtins.__import__
                builtins.__import__ = _import
            _active[self.thread] = self

    def leave(self, candidate):
        with _lock:
            _active.pop(self.thread, None)
            if not _active and builtins.__import__ is _import:
                builtins.__import__ = _original_import
        for name, value in list(candidate.items()):
            if isinstance(value, NamespaceProxy):
                candidate[name] = sys.modules.get(value.__name__, value)
        self.overlay = {}
        self.proxies = {}

    def _viewed(self, dotted):
        """Whether `dotted` is the viewed namespace or one of its parents."""
        return dotted == self.namespace or self.namespace.startswith(dotted + ".")

    def proxy(self, dotted):
        """The module `import` gives for `dotted`: a proxy when it is viewed, else the real one."""
        real = sys.modules[dotted]
        if not self._viewed(dotted):
            return real
        proxy = self.proxies.get(dotted)
        if proxy is None:
            proxy = self.proxies[dotted] = NamespaceProxy(dotted)
            proxy.__dict__.update(real.__dict__)
            if dotted == self.namespace:
                for name in self.own:
                    proxy.__dict__.pop(name, None)
                proxy.__dict__.update(self.overlay)
            else:
                child = self.namespace[len(dotted) + 1 :].split(".")[0]
                proxy.__dict__[child] = self.proxy(f"{dotted}.{child}")
        return proxy


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    view = _active.get(threading.get_ident())
    if view is None or level != 0 or not view._viewed(name.partition(".")[0]):
        return _original_import(name, globals, locals, fromlist, level)
    _original_import(name, globals, locals, (), level)  # real errors stay real
    return view.proxy(name if fromlist else name.partition(".")[0])
