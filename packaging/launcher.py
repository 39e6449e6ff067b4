"""Entry point of the frozen app (both executables in the bundle).

``studio`` (console) runs the CLI, ``studio --selftest`` included; with no arguments it opens the app.
``Studio`` (windowed: no console window on Windows, the .app on macOS) opens the app, or runs a CLI command
when given one. macOS adds a ``-psn_...`` argument when launched from Finder: it is dropped.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    argv = [a for a in sys.argv[1:] if not a.startswith("-psn_")]
    from studio.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
