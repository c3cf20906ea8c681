"""What `splice check` prints when nothing is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.cli.main import main


def test_check_counts_in_the_singular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One suite, one testcase and one service are counted as such, not "1 services"."""
    (tmp_path / "splice.yaml").write_text(
        "name: p\nservices:\n  app: {kind: process, command: ./run.sh}\n"
    )
    (tmp_path / "a.splice.yaml").write_text(
        "name: a\ntestcases:\n  - name: t\n    steps:\n      - exec: 'true'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(["check", "a.splice.yaml"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == "ok: 1 suite, 1 testcase, 1 service, no problems found\n"
