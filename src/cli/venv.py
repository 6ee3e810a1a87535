"""Makes the user's virtualenv importable inside relive's interpreter, as its own python
would: its site-packages (and their .pth files) join sys.path. Loaded by src/cli/venv.rs.
"""

import os
import site
import sys
import sysconfig


def activate(venv):
    """Return (made_with, running, added): the venv's Python version as pyvenv.cfg says,
    this interpreter's, and the folders added to sys.path (none when the versions differ:
    a venv of another Python cannot be used). made_with is None without a pyvenv.cfg."""
    running = "%d.%d.%d" % sys.version_info[:3]
    made_with = _version(os.path.join(venv, "pyvenv.cfg"))
    if made_with is None or _minor(made_with) != sys.version_info[:2]:
        return made_with, running, []
    added = []
    for key in ("purelib", "platlib"):
        path = sysconfig.get_path(key, vars={"base": venv, "platbase": venv})
        if os.path.isdir(path) and path not in added:
            site.addsitedir(path)
            added.append(path)
    return made_with, running, added


def _version(cfg):
    try:
        with open(cfg, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    values = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values.get("version_info") or values.get("version")


def _minor(version):
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
