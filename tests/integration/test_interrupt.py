"""Ctrl-C stops a run cleanly: teardowns run, reports are written for what ran."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.cli import takes_ctrl_c


def test_sigint_runs_teardowns_and_writes_reports(tmp_path: Path) -> None:
    """SIGINT mid-step stops the command, runs both teardowns, writes JUnit, exits 130."""
    (tmp_path / "s.splice.yaml").write_text(
        textwrap.dedent("""
        name: interruptible
        teardown:
          - exec: "touch suite-teardown"
        testcases:
          - name: long
            steps:
              - exec: "touch started; sleep 30; touch finished"
                timeout: 60s
            teardown:
              - exec: "touch testcase-teardown"
          - name: never starts
            steps:
              - exec: "touch second"
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "s.splice.yaml", "--junit", "r.xml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=takes_ctrl_c,  # noqa: PLW1509
    )
    try:
        for _ in range(300):
            if (tmp_path / "started").exists():
                break
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), "the step never started"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert (tmp_path / "testcase-teardown").exists()
    assert (tmp_path / "suite-teardown").exists()
    assert not (tmp_path / "finished").exists()
    assert not (tmp_path / "second").exists()
    assert (tmp_path / "r.xml").read_text().count("<testcase") == 2
