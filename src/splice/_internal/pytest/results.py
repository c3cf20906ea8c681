"""pytest's reports into splice's `RunResult`, written by splice's own JUnit, JSON and
HTML writers (`--splice-junit`, `--splice-json`, `--splice-html`).

A suite's testcase brings its whole result (steps, requests, responses) on the report as
JSON, so it survives the trip from an xdist worker; a Python test becomes a testcase of
one step per failed phase, holding pytest's failure text. Python tests are grouped into
suites by module.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.errors import SourceSpan
from splice._internal.masking import Masker
from splice._internal.model.results import (
    RUN_INTERRUPTED,
    AttemptResult,
    Failure,
    FailureKind,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)

REPORT_ATTRIBUTE = "splice_testcase"  # set on a suite item's call report
SUITE_ATTRIBUTE = "splice_suite"  # set on every report of a suite item: the suite's name


@dataclass
class _Entry:
    nodeid: str
    path: Path
    line: int
    phases: dict[str, Any] = field(default_factory=dict)  # when -> report
    # the outcome given by `interrupted` to a test the session stopped before it ended
    final: TestcaseResult | None = None


class ResultCollector:
    """Listens to every test report (on the xdist controller: every worker's)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started_at = time.time()
        self._clock = time.perf_counter()
        self._entries: dict[str, _Entry] = {}
        # called with each test's result once its teardown is reported (the live store)
        self.on_testcase: Callable[[TestcaseResult], None] | None = None

    def pytest_runtest_logreport(self, report: Any) -> None:
        """pytest's hook: every report of every phase of every test."""
        self.add(report)

    def add(self, report: Any) -> None:
        entry = self._entries.get(report.nodeid)
        if entry is None:
            fspath, line, _ = report.location
            entry = _Entry(report.nodeid, self.root / fspath, (line or 0) + 1)
            self._entries[report.nodeid] = entry
        entry.phases[report.when] = report
        if report.when == "teardown" and self.on_testcase is not None:
            self.on_testcase(_testcase(entry))

    def interrupted(self, items: list[Any]) -> None:
        """After Ctrl-C: the test that was running is `interrupted` and those never started
        are skipped ("run interrupted"), as with `splice run`, so that every report and the
        store count every collected test (pytest itself reports neither)."""
        for item in items:
            entry = self._entries.get(item.nodeid)
            if entry is not None and "teardown" in entry.phases:
                continue  # it ended
            if entry is None:
                fspath, line, _ = item.location
                entry = _Entry(item.nodeid, self.root / fspath, (line or 0) + 1)
                self._entries[item.nodeid] = entry
                module, _, name = item.nodeid.partition("::")
                suite = getattr(item, SUITE_ATTRIBUTE, None)
                tc = TestcaseResult(
                    suite if isinstance(suite, str) else module,
                    name or module,
                    entry.path,
                    entry.line,
                    Status.SKIPPED,
                    skip_reason=RUN_INTERRUPTED,
                )
            else:
                tc = _testcase(entry)
                tc.status = Status.INTERRUPTED
                step = StepResult(
                    0,
                    "pytest call",
                    "pytest",
                    Phase.TEST,
                    Status.INTERRUPTED,
                    failures=[Failure(FailureKind.INTERRUPTED, "interrupted while the test ran")],
                )
                tc.attempts = [AttemptResult(1, Status.INTERRUPTED, tc.started_at, steps=[step])]
            entry.final = tc
            if self.on_testcase is not None:
                self.on_testcase(tc)

    def run(self, run_id: str, services: list[dict[str, Any]], command: list[str]) -> RunResult:
        """The session as a run; `command` is its command line, secrets masked."""
        run = RunResult(
            id=run_id,
            started_at=self.started_at,
            duration=time.perf_counter() - self._clock,
            command=command,
            host=socket.gethostname(),
            cwd=str(self.root),
            services=services,
        )
        suites: dict[str, SuiteResult] = {}
        for entry in self._entries.values():
            tc = entry.final or _testcase(entry)
            suite = suites.get(tc.suite)
            if suite is None:
                suite = suites[tc.suite] = SuiteResult(tc.suite, tc.path)
            suite.testcases.append(tc)
        run.suites = list(suites.values())
        for suite in run.suites:
            suite.duration = sum(tc.duration for tc in suite.testcases)
            suite.status = _worst(tc.status for tc in suite.testcases)
        run.status = _worst(s.status for s in run.suites)
        return run


def mask_report(report: Any, masker: Masker) -> None:
    """A test's report with its secrets masked: the failure's text (then kept as plain
    text, which pytest prints as it is) and the captured output sections. Masked where the
    report is made, so pytest's terminal, xdist's controller and splice's reports all see
    the same masked text."""
    longrepr = report.longrepr
    if longrepr is not None and not isinstance(longrepr, tuple):
        text = report.longreprtext
        masked = masker.text(text)
        if masked != text:
            report.longrepr = masked
    elif isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], masker.text(str(longrepr[2])))
    report.sections = [(title, masker.text(content)) for title, content in report.sections]


def _worst(statuses: Any) -> Status:
    found = set(statuses)
    for status in (Status.INTERRUPTED, Status.ERROR, Status.FAILED):
        if status in found:
            return status
    if found and found <= {Status.SKIPPED}:
        return Status.SKIPPED
    return Status.PASSED


