"""Runs from files: JUnit XML from any tool, and splice's own JSON report (`--json`).

Both become the events a live recording would have produced (`splice.store.stream`), so an
imported run is stored, scored for flakiness and shown exactly like a recorded one. A JUnit
testcase is identified as `classname::name` (`suite::testcase` for splice's own JUnit, so
imported and recorded runs of one suite share their history).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from splice.model.results import (
    AttemptResult,
    Failure,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
    new_run_id,
)
from splice.store import stream
from splice.store.errors import StoreError
from splice.store.meta import RunMeta

OUTPUT_LIMIT = 16384  # characters of a testcase's system-out/err kept with its failure
_FAILED = {"failure": Status.FAILED, "error": Status.ERROR}
_EARLIER = {
    "flakyFailure": Status.FAILED,
    "flakyError": Status.ERROR,
    "rerunFailure": Status.FAILED,
    "rerunError": Status.ERROR,
}


def events_from_file(path: Path, meta: RunMeta) -> list[dict[str, Any]]:
    """The events of the run in `path`: JUnit XML or a splice JSON report."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    if data.lstrip()[:1] == b"{":
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise StoreError(f"{path} is not valid JSON: {exc}") from exc
        return events_from_report(doc, meta)
    return stream.events_of(junit_run(data, str(path)), meta)


def junit_run(data: bytes, origin: str = "the JUnit XML") -> RunResult:
    """A `RunResult` from JUnit XML (`<testsuites>` or a single `<testsuite>`)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise StoreError(
            f"{origin} is not well-formed XML: {exc}",
            "import JUnit XML files (pytest --junitxml, splice run --junit) or splice JSON reports",
        ) from exc
    if root.tag not in ("testsuites", "testsuite"):
        raise StoreError(
            f"{origin} is XML but not JUnit: its root is <{root.tag}>",
            "a JUnit report starts with <testsuites> or <testsuite>",
        )
    elements = [root] if root.tag == "testsuite" else root.findall("testsuite")
    run = RunResult(id=new_run_id())
    run.started_at = _time(root.get("timestamp")) or min(
        (s for s in (_time(e.get("timestamp")) for e in elements) if s), default=0.0
    )
    clock = run.started_at
    for elem in elements:
        suite_name = elem.get("name") or "junit"
        sr = SuiteResult(suite_name, Path(elem.get("file") or ""))
        sr.started_at = _time(elem.get("timestamp")) or clock
        at = sr.started_at
        for case in elem.iter("testcase"):
            tc = _testcase(case, suite_name, at)
            at += tc.duration
            sr.testcases.append(tc)
            run.host = run.host or elem.get("hostname") or ""
        sr.duration = _float(elem.get("time")) or at - sr.started_at
        sr.status = _worst([tc.status for tc in sr.testcases])
        clock = max(clock, sr.started_at + sr.duration)
        run.suites.append(sr)
    run.duration = _float(root.get("time")) or max(0.0, clock - run.started_at)
    run.status = _worst([s.status for s in run.suites])
    return run


def _testcase(case: ET.Element, suite: str, started: float) -> TestcaseResult:
    name = case.get("name") or "?"
    tc = TestcaseResult(
        case.get("classname") or suite,
        name,
        Path(case.get("file") or ""),
        int(_float(case.get("line"))),
        started_at=started,
        duration=_float(case.get("time")),
    )
    output = {
        key: (case.findtext(key) or "")[-OUTPUT_LIMIT:]
        for key in ("system-out", "system-err")
        if (case.findtext(key) or "").strip()
    }
    earlier = [c for c in case if c.tag in _EARLIER]
    final = next((c for c in case if c.tag in _FAILED), None)
    skipped = case.find("skipped")
    for number, elem in enumerate(earlier, 1):
        tc.attempts.append(
            _attempt(
                number,
                status=_EARLIER[elem.tag],
                elem=elem,
                name=name,
                started=started,
                output=output,
            )
        )
    number = len(earlier) + 1
    if skipped is not None and final is None:
        tc.status = Status.SKIPPED
        tc.skip_reason = skipped.get("message") or (skipped.text or "").strip() or "skipped"
    elif final is not None:
        tc.status = _FAILED[final.tag]
        tc.attempts.append(
            _attempt(
                number, status=tc.status, elem=final, name=name, started=started, output=output
            )
        )
    else:
        tc.status = Status.FLAKY if earlier else Status.PASSED
        tc.attempts.append(AttemptResult(number, Status.PASSED, started, tc.duration))
    return tc


def _attempt(
    number: int,
    *,
    status: Status,
    elem: ET.Element,
    name: str,
    started: float,
    output: dict[str, str],
) -> AttemptResult:
    message = elem.get("message") or (elem.text or "").strip().split("\n", 1)[0] or status.value
    failure = Failure(
        elem.get("type") or elem.tag, message, actual=(elem.text or "").strip() or None
    )
    step = StepResult(
        0,
        name,
        "junit",
        Phase.TEST,
        status,
        started_at=started,
        failures=[failure],
        response=dict(output) or None,
    )
    return AttemptResult(number, status, started, 0.0, [step])


def events_from_report(doc: Any, meta: RunMeta) -> list[dict[str, Any]]:
    """The events of a splice JSON report (`splice run --json`, schema splice-run/1)."""
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("splice-run/"):
        raise StoreError(
            'the JSON file is not a splice report (no "schema": "splice-run/1")',
            "import files written by `splice run --json`, or JUnit XML",
        )
    run_id = str(doc.get("id") or new_run_id())
    suites = doc.get("suites") or []
    total = sum(len(s.get("testcases") or []) for s in suites)
    started = {
        **meta.as_dict(),
        "id": run_id,
        "started_at": doc.get("started_at") or 0.0,
        "total": total,
        "command": doc.get("command") or [],
        "host": doc.get("host") or "",
        "cwd": doc.get("cwd") or "",
        "services": doc.get("services") or [],
    }
    events: list[dict[str, Any]] = [{"event": "run_started", "run_id": run_id, "run": started}]
    for suite in suites:
        for tc in suite.get("testcases") or []:
            events.append({"event": "testcase_finished", "run_id": run_id, "testcase": tc})
        events.append({"event": "suite_finished", "run_id": run_id, "suite": suite})
    status = "interrupted" if doc.get("interrupted") else str(doc.get("status") or "passed")
    finished = float(doc.get("started_at") or 0.0) + float(doc.get("duration") or 0.0)
    events.append(
        {
            "event": "run_finished",
            "run_id": run_id,
            "run": {"status": status, "duration": doc.get("duration"), "finished_at": finished},
        }
    )
    return events


def _worst(statuses: list[Status]) -> Status:
    for status in (Status.ERROR, Status.FAILED):
        if status in statuses:
            return status
    return Status.PASSED


def _time(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if stamp.tzinfo is None:  # JUnit timestamps without a zone are UTC by convention
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _float(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
