"""The hot path of ingest: step rows as tuples, written with the driver's bulk statement.

A run writes ten or a hundred times more steps than anything else, so steps skip the
SQL expression layer: rows are tuples in `COLUMNS` order, sent with `executemany` on
SQLite and with `COPY` on PostgreSQL, inside the caller's transaction.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from splice.store import schema as t
from splice.store.dialect import upsert_add
from splice.store.rows import dumps, integration_point

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
    rows = []
    for step in steps:
        if not isinstance(step, dict):
            raise BadStep("a step must be an object")
        get = step.get
        executor = str(get("executor", ""))[:64]
        request = get("request")
        service, target = integration_point(
            executor, request if isinstance(request, dict) else None, addresses
        )
        location = get("location")
        if isinstance(location, dict) and location.get("path"):
            where: str | None = (
                f"{location['path']}:{location.get('line', 0)}:{location.get('column', 0)}"
            )
        else:
            where = location if isinstance(location, str) else None
        skip = get("skip_reason")
        rows.append(
            (
                run_id,
                result_id,
                attempt,
                suite,
                int(get("index") or 0),
                str(get("name", "")),
                executor,
                str(get("phase", "test"))[:16],
                str(get("status", ""))[:16],
                float(get("started_at") or 0.0),
                float(get("duration") or 0.0),
                int(get("polls") or 1),
                where,
                service[:200],
                target,
                dumps(request),
                dumps(get("response")),
                dumps(get("captures")),
                dumps(get("failures")),
                None if skip is None else str(skip),
            )
        )
    return rows


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert tuples with the driver itself: `executemany` on SQLite, `COPY` on PostgreSQL."""
    if not rows:
        return
    driver: Any = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor = driver.cursor()
    try:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def update_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """`UPDATE table SET columns... WHERE id = ?` for tuples of the columns' values, then id."""
    if not rows:
        return
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = {mark}", rows)
    finally:
        cursor.close()


def write_steps(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` and add them to the per-day statistics of integration points."""
    if not rows:
        return
    insert_rows(conn, "steps", COLUMNS, rows)
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
    upsert_add(
        conn,
        t.target_stats,
        [
            {
                "day": d,
                "executor": e,
                "service": s,
                "target": g,
                "calls": int(c),
                "failures": int(f),
                "duration": du,
            }
            for (d, e, s, g), (c, f, du) in sorted(stats.items())
        ],
        ["day", "executor", "service", "target"],
        ["calls", "failures", "duration"],
    )
