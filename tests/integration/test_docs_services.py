"""Service outputs the docs show (a SQL error, a mock's near miss), produced by the project in tests/docs/services (see
tests/support/docs_blocks.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from splice._internal.cli.main import main
from splice._internal.environment.services import Environment
from splice._internal.project.loader import load_project
from tests.support.docs_blocks import ROOT, check_output

pytestmark = pytest.mark.integration

PROJECT = ROOT / "tests" / "docs" / "services"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    shutil.copytree(PROJECT, folder)
    return folder


def _section(out: str, start: str, end: str) -> str:
    """The lines of `out` from the first one starting with `start` to the first after it
    starting with `end` (excluded)."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith(start))
    last = next(i for i in range(first + 1, len(lines)) if lines[i].lstrip().startswith(end))
    return "\n".join(lines[first:last]).rstrip()


def test_sql_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt table fails with the server's message and the statement."""
    monkeypatch.chdir(project)
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        main(["run", "--no-store", "--jobs", "2", "orders.splice.yaml"])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert exited.value.code == 1, out
    check_output("sql-error", _section(out, "step 1: sql", "log of service"))


def test_mock_near_miss(project: Path) -> None:
    """A request no stub matches gets the nearest stubs and how each differed."""
    with Environment(load_project(project / "splice.yaml")) as env:
        env.start(["payments"])
        url = env.vars()["payments"]["url"]
        answer = httpx.post(
            f"{url}/v1/charges",
            json={"amount": 1, "currency": "eur"},
            headers={"Authorization": "Bearer sk_live_x"},
            timeout=30,
        )
    assert answer.status_code == 404
    assert answer.headers["x-splice-unmatched"] == "true"
    check_output("mock-near-miss", answer.text)
