"""JUnit XML for CI servers: GitLab, Jenkins and the common GitHub Actions test reporters.

One `<testsuite>` per splice suite, one `<testcase>` per testcase. Retries follow the Maven
Surefire rerun format, which those tools either understand or safely ignore:

- a FLAKY testcase (failed, then passed) is a passed `<testcase>` with one `<flakyFailure>`
  (or `<flakyError>`) per failed attempt;
- a testcase that failed on every attempt has `<failure>` (or `<error>`) for the last attempt
  and one `<rerunFailure>` (or `<rerunError>`) per earlier attempt.

An `xfail:` testcase that failed as expected is `<skipped>` with `xfail: <reason>` as its
message (what pytest writes for its xfailed tests); a strict one that passed is a
`<failure type="xpassed">`.

Suite setup and teardown failures go to the suite's `<system-err>`: JUnit has no place for
steps that belong to no testcase.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from splice._internal.model.results import (
    AttemptResult,
    Failure,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)

__all__ = ["write_junit"]

# Everything outside the XML 1.0 `Char` production, lone surrogates included.
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_VALUE_LIMIT = 4000  # characters of one expected/actual value in a failure body
_ERRORS = (Status.ERROR, Status.INTERRUPTED)


def write_junit(run: RunResult, path: Path) -> None:
    """Write `run` as JUnit XML to `path`, creating its folder; the file is replaced whole."""
    base = Path(run.cwd) if run.cwd else Path.cwd()
    root = ET.Element("testsuites")
    _set(root, "name", f"splice run {run.id}")
    # <testsuites> declares no `skipped` nor `timestamp` in the Jenkins schema: each
    # <testsuite> carries them
    _set_counts(root, run.testcases(), run.duration, skipped=False)
    for suite in run.suites:
        root.append(_suite(suite, run.host, base))
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data + b"\n")
    partial.replace(path)


def _suite(suite: SuiteResult, host: str, base: Path) -> ET.Element:
    elem = ET.Element("testsuite")
    _set(elem, "name", suite.name)
    _set_counts(elem, suite.testcases, suite.duration)
    if suite.started_at:
        _set(elem, "timestamp", _timestamp(suite.started_at))
    if host:
        _set(elem, "hostname", host)
    _set(elem, "file", _relative(suite.path, base))
    for testcase in suite.testcases:
        elem.append(_testcase(testcase, base))
    problems = [
        f"suite {phase} failed:\n{_step_text(step, base)}"
        for phase, steps in (("setup", suite.setup), ("teardown", suite.teardown))
        for step in steps
        if not step.status.ok
    ]
    if problems:
        _text(ET.SubElement(elem, "system-err"), "\n\n".join(problems))
    return elem


def _testcase(tc: TestcaseResult, base: Path) -> ET.Element:
    elem = ET.Element("testcase")
    _set(elem, "classname", tc.suite)
    _set(elem, "name", tc.name)
    _set(elem, "file", _relative(tc.path, base))
    _set(elem, "line", str(tc.line))
    _set(elem, "time", _seconds(tc.duration))
    earlier = [a for a in tc.attempts[:-1] if not a.status.ok]
    if tc.status == Status.SKIPPED:
        skipped = ET.SubElement(elem, "skipped")
        _set(skipped, "message", tc.skip_reason or "skipped")
    elif tc.status == Status.XFAILED:
        skipped = ET.SubElement(elem, "skipped")
        _set(skipped, "type", "xfailed")
        _set(skipped, "message", f"xfail: {tc.xfail_reason}")
        final = tc.final_attempt
        step = final.failed_step if final else None
        if step is not None:
            _text(skipped, _step_text(step, base))
    elif tc.status == Status.XPASSED:
        failure = ET.SubElement(elem, "failure")
        _set(failure, "type", "xpassed")
        _set(
            failure, "message", f"expected to fail, but passed (xfail is strict): {tc.xfail_reason}"
        )
    elif tc.status == Status.FLAKY or (tc.status == Status.PASSED and earlier):
        for attempt in earlier:
            tag = "flakyError" if attempt.status in _ERRORS else "flakyFailure"
            _result(elem, tag, attempt, len(tc.attempts), base)
    elif tc.status == Status.FAILED or tc.status in _ERRORS:
        tag = "error" if tc.status in _ERRORS else "failure"
        final = tc.final_attempt
        if final is None:
            result = ET.SubElement(elem, tag)
            _set(result, "message", f"testcase {tc.status.value}")
            _set(result, "type", tc.status.value)
        else:
            _result(elem, tag, final, len(tc.attempts), base)
        for attempt in earlier:
            tag = "rerunError" if attempt.status in _ERRORS else "rerunFailure"
            _result(elem, tag, attempt, len(tc.attempts), base)
    return elem


def _result(parent: ET.Element, tag: str, attempt: AttemptResult, total: int, base: Path) -> None:
    """One `<failure>`-like child describing why `attempt` did not pass."""
    elem = ET.SubElement(parent, tag)
    step = attempt.failed_step
    first = step.failures[0] if step and step.failures else None
    if first is not None:
        message, kind = first.message, first.kind.value
    elif step is not None:
        message, kind = f"step {step.name!r} {step.status.value}", step.status.value
    else:
        message, kind = f"attempt {attempt.status.value}", attempt.status.value
    _set(elem, "message", message)
    _set(elem, "type", kind)
    header = f"attempt {attempt.number} of {total}: {attempt.status.value}" if total > 1 else ""
    body = _step_text(step, base) if step is not None else ""
    _text(elem, "\n".join(part for part in (header, body) if part))


def _step_text(step: StepResult, base: Path) -> str:
    """The failing step and each of its failures, as plain text for a CI log view; its
    place has the same relative path as the testcase's `file`."""
    where = (
        f" at {_relative(step.location.path, base)}:{step.location.line}:{step.location.column}"
        if step.location
        else ""
    )
    name = step.name or f"#{step.index}"
    lines = [f"{step.phase.value} step {name!r} ({step.executor}) {step.status.value}{where}"]
    if step.polls > 1:
        lines.append(f"  polled {step.polls} times")
    for failure in step.failures:
        lines.extend(_failure_lines(failure))
    return "\n".join(lines)


