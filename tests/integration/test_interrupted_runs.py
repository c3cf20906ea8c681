"""What an interrupted run, and a run whose suite setup failed, report: one outcome for the
step and testcase that were cut short, setup and teardown steps left to finish, the cause
carried into every testcase it kept from running; in-process, against real servers."""

from __future__ import annotations

import io
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from splice._internal.errors import StepInterrupted
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.http import HttpExecutor
from splice._internal.executors.http_blocks import HttpBlock
from splice._internal.model.results import FAIL_FAST, RUN_INTERRUPTED, RunResult, Status
from splice._internal.reporting.console import ConsoleReporter
from splice._internal.reporting.html import write_html
from splice._internal.reporting.json_report import write_json
from splice._internal.reporting.junit import write_junit
from splice._internal.runner.events import EventBus, RunListener
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions

WAIT = 60.0  # seconds: generous, the machine may be loaded


class _Finished(RunListener):
    """Counts the testcases the bus reports finished (what the store records)."""

    def __init__(self) -> None:
        self.statuses: list[Status] = []

    def testcase_finished(self, suite: Any, testcase: Any) -> None:
        self.statuses.append(testcase.status)


def _run(
    path: Path,
    when: Callable[[], bool] | None = None,
    console: ConsoleReporter | None = None,
    **options: Any,
) -> tuple[RunResult, _Finished]:
    """Run the suite at `path`; interrupt it (as the first Ctrl-C) once `when()` holds."""
    suites, problems = load_all([path])
    assert not problems, problems
    finished = _Finished()
    bus = EventBus([finished, *([console] if console else [])])
    runner = Runner(suites, RunOptions(**options), bus)

    def watch() -> None:
        deadline = time.monotonic() + WAIT
        while when is not None and not when():
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        runner.interrupt()

    watcher = threading.Thread(target=watch, daemon=True)
    if when is not None:
        watcher.start()
    run = runner.run()
    if when is not None:
        watcher.join(WAIT)
    return run, finished


def test_an_interrupted_retry_loop_is_interrupted_not_failed(write, tmp_path: Path) -> None:
    """A step retrying when the run is interrupted stops at once and is reported
    `interrupted` (no unmet expectation); the testcase after it is skipped, not started."""
    polled = tmp_path / "polled"
    path = write(
        "r.splice.yaml",
        f"""
        name: retrying
        testcases:
          - name: waits for a file
            steps:
              - exec: "touch {polled}; test -f {tmp_path}/never"
                expect: {{exit_code: 0}}
                retry: {{timeout: 60s, interval: 100ms}}
          - name: later
            steps: [{{exec: "true"}}]
        """,
    )
    run, finished = _run(path, polled.exists)
    first, later = run.testcases()
    step = first.attempts[0].steps[0]
    assert (first.status, step.status) == (Status.INTERRUPTED, Status.INTERRUPTED)
    assert [f.kind for f in step.failures] == ["interrupted"]
    assert step.failures[0].message.startswith("interrupted while retrying, after ")
    assert (later.status, later.skip_reason) == (Status.SKIPPED, RUN_INTERRUPTED)
    assert (run.status, run.interrupted) == (Status.INTERRUPTED, True)
    assert finished.statuses == [Status.INTERRUPTED, Status.SKIPPED]


def test_an_interrupt_cuts_an_http_request_and_the_teardown_still_calls(server, write) -> None:
    """A request waiting for a slow answer is cut by the interrupt (the step is
    `interrupted`, long before its 60 s timeout); the teardown's request on the same session
    still goes out and passes."""
    path = write(
        "h.splice.yaml",
        """
        name: slow server
        testcases:
          - name: waits
            steps:
              - http: {get: "{{ base }}/slow?s=20", timeout: 60s}
            teardown:
              - http: {post: "{{ base }}/echo", json: {cleanup: true}}
                expect: {status: 200, json: {json: {cleanup: true}}}
        """,
    )
    before = server.hits.get("/slow", 0)
    run, _ = _run(path, lambda: server.hits.get("/slow", 0) > before, external={"base": server.url})
    [tc] = run.testcases()
    cut, teardown = tc.attempts[0].steps
    assert cut.status == Status.INTERRUPTED, cut.failures
    assert cut.failures[0].message.startswith("interrupted while waiting for GET ")
    assert teardown.status == Status.PASSED, teardown.failures
    assert tc.status == Status.INTERRUPTED


