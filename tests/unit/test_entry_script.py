"""The `splice` console script (`cli.entry.script`) ends with `os._exit` after a command:
its exit code, its output, the exit handlers and a thread still working must survive that."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from splice._internal.cli.entry import exit_status

_SCRIPT = """
import atexit, sys, threading, time
from splice._internal.cli.entry import script
atexit.register(lambda: print("exit handler ran", file=sys.stderr, flush=True))
if "--with-thread" in sys.argv:
    sys.argv.remove("--with-thread")
    def work():
        time.sleep(0.3)
        print("thread finished", file=sys.stderr, flush=True)
    threading.Thread(target=work).start()
sys.argv = ["splice", *sys.argv[1:]]
script()
raise AssertionError("script() returned")
"""


def _script(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_exit_code_and_piped_output_survive_the_fast_exit(tmp_path: Path) -> None:
    """`--version` prints into a pipe and exits 0; a usage error prints its message and
    exits 2; the exit handlers run in both cases."""
    done = _script(["--version"], tmp_path)
    assert (done.returncode, done.stdout.startswith("splice, version ")) == (0, True)
    assert "exit handler ran" in done.stderr
    (tmp_path / "splice.yaml").write_text("name: p\n", encoding="utf-8")
    done = _script(["run", "nowhere.splice.yaml"], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nowhere.splice.yaml" in done.stdout + done.stderr
    assert "exit handler ran" in done.stderr


def test_a_thread_still_working_is_waited_for(tmp_path: Path) -> None:
    """A thread that is not a daemon is not cut off: the script exits the ordinary way,
    after it has finished."""
    done = _script(["--with-thread", "--version"], tmp_path)
    assert done.returncode == 0
    assert "thread finished" in done.stderr
    assert "exit handler ran" in done.stderr


@pytest.mark.parametrize(
    ("code", "status"), [(None, 0), (0, 0), (1, 1), (2, 2), (130, 130), ("a message", 1)]
)
def test_exit_status_is_the_interpreters(code: object, status: int) -> None:
    """A `SystemExit` code becomes the status the interpreter would exit with."""
    assert exit_status(code) == status
