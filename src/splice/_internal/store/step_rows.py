"""Step results as tuples in the column order of the `steps` table, and the per-day
statistics of integration points they add up to. Plain Python: both ways of writing the
store (`store.bulk` with SQLAlchemy, `store.lite` with sqlite3) use them."""

from __future__ import annotations

import time
from typing import Any

from splice._internal.store.errors import IngestError
from splice._internal.store.rows import dumps, integration_point

COLUMNS = (
    "run_id",
    "result_id",
    "attempt",
    "suite",
    "idx",
    "name",
    "executor",
    "phase",
    "status",
    "started_at",
    "duration",
    "polls",
    "location",
    "service",
    "target",
    "request",
    "response",
    "captures",
    "failures",
    "skip_reason",
)
_FAILING = ("failed", "error")


Stats = dict[tuple[int, str, str, str], list[Any]]  # key -> [calls, failures, duration]


def step_rows(
    run_id: str,
    result_id: int | None,
    attempt: int,
    suite: str,
    steps: list[Any],
    *,
    addresses: dict[str, str],
    stats: Stats | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of `steps` (dicts shaped like `StepResult`) for one attempt or one suite; with
    `stats`, their calls, failures and time are added to it in the same pass (see
    `stat_rows`)."""
    # the hot loop of ingest (one pass per step): names bound locally, no call per column
    # that a plain value does not need
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    point = integration_point
    encode = dumps
    today = time.time()
    for step in steps:
        if not isinstance(step, dict):
            raise IngestError("a step must be an object")
        get = step.get
        executor = get("executor", "")
        if type(executor) is not str or len(executor) > 64:
            executor = str(executor)[:64]
        request = get("request")
        service, target = point(executor, request if isinstance(request, dict) else None, addresses)
        if len(service) > 200:
            service = service[:200]
        location = get("location")
        if location is None or isinstance(location, str):
            where: str | None = location
        elif isinstance(location, dict) and location.get("path"):
            where = f"{location['path']}:{location.get('line', 0)}:{location.get('column', 0)}"
        else:
            where = None
        name, phase, status, skip = (
            get("name", ""),
            get("phase", "test"),
            get("status", ""),
            get("skip_reason"),
        )
        if type(status) is not str or len(status) > 16:
            status = str(status)[:16]
        started = float(get("started_at") or 0.0)
        duration = float(get("duration") or 0.0)
        # empty captures and failures (nearly every step) need no call
        captures, failures = get("captures"), get("failures")
        append(
            (
                run_id,
                result_id,
                attempt,
                suite,
                int(get("index") or 0),
                name if type(name) is str else str(name),
                executor,
                phase if type(phase) is str and len(phase) <= 16 else str(phase)[:16],
                status,
                started,
                duration,
                int(get("polls") or 1),
                where,
                service,
                target,
                encode(request),
                encode(get("response")),
                None if captures is None or captures == {} else encode(captures),
                None if failures is None or failures == [] else encode(failures),
                None if skip is None else str(skip),
            )
        )
        if stats is not None and status != "skipped" and executor not in ("", "vars"):
            key = (int((started or today) // 86400), executor, service, target)
            entry = stats.get(key)
            if entry is None:
                stats[key] = [1, status in _FAILING, duration]
            else:
                entry[0] += 1
                entry[1] += status in _FAILING
                entry[2] += duration
    return rows


def stat_rows(stats: Stats) -> list[tuple[int, str, str, str, int, int, float]]:
    """(day, executor, service, target, calls, failures, duration) of `stats`, sorted."""
    return [(d, e, s, g, int(c), int(f), du) for (d, e, s, g), (c, f, du) in sorted(stats.items())]
