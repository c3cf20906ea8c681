"""The golden corpus of broken suites in tests/errors: what `splice check` prints for each.

Every case is one mistake a user can make; its golden file is the exact stderr, so a change
to any message, location or hint shows up as a diff. To accept new output, run

    SPLICE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_error_corpus.py

which rewrites the golden files instead of comparing; then review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from splice._internal.cli.main import main
from splice._internal.executors import executor_registry as registry
from tests.support.docs_blocks import check_output

ERRORS = Path(__file__).resolve().parents[1] / "errors"
CASES = ERRORS / "cases"
GOLDEN = ERRORS / "golden"
UPDATE = os.environ.get("SPLICE_UPDATE_GOLDEN") == "1"

CASE_FILES = sorted(CASES.glob("*.splice.yaml"))
CASE_NAMES = [path.name.removesuffix(".splice.yaml") for path in CASE_FILES]
# project-file mistakes: cases/projects/NN-name/splice.yaml, checked with a suite beside it
PROJECTS = CASES / "projects"
PROJECT_NAMES = sorted(p.name for p in PROJECTS.iterdir() if (p / "splice.yaml").is_file())
PROJECT_GOLDEN = GOLDEN / "projects"

# Cases whose message comes from a validator that gives no hint yet (an executor's own
# model); listed so a hint that appears, or goes missing elsewhere, is noticed.
WITHOUT_HINT: set[str] = set()  # every case has a hint


def _splice(
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cwd: Path = CASES,
) -> tuple[int | str | None, str]:
    # only the built-in executors: hints that list executors must not depend on the
    # plugins installed where the tests run
    monkeypatch.setattr(registry._TARGETS, "all", lambda: dict(registry._BUILTIN))
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(args)
    return exited.value.code, capsys.readouterr().err


def test_corpus_is_complete() -> None:
    """The corpus has at least 45 cases, and every case has a golden file and vice versa."""
    assert len(CASE_NAMES) >= 45
    goldens = sorted(path.stem for path in GOLDEN.glob("*.txt"))
    if not UPDATE:
        assert goldens == CASE_NAMES


@pytest.mark.parametrize("name", CASE_NAMES)
def test_check_output_matches_golden(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`splice check` exits 2 and prints exactly the golden diagnostics, never a traceback."""
    code, err = _splice(["check", f"{name}.splice.yaml"], monkeypatch, capsys)
    assert "Traceback" not in err
    assert code == 2, err
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.write_text(err, encoding="utf-8")
        return
    assert err == golden.read_text(encoding="utf-8")


def test_the_data_driven_how_to_shows_a_case(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/how-to/data-driven.md shows what `splice check` prints for a missing column."""
    code, err = _splice(["check", "70-foreach-missing-column.splice.yaml"], monkeypatch, capsys)
    assert code == 2, err
    check_output("data-driven-missing-column", err)


@pytest.mark.parametrize("name", PROJECT_NAMES)
@pytest.mark.parametrize("command", ["check", "run"])
def test_project_mistakes_match_golden(
    name: str,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A project-file mistake: `splice check` and `splice run` (which starts nothing) exit
    2 with exactly the golden diagnostics, never a traceback."""
    # a case that needs its own suite (one that uses the project's services) has it beside
    suite = "suite.splice.yaml" if (PROJECTS / name / "suite.splice.yaml").is_file() else None
    suite = suite or "../suite.splice.yaml"
    args = [command, suite] + (["--no-store"] if command == "run" else [])
    code, err = _splice(args, monkeypatch, capsys, PROJECTS / name)
    assert "Traceback" not in err
    assert code == 2, err
    golden = PROJECT_GOLDEN / f"{name}.txt"
    if UPDATE and command == "check":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(err, encoding="utf-8")
        return
    assert err == golden.read_text(encoding="utf-8")


def test_project_corpus_is_complete() -> None:
    """Every project case has a golden file and vice versa."""
    assert len(PROJECT_NAMES) >= 10
    if not UPDATE:
        assert sorted(p.stem for p in PROJECT_GOLDEN.glob("*.txt")) == PROJECT_NAMES


@pytest.mark.parametrize(
    "golden", [*(f"{n}.txt" for n in CASE_NAMES), *(f"projects/{n}.txt" for n in PROJECT_NAMES)]
)
def test_every_diagnostic_is_located(golden: str) -> None:
    """Each golden diagnostic has file:line:column, the source line, a caret and a hint."""
    name = golden.removesuffix(".txt")
    text = (GOLDEN / golden).read_text(encoding="utf-8")
    blocks = text.strip().split("\n\n")
    diagnostics, summary = blocks[:-1], blocks[-1]
    assert re.fullmatch(r"\d+ errors? in \d+ files?", summary)
    assert int(summary.split()[0]) == len(diagnostics)
    for block in diagnostics:
        lines = block.splitlines()
        assert lines[0].startswith("error: ")
        assert re.fullmatch(r"  --> \S+:\d+:\d+", lines[1]), block
        assert re.fullmatch(r" +\d+ \|( .*)?", lines[3]), block
        assert re.fullmatch(r" +\| +\^+", lines[4]), block
        if name not in WITHOUT_HINT:
            assert re.fullmatch(r" += hint: .+", lines[5]), block
    assert "Input should be" not in text


@pytest.mark.parametrize("name", CASE_NAMES)
def test_run_reports_the_same_diagnostics(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`splice run` on a broken suite runs nothing, exits 2 and prints what `check` prints."""
    code, err = _splice(["run", f"{name}.splice.yaml"], monkeypatch, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert err == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")


def test_several_files_are_reported_together(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checking two broken suites at once reports both, counted across files."""
    first, second = "20-unknown-executor", "28-unknown-expect-field"
    code, err = _splice(
        ["check", f"{first}.splice.yaml", f"{second}.splice.yaml"], monkeypatch, capsys
    )
    assert code == 2
    expected = [
        (GOLDEN / f"{name}.txt").read_text(encoding="utf-8").rsplit("\n\n", 1)[0]
        for name in (first, second)
    ]
    assert err == "\n\n".join(expected) + "\n\n2 errors in 2 files\n"
