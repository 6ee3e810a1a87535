"""Shared set-up for the Python suite: temp script folders and waiting with a deadline.

`tests/integration/python_package.rs` runs this suite against the freshly built extension
module (`RELIVE_TEST_SITE` is the folder holding the `relive` package).
"""

import os
import pathlib
import shutil
import tempfile
import textwrap
import time
import unittest

SITE = os.environ.get("RELIVE_TEST_SITE", "")
ROOT = pathlib.Path(os.environ.get("RELIVE_TEST_ROOT", pathlib.Path(__file__).resolve().parents[2]))
DEADLINE = 30.0  # seconds; only bounds a failure, never paces a passing test


class ScriptDir:
    """A temporary folder of scripts, written exactly as given (dedented)."""

    def __init__(self):
        self.path = pathlib.Path(tempfile.mkdtemp(prefix="relive-py-")).resolve()

    def write(self, relative, text):
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary name and rename, as editors do, so a watcher never sees a
        # half-written file.
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(textwrap.dedent(text))
        os.replace(temporary, target)
        return target

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def wait_until(condition, what, deadline=DEADLINE):
    """Wait for `condition()` to be true, failing after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


_counter = 0


def unique(prefix):
    """A namespace name no other test of this process uses."""
    global _counter
    _counter += 1
    return f"{prefix}{os.getpid()}_{_counter}"


class ScriptTestCase(unittest.TestCase):
    """A test with a fresh script folder, removed afterwards."""

    def setUp(self):
        self.scripts = ScriptDir()
        self.addCleanup(self.scripts.remove)
