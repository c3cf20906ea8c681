"""The console prints user and system values literally: no emoji codes, no style tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.cli.main import main

VALUE = "where id = :id::uuid [bold]b[/bold] :warning:"


def _splice(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int | str | None, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


def test_failure_reports_show_values_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A testcase name, a command and its output with `:id:` and `[bold]` print as written."""
    (tmp_path / "a.splice.yaml").write_text(
        "name: lit\ntestcases:\n  - name: 'shows [b]x[/b] :warning:'\n    steps:\n"
        f"      - exec: \"echo '{VALUE}'\"\n        expect: {{stdout: nope}}\n"
    )
    code, out = _splice(["run", "--no-store", "a.splice.yaml"], tmp_path, monkeypatch, capsys)
    assert code == 1
    assert "🆔" not in out and "⚠" not in out
    assert f"got '{VALUE}\\n'" in out
    assert "lit › shows [b]x[/b] :warning:" in out


def test_usage_errors_show_values_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path with square brackets and an emoji code is named as given in the error."""
    code, out = _splice(
        ["run", "--no-store", "x-[b]:id:.splice.yaml"], tmp_path, monkeypatch, capsys
    )
    assert code == 2
    assert "'x-[b]:id:.splice.yaml'" in out
