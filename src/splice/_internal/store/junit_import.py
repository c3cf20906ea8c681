"""JUnit XML of any tool, read as a stream: one testcase at a time, in bounded memory.

The file is parsed with expat (the standard library's XML parser) through handlers of our
own, so nothing but the testcase being read is held, whatever the size of the file. A
document type declaration is refused, and with it every entity declaration and external
DTD: JUnit needs none, and they are how hostile XML expands or reads files.

Every attribute splice keeps is checked where it is read; a bad one is a `BadImport` with
the line and column of its element and the name of the attribute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from splice._internal.model.results import (
    AttemptResult,
    Failure,
    FailureKind,
    Phase,
    Status,
    StepResult,
    TestcaseResult,
)
from splice._internal.store.errors import BadImport

OUTPUT_LIMIT = 16384  # characters of a testcase's system-out/err kept: its end
TEXT_LIMIT = 65536  # characters of a failure's text kept: its start (the store keeps less)
NAME_LIMIT = 2000  # characters of a name, classname or file, as the upload API allows
MAX_SECONDS = 1e11  # a time or duration past this (year 5138) is not a real one
MAX_LINE = 2**31 - 1
MAX_DEPTH = 64  # nesting of elements: JUnit needs five or six
CHUNK = 64 * 1024
_HINT = "import JUnit XML files (pytest --junitxml, splice run --junit) or splice JSON reports"
_FAILED = {"failure": Status.FAILED, "error": Status.ERROR}
_EARLIER = {
    "flakyFailure": Status.FAILED,
    "flakyError": Status.ERROR,
    "rerunFailure": Status.FAILED,
    "rerunError": Status.ERROR,
}
_KEPT = {*_FAILED, *_EARLIER, "skipped", "system-out", "system-err"}


@dataclass
class SuiteHead:
    """A `<testsuite>` as its start tag says."""

    name: str
    path: str
    timestamp: float  # 0: none given
    time: float | None
    hostname: str


@dataclass
class SuiteEnd:
    """The end of a suite: its testcases' worst status is known."""

    head: SuiteHead
    status: Status
    started_at: float
    duration: float


@dataclass
class RootHead:
    timestamp: float
    time: float | None


@dataclass
class _Child:
    """A kept child of a testcase: failure, error, skipped, rerun…, system-out/err."""

    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, data: str) -> None:
        self.text.append(data)
        self.size += len(data)
        limit = OUTPUT_LIMIT if self.tag.startswith("system-") else TEXT_LIMIT
        if self.size > 2 * limit:  # keep the end of output, the start of a failure
            joined = "".join(self.text)
            kept = joined[-limit:] if self.tag.startswith("system-") else joined[:limit]
            self.text, self.size = [kept], len(kept)

    def value(self) -> str:
        joined = "".join(self.text)
        return joined[-OUTPUT_LIMIT:] if self.tag.startswith("system-") else joined[:TEXT_LIMIT]


@dataclass
class _Case:
    attrs: dict[str, str]
    line: int
    column: int
    depth: int
    children: list[_Child] = field(default_factory=list)


class Counted:
    """A testcase read by a survey: checked and counted, not built."""


COUNTED = Counted()
Item = RootHead | SuiteHead | TestcaseResult | SuiteEnd | Counted


