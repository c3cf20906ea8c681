"""The tutorial, followed as written: its suite against the example todo service, and the
outputs it shows for a run, a failure and a misspelt key (see tests/support/docs_blocks.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from splice._internal.cli.main import main
from tests.support.docs_blocks import ROOT, blocks, check_output

pytestmark = pytest.mark.integration

TUTORIAL = ROOT / "docs" / "tutorial.md"
DOC_URL = "http://127.0.0.1:8000"


@pytest.fixture
def todo() -> Iterator[str]:
    """examples/todo/server.py on a free port, as the tutorial starts it (a fresh one for
    each test: the ids the tutorial shows count from its start)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "todo" / "server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert found, first
        yield found.group()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _suite() -> str:
    """The tutorial's hello.splice.yaml, as the page shows it."""
    for block in blocks(TUTORIAL):
        if block.language == "yaml" and block.lines[:1] == ["name: hello"]:
            return "\n".join(block.lines) + "\n"
    raise AssertionError("the tutorial shows no hello.splice.yaml")


def _splice(
    args: list[str],
    url: str,
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int | str | None, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, (captured.out + captured.err).replace(url, DOC_URL)


def test_tutorial_run_failure_and_check(
    todo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps 3, 4 and 5: the suite passes; the changed title fails with exit code 1; the
    misspelt key is found by `splice check` with exit code 2; each prints what the page shows."""
    suite = tmp_path / "hello.splice.yaml"
    text = _suite().replace(DOC_URL, todo)
    suite.write_text(text)
    run = ["run", "hello.splice.yaml", "--no-store"]
    code, out = _splice(run, todo, tmp_path, monkeypatch, capsys)
    assert code == 0, out
    check_output("tutorial-run", out)

    head, last = text.rsplit("title: learn splice", 1)
    suite.write_text(head + "title: learn spice" + last)
    code, out = _splice(run, todo, tmp_path, monkeypatch, capsys)
    assert code == 1, out
    check_output("tutorial-failure", out)

    suite.write_text(text.replace("status: 200", "stauts: 200", 1))
    code, out = _splice(["check", "hello.splice.yaml"], todo, tmp_path, monkeypatch, capsys)
    assert code == 2, out
    check_output("tutorial-check", out)


def test_the_example_todo_suites_pass(
    todo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/todo/suites, which the example's README runs by hand, pass against it."""
    suites = str(ROOT / "examples" / "todo" / "suites")
    args = ["run", suites, "--var", f"base_url={todo}", "--no-store"]
    code, out = _splice(args, todo, tmp_path, monkeypatch, capsys)
    assert code == 0, out