def _testcase(entry: _Entry) -> TestcaseResult:
    call = entry.phases.get("call")
    carried = getattr(call, REPORT_ATTRIBUTE, None) if call is not None else None
    if carried:
        tc = testcase_from_dict(json.loads(carried))
    else:
        module, _, name = entry.nodeid.partition("::")
        suite = next(
            (
                getattr(r, SUITE_ATTRIBUTE)
                for r in entry.phases.values()
                if hasattr(r, SUITE_ATTRIBUTE)
            ),
            module,
        )
        tc = TestcaseResult(suite, name or module, entry.path, entry.line)
        tc.tags = sorted(_marks(call or entry.phases.get("setup")))
    tc.duration = sum(getattr(r, "duration", 0.0) for r in entry.phases.values())
    first = next(iter(entry.phases.values()))
    tc.started_at = getattr(first, "start", 0.0) or tc.started_at
    steps: list[StepResult] = []
    status = Status.PASSED
    for when, phase in (("setup", Phase.SETUP), ("call", Phase.TEST), ("teardown", Phase.TEARDOWN)):
        report = entry.phases.get(when)
        if report is None:
            continue
        if report.skipped:
            wasxfail = getattr(report, "wasxfail", None)
            if wasxfail is not None:  # an expected failure, as splice's `xfail:` is
                tc.status = Status.XFAILED
                tc.xfail_reason = str(wasxfail).removeprefix("reason: ") or "xfail"
                if not tc.attempts:
                    tc.attempts = [AttemptResult(1, Status.FAILED, tc.started_at, tc.duration)]
                return tc
            longrepr = report.longrepr
            reason = str(longrepr[2]) if isinstance(longrepr, tuple) else "skipped"
            tc.status, tc.skip_reason = Status.SKIPPED, reason.removeprefix("Skipped: ")
            return tc
        if report.failed:
            if when == "call":
                status = tc.status if carried and not tc.status.ok else Status.FAILED
            elif status == Status.PASSED:
                status = Status.ERROR
            steps.append(_step(len(steps), when, phase, report))
    if carried:
        if status != Status.PASSED and tc.status.ok:  # the suite's teardown failed after it
            tc.status = status
            if tc.attempts:
                tc.attempts[-1].status = status
                tc.attempts[-1].steps.extend(steps)
            else:
                tc.attempts.append(AttemptResult(1, status, tc.started_at, steps=steps))
        return tc
    tc.status = status
    tc.attempts = [AttemptResult(1, status, tc.started_at, tc.duration, steps)]
    return tc


def _marks(report: Any) -> set[str]:
    keywords = getattr(report, "keywords", {}) or {}
    return {k for k, v in keywords.items() if v == 1 and k in {"integration"}}


def _step(index: int, when: str, phase: Phase, report: Any) -> StepResult:
    text = report.longreprtext or f"{when} failed"
    kind = FailureKind.ASSERT if when == "call" else FailureKind.ERROR
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    line = getattr(crash, "message", None) or (text.strip().splitlines() or [text])[-1]
    return StepResult(
        index,
        f"pytest {when}",
        "pytest",
        phase,
        Status.FAILED if when == "call" else Status.ERROR,
        duration=getattr(report, "duration", 0.0),
        failures=[Failure(kind, line)],
        response={"output": text},
    )


def testcase_from_dict(data: dict[str, Any]) -> TestcaseResult:
    """The inverse of `TestcaseResult` in `RunResult.to_dict()`."""
    return TestcaseResult(
        suite=data["suite"],
        name=data["name"],
        path=Path(data["path"]),
        line=data["line"],
        status=Status(data["status"]),
        tags=list(data.get("tags") or []),
        started_at=data.get("started_at") or 0.0,
        duration=data.get("duration") or 0.0,
        attempts=[_attempt(a) for a in data.get("attempts") or []],
        skip_reason=data.get("skip_reason"),
    )


def _attempt(data: dict[str, Any]) -> AttemptResult:
    return AttemptResult(
        number=data["number"],
        status=Status(data["status"]),
        started_at=data.get("started_at") or 0.0,
        duration=data.get("duration") or 0.0,
        steps=[_step_from_dict(s) for s in data.get("steps") or []],
    )


def _step_from_dict(data: dict[str, Any]) -> StepResult:
    location = data.get("location")
    return StepResult(
        index=data["index"],
        name=data["name"],
        executor=data["executor"],
        phase=Phase(data["phase"]),
        status=Status(data["status"]),
        location=SourceSpan(
            Path(location["path"]), location["line"], location["column"], location["end_column"]
        )
        if location
        else None,
        started_at=data.get("started_at") or 0.0,
        duration=data.get("duration") or 0.0,
        polls=data.get("polls") or 1,
        request=data.get("request"),
        response=data.get("response"),
        captures=data.get("captures") or {},
        failures=[Failure(**f) for f in data.get("failures") or []],
        skip_reason=data.get("skip_reason"),
        expect=data.get("expect"),
        asserted=list(data.get("asserted") or []),
    )


def write_reports(
    run: RunResult, junit: str | None, json_path: str | None, html: str | None
) -> list[str]:
    """Write the reports asked for; the paths written."""
    written = []
    if junit:
        from splice._internal.reporting.junit import write_junit

        write_junit(run, Path(junit))
        written.append(f"JUnit {junit}")
    if json_path:
        from splice._internal.reporting.json_report import write_json

        write_json(run, Path(json_path))
        written.append(f"JSON {json_path}")
    if html:
        from splice._internal.reporting.html import write_html

        write_html(run, Path(html))
        written.append(f"HTML {html}")
    return written
