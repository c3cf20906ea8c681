"""The example's pytest tests (examples/todo/tests) pass, run as a user runs them: pytest
in a process of its own, with the example's splice.yaml and pytest.ini."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from splice._internal.services.kinds.process import faketime_library
from splice._internal.store import Store
from splice._internal.store.query_runs import get_run, list_runs

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "todo"
# plugins installed next to splice that the example does not use; each costs seconds
QUIET = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:pytest_postgresql"]


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on a copy of the example in `folder` (its run logs and store stay there)."""
    copy = folder / "todo"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-q", str(copy / "tests"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.skipif(
    faketime_library() is None,
    reason="the example's service needs libfaketime (apt-get install faketime)",
)
def test_the_examples_pytest_tests_pass(tmp_path: Path) -> None:
    """Python tests, a suite item and both clocks pass against the example service, and
    the session is recorded in the store with all seven."""
    done = run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout
    store = Store.open(f"sqlite:///{tmp_path / 'todo' / 'tests' / '.splice' / 'results.db'}")
    try:
        [recorded] = list_runs(store)
        assert (recorded["source"], recorded["status"]) == ("pytest", "passed")
        detail = get_run(store, recorded["id"])
        assert detail is not None
        assert sum(len(suite["testcases"]) for suite in detail["suites"]) == 7
    finally:
        store.close()


def test_the_examples_unit_tests_run_without_services(tmp_path: Path) -> None:
    """--splice-unit runs the example's one unit test and starts nothing."""
    done = run(tmp_path, "--splice-unit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 6 deselected" in done.stdout