class JunitReader:
    """Reads one JUnit document; `items` yields its parts in document order.

    `started_at` is where the clock starts for suites without a timestamp (the run's start,
    known after a first pass). Testcases follow each other on that clock. A `survey` checks
    every testcase but yields `COUNTED` for each instead of building it.
    """

    def __init__(self, origin: str, started_at: float = 0.0, *, survey: bool = False) -> None:
        self.origin = origin
        self.survey = survey
        self.clock = started_at
        self._ready: list[Item] = []
        self._depth = 0
        self._root: str | None = None
        self._suite: SuiteHead | None = None
        self._suite_depth = -1
        self._suite_start = 0.0
        self._at = 0.0
        self._statuses: list[Status] = []
        self._case: _Case | None = None
        self._child: _Child | None = None
        self._head = b""  # the file's start, where its XML declaration is
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text

    def items(self, handle: IO[bytes]) -> Iterator[Item]:
        while True:
            chunk = handle.read(CHUNK)
            self._feed(chunk, final=not chunk)
            yield from self._ready
            self._ready.clear()
            if not chunk:
                break
        if self._root is None:
            raise BadImport("the file is empty: it holds no XML element", _HINT, line=1, column=1)

    def _feed(self, chunk: bytes, final: bool) -> None:
        if not self._head:
            self._head = chunk[:200]
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError as exc:
            raise BadImport(
                f"not well-formed XML: {expat.ErrorString(exc.code)}",
                _HINT,
                line=exc.lineno,
                column=exc.offset + 1,
            ) from None
        except (ValueError, LookupError) as exc:  # an encoding expat cannot read: UTF-7, bogus
            declared = re.search(rb"""encoding\s*=\s*["']([^"']{1,40})""", self._head)
            name = repr(declared.group(1).decode("ascii", "replace")) if declared else "its"
            raise BadImport(
                f"the XML declares the encoding {name}, which cannot be read ({exc})",
                'write the report in UTF-8 (<?xml version="1.0" encoding="UTF-8"?>)',
                line=1,
                column=1,
            ) from None

    def _problem(self, message: str, hint: str | None = None) -> BadImport:
        return BadImport(
            message,
            hint,
            line=self.parser.CurrentLineNumber,
            column=self.parser.CurrentColumnNumber + 1,
        )

    def _doctype(self, *_: Any) -> None:
        raise self._problem(
            "a document type declaration (<!DOCTYPE ...>) is not accepted",
            "JUnit XML needs none: remove it (entities and external DTDs are never read)",
        )

    def _entity(self, *_: Any) -> None:
        raise self._problem("an entity declaration is not accepted", "remove the <!ENTITY ...>")

    def _external(self, *_: Any) -> int:
        raise self._problem("an external entity is not accepted", "remove the reference")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._problem(
                f"elements are nested deeper than {MAX_DEPTH} levels",
                "JUnit XML nests testsuites, testcases and their failures a few levels deep",
            )
        if self._root is None:
            if tag not in ("testsuites", "testsuite"):
                raise self._problem(
                    f"the XML is not JUnit: its root is <{tag}>",
                    "a JUnit report starts with <testsuites> or <testsuite>",
                )
            self._root = tag
            self._ready.append(RootHead(self._stamp(tag, attrs), self._seconds(tag, attrs)))
        if self._case is not None:
            if self._depth == self._case.depth + 1 and tag in _KEPT:
                self._child = _Child(tag, attrs)
                self._case.children.append(self._child)
            return
        suite_level = 1 if self._root == "testsuite" else 2
        if tag == "testsuite" and self._depth == suite_level:
            self._open_suite(attrs)
        elif tag == "testcase" and self._suite is not None:
            for key in ("name", "classname", "file"):
                if len(attrs.get(key, "")) > NAME_LIMIT:
                    raise self._problem(
                        f"<testcase {key}=...> is longer than {NAME_LIMIT} characters",
                        "shorten it",
                    )
            self._case = _Case(
                attrs,
                self.parser.CurrentLineNumber,
                self.parser.CurrentColumnNumber + 1,
                self._depth,
            )
            self._seconds("testcase", attrs)
            self._line(attrs)

    def _open_suite(self, attrs: dict[str, str]) -> None:
        for key in ("name", "file"):
            if len(attrs.get(key, "")) > NAME_LIMIT:
                raise self._problem(f"<testsuite {key}=...> is longer than {NAME_LIMIT} characters")
        self._suite = SuiteHead(
            attrs.get("name") or "junit",
            attrs.get("file") or "",
            self._stamp("testsuite", attrs),
            self._seconds("testsuite", attrs),
            attrs.get("hostname") or "",
        )
        self._suite_depth = self._depth
        self._suite_start = self._suite.timestamp or self.clock
        self._at = self._suite_start
        self._statuses = []
        self._ready.append(self._suite)

    def _end(self, tag: str) -> None:
        depth = self._depth
        self._depth -= 1
        case = self._case
        if case is not None:
            if depth == case.depth + 1:
                self._child = None
            elif depth == case.depth:
                self._case = None
                if self.survey:
                    self._ready.append(COUNTED)
                    return
                tc = _testcase(case, self._suite.name if self._suite else "junit", self._at)
                self._at += tc.duration
                self._statuses.append(tc.status)
                self._ready.append(tc)
            return
        if self._suite is not None and depth == self._suite_depth:
            suite, self._suite = self._suite, None
            duration = suite.time or self._at - self._suite_start
            self._ready.append(SuiteEnd(suite, worst(self._statuses), self._suite_start, duration))
            self.clock = max(self.clock, self._suite_start + duration)

    def _text(self, data: str) -> None:
        if self._child is not None:
            self._child.add(data)

    def _seconds(self, tag: str, attrs: dict[str, str]) -> float | None:
        value = attrs.get("time")
        if value is None or not value.strip():
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS):
            raise self._problem(
                f"<{tag} time={value[:40]!r}> is not a duration",
                f"time is seconds as a decimal number from 0 to {MAX_SECONDS:.0e}, "
                'such as time="0.25"',
            )
        return seconds

    def _line(self, attrs: dict[str, str]) -> None:
        value = attrs.get("line")
        if value and not (value.strip().isdigit() and int(value) <= MAX_LINE):
            raise self._problem(
                f"<testcase line={value[:40]!r}> is not a line number",
                f'line is a whole number from 0 to {MAX_LINE}, such as line="12"',
            )

    def _stamp(self, tag: str, attrs: dict[str, str]) -> float:
        value = attrs.get("timestamp")
        if not value or not value.strip():
            return 0.0
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if stamp.tzinfo is None:  # JUnit timestamps without a zone are UTC by convention
                stamp = stamp.replace(tzinfo=UTC)
            seconds = stamp.timestamp()
        except (ValueError, OverflowError):
            seconds = math.nan
        if not 0 <= seconds <= MAX_SECONDS:
            raise self._problem(
                f"<{tag} timestamp={value[:40]!r}> is not a time",
                'timestamp is an ISO 8601 time after 1970, such as "2026-01-31T12:00:00"',
            )
        return seconds


