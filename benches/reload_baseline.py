"""Baselines for benches/reload.rs, measured in the same interpreter as relive."""

import importlib
import sys
import time


def import_module(folder, name):
    """Import `name` from `folder`, which stays on sys.path so reloads find it."""
    sys.path.insert(0, folder)
    return importlib.import_module(name)


def time_reload(module):
    """Seconds taken by importlib.reload of an already imported module."""
    start = time.perf_counter()
    importlib.reload(module)
    return time.perf_counter() - start


def grow_heap(n):
    """Keep n small objects alive (a big live heap for the heap-independence figure)."""
    import builtins

    builtins._relive_bench_heap = [[i] for i in range(n)]


def drop_heap():
    import builtins

    builtins.__dict__.pop("_relive_bench_heap", None)
