"""Reading aggregates: pass rate and duration per day, the dashboard's headline numbers,
and the integration points (services, executors, endpoints) that fail most."""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from splice._internal.store import schema as t
from splice._internal.store.core import Store


def trends(
    store: Store, days: int = 30, branch: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """Per UTC day of the last `days`: runs, testcase pass rate, median run duration."""
    now = time.time() if now is None else now
    first_day = int(now // 86400) - days + 1
    query = select(
        t.runs.c.started_at,
        t.runs.c.status,
        t.runs.c.duration,
        t.runs.c.done,
        t.runs.c.passed,
        t.runs.c.flaky,
        t.runs.c.skipped,
    ).where(t.runs.c.started_at >= first_day * 86400, t.runs.c.status != "running")
    if branch:
        query = query.where(t.runs.c.branch == branch)
    buckets: dict[int, list[Any]] = {first_day + i: [] for i in range(days)}
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            if not math.isfinite(row.started_at):  # a row no writer of splice makes
                continue
            day = int(row.started_at // 86400)
            if day in buckets:
                buckets[day].append(row)
    out = []
    for day, rows in buckets.items():
        tested = sum(r.done - r.skipped for r in rows)
        passed = sum(r.passed + r.flaky for r in rows)
        durations = [
            r.duration for r in rows if r.duration is not None and math.isfinite(r.duration)
        ]
        out.append(
            {
                "day": datetime.fromtimestamp(day * 86400, UTC).date().isoformat(),
                "runs": len(rows),
                "failed_runs": sum(r.status in ("failed", "error", "killed") for r in rows),
                "testcases": tested,
                "pass_rate": round(passed / tested, 4) if tested else None,
                "median_duration": round(statistics.median(durations), 3) if durations else None,
                "max_duration": round(max(durations), 3) if durations else None,
            }
        )
    return {"days": out, "branch": branch}


def summary(store: Store, days: int = 30, now: float | None = None) -> dict[str, Any]:
    """The dashboard's headline numbers over the last `days`."""
    now = time.time() if now is None else now
    since = now - days * 86400
    with store.engine.connect() as conn:
        row = conn.execute(
            select(
                func.count().label("runs"),
                func.coalesce(func.sum(t.runs.c.done - t.runs.c.skipped), 0).label("tested"),
                func.coalesce(func.sum(t.runs.c.passed + t.runs.c.flaky), 0).label("passed"),
                func.coalesce(func.sum(t.runs.c.failed + t.runs.c.errors), 0).label("failing"),
            ).where(t.runs.c.started_at >= since, t.runs.c.status != "running")
        ).one()
        failed_runs = conn.execute(
            select(func.count()).where(
                t.runs.c.started_at >= since, t.runs.c.status.in_(("failed", "error", "killed"))
            )
        ).scalar_one()
        running = conn.execute(
            select(func.count()).where(t.runs.c.status == "running")
        ).scalar_one()
        durations = list(
            conn.execute(
                select(t.runs.c.duration)
                .where(t.runs.c.started_at >= since, t.runs.c.duration.is_not(None))
                .order_by(t.runs.c.started_at.desc())
                .limit(500)
            ).scalars()
        )
    return {
        "days": days,
        "runs": int(row.runs),
        "failed_runs": int(failed_runs),
        "running": int(running),
        "testcases": int(row.tested),
        "pass_rate": round(int(row.passed) / int(row.tested), 4) if row.tested else None,
        "median_duration": round(statistics.median(durations), 3) if durations else None,
    }


def integration_points(
    store: Store, days: int = 30, limit: int = 20, now: float | None = None
) -> dict[str, Any]:
    """Calls and failures of the last `days` by service, by executor and by endpoint."""
    now = time.time() if now is None else now
    first_day = int(now // 86400) - days + 1
    s = t.target_stats
    recent = s.c.day >= first_day

    def grouped(*columns: Any, top: int) -> list[dict[str, Any]]:
        failures = func.sum(s.c.failures)
        query = (
            select(
                *columns,
                func.sum(s.c.calls).label("calls"),
                failures.label("failures"),
                func.sum(s.c.duration).label("duration"),
            )
            .where(recent)
            .group_by(*columns)
            .order_by(failures.desc(), func.sum(s.c.calls).desc())
            .limit(top)
        )
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                **{c.name: getattr(r, c.name) for c in columns},
                "calls": int(r.calls),
                "failures": int(r.failures),
                "failure_rate": round(int(r.failures) / int(r.calls), 4) if r.calls else 0.0,
                "avg_duration": round(float(r.duration) / int(r.calls), 4) if r.calls else 0.0,
            }
            for r in rows
        ]

    return {
        "days": days,
        "services": grouped(s.c.service, top=limit),
        "executors": grouped(s.c.executor, top=limit),
        "endpoints": grouped(s.c.executor, s.c.service, s.c.target, top=limit),
    }
