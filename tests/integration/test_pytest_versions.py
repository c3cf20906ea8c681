"""The plugin works with pytest 8 as well as with pytest 9 (the version the rest of the suite
runs on): the example's pytest tests pass under pytest 8, services, isolation, suite items,
clocks and the store included.

pytest 8 is installed once into a folder of the test virtual environment (not a temporary
one: it is a cache, like the environment itself) and put in front of pytest 9 on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from splice._internal.services.kinds.process import faketime_library

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "todo"
PYTEST_8 = "pytest>=8.0,<9"
# plugins installed next to splice that are not needed here, and may not support pytest 8
QUIET = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio"]


def _pytest_8() -> Path:
    """A folder holding pytest 8 and its dependencies (installed on first use)."""
    folder = Path(sys.prefix) / ".splice-test-pytest8"
    stamp = folder / ".installed"
    if stamp.is_file() and stamp.read_text() == PYTEST_8:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(folder), PYTEST_8],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"cannot install {PYTEST_8}: {done.stderr[-2000:]}"
    stamp.write_text(PYTEST_8)
    return folder


@pytest.mark.skipif(faketime_library() is None, reason="the example needs libfaketime")
def test_the_example_passes_under_pytest_8(tmp_path: Path) -> None:
    folder = _pytest_8()
    copy = tmp_path / "todo"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-q", str(copy / "tests")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    output = done.stdout + done.stderr
    version = subprocess.run(
        [sys.executable, "-c", "import pytest; print(pytest.__version__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    assert version.startswith("8."), version
    assert done.returncode == 0, output
    assert "7 passed" in output
    assert "splice: recorded run" in output
