"""The example's pytest tests (examples/todo/tests) pass, run as a user runs them: pytest
in a process of its own, with the example's splice.yaml and pytest.ini."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from splice.services.kinds.process import faketime_library

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "todo" / "tests"
# plugins installed next to splice that the example does not use; each costs seconds
QUIET = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:pytest_postgresql"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-q", str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.skipif(
    faketime_library() is None,
    reason="the example's service needs libfaketime (apt-get install faketime)",
)
def test_the_examples_pytest_tests_pass() -> None:
    """Python tests, a suite item and both clocks pass against the example service."""
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_the_examples_unit_tests_run_without_services() -> None:
    """--splice-unit runs the example's one unit test and starts nothing."""
    done = run("--splice-unit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 6 deselected" in done.stdout
