"""SIGINT and SIGTERM against a real pytest subprocess running splice suites: as under
`splice run`, the running test step is cancelled, setup and teardown steps run to their
end, the session stops, and a second Ctrl-C forces the exit and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import takes_ctrl_c
from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

WAIT = 90.0  # seconds: generous, the machine may be loaded
SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """Start pytest (with splice's plugin) on tmp_path/s.splice.yaml in its own group."""
    procs: list[subprocess.Popen[str]] = []

    def _start(suite: str, *options: str) -> subprocess.Popen[str]:
        (tmp_path / "s.splice.yaml").write_text(textwrap.dedent(suite).lstrip())
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, "s.splice.yaml"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
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
    """Ctrl-C goes to the terminal's whole foreground group; SIGTERM to the process."""
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"pytest ended before {path.name} appeared:\n{proc.communicate()[0]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_during_a_step_cancels_it_and_lets_teardowns_finish(
    start, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal mid-step stops that command only: the testcase's and the suite's teardowns
    (each still sleeping when it comes) finish, and the later testcases do not run."""
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
    """)
    _wait_for(tmp_path / "started", proc)
    _send(proc, sig)
    out, _ = proc.communicate(timeout=WAIT)
    assert (tmp_path / "testcase-teardown").exists(), out
    assert (tmp_path / "suite-teardown").exists(), out
    assert not (tmp_path / "finished").exists(), out
    assert not (tmp_path / "second").exists(), out
    if sig == signal.SIGINT:  # the line shown in docs/how-to/pytest.md
        stopping = [line for line in out.splitlines() if line.startswith("stopping (")]
        assert len(stopping) == 1, out
        check_output("pytest-ctrl-c", stopping[0])
    else:
        assert "stopping (SIGTERM): cancelling running steps, running teardowns; " in out, out
    assert "interrupted while the command was running" in out, out
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_during_a_teardown_lets_it_finish(
    start, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal while a testcase's teardown runs: it runs to its end, as does the suite's
    teardown, and the next testcase does not run."""
    proc = start("""
        name: tearing
        teardown:
          - exec: "sleep 1; touch suite-teardown"
        testcases:
          - name: first
            steps: [{exec: "true"}]
            teardown:
              - exec: "touch tearing; sleep 2; touch done"
          - name: second
            steps: [{exec: "touch second"}]
    """)
    _wait_for(tmp_path / "tearing", proc)
    _send(proc, sig)
    out, _ = proc.communicate(timeout=WAIT)
    assert (tmp_path / "done").exists(), out
    assert (tmp_path / "suite-teardown").exists(), out
    assert not (tmp_path / "second").exists(), out
    assert "interrupted while the command was running" not in out, out
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out


def test_a_signal_during_the_suite_teardown_lets_it_finish(start, tmp_path: Path) -> None:
    """SIGINT while the suite's teardown runs (after the last testcase): it finishes."""
    proc = start("""
        name: suite-tearing
        teardown:
          - exec: "touch tearing; sleep 2; touch done"
        testcases:
          - name: only
            steps: [{exec: "true"}]
    """)
    _wait_for(tmp_path / "tearing", proc)
    _send(proc, signal.SIGINT)
    out, _ = proc.communicate(timeout=WAIT)
    assert (tmp_path / "done").exists(), out
    assert "interrupted while the command was running" not in out, out


def test_a_second_ctrl_c_forces_the_exit_and_says_so(start, tmp_path: Path) -> None:
    """Two Ctrl-C: the first lets the teardown run, the second exits at once (130) and says
    that teardowns are skipped; the teardown's command does not finish."""
    proc = start("""
        name: forced
        testcases:
          - name: long
            steps:
              - exec: "touch started; sleep 30"
                timeout: 60s
            teardown:
              - exec: "touch tearing; sleep 30; touch done"
                timeout: 60s
    """)
    _wait_for(tmp_path / "started", proc)
    _send(proc, signal.SIGINT)
    _wait_for(tmp_path / "tearing", proc)
    _send(proc, signal.SIGINT)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out
    assert (  # as docs/how-to/pytest.md says
        "second Ctrl-C: forced exit; teardowns and reports skipped, the reaper stops services"
    ) in out, out
    assert not (tmp_path / "done").exists(), out


def test_the_suite_teardown_after_a_signal_still_reaches_the_services(
    start, tmp_path: Path
) -> None:
    """After Ctrl-C the suite's teardown runs before the session stops the services and
    writes its reports: its request to a service passes, and the JSON report has it."""
    (tmp_path / "splice.yaml").write_text(
        textwrap.dedent("""
        name: signalled
        services:
          web:
            kind: process
            command: ["python3", "-m", "http.server", "{{ port }}", "--bind", "127.0.0.1"]
        suites: [s.splice.yaml]
        """).lstrip()
    )
    proc = start(
        """
        name: reaching
        teardown:
          - http: {get: "{{ services.web.url }}/"}
            expect: {status: 200}
          - exec: "touch suite-teardown"
        testcases:
          - name: long
            steps:
              - exec: "touch started; sleep 30"
                timeout: 60s
        """,
        "--splice-json",
        "r.json",
    )
    _wait_for(tmp_path / "started", proc)
    _send(proc, signal.SIGINT)
    out, _ = proc.communicate(timeout=WAIT)
    assert (tmp_path / "suite-teardown").exists(), out
    assert "suite teardown of 'reaching' failed" not in out, out
    assert (tmp_path / "r.json").exists(), out
