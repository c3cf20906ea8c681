"""Running splice's command line from a test, as a user's terminal would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def splice_cli(cwd: Path, *args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    """`python -m splice ARGS` in CWD without colour, stdout and stderr kept apart."""
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def on_a_terminal(cwd: Path, *args: str, columns: int = 100) -> tuple[int, str]:
    """`python -m splice ARGS` with stdout and stderr in one stream, in the order a terminal
    shows them: the exit code and that text."""
    done = subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
