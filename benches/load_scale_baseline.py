"""Baseline for benches/load_scale.rs: compile and execute each file once, in dependency
order, into one plain module, which is the least any loader has to do."""

import sys
import time
import types


def run(namespace, files):
    """Load `files` (paths in dependency order) into a plain module; return seconds taken."""
    start = time.perf_counter()
    module = types.ModuleType(namespace)
    sys.modules[namespace] = module
    try:
        for path in files:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec")
            g = {"__name__": namespace, "__builtins__": __builtins__}
            exec(code, g)
            for name, value in g.items():
                if not name.startswith("_"):
                    setattr(module, name, value)
        return time.perf_counter() - start
    finally:
        del sys.modules[namespace]
