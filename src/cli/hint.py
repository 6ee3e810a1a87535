"""Finds the top-level names failing scripts import that no module answers to, for the hint
`relive check` and `relive watch` give when scripts import their namespace under another
name (the folder was renamed or copied). Loaded by src/cli/hint.rs."""

import ast
import importlib.util
import sys


def unresolved_imports(files, namespace):
    """Sorted top-level names imported by `files` (absolute imports only) that are not
    `namespace` and that no module on sys.path provides."""
    names = set()
    for file in files:
        for top in _imported_tops(file):
            if top != namespace and top not in sys.modules and _missing(top):
                names.add(top)
    return sorted(names)


def _imported_tops(file):
    try:
        with open(file, "rb") as f:
            tree = ast.parse(f.read(), file)
    except (OSError, SyntaxError, ValueError):
        return []
    tops = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.append(node.module.split(".")[0])
    return tops


def _missing(name):
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True
