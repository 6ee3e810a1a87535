"""The package as a host program uses it, in fresh processes: `python -m relive`, a
script folder beside the app, and a clean exit from a fresh venv without `site`
(issue 15: the three latent bugs)."""

import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import unittest
import venv

from support import DEADLINE, ROOT, SITE, ScriptTestCase


def run(args, **kwargs):
    env = dict(os.environ, PYTHONPATH=SITE)
    return subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE * 2, env=env, **kwargs)


class CommandLine(unittest.TestCase):
    def test_python_m_relive_check_loads_the_example(self):
        done = run([sys.executable, "-m", "relive", "check", str(ROOT / "examples" / "arena")])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("loaded arena from", done.stdout)

    def test_usage_errors_exit_2_and_help_exits_0(self):
        self.assertEqual(run([sys.executable, "-m", "relive", "frobnicate"]).returncode, 2)
        helped = run([sys.executable, "-m", "relive", "--help"])
        self.assertEqual(helped.returncode, 0)
        self.assertIn("check", helped.stdout)

    def test_python_m_relive_scenario_runs_a_scenario_in_a_fresh_process(self):
        scenarios = sorted((ROOT / "scenarios").rglob("*.toml"))
        self.assertTrue(scenarios, "the repository has scenarios")
        done = run([sys.executable, "-m", "relive", "scenario", str(scenarios[0])])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("1 passed, 0 failed", done.stdout)


class Example(unittest.TestCase):
    def test_the_arena_host_runs_in_both_modes(self):
        for mode in ([], ["--background"]):
            done = run([sys.executable, str(ROOT / "examples" / "arena_host.py"), "--ticks", "2", "--tick", "0.05", *mode])
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            lines = done.stdout.splitlines()
            self.assertTrue(lines[0].startswith("loaded arena from"), done.stdout)
            self.assertTrue(lines[-1].startswith("tick 2: "), done.stdout)


APP = """\
import relive

reloader = relive.Reloader()
report = reloader.add_directory("game", "game")
print(report.outcome)
import game
print(game.Hero.__name__)
"""


class Host(ScriptTestCase):
    def test_a_script_folder_beside_the_app_loads_under_its_name(self):
        # Bug 3: `game/` is on sys.path (the app's folder) and was refused as "built-in".
        self.scripts.write("game/hero.py", "class Hero:\n    pass\n")
        self.scripts.write("app.py", APP)
        done = run([sys.executable, "app.py"], cwd=self.scripts.path)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["loaded", "Hero"])


EXIT_PROGRAM = """\
import atexit, sys
sys.path.insert(0, {site!r})
import relive

reloader = relive.Reloader(test_timeout=5.0)
print(reloader.add_directory("game", {scripts!r}).outcome)
reloader.watch()
if {background!r}:
    reloader.start_background()
if {skip_atexit!r}:
    # Leave the reloader to the interpreter's finalization (bug 2): nothing may run
    # Python then, and nothing may hang.
    atexit.unregister(relive._close_all)
print("exiting")
"""


class CleanExit(ScriptTestCase):
    """Bugs 1 and 2: a host in a fresh venv run without `site` exits promptly."""

    @classmethod
    def setUpClass(cls):
        cls.venv_dir = pathlib.Path(tempfile.mkdtemp(prefix="relive-venv-"))
        venv.EnvBuilder(with_pip=False, symlinks=True).create(cls.venv_dir)
        cls.python = cls.venv_dir / "bin" / "python"

    @classmethod
    def tearDownClass(cls):
        import shutil

        shutil.rmtree(cls.venv_dir, ignore_errors=True)

    def exits(self, background, skip_atexit):
        self.scripts.write("hero.py", "class Hero:\n    pass\n")
        self.scripts.write(
            "hero_unittest.py",
            "import unittest\n\nclass T(unittest.TestCase):\n    def test_hero(self):\n        Hero()\n",
        )
        program = EXIT_PROGRAM.format(
            site=SITE, scripts=str(self.scripts.path), background=background, skip_atexit=skip_atexit
        )
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        try:
            done = subprocess.run(
                [str(self.python), "-S", "-c", program], capture_output=True, text=True, timeout=DEADLINE, env=env
            )
        except subprocess.TimeoutExpired as hung:
            self.fail(f"the host hung at exit: {hung.stdout!r} {hung.stderr!r}")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["loaded", "exiting"], done.stderr)

    def test_exits_after_tests_ran_on_relives_worker(self):
        self.exits(background=False, skip_atexit=False)

    def test_exits_with_the_background_thread_running(self):
        self.exits(background=True, skip_atexit=False)

    def test_a_reloader_left_to_finalization_runs_no_python(self):
        self.exits(background=False, skip_atexit=True)


class Readme(unittest.TestCase):
    def test_the_readmes_python_example_runs(self):
        text = (ROOT / "README.md").read_text()
        section = text.split("## From Python", 1)[1]
        example = section.split("```python\n", 1)[1].split("```", 1)[0]
        done = run([sys.executable, "-c", example])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("loaded game from", done.stdout)
        self.assertIn("hero.py: rejected: tests failed", done.stdout)


if __name__ == "__main__":
    unittest.main()
