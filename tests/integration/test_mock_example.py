"""The mocks example (examples/mocks) runs end to end with `splice run`: an app that calls
a payments API through a mock, tested when that API is fine, slow and failing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mocks"
VENV_BIN = Path(sys.executable).parent  # `python checkout.py` must find this venv's python


def test_mocks_example_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """`splice run` in examples/mocks passes every testcase, and no temporary folder of
    the run remains."""
    project = tmp_path / "mocks"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
    temp = tmp_path / "splice-tmp"
    temp.mkdir()
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SPLICE_TMPDIR": str(temp),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "splice", "run", "--json", str(report)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    data = json.loads(report.read_text())
    statuses = {tc["id"]: tc["status"] for suite in data["suites"] for tc in suite["testcases"]}
    expected = []
    for path in (project / "suites").glob("*.splice.yaml"):
        suite = yaml.safe_load(path.read_text())
        expected += [f"{suite['name']}::{tc['name']}" for tc in suite["testcases"]]
    assert sorted(statuses) == sorted(expected), output
    assert set(statuses.values()) == {"passed"}, statuses
    assert list(temp.iterdir()) == [], "temporary folders left behind"
