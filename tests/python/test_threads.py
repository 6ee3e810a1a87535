"""Threads and the GIL (W4, issue 15): pump and wait on the caller's thread, background
mode on relive's thread, Ctrl-C inside wait_for_changes."""

import _thread
import logging
import signal
import sys
import threading
import time
import unittest

import relive
from support import DEADLINE, ScriptTestCase, unique


class CallerThread(ScriptTestCase):
    def test_pump_applies_an_edit_on_the_callers_thread(self):
        name = unique("pump")
        self.scripts.write("a.py", "import threading\nTHREAD = threading.get_ident()\nA = 1\n")
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            reloader.watch()
            self.scripts.write("a.py", "import threading\nTHREAD = threading.get_ident()\nA = 2\n")
            reports = []
            end = time.monotonic() + DEADLINE
            while not reports and time.monotonic() < end:
                reports = reloader.wait_for_changes(0.5)
            self.assertEqual([r.outcome for r in reports], ["reloaded"])
            self.assertEqual(sys.modules[name].A, 2)

    def test_other_threads_run_while_wait_for_changes_waits(self):
        # The GIL is released while waiting: a Python thread makes progress meanwhile.
        self.scripts.write("a.py", "A = 1\n")
        ticks = []
        stop = threading.Event()

        def count():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.001)

        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(unique("gil"), self.scripts.path)
            counter = threading.Thread(target=count)
            counter.start()
            try:
                self.assertEqual(reloader.wait_for_changes(0.3), [])
            finally:
                stop.set()
                counter.join()
        self.assertGreater(len(ticks), 0)

    def test_ctrl_c_raises_keyboard_interrupt_inside_wait_for_changes(self):
        # A process started in the background by a shell inherits SIGINT ignored, and then
        # `interrupt_main` does nothing: give SIGINT Python's own handler for this test.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        self.scripts.write("a.py", "A = 1\n")
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(unique("sigint"), self.scripts.path)
            timer = threading.Timer(0.2, _thread.interrupt_main)
            timer.start()
            started = time.monotonic()
            with self.assertRaises(KeyboardInterrupt):
                reloader.wait_for_changes(DEADLINE)
            timer.join()
            self.assertLess(time.monotonic() - started, DEADLINE)
            # The reloader still works after the interrupt.
            self.assertEqual(reloader.pump(), [])

    def test_ctrl_c_while_a_log_handler_runs_is_not_lost(self):
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)

        class Interrupted(logging.Handler):
            def emit(self, record):
                raise KeyboardInterrupt  # as Python raises it when Ctrl-C comes here

        logger = logging.getLogger("relive")
        handler = Interrupted()
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.INFO)
        self.scripts.write("a.py", "A = 1\n")
        with self.assertRaises(KeyboardInterrupt):
            with relive.Reloader(tests=False) as reloader:
                reloader.add_directory(unique("logint"), self.scripts.path)
                for _ in range(100):
                    time.sleep(0.01)  # Python raises it at its next check


class Background(ScriptTestCase):
    def test_background_applies_on_relives_thread_and_calls_on_report(self):
        name = unique("bg")
        self.scripts.write("a.py", "A = 1\n")
        arrived = threading.Event()
        seen = []

        def on_report(report):
            seen.append((report.outcome, threading.get_ident()))
            arrived.set()

        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            reloader.start_background(on_report)
            self.assertTrue(reloader.in_background)
            with self.assertRaises(relive.BusyError):
                reloader.pump()
            self.scripts.write("a.py", "A = 2\n")
            self.assertTrue(arrived.wait(DEADLINE), "no report from the background")
            self.assertEqual(sys.modules[name].A, 2)
            self.assertEqual(reloader.version(self.scripts.path / "a.py"), 2)
            reloader.stop()
            self.assertFalse(reloader.in_background)
        self.assertEqual(seen[0][0], "reloaded")
        self.assertNotEqual(seen[0][1], threading.get_ident())


if __name__ == "__main__":
    unittest.main()
