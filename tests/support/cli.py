"""Running splice's command line from a test, as a user's terminal would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


def cli_env(columns: int = 120) -> dict[str, str]:
    """This environment without colour, at `columns`, and without a store the person
    running the tests may have set for their own runs."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    env.pop("SPLICE_STORE_URL", None)
    return env


def splice_cli(
    cwd: Path, *args: str, columns: int = 120, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m splice ARGS` in CWD without colour or standard input, stdout and stderr
    kept apart."""
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=cli_env(columns),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def on_a_terminal(cwd: Path, *args: str, columns: int = 100) -> tuple[int, str]:
    """`python -m splice ARGS` with stdout and stderr in one stream, in the order a terminal
    shows them: the exit code and that text."""
    done = subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=cli_env(columns),
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


def takes_ctrl_c() -> None:
    """`preexec_fn` of a child that must act on SIGINT as a terminal's would: a test run
    from a background job (CI, `cmd &`) inherits SIGINT ignored, and so would the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
