"""The `splice` console script: answers `splice --version` before importing the command
line's libraries (click, rich), so scripts that ask for the version pay for nothing else.

`script` is what the installed `splice` command runs: `main`, then, once the command has
returned (services stopped, reports and store written), the exit handlers and a flush of
stdout and stderr, and an immediate `os._exit`. Tearing down the interpreter's module
graph (pydantic, SQLAlchemy, librdkafka's clients...) takes a fifth of a second after a
run and does nothing a finished command needs. Only there: `main` itself, `python -m
splice`, the library API and the pytest plugin exit the ordinary way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from splice import __version__

        print(f"splice, version {__version__}")
        return
    from splice._internal.cli.main import main as full

    full(argv)


def script() -> NoReturn:
    """The console script: `main`, then a fast exit with its code (see the module)."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exit_status(exc.code)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    if _others_running():
        sys.exit(code)  # a thread that is not a daemon still works: let it finish
    atexit._run_exitfuncs()  # logging's flush, temporary folders, closers of drivers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to flush
            stream.flush()
    os._exit(code)


def exit_status(code: object) -> int:
    """The process' exit status for a `SystemExit` code, as the interpreter makes it."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1  # a message: printed, and status 1


def _others_running() -> bool:
    here = threading.main_thread()
    return any(t is not here and not t.daemon and t.is_alive() for t in threading.enumerate())
