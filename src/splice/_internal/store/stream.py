"""A run as a stream of plain events: what the recorder writes and `--report-to` sends.

Every event is a JSON-ready dict with `event` and `run_id`. The same events feed the local
store (`Ingest.apply`) and a remote `splice serve` (`POST /api/runs/{id}/events`), so a run
streamed to a server is stored exactly as one recorded locally.

    run_started       {"run": {id, started_at, total, command, host, cwd, services, ...meta}}
    testcase_started  {"test": {suite, name, path, line, tags, started_at}}
    testcase_finished {"testcase": <TestcaseResult as JSON>, "quarantined": bool}
    suite_finished    {"suite": {name, path, status, started_at, duration, setup, teardown}}
    artifacts         {"items": [{kind, name, content, size}]}
    heartbeat         {}
    run_finished      {"run": {status, duration, finished_at, services}}
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from splice._internal.model.results import RunResult, Status, SuiteResult, TestcaseResult, _plain
from splice._internal.store.meta import RunMeta

ARTIFACT_LIMIT = 256 * 1024  # characters of a service log kept: its end, where errors are


def run_started(run: RunResult, total: int, meta: RunMeta) -> dict[str, Any]:
    body = {
        **meta.as_dict(),
        "id": run.id,
        "started_at": run.started_at or time.time(),
        "total": total,
        "command": list(run.command),
        "host": run.host,
        "cwd": run.cwd,
        "services": _plain(run.services),
    }
    return {"event": "run_started", "run_id": run.id, "run": body}


def testcase_started(run_id: str, tc: TestcaseResult) -> dict[str, Any]:
    test = {
        "suite": tc.suite,
        "name": tc.name,
        "path": str(tc.path),
        "line": tc.line,
        "tags": list(tc.tags),
        "started_at": tc.started_at or time.time(),
    }
    return {"event": "testcase_started", "run_id": run_id, "test": test}


def testcase_finished(run_id: str, tc: TestcaseResult, quarantined: bool) -> dict[str, Any]:
    return {
        "event": "testcase_finished",
        "run_id": run_id,
        "testcase": _plain(tc),
        "quarantined": quarantined,
    }


def suite_finished(run_id: str, suite: SuiteResult) -> dict[str, Any]:
    body = {
        "name": suite.name,
        "path": str(suite.path),
        "status": suite.status.value,
        "started_at": suite.started_at,
        "duration": suite.duration,
        "setup": _plain(suite.setup),
        "teardown": _plain(suite.teardown),
    }
    return {"event": "suite_finished", "run_id": run_id, "suite": body}


def run_finished(run: RunResult, status: str | None = None) -> dict[str, Any]:
    body = {
        "status": status or _run_status(run),
        "duration": run.duration,
        "finished_at": time.time(),
        "services": _plain(run.services),
        "openapi": _plain(run.openapi),
    }
    return {"event": "run_finished", "run_id": run.id, "run": body}


def artifacts(run_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"event": "artifacts", "run_id": run_id, "items": items}


def heartbeat(run_id: str) -> dict[str, Any]:
    return {"event": "heartbeat", "run_id": run_id}


def log_artifacts(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The end of each service's log file (`log` of the run's services) as artifacts."""
    out = []
    for entry in services:
        log = entry.get("log")
        if not log:
            continue
        path = Path(str(log))
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                handle.seek(max(0, size - ARTIFACT_LIMIT))
                content = handle.read().decode("utf-8", "replace")
        except OSError:  # removed meanwhile: nothing to keep
            continue
        out.append(
            {
                "kind": "service-log",
                "name": str(entry.get("name", path.stem)),
                "content": content,
                "size": size,
            }
        )
    return out


def events_of(
    run: RunResult, meta: RunMeta, quarantined: set[str] | None = None
) -> list[dict[str, Any]]:
    """A finished run as the events a live recording of it would have produced."""
    quarantined = quarantined or set()
    events = [run_started(run, len(run.testcases()), meta)]
    for suite in run.suites:
        for tc in suite.testcases:
            events.append(testcase_finished(run.id, tc, tc.id in quarantined and not tc.status.ok))
        events.append(suite_finished(run.id, suite))
    logs = log_artifacts(run.services)
    if logs:
        events.append(artifacts(run.id, logs))
    events.append(run_finished(run))
    return events


def _run_status(run: RunResult) -> str:
    if run.interrupted:
        return "interrupted"
    return run.status.value if run.status != Status.FLAKY else "passed"
