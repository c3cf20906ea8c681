"""`splice workflow run` with real jobs: a splice suite against a Redis that splice starts,
a pytest file through splice's plugin, a command writing JUnit (in a matrix); a failing job
skips its dependents; the whole workflow is one run in the store with every job's
testcases, logs and artifacts; faults are recorded outcomes; Ctrl-C stores `interrupted`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from splice._internal.store import Store
from splice._internal.store.query_runs import get_run
from tests.support.cli import takes_ctrl_c

pytestmark = pytest.mark.integration

SUITE = """
name: cache
testcases:
  - name: the cache answers
    steps:
      - redis: {service: cache, command: [PING]}
        expect: {value: PONG}
  - name: a command runs
    steps:
      - exec: "echo hi"
        expect: {stdout: "hi\\n"}
"""

PYTEST_FILE = """
import os

def test_sees_the_shared_cache():
    assert os.environ["SPLICE_CACHE_URL"].startswith("redis://")

def test_sees_its_matrix():
    assert True
"""

WRITE_JUNIT = """
import sys
n, outcome = sys.argv[1], sys.argv[2]
body = "" if outcome == "pass" else '<failure message="broken">trace</failure>'
with open(f"reports/r-{n}.xml", "w") as f:
    f.write(f'<testsuite name="script{n}" tests="1"><testcase classname="script{n}" '
            f'name="works" time="0.01">{body}</testcase></testsuite>')
print(f"wrote report {n}")
"""


def _project(tmp_path: Path, workflows: str) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "reports").mkdir()
    (tmp_path / "suites" / "cache.splice.yaml").write_text(SUITE)
    (tmp_path / "tests" / "test_py.py").write_text(PYTEST_FILE)
    (tmp_path / "write_junit.py").write_text(WRITE_JUNIT)
    (tmp_path / "splice.yaml").write_text(
        "name: wf\nservices:\n  cache: {kind: redis}\nworkflows:\n"
        + textwrap.indent(textwrap.dedent(workflows), "  ")
    )
    return tmp_path


def _splice(root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("SPLICE_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _stored(root: Path, output: str) -> dict[str, Any]:
    found = re.search(r"stored as run (\w+)", output)
    assert found, output
    store = Store.open(None, root)
    try:
        run = get_run(store, found.group(1))
    finally:
        store.close()
    assert run is not None
    return run


def _testcases(run: dict[str, Any]) -> dict[str, str]:
    return {
        f"{suite['name']}::{tc['name']}": tc["status"]
        for suite in run["suites"]
        for tc in suite["testcases"]
    }


CI = """
ci:
  jobs:
    api: {suites: [suites]}
    python: {pytest: [tests, -q], needs: [api]}
    script:
      command: "python3 write_junit.py {{ matrix.n }} pass"
      junit: "reports/r-{{ matrix.n }}.xml"
      matrix: {n: [1, 2]}
      needs: [api]
      artifacts: ["reports/r-{{ matrix.n }}.xml"]
"""


def test_a_workflow_of_three_kinds_is_one_stored_run(tmp_path: Path) -> None:
    """A suite job, a pytest job and a matrix of command jobs share one Redis and end up
    in one run: every testcase, each job's log, the artifacts kept and stored."""
    root = _project(tmp_path, CI)
    result = _splice(root, "workflow", "run", "ci")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ api" in result.stdout and "✓ script[n=2]" in result.stdout
    assert "workflow ci: 4 jobs (4 passed), 6 testcases" in result.stdout
    run = _stored(root, result.stdout)
    assert run["status"] == "passed" and run["source"] == "workflow"
    assert _testcases(run) == {
        "cache::the cache answers": "passed",
        "cache::a command runs": "passed",
        "tests/test_py.py::test_sees_the_shared_cache": "passed",
        "tests/test_py.py::test_sees_its_matrix": "passed",
        "script1::works": "passed",
        "script2::works": "passed",
    }
    logs = {(log["kind"], log["name"]): log["content"] for log in run["logs"]}
    assert "wrote report 1" in logs[("job-log", "script[n=1]")]
    assert "script1" in logs[("artifact", "script[n=1]: r-1.xml")]
    kept = root / ".splice" / "artifacts" / run["id"] / "script[n=1]" / "reports" / "r-1.xml"
    assert kept.is_file()
    assert ("service-log", "cache") in logs  # the shared service's log, once


def test_a_failing_job_skips_its_dependents(tmp_path: Path) -> None:
    """A command job whose JUnit has a failure fails; what needs it is skipped with the
    reason, what does not need it still runs; the run is failed, exit 1."""
    root = _project(
        tmp_path,
        """
        ci:
          jobs:
            broken: {command: "python3 write_junit.py 1 fail", junit: reports/r-1.xml, services: []}
            after: {command: [python3, -c, "print(1)"], needs: [broken], services: []}
            later: {command: [python3, -c, "print(2)"], needs: [after], services: []}
            alone: {command: "python3 write_junit.py 2 pass", junit: reports/r-2.xml, services: []}
        """,
    )
    result = _splice(root, "workflow", "run", "ci")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ broken" in result.stdout and "1 testcase did not pass" in result.stdout
    assert "↷ after" in result.stdout and "needs 'broken', which failed" in result.stdout
    assert "needs 'after', which was skipped" in result.stdout
    assert "✓ alone" in result.stdout
    run = _stored(root, result.stdout)
    assert run["status"] == "failed"
    assert _testcases(run) == {"script1::works": "failed", "script2::works": "passed"}
    logs = {(log["kind"], log["name"]): log["content"] for log in run["logs"]}
    assert "skipped — needs 'broken', which failed" in logs[("job-log", "after")]


def test_faults_of_a_job_are_explained_outcomes(tmp_path: Path) -> None:
    """A command that is not found, a JUnit glob that matches nothing and a job past its
    timeout are each an `error` with the reason; none hangs, and retries are counted."""
    root = _project(
        tmp_path,
        """
        ci:
          jobs:
            missing: {command: [no-such-tool-xyz, run], services: []}
            nojunit: {command: [python3, -c, "pass"], junit: "reports/none-*.xml", services: []}
            slow: {command: [python3, -c, "import time; time.sleep(60)"], timeout: 1s, services: []}
            flaky: {command: [python3, -c, "raise SystemExit(3)"], retries: 1, services: []}
        """,
    )
    started = time.monotonic()
    result = _splice(root, "workflow", "run", "ci", "--no-store")
    assert time.monotonic() - started < 50, "the timed-out job was not stopped"
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "command not found: 'no-such-tool-xyz'" in out
    assert "no JUnit report matches 'reports/none-*.xml'" in out
    assert "timed out after 1 s (`timeout:`)" in out
    assert "flaky" in out and "2 attempts" in out and "exited 3" in out


def test_ctrl_c_stops_running_jobs_and_stores_the_run_interrupted(tmp_path: Path) -> None:
    """SIGINT while a job runs: its process group is stopped, the jobs after it are skipped,
    the shared Redis is stopped and the run is stored `interrupted`; exit 130."""
    root = _project(
        tmp_path,
        """
        ci:
          jobs:
            long: {command: "echo started; sleep 120"}
            next: {command: [python3, -c, "print(1)"], needs: [long]}
        """,
    )
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SPLICE_STORE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "workflow", "run", "ci"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=takes_ctrl_c,  # noqa: PLW1509 - only resets one signal's disposition
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "long started" in line, line
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "■ long" in out and "↷ next" in out
    run = _stored(root, out)
    assert run["status"] == "interrupted"
    leftover = subprocess.run(
        ["pgrep", "-f", "sleep 120"], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", "the job's process was left running"
