"""The Pythonic API: loading, reloading, the test gate, reports, errors, callbacks (issue 15)."""

import importlib
import logging
import sys
import unittest

import relive
from support import ScriptTestCase, unique


class LoadAndReload(ScriptTestCase):
    def test_a_class_keeps_its_identity_across_an_edit(self):
        name = unique("ident")
        hero = self.scripts.write("hero.py", "class Hero:\n    def greet(self):\n        return 'hi'\n")
        with relive.Reloader() as reloader:
            report = reloader.add_directory(name, self.scripts.path)
            self.assertEqual(report.outcome, "loaded", str(report))
            module = importlib.import_module(name)
            cls, instance = module.Hero, module.Hero()
            self.scripts.write("hero.py", "class Hero:\n    def greet(self):\n        return 'hello'\n")
            report = reloader.reload(hero)
            self.assertEqual(report.outcome, "reloaded", str(report))
            self.assertIs(module.Hero, cls)
            self.assertEqual(instance.greet(), "hello")
            self.assertEqual(reloader.version(hero), 2)

    def test_a_change_whose_test_fails_is_rejected_and_the_old_code_runs(self):
        name = unique("gate")
        path = self.scripts.write("calc.py", "def double(x):\n    return 2 * x\n")
        self.scripts.write(
            "calc_unittest.py",
            """\
            import unittest

            class DoubleTest(unittest.TestCase):
                def test_double(self):
                    self.assertEqual(double(3), 6)
            """,
        )
        with relive.Reloader() as reloader:
            self.assertEqual(reloader.add_directory(name, self.scripts.path).outcome, "loaded")
            module = importlib.import_module(name)
            self.scripts.write("calc.py", "def double(x):\n    return 3 * x\n")
            report = reloader.reload(path)
            self.assertEqual(report.outcome, "rejected", str(report))
            self.assertIn("test_double", str(report))
            self.assertEqual(module.double(3), 6)
            self.assertEqual(reloader.version(path), 1)

    def test_reports_have_attributes_text_and_json(self):
        name = unique("report")
        self.scripts.write("a.py", "VALUE = 1\n")
        with relive.Reloader(tests=False) as reloader:
            report = reloader.add_directory(name, self.scripts.path)
        self.assertIsInstance(report, relive.Report)
        self.assertTrue(str(report).startswith(f"loaded {name} from "), str(report))
        data = report.to_dict()
        self.assertEqual(data["outcome"], "loaded")
        self.assertEqual(report.namespace, data["namespace"])
        self.assertEqual([s.path for s in report.scripts], ["a.py"])
        with self.assertRaises(AttributeError):
            report.no_such_field

    def test_reload_batch_and_remove_directory(self):
        name = unique("batch")
        a = self.scripts.write("a.py", "A = 1\n")
        b = self.scripts.write("b.py", "B = 1\n")
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            self.scripts.write("a.py", "A = 2\n")
            self.scripts.write("b.py", "B = 2\n")
            reports = reloader.reload_batch([a, b])
            self.assertEqual([r.outcome for r in reports], ["reloaded", "reloaded"])
            self.assertEqual((sys.modules[name].A, sys.modules[name].B), (2, 2))
            removed = reloader.remove_directory(self.scripts.path)
            self.assertEqual(removed.namespace, name)
            self.assertNotIn(name, sys.modules)

    def test_close_removes_the_namespaces(self):
        name = unique("closing")
        self.scripts.write("a.py", "A = 1\n")
        reloader = relive.Reloader(tests=False)
        reloader.add_directory(name, self.scripts.path)
        self.assertIn(name, sys.modules)
        self.assertEqual(reloader.namespaces(), [name])
        reloader.close()
        self.assertTrue(reloader.closed)
        self.assertNotIn(name, sys.modules)
        with self.assertRaises(relive.BusyError):
            reloader.pump()

    def test_leaks_are_records(self):
        name = unique("leak")
        path = self.scripts.write("a.py", "A = 1\nB = 2\n")
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            self.scripts.write("a.py", "A = 1\n")
            reloader.reload(path)
            leaks = reloader.leaks()
        self.assertEqual([(leak.namespace, leak.name) for leak in leaks], [(name, "B")])


class Errors(ScriptTestCase):
    def test_a_taken_namespace_is_a_namespace_error(self):
        self.scripts.write("a.py", "A = 1\n")
        with relive.Reloader() as reloader:
            with self.assertRaises(relive.NamespaceError) as caught:
                reloader.add_directory("os", self.scripts.path)
        self.assertIsInstance(caught.exception, relive.ReliveError)
        self.assertIn("os", str(caught.exception))

    def test_a_missing_folder_is_a_directory_error_naming_it(self):
        missing = self.scripts.path / "missing"
        with relive.Reloader() as reloader:
            with self.assertRaises(relive.DirectoryError) as caught:
                reloader.add_directory(unique("missing"), missing)
        self.assertIn(str(missing), str(caught.exception))

    def test_bad_settings_are_value_errors(self):
        with self.assertRaises(ValueError):
            relive.Reloader(mode="sideways")
        with self.assertRaises(ValueError):
            relive.Reloader(test_timeout=0)

    def test_a_script_error_is_an_outcome_naming_file_and_line(self):
        self.scripts.write("broken.py", "A = 1\nraise RuntimeError('boom')\n")
        with relive.Reloader() as reloader:
            report = reloader.add_directory(unique("broken"), self.scripts.path)
        self.assertEqual(report.outcome, "load-failed")
        self.assertIn("broken.py:2", str(report))


class ScriptsImportRelive(ScriptTestCase):
    def test_scripts_reach_the_same_functions_through_the_package(self):
        name = unique("api")
        path = self.scripts.write(
            "probe.py",
            """\
            import relive

            SEEN = []
            SAME_MODULE = relive is __import__("sys").modules["relive"]
            relive.on_applied(lambda report: SEEN.append((report.path, report.version)), weak=False)
            """,
        )
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            module = sys.modules[name]
            self.assertTrue(module.SAME_MODULE)
            self.assertEqual(relive.version("probe.py"), 1)
            self.scripts.write("probe.py", path.read_text() + "\n# edited\n")
            reloader.reload(path)
            self.assertIn(("probe.py", 2), module.SEEN)
            self.assertEqual(relive.version("probe.py"), 2)

    def test_on_event_receives_records(self):
        name = unique("events")
        path = self.scripts.write("a.py", "A = 1\n")
        events = []
        with relive.Reloader(tests=False) as reloader:
            reloader.add_directory(name, self.scripts.path)
            reloader.on_event(events.append)
            self.scripts.write("a.py", "A = 2\n")
            reloader.reload(path)
        self.assertTrue(events, "no event arrived")
        self.assertTrue(all(isinstance(e, relive.Record) for e in events))
        self.assertIn("applied", [e.kind for e in events])


class Logging(ScriptTestCase):
    def test_relive_logs_to_the_relive_logger_and_leaves_the_root_logger_alone(self):
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        self.scripts.write("a.py", "A = 1\n")
        with self.assertLogs("relive", level="INFO") as logs:
            with relive.Reloader(tests=False) as reloader:
                reloader.add_directory(unique("logs"), self.scripts.path)
        self.assertTrue(any("loaded" in line for line in logs.output), logs.output)
        self.assertEqual((root.handlers, root.level), (handlers, level))


if __name__ == "__main__":
    unittest.main()
