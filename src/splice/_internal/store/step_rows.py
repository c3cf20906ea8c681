"""Step results as tuples in the column order of the `steps` table, and the per-day
statistics of integration points they add up to. Plain Python: both ways of writing the
store (`store.bulk` with SQLAlchemy, `store.lite` with sqlite3) use them."""

from __future__ import annotations

import time
from typing import Any

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
_EXECUTOR, _STATUS, _STARTED, _DURATION, _SERVICE, _TARGET = 6, 8, 9, 10, 13, 14


class BadStep(ValueError):
    """A step that is not an object."""


def step_rows(
    run_id: str,
    result_id: int | None,
    attempt: int,
    suite: str,
    steps: list[Any],
    *,
    addresses: dict[str, str],
) -> list[tuple[Any, ...]]:
    """Rows of `steps` (dicts shaped like `StepResult`) for one attempt or one suite."""
    # the hot loop of ingest (one pass per step): names bound locally, no call per column
    # that a plain value does not need
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    point = integration_point
    encode = dumps
    for step in steps:
        if not isinstance(step, dict):
            raise BadStep("a step must be an object")
        get = step.get
        executor = get("executor", "")
        if type(executor) is not str or len(executor) > 64:
            executor = str(executor)[:64]
        request = get("request")
        service, target = point(executor, request if isinstance(request, dict) else None, addresses)
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
                status if type(status) is str and len(status) <= 16 else str(status)[:16],
                float(get("started_at") or 0.0),
                float(get("duration") or 0.0),
                int(get("polls") or 1),
                where,
                service if len(service) <= 200 else service[:200],
                target,
                encode(request),
                encode(get("response")),
                encode(get("captures")),
                encode(get("failures")),
                None if skip is None else str(skip),
            )
        )
    return rows


def target_stats(rows: list[tuple[Any, ...]]) -> list[tuple[int, str, str, str, int, int, float]]:
    """(day, executor, service, target, calls, failures, duration) of step `rows`, sorted."""
    stats: dict[tuple[int, str, str, str], list[float]] = {}
    today = time.time()
    for row in rows:
        executor = row[_EXECUTOR]
        if row[_STATUS] == "skipped" or executor in ("", "vars"):
            continue
        key = (int((row[_STARTED] or today) // 86400), executor, row[_SERVICE], row[_TARGET])
        entry = stats.get(key)
        if entry is None:
            entry = stats[key] = [0, 0, 0.0]
        entry[0] += 1
        entry[1] += row[_STATUS] in ("failed", "error")
        entry[2] += row[_DURATION]
    return [(d, e, s, g, int(c), int(f), du) for (d, e, s, g), (c, f, du) in sorted(stats.items())]
