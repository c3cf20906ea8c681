"""Every output the docs show comes from a test: the blocks are marked, and the outputs
that need no server are produced here (see tests/support/docs_blocks.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from splice._internal.cli.main import main
from tests.support.docs_blocks import (
    OUTPUT_LANGUAGES,
    PRODUCERS,
    ROOT,
    all_blocks,
    check_output,
)

INPUTS = ROOT / "tests" / "docs"


def _splice(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int | str | None, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


def test_every_output_block_is_marked() -> None:
    """A block that shows output says which test produces it, or that it is no output."""
    unmarked = [
        block.where
        for block in all_blocks()
        if block.language in OUTPUT_LANGUAGES and block.output_lines() and block.marker is None
    ]
    assert not unmarked, (
        "mark these blocks <!-- output: NAME --> (and produce NAME in a test) or "
        f"<!-- not-output: REASON -->: {unmarked}"
    )


def test_every_marked_output_has_a_producing_test() -> None:
    """Each `output:` name is listed in PRODUCERS, and the test file listed checks it."""
    used = {b.marker[1] for b in all_blocks() if b.marker and b.marker[0] == "output"}
    assert used == set(PRODUCERS), (used - set(PRODUCERS), set(PRODUCERS) - used)
    for name, test_file in PRODUCERS.items():
        assert f'"{name}"' in (ROOT / test_file).read_text(), f"{test_file} never checks {name}"


def test_readme_unknown_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's located error is what `splice check` prints for a misspelt method."""
    shutil.copy(INPUTS / "readme" / "orders.splice.yaml", tmp_path)
    code, out = _splice(["check", "orders.splice.yaml"], tmp_path, monkeypatch, capsys)
    assert code == 2
    check_output("readme-unknown-method", out)


def test_cli_import_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cli.md's import error is what `splice import` prints for a time that is not one."""
    shutil.copy(INPUTS / "cli" / "report.xml", tmp_path)
    store = f"sqlite:///{tmp_path / 'results.db'}"
    code, out = _splice(["import", "report.xml", "--store", store], tmp_path, monkeypatch, capsys)
    assert code == 2
    check_output("cli-import-error", out)
