"""SIGINT and SIGTERM against a real `splice run` subprocess: the running step is cancelled,
teardowns run to completion, every report and the store say `interrupted` with the same
counts, and a second signal (or the end of SIGTERM's grace period) exits at once without
leaving a process behind."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import takes_ctrl_c
from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

WAIT = 90.0  # seconds: generous, the machine may be loaded


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """Start `splice run` on tmp_path/s.splice.yaml with every report and a store."""
    procs: list[subprocess.Popen[str]] = []

    def _start(suite: str, project: str | None = None, **env: str) -> subprocess.Popen[str]:
        (tmp_path / "s.splice.yaml").write_text(textwrap.dedent(suite).lstrip())
        if project is not None:
            (tmp_path / "splice.yaml").write_text(textwrap.dedent(project).lstrip())
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "splice", "run", "s.splice.yaml"),
                *("--junit", "r.xml", "--json", "r.json", "--html", "r.html"),
                *("--store", str(tmp_path / "results.db")),
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **env},
            start_new_session=True,  # its own process group, as a terminal's foreground job
            preexec_fn=takes_ctrl_c,  # noqa: PLW1509 - only resets one signal's disposition
        )
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _send(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Ctrl-C goes to the terminal's whole foreground group; SIGTERM (CI, `timeout`,
    Kubernetes) to the process."""
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"splice ended before {path.name} appeared:\n{proc.communicate()[0]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + WAIT
    while not all(_gone(p) for p in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if not _gone(p)]}"
        time.sleep(0.05)


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (splice, its reaper, its commands)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cwd").readlink() == folder:
                    found.append(int(entry.name))
            except OSError:
                continue
    return [p for p in found if not _gone(p)]


