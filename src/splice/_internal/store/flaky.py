"""Flaky tests: confirmed when one commit saw both outcomes, otherwise ranked by a score.

The scoring itself, which needs no database, is in `splice._internal.store.flaky_score`; this module
reads and writes the rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update

from splice._internal.store import schema as t
from splice._internal.store.bulk import update_rows
from splice._internal.store.flaky_score import (
    REFRESH_TESTS,
    THRESHOLD,
    WINDOW,
    Observation,
    Verdict,
    latest,
    score,
    verdicts,
)

_CHUNK = 500

__all__ = ["THRESHOLD", "WINDOW", "Observation", "Verdict", "histories", "refresh", "score"]


def histories(conn: Connection, test_ids: list[int]) -> dict[int, list[Observation]]:
    """The last `WINDOW` results of each test (every status), newest first.

    One indexed query per test (test_id, started_at): its cost does not grow with the
    length of a test's history, unlike a window function over all of it.
    """
    query = (
        select(
            t.results.c.status,
            t.results.c.started_at,
            t.results.c.duration,
            t.runs.c.commit_sha,
            t.results.c.run_id,
            t.runs.c.outage,
        )
        .join(t.runs, t.runs.c.id == t.results.c.run_id)
        .where(t.results.c.test_id == bindparam("test_id"), t.results.c.status != "running")
        .order_by(t.results.c.started_at.desc())
        .limit(WINDOW)
    )
    out: dict[int, list[Observation]] = {}
    if conn.dialect.name == "postgresql" and test_ids:
        return _histories_lateral(conn, test_ids)
    for test_id in test_ids:
        out[test_id] = [
            Observation(
                row.status,
                row.started_at,
                row.duration,
                row.commit_sha,
                row.run_id,
                bool(row.outage),
            )
            for row in conn.execute(query, {"test_id": test_id})
        ]
    return out


_LATERAL = text(
    "SELECT q.test_id, h.status, h.started_at, h.duration, h.commit_sha, h.run_id, h.outage"
    " FROM unnest(CAST(:ids AS integer[])) WITH ORDINALITY AS q(test_id, n)"
    " CROSS JOIN LATERAL (SELECT r.status, r.started_at, r.duration, u.commit_sha, r.run_id,"
    " u.outage FROM results r JOIN runs u ON u.id = r.run_id"
    " WHERE r.test_id = q.test_id AND r.status != 'running'"
    " ORDER BY r.started_at DESC LIMIT :window) AS h"
    " ORDER BY q.n, h.started_at DESC"
)


def _histories_lateral(conn: Connection, test_ids: list[int]) -> dict[int, list[Observation]]:
    """`histories` in one statement per chunk on PostgreSQL: the same indexed scan per test,
    run by the server (a round trip per test cost more than the scan)."""
    out: dict[int, list[Observation]] = {test_id: [] for test_id in test_ids}
    for start in range(0, len(test_ids), _CHUNK):
        chunk = test_ids[start : start + _CHUNK]
        for test_id, *fields in conn.execute(_LATERAL, {"ids": chunk, "window": WINDOW}):
            status, started, duration, commit, run, outage = fields
            out[test_id].append(Observation(status, started, duration, commit, run, bool(outage)))
    return out


def refresh(conn: Connection, run_ids: list[str], now: float) -> list[dict[str, Any]]:
    """Update the statistics of the tests of `run_ids`; return those that just became flaky.

    Every test gets its latest result and typical duration (an exponential moving average of
    its passing durations). Only tests with a failure in their window, or failing now, are
    rescored from their history: a test that keeps passing keeps its score of 0, and a
    run of a thousand passing tests costs one statement, not a thousand histories.

    Tests are taken `REFRESH_TESTS` at a time (by ranges of ids), so a run of half a
    million testcases is refreshed in the memory of a few thousand.
    """
    ids = sorted(
        conn.execute(
            select(t.results.c.test_id)
            .where(t.results.c.run_id.in_(run_ids), t.results.c.status != "running")
            .distinct()
        ).scalars()
    )
    newly: list[dict[str, Any]] = []
    for start in range(0, len(ids), REFRESH_TESTS):
        chunk = ids[start : start + REFRESH_TESTS]
        newly += _refresh_range(conn, run_ids, chunk[0], chunk[-1], now)
    return newly


def _refresh_range(
    conn: Connection, run_ids: list[str], low: int, high: int, now: float
) -> list[dict[str, Any]]:
    """`refresh` of the tests with ids from `low` to `high`."""
    latest_rows = conn.execute(
        select(
            t.results.c.test_id,
            t.results.c.status,
            t.results.c.started_at,
            t.results.c.duration,
            t.runs.c.outage,
            t.tests.c.avg_duration,
            t.tests.c.window_runs,
            t.tests.c.window_failures,
            t.tests.c.flips,
            t.tests.c.flaky_confirmed,
            t.tests.c.flaky_score,
            t.tests.c.last_seen,
        )
        .join(t.runs, t.runs.c.id == t.results.c.run_id)
        .join(t.tests, t.tests.c.id == t.results.c.test_id)
        .where(
            t.results.c.run_id.in_(run_ids),
            t.results.c.status != "running",
            t.results.c.test_id.between(low, high),
        )
        .order_by(t.results.c.started_at)
    ).all()
    changed, suspects = latest(latest_rows)
    update_rows(
        conn,
        "tests",
        ("avg_duration", "window_runs", "last_seen", "last_status", "last_duration"),
        changed,
    )
    return rescore(conn, sorted(suspects), now)


def rescore(conn: Connection, test_ids: list[int], now: float) -> list[dict[str, Any]]:
    """Score `test_ids` from their history; return the tests that just became flaky."""
    if not test_ids:
        return []
    before = {
        row.id: row
        for start in range(0, len(test_ids), _CHUNK)
        for row in conn.execute(
            select(
                t.tests.c.id,
                t.tests.c.key,
                t.tests.c.flaky_score,
                t.tests.c.flaky_confirmed,
                t.tests.c.flaky_since,
            ).where(t.tests.c.id.in_(test_ids[start : start + _CHUNK]))
        )
    }
    rows, newly = verdicts(before, histories(conn, test_ids), now)
    columns = [k[2:] for k in rows[0] if k != "b_id"] if rows else []
    if rows:
        conn.execute(
            update(t.tests)
            .where(t.tests.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns}),
            rows,
        )
    return newly