def worst(statuses: list[Status]) -> Status:
    for status in (Status.ERROR, Status.FAILED):
        if status in statuses:
            return status
    return Status.PASSED


def _testcase(case: _Case, suite: str, started: float) -> TestcaseResult:
    attrs = case.attrs
    name = attrs.get("name") or "?"
    duration = float(attrs.get("time") or 0) if (attrs.get("time") or "").strip() else 0.0
    tc = TestcaseResult(
        attrs.get("classname") or suite,
        name,
        Path(attrs.get("file") or ""),
        int(attrs["line"]) if attrs.get("line") else 0,
        started_at=started,
        duration=duration,
    )
    output = {
        c.tag: c.value() for c in case.children if c.tag.startswith("system-") and c.value().strip()
    }
    earlier = [c for c in case.children if c.tag in _EARLIER]
    final = next((c for c in case.children if c.tag in _FAILED), None)
    skipped = next((c for c in case.children if c.tag == "skipped"), None)
    for number, child in enumerate(earlier, 1):
        status = _EARLIER[child.tag]
        tc.attempts.append(_attempt(number, status, child, name, started=started, output=output))
    number = len(earlier) + 1
    if skipped is not None and final is None:
        tc.status = Status.SKIPPED
        text = skipped.value().strip()
        tc.skip_reason = skipped.attrs.get("message") or text or "skipped"
    elif final is not None:
        tc.status = _FAILED[final.tag]
        tc.attempts.append(_attempt(number, tc.status, final, name, started=started, output=output))
    else:
        tc.status = Status.FLAKY if earlier else Status.PASSED
        tc.attempts.append(AttemptResult(number, Status.PASSED, started, tc.duration))
    return tc


def _attempt(
    number: int,
    status: Status,
    child: _Child,
    name: str,
    *,
    started: float,
    output: dict[str, str],
) -> AttemptResult:
    text = child.value().strip()
    message = child.attrs.get("message") or text.split("\n", 1)[0] or status.value
    # a JUnit `error` could not run, a `failure` did not hold; the producer's `type` (an
    # exception class, say) is no kind of splice's: the message and the text say the rest
    kind = FailureKind.ERROR if child.tag == "error" else FailureKind.ASSERT
    failure = Failure(kind, message, actual=text or None)
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
