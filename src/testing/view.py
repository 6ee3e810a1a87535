"""The candidate view (T1, R15): while a batch's candidates run and are tested, imports of
their namespaces made on the thread running them see the candidates' exports instead of
the versions in effect.

Loaded once by src/testing/view.rs, which makes one `BatchView` per batch (a load makes one
per script). Each candidate joins the view once its module-level code ran (`add`), so the
candidates built after it (its dependents, R15) import its new objects and every test of the
batch sees every candidate. The runner enters the view around each job on the worker thread
and leaves it afterwards. Nothing in effect changes: `sys.modules` and the namespaces are
untouched. While any view is active, `builtins.__import__` is a wrapper that answers imports
of the viewed namespaces (and their parents) with *proxies* on the viewing thread only:
module objects holding the namespace's names with the candidates' exports laid over them.
Every other thread, and every other import, goes to the original `__import__`. When the
batch is over, `release` replaces every proxy the candidates' globals bound by the real
namespace module, so nothing put into effect refers to a proxy.
"""

import builtins
import itertools
import sys
import threading
import types

_lock = threading.Lock()
_active = {}  # thread id -> BatchView
_original_import = builtins.__import__


class NamespaceProxy(types.ModuleType):
    """What a viewed namespace looks like to candidates and tests: a module with its own dict."""


class BatchView:
    """The candidates of one batch seen through their namespaces."""

    def __init__(self):
        self.overlays = {}  # namespace -> {name: candidate value}
        self.hidden = {}  # namespace -> names the batch's versions in effect contribute
        self.proxies = {}  # dotted -> NamespaceProxy, refreshed whenever a candidate joins
        self.threads = set()

    def add(self, namespace, exports, own, candidate):
        """A candidate joins: its exports (`exports(candidate)`, L4) replace the names its
        version in effect contributes (`own`). A name another script of the namespace holds
        wins over the candidate's (L5)."""
        hidden = self.hidden.setdefault(namespace, set())
        hidden.update(own)
        overlay = self.overlays.setdefault(namespace, {})
        module = sys.modules.get(namespace)
        names = vars(module) if module is not None else {}
        for name in exports(candidate):
            if name not in names or name in hidden:
                overlay[name] = candidate[name]
        for dotted, proxy in list(self.proxies.items()):
            self._fill(dotted, proxy)

    def enter(self):
        global _original_import
        thread = threading.get_ident()
        with _lock:
            if not _active:
                _original_import = builtins.__import__
                builtins.__import__ = _import
            _active[thread] = self
            self.threads.add(thread)

    def leave(self):
        with _lock:
            for thread in self.threads:
                _active.pop(thread, None)
            self.threads.clear()
            if not _active and builtins.__import__ is _import:
                builtins.__import__ = _original_import

    def release(self, globals_list):
        """The batch is over: proxies bound in `globals_list` become the real modules.
        Returns the proxies made, so the apply's translator can replace any a candidate
        keeps elsewhere (a class attribute, a default) with the real module too."""
        self.leave()
        for g in globals_list:
            bound = map(isinstance, list(g.values()), itertools.repeat(NamespaceProxy))
            for name in list(itertools.compress(list(g), bound)):
                g[name] = sys.modules.get(g[name].__name__, g[name])
        proxies = list(self.proxies.items())
        for dotted, proxy in proxies:
            # It held candidates: nothing may reach them through it any more (R12).
            proxy.__dict__.clear()
            proxy.__dict__["__name__"] = dotted
        self.overlays = {}
        self.hidden = {}
        self.proxies = {}
        return proxies

    def viewed(self, dotted):
        """Whether `dotted` is a viewed namespace or the parent of one."""
        return any(ns == dotted or ns.startswith(dotted + ".") for ns in self.overlays)

    def proxy(self, dotted):
        """The module `import` gives for `dotted`: a proxy when it is viewed, else the real one."""
        real = sys.modules[dotted]
        if not self.viewed(dotted):
            return real
        proxy = self.proxies.get(dotted)
        if proxy is None:
            proxy = self.proxies[dotted] = NamespaceProxy(dotted)
            self._fill(dotted, proxy)
        return proxy

    def _fill(self, dotted, proxy):
        real = sys.modules.get(dotted)
        if real is None:
            return
        names = proxy.__dict__
        names.clear()
        names.update(real.__dict__)
        for name in self.hidden.get(dotted, ()):
            names.pop(name, None)
        names.update(self.overlays.get(dotted, {}))
        prefix = dotted + "."
        for namespace in self.overlays:
            if namespace.startswith(prefix):
                child = namespace[len(prefix) :].split(".")[0]
                if f"{prefix}{child}" in sys.modules:
                    names[child] = self.proxy(f"{prefix}{child}")


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    view = _active.get(threading.get_ident())
    if view is None or level != 0 or not view.viewed(name.partition(".")[0]):
        return _original_import(name, globals, locals, fromlist, level)
    _original_import(name, globals, locals, (), level)  # real errors stay real
    return view.proxy(name if fromlist else name.partition(".")[0])
