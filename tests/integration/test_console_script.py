"""The installed `splice` script, which ends with `os._exit` once a command returned: a
run's services are stopped, its teardown runs and its reports are complete first, after
a normal end and after Ctrl-C alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.support.cli import takes_ctrl_c

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).parent / "splice"


def _project(folder: Path, marker: str, step: str) -> None:
    # a process service that only sleeps; `marker` on its command line finds it
    (folder / "splice.yaml").write_text(
        textwrap.dedent(f"""\
        name: p
        services:
          sleeper:
            kind: process
            command: [{sys.executable!r}, -c, "import time; time.sleep(120)", {marker}]
            ready: {{timeout: 30s, command: "true"}}
        """),
        encoding="utf-8",
    )
    (folder / "s.splice.yaml").write_text(
        textwrap.dedent(f"""\
        name: s
        teardown:
          - exec: "touch suite-teardown"
        testcases:
          - name: t
            steps:
              - exec: {step!r}
                timeout: 60s
        """),
        encoding="utf-8",
    )


def _running(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z":
            found.append(f"{entry.name}: {cmd}")
    return found


@pytest.mark.skipif(not SCRIPT.is_file(), reason="splice is not installed as a script here")
def test_a_finished_run_leaves_nothing_and_its_reports_are_whole(tmp_path: Path) -> None:
    """A passing run through the script: exit 0, the summary on a piped stdout, the JUnit
    report complete, the suite teardown done and the service's process gone."""
    marker = f"splice-script-{uuid.uuid4().hex[:10]}"
    _project(tmp_path, marker, "true")
    done = subprocess.run(
        [str(SCRIPT), "run", "--no-store", "--junit", "r.xml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert (tmp_path / "r.xml").read_text().rstrip().endswith("</testsuites>")
    assert (tmp_path / "suite-teardown").exists()
    assert _running(marker) == []


@pytest.mark.skipif(not SCRIPT.is_file(), reason="splice is not installed as a script here")
def test_ctrl_c_through_the_script_runs_teardown_and_stops_the_services(tmp_path: Path) -> None:
    """Ctrl-C during a step: exit 130, the suite teardown ran, the service's process is
    gone when the script has exited."""
    marker = f"splice-script-{uuid.uuid4().hex[:10]}"
    _project(tmp_path, marker, "touch started; sleep 30")
    proc = subprocess.Popen(
        [str(SCRIPT), "run", "--no-store"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=takes_ctrl_c,  # noqa: PLW1509
    )
    try:
        for _ in range(600):
            if (tmp_path / "started").exists():
                break
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), "the step never started"
        assert _running(marker), "the service is not running"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert (tmp_path / "suite-teardown").exists()
    assert _running(marker) == []