def _failure_lines(failure: Failure) -> list[str]:
    lines = [f"- [{failure.kind}] {failure.message}"]
    if failure.path:
        lines.append(f"    path:     {failure.path}")
    if failure.expected is not None or failure.actual is not None:
        lines.append(f"    expected: {_value(failure.expected)}")
        lines.append(f"    actual:   {_value(failure.actual)}")
    if failure.hint:
        lines.append(f"    hint:     {failure.hint}")
    return lines


def _value(value: Any) -> str:
    """A compared value as JSON: one line when short, indented under its label when long."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    if len(text) > 80:
        text = json.dumps(value, ensure_ascii=False, default=repr, indent=2)
        text = text.replace("\n", "\n              ")
    if len(text) > _VALUE_LIMIT:
        text = f"{text[:_VALUE_LIMIT]}… ({len(text) - _VALUE_LIMIT} more characters)"
    return text


def _set_counts(
    elem: ET.Element, testcases: list[TestcaseResult], duration: float, skipped: bool = True
) -> None:
    statuses = [tc.status for tc in testcases]
    _set(elem, "tests", str(len(statuses)))
    _set(elem, "failures", str(statuses.count(Status.FAILED) + statuses.count(Status.XPASSED)))
    _set(elem, "errors", str(sum(s in _ERRORS for s in statuses)))
    if skipped:
        _set(elem, "skipped", str(statuses.count(Status.SKIPPED) + statuses.count(Status.XFAILED)))
    _set(elem, "time", _seconds(duration))


def _set(elem: ET.Element, name: str, value: str) -> None:
    elem.set(name, _ILLEGAL_XML.sub("", value))


def _text(elem: ET.Element, value: str) -> None:
    elem.text = _ILLEGAL_XML.sub("", value)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base` when it lies below it, else as given; always with `/`."""
    if path.is_absolute():
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()