def _counts(tmp_path: Path) -> dict[str, int]:
    """The JSON report's counts, after checking that JUnit and the store agree with them."""
    report = json.loads((tmp_path / "r.json").read_text())
    counts: dict[str, int] = report["counts"]
    total = sum(counts.values())
    errors = counts["error"] + counts["interrupted"]  # JUnit and the store: one `errors`
    root = ET.parse(tmp_path / "r.xml").getroot()
    junit = {k: int(root.get(k, "-1")) for k in ("tests", "failures", "errors")}
    # the Jenkins schema has no `skipped` on <testsuites>: each <testsuite> counts its own
    junit["skipped"] = sum(int(suite.get("skipped", "0")) for suite in root)
    assert junit == {
        "tests": total,
        "failures": counts["failed"],
        "errors": errors,
        "skipped": counts["skipped"],
    }
    with sqlite3.connect(tmp_path / "results.db") as db:
        db.row_factory = sqlite3.Row
        run = db.execute("select * from runs").fetchone()
        results = db.execute("select status from results").fetchall()
    assert run["status"] == report["status"]
    stored = {k: run[k] for k in ("total", "done", "passed", "failed", "errors", "skipped")}
    assert stored == {
        "total": total,
        "done": total,
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errors": errors,
        "skipped": counts["skipped"],
    }
    assert sorted(r["status"] for r in results) == sorted(
        tc["status"] for s in report["suites"] for tc in s["testcases"]
    )
    return counts


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_during_a_step_cancels_it_and_lets_teardowns_finish(
    start, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal mid-step stops that command only: both teardowns (each still sleeping when
    it comes) finish, the later testcases are skipped, every output says interrupted, 130."""
    proc = start("""
        name: interruptible
        teardown:
          - exec: "sleep 1; touch suite-teardown"
        testcases:
          - name: long
            steps:
              - exec: "touch started; sleep 30; touch finished"
                timeout: 60s
            teardown:
              - exec: "sleep 1; touch testcase-teardown"
          - name: second
            steps: [{exec: "touch second"}]
          - name: third
            steps: [{exec: "touch third"}]
    """)
    _wait_for(tmp_path / "started", proc)
    _send(proc, sig)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out
    assert (tmp_path / "testcase-teardown").exists(), out
    assert (tmp_path / "suite-teardown").exists(), out
    for never in ("finished", "second", "third"):
        assert not (tmp_path / never).exists()
    assert "running teardowns" in out
    if sig == signal.SIGINT:
        check_output("cli-ctrl-c", out)  # the lines shown in docs/reference/cli.md
    else:
        assert (
            "stopping (SIGTERM): cancelling running steps, running teardowns; "
            "forced exit in 20 s (SPLICE_TERM_GRACE, --term-grace) or at the next signal\n"
        ) in out
    assert "[1/3] × interruptible › long " in out
    assert "(interrupted in exec touch started; sleep 30; touch finished)\n" in out
    assert "INTERRUPTED 0 passed, 0 failed, 2 skipped, 1 interrupted" in out, out
    assert "✗" not in out and "teardown failed" not in out, out
    assert _counts(tmp_path) == {
        "passed": 0,
        "failed": 0,
        "error": 0,
        "skipped": 2,
        "flaky": 0,
        "interrupted": 1,
        "xfailed": 0,
        "xpassed": 0,
    }
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "interrupted"
    long, second, third = report["suites"][0]["testcases"]
    assert long["status"] == "interrupted"
    step = long["attempts"][0]["steps"][0]
    assert step["status"] == "interrupted"
    assert step["failures"][0]["kind"] == "interrupted"
    teardown = long["attempts"][0]["steps"][-1]
    assert (teardown["phase"], teardown["status"]) == ("teardown", "passed")
    assert [second["skip_reason"], third["skip_reason"]] == ["run interrupted"] * 2
    junit = ET.parse(tmp_path / "r.xml").getroot()
    error = junit.find(".//testcase[@name='long']/error")
    assert error is not None and error.get("type") == "interrupted"
    assert 'badge big s-interrupted">interrupted' in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_during_a_teardown_lets_it_finish(
    start, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal while a teardown runs: it runs to its end, the passed testcase stays passed,
    the next is skipped, and the run is stored and reported as interrupted."""
    proc = start("""
        name: tearing
        teardown:
          - exec: "sleep 1; touch suite-teardown"
        testcases:
          - name: first
            steps: [{exec: "true"}]
            teardown:
              - exec: "touch tearing; sleep 2; touch testcase-teardown"
          - name: second
            steps: [{exec: "touch second"}]
    """)
    _wait_for(tmp_path / "tearing", proc)
    _send(proc, sig)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out
    assert (tmp_path / "testcase-teardown").exists(), out
    assert (tmp_path / "suite-teardown").exists(), out
    assert not (tmp_path / "second").exists()
    assert "INTERRUPTED 1 passed, 0 failed, 1 skipped" in out, out
    counts = _counts(tmp_path)
    assert (counts["passed"], counts["skipped"], counts["interrupted"]) == (1, 1, 0)
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "interrupted"


LINGERING = """
    name: lingering
    testcases:
      - name: long
        steps:
          - exec: "touch started; sleep 30"
            timeout: 60s
        teardown:
          - exec: "echo $$ > teardown.pid; touch tearing; exec sleep 60"
            timeout: 120s
"""


def test_a_second_ctrl_c_forces_the_exit(start, tmp_path: Path) -> None:
    """The second Ctrl-C exits at once and says so; the teardown's command is stopped by the
    reaper, and the store still records the run as interrupted."""
    proc = start(LINGERING)
    _wait_for(tmp_path / "started", proc)
    _send(proc, signal.SIGINT)
    _wait_for(tmp_path / "tearing", proc)
    _send(proc, signal.SIGINT)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out
    assert "press Ctrl-C again to force" in out, out
    assert "second Ctrl-C: forced exit" in out, out
    _wait_gone([int((tmp_path / "teardown.pid").read_text())])
    _wait_gone(_processes_in(tmp_path.resolve()))
    with sqlite3.connect(tmp_path / "results.db") as db:
        assert db.execute("select status from runs").fetchone() == ("interrupted",)


SERVICE = """
    name: with a service
    services:
      worker:
        kind: process
        command: "echo $$ > service.pid; echo ready; exec sleep 300"
        ready: {log: ready}
"""


def test_sigterm_exits_at_once_when_its_grace_period_ends(start, tmp_path: Path) -> None:
    """SIGTERM with SPLICE_TERM_GRACE=1: a teardown still running a second later is cut by a
    hard exit that says why, and no process of the run (service, command, reaper) is left."""
    proc = start(LINGERING, SERVICE, SPLICE_TERM_GRACE="1")
    _wait_for(tmp_path / "started", proc)
    _send(proc, signal.SIGTERM)
    _wait_for(tmp_path / "tearing", proc)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out
    assert "SIGTERM" in out and "1 s" in out, out
    assert "forced exit" in out, out
    _wait_gone([int((tmp_path / f"{name}.pid").read_text()) for name in ("teardown", "service")])
    _wait_gone(_processes_in(tmp_path.resolve()))
    with sqlite3.connect(tmp_path / "results.db") as db:
        assert db.execute("select status from runs").fetchone() == ("interrupted",)
