"""`python -m relive watch|check|scenario`: the same command line as the `relive` binary."""

import sys

from . import _relive


def main(argv=None):
    """Run relive's command line with `argv` (default: `sys.argv[1:]`); return the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    return _relive.main(["relive", *args])


def console():
    """Entry point of the `relive` console script."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
