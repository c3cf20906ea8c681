"""Runs from files: JUnit XML from any tool, and splice's own JSON report (`--json`).

Both become the events a live recording would have produced (`splice._internal.store.stream`), so an
imported run is stored, scored for flakiness and shown exactly like a recorded one. A JUnit
testcase is identified as `classname::name` (`suite::testcase` for splice's own JUnit, so
imported and recorded runs of one suite share their history).

Files are read as streams, twice: a first pass checks the whole file and learns what the
run's first event needs (its start, its number of testcases); the second turns testcases
into events one at a time, which `Ingest` writes in batches inside one transaction. Memory
stays that of a batch, whatever the size of the file, and a file refused half-way stores
nothing. `splice import` and the server's uploads both come here (`store_file`,
`store_stream`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

from splice._internal.model.results import (
    RunResult,
    Status,
    SuiteResult,
    TestcaseResult,
    new_run_id,
)
from splice._internal.store import stream
from splice._internal.store.core import Store
from splice._internal.store.errors import BadImport
from splice._internal.store.ingest import Ingest
from splice._internal.store.junit_import import (
    Counted,
    JunitReader,
    RootHead,
    SuiteEnd,
    SuiteHead,
    worst,
)
from splice._internal.store.meta import RunMeta
from splice._internal.store.report_import import report_events


class Format(Enum):
    JUNIT = "junit"
    REPORT = "report"  # splice's JSON report


@dataclass
class Imported:
    """What one import stored."""

    run_id: str
    status: str
    testcases: int


def store_file(store: Store, path: Path, meta: RunMeta) -> Imported:
    """Store the run in `path`: a splice JSON report when it is JSON, else JUnit XML."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BadImport(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    with handle:
        start = handle.read(4096).lstrip()
        handle.seek(0)
        json_like = start[:1] in (b"{", b"[") or path.suffix.lower() == ".json"
        kind = Format.REPORT if json_like else Format.JUNIT
        return store_stream(store, handle, meta, kind, str(path))


def store_stream(
    store: Store, handle: IO[bytes], meta: RunMeta, kind: Format, origin: str
) -> Imported:
    """Store the run read from `handle` (binary, seekable); `origin` names it in errors."""
    total, events = (
        report_events(handle, meta) if kind is Format.REPORT else junit_events(handle, meta, origin)
    )
    seen: dict[str, Any] = {}

    def watched() -> Iterator[dict[str, Any]]:
        for event in events:
            if event["event"] in ("run_started", "run_finished"):
                seen[event["event"]] = event
            yield event

    Ingest(store).apply(watched())
    return Imported(
        seen["run_started"]["run_id"], str(seen["run_finished"]["run"]["status"]), total
    )


def junit_events(
    handle: IO[bytes], meta: RunMeta, origin: str
) -> tuple[int, Iterator[dict[str, Any]]]:
    """(testcases, events) of the JUnit XML in `handle`; the whole file is checked first."""
    run = _survey(handle, origin)
    handle.seek(0)
    return run.total, _junit_events(handle, meta, origin, run)


@dataclass
class _Survey:
    started_at: float = 0.0
    host: str = ""
    total: int = 0


def _survey(handle: IO[bytes], origin: str) -> _Survey:
    """The run's start and host, and its number of testcases (a first pass)."""
    out = _Survey()
    root: RootHead | None = None
    stamps: list[float] = []
    hostname = ""
    for item in JunitReader(origin, survey=True).items(handle):
        if isinstance(item, Counted):
            out.total += 1
            out.host = out.host or hostname
        elif isinstance(item, SuiteHead):
            hostname = item.hostname
            if item.timestamp:
                stamps.append(item.timestamp)
        elif isinstance(item, RootHead):
            root = item
    out.started_at = (root.timestamp if root else 0.0) or min(stamps, default=0.0)
    return out


def _junit_events(
    handle: IO[bytes], meta: RunMeta, origin: str, survey: _Survey
) -> Iterator[dict[str, Any]]:
    run = RunResult(id=new_run_id())
    run.started_at, run.host = survey.started_at, survey.host
    yield stream.run_started(run, survey.total, meta)
    reader = JunitReader(origin, run.started_at)
    root: RootHead | None = None
    statuses: list[Status] = []
    for item in reader.items(handle):
        if isinstance(item, TestcaseResult):
            yield stream.testcase_finished(run.id, item, False)
        elif isinstance(item, SuiteEnd):
            statuses.append(item.status)
            yield stream.suite_finished(run.id, _suite(item))
        elif isinstance(item, RootHead):
            root = item
    run.duration = (root.time if root else None) or max(0.0, reader.clock - run.started_at)
    run.status = worst(statuses)
    yield stream.run_finished(run)


def _suite(end: SuiteEnd) -> SuiteResult:
    suite = SuiteResult(end.head.name, Path(end.head.path))
    suite.status, suite.started_at, suite.duration = end.status, end.started_at, end.duration
    return suite


def junit_run(data: bytes, origin: str = "the JUnit XML") -> RunResult:
    """A whole `RunResult` from JUnit XML in memory (`<testsuites>` or one `<testsuite>`).

    For small documents and tests; files and uploads go through `store_stream`.
    """
    survey = _survey(io.BytesIO(data), origin)
    run = RunResult(id=new_run_id())
    run.started_at, run.host = survey.started_at, survey.host
    reader = JunitReader(origin, run.started_at)
    root: RootHead | None = None
    current: SuiteResult | None = None
    for item in reader.items(io.BytesIO(data)):
        if isinstance(item, SuiteHead):
            current = SuiteResult(item.name, Path(item.path))
            run.suites.append(current)
        elif isinstance(item, TestcaseResult) and current is not None:
            current.testcases.append(item)
        elif isinstance(item, SuiteEnd) and current is not None:
            current.status, current.started_at = item.status, item.started_at
            current.duration = item.duration
        elif isinstance(item, RootHead):
            root = item
    run.duration = (root.time if root else None) or max(0.0, reader.clock - run.started_at)
    run.status = worst([s.status for s in run.suites])
    return run