def test_the_http_executor_raises_step_interrupted_when_cancelled(server) -> None:
    """The executor itself: a cancelled context cuts the request with StepInterrupted, and
    the session's client serves the next request."""
    executor = HttpExecutor()
    session = TestcaseSession()
    cancelled = threading.Event()
    ctx = StepContext(vars={}, session=session, base_dir=Path.cwd(), cancelled=cancelled)
    before = server.hits.get("/slow", 0)

    def cancel_when_waiting() -> None:
        deadline = time.monotonic() + WAIT
        while server.hits.get("/slow", 0) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        cancelled.set()

    threading.Thread(target=cancel_when_waiting, daemon=True).start()
    try:
        with pytest.raises(StepInterrupted):
            executor.execute(HttpBlock(url=f"{server.url}/slow?s=20", timeout=60), ctx)
        again = StepContext(vars={}, session=session, base_dir=Path.cwd())
        output = executor.execute(HttpBlock(url=f"{server.url}/echo"), again)
        assert output.result["status"] == 200
    finally:
        session.close()


def test_fail_fast_says_why_later_testcases_did_not_start(write) -> None:
    """--fail-fast: the testcases it kept from starting are skipped with that reason, and
    reported to the listeners (the store counts them); the run failed, it was not
    interrupted."""
    path = write(
        "f.splice.yaml",
        """
        name: fast
        testcases:
          - name: fails
            steps: [{exec: "false", expect: {exit_code: 0}}]
          - name: never
            steps: [{exec: "true"}]
        """,
    )
    run, finished = _run(path, fail_fast=True)
    assert [tc.skip_reason for tc in run.testcases()] == [None, FAIL_FAST]
    assert (run.status, run.interrupted) == (Status.FAILED, False)
    assert finished.statuses == [Status.FAILED, Status.SKIPPED]


def test_a_failed_suite_setup_is_carried_into_each_testcase(
    write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each testcase a failed suite setup kept from running names the failing step, its
    file:line:col and its message, in JUnit, JSON, HTML and on the console."""
    monkeypatch.chdir(tmp_path)
    path = write(
        "s.splice.yaml",
        """
        name: broken setup
        setup:
          - exec: "exit 3"
            expect: {exit_code: 0}
        testcases:
          - name: a
            steps: [{exec: "true"}]
          - name: b
            steps: [{exec: "true"}]
        """,
    )
    out = io.StringIO()
    console = ConsoleReporter(Console(file=out, width=200, highlight=False, no_color=True))
    run, finished = _run(path, console=console)
    assert finished.statuses == [Status.ERROR, Status.ERROR]
    where = "s.splice.yaml:3:5"
    write_junit(run, tmp_path / "r.xml")
    for case in ET.parse(tmp_path / "r.xml").getroot().iter("testcase"):
        error = case.find("error")
        assert error is not None
        message = error.get("message", "")
        assert message.startswith(f"not run: the suite setup failed at {where}: ")
        assert message.endswith("step 'exec exit 3': expected 0, got 3"), message
        assert "exit_code" in (error.text or ""), error.text
    write_json(run, tmp_path / "r.json")
    for tc in json.loads((tmp_path / "r.json").read_text())["suites"][0]["testcases"]:
        [step] = tc["attempts"][0]["steps"]
        assert (tc["status"], step["phase"], step["location"]["line"]) == ("error", "setup", 3)
        assert [f["kind"] for f in step["failures"]] == ["suite setup", "expect"]
    write_html(run, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert html.count("not run: the suite setup failed at") == 2
    text = out.getvalue()
    assert "! broken setup › a" in text and "! broken setup › b" in text, text
    assert text.count("(not run: the suite setup failed at s.splice.yaml:3:5)") == 2, text
