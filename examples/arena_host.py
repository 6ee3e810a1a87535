"""A Python program hosting relive: the arena's game loop, live-reloaded (issue 15).

    pip install .                      # or: just wheel, then pip install target/wheels/*.whl
    python examples/arena_host.py      # edit examples/arena/ai/brain.py while it runs
    python examples/arena_host.py --background --ticks 5

Game-loop style (the default), changes are applied on this thread between two ticks:
`wait_for_changes` doubles as the tick timer, releasing the GIL while it waits. With
`--background`, relive's own thread applies them and reports through `on_report`.
The `arena/` folder sits beside this file, so Python could import it as a plain folder;
relive owns the name `arena` all the same.
"""

import argparse
import pathlib
import time

import relive

ARENA = pathlib.Path(__file__).resolve().parent / "arena"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=0, help="stop after this many ticks (default: never)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds per tick")
    parser.add_argument("--background", action="store_true", help="apply changes on relive's thread")
    args = parser.parse_args()

    with relive.Reloader() as reloader:
        report = reloader.add_directory("arena", ARENA)
        print(report)
        if report.outcome != "loaded":
            return 1
        import arena  # the namespace relive made

        if args.background:
            reloader.start_background(on_report=print)
        else:
            reloader.watch()
        ticks = 0
        try:
            while not args.ticks or ticks < args.ticks:
                if args.background:
                    time.sleep(args.tick)
                else:
                    for change in reloader.wait_for_changes(args.tick):
                        print(change)
                ticks += 1
                print(arena.tick())
        except KeyboardInterrupt:
            print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
