"""The peers on the same edits as benches/reload.rs, for a side-by-side table.

Run by benches/reload.rs with a Python that has IPython and jurigged installed (see the
`bench-peers` recipe in the justfile, which makes target/peers-venv). Prints one JSON
object: figure name -> list of seconds per reload. Measured: importlib.reload (the shared
baseline), IPython's superreload, IPython's `%autoreload 2` check (deduperreload), and
jurigged's CodeFile.refresh. Each changes one function body per reload of a module with
200 functions and 20 classes, one live instance per class.
"""

import importlib
import json
import os
import sys
import tempfile
import time

RUNS = 30


def big_script(version):
    parts = []
    for c in range(20):
        parts.append(
            f"class K{c}:\n    def __init__(self):\n        self.n = {c}\n    def get(self):\n        return self.n\n\n"
            f"LIVE{c} = K{c}()\n\n"
        )
    for f in range(200):
        parts.append(f"def f{f}(x):\n    return x + {version if f == 0 else f}\n\n")
    return "".join(parts)


def write(path, version):
    with open(path, "w") as f:
        f.write(big_script(version))
    # Bump the mtime past the previous one, so mtime-based checkers see every write.
    stamp = time.time() + version
    os.utime(path, (stamp, stamp))


def fresh_module(folder, name):
    path = os.path.join(folder, name + ".py")
    write(path, 0)
    module = importlib.import_module(name)
    return path, module


def timed(path, step, reload_once, module):
    samples = []
    for i in range(RUNS):
        write(path, step + i + 1)
        start = time.perf_counter()
        reload_once()
        samples.append(time.perf_counter() - start)
    # Each peer really applied the last edit: f0 returns x + version.
    assert module.f0(0) == step + RUNS, f"{module.__name__} did not pick up the edits"
    return samples


def main():
    from IPython.extensions.autoreload import ModuleReloader, superreload
    from jurigged.codetools import CodeFile

    folder = tempfile.mkdtemp()
    sys.path.insert(0, folder)
    results = {}

    path, module = fresh_module(folder, "peer_importlib")
    results["importlib.reload (peers' interpreter)"] = timed(path, 0, lambda: importlib.reload(module), module)

    path, module = fresh_module(folder, "peer_super")
    old_objects = {}
    results["IPython superreload"] = timed(path, 0, lambda: superreload(module, importlib.reload, old_objects), module)

    path, module = fresh_module(folder, "peer_auto")
    reloader = ModuleReloader()
    reloader.enabled = True
    reloader.check_all = False
    reloader.modules = {"peer_auto": True}
    reloader.check(do_reload=False)
    results["IPython %autoreload 2 check (deduperreload)"] = timed(path, 0, reloader.check, module)

    path, module = fresh_module(folder, "peer_jurigged")
    code_file = CodeFile(path, "peer_jurigged")
    code_file.associate(module)
    results["jurigged CodeFile.refresh"] = timed(path, 0, code_file.refresh, module)

    print(json.dumps(results))


if __name__ == "__main__":
    main()
