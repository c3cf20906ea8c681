"""Retention: drop runs older than an age or beyond a count, and give the space back.

Deleting rows leaves free pages inside a SQLite file. The store creates its file with
`auto_vacuum=INCREMENTAL`, so `PRAGMA incremental_vacuum` moves them to the end and cuts
the file short without rewriting it (a file made otherwise gets a full `VACUUM`); the WAL
is truncated too, so the file on disk shrinks. On PostgreSQL, `VACUUM` makes
the space reusable by new rows (returning it to the operating system needs `VACUUM FULL`,
which locks the tables: run it in a maintenance window if the disk must shrink).
Running runs are never deleted; tests left without results are, unless quarantined. A
deleted run's trigger row (`triggers`: the same id) goes with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, exists, select, text

from splice._internal.store import schema as t
from splice._internal.store.core import Store

_BATCH = 200  # runs per deleting transaction, so a big prune never holds a long lock


@dataclass
class PruneReport:
    """What `prune` did."""

    runs: int
    bytes_before: int | None
    bytes_after: int | None

    @property
    def freed(self) -> int | None:
        if self.bytes_before is None or self.bytes_after is None:
            return None
        return max(0, self.bytes_before - self.bytes_after)


def prune(
    store: Store,
    max_age_days: float | None = None,
    max_runs: int | None = None,
    *,
    vacuum: bool = True,
    now: float | None = None,
) -> PruneReport:
    """Delete finished runs older than `max_age_days` and beyond the newest `max_runs`."""
    now = time.time() if now is None else now
    before = size_on_disk(store)
    doomed: set[str] = set()
    with store.engine.connect() as conn:
        finished = t.runs.c.status != "running"
        if max_age_days is not None:
            cutoff = now - max_age_days * 86400
            doomed.update(
                conn.execute(
                    select(t.runs.c.id).where(finished, t.runs.c.started_at < cutoff)
                ).scalars()
            )
        if max_runs is not None:
            doomed.update(
                conn.execute(
                    select(t.runs.c.id)
                    .where(finished)
                    .order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
                    .offset(max(0, max_runs))
                ).scalars()
            )
    ordered = sorted(doomed)
    for start in range(0, len(ordered), _BATCH):
        with store.engine.begin() as conn:
            _delete_runs(conn, ordered[start : start + _BATCH])
    with store.engine.begin() as conn:
        conn.execute(
            delete(t.tests).where(
                ~exists().where(t.results.c.test_id == t.tests.c.id),
                ~exists().where(t.quarantine.c.test_key == t.tests.c.key),
            )
        )
        if max_age_days is not None:
            day = int((now - max_age_days * 86400) // 86400)
            conn.execute(delete(t.target_stats).where(t.target_stats.c.day < day))
            conn.execute(
                delete(t.deliveries).where(
                    t.deliveries.c.status.in_(("delivered", "failed")),
                    t.deliveries.c.created_at < now - max_age_days * 86400,
                )
            )
            # triggers that never got a run (cancelled, or could not start); open ones stay
            conn.execute(
                delete(t.triggers).where(
                    t.triggers.c.state.not_in(("queued", "running")),
                    t.triggers.c.queued_at < now - max_age_days * 86400,
                )
            )
    if vacuum and ordered:
        compact(store)
    return PruneReport(len(ordered), before, size_on_disk(store))


def _delete_runs(conn: Connection, run_ids: list[str]) -> None:
    results = select(t.results.c.id).where(t.results.c.run_id.in_(run_ids))
    # by result (indexed), then the suites' own steps: the short null range of that index
    conn.execute(delete(t.steps).where(t.steps.c.result_id.in_(results)))
    conn.execute(
        delete(t.steps).where(t.steps.c.result_id.is_(None), t.steps.c.run_id.in_(run_ids))
    )
    conn.execute(delete(t.attempts).where(t.attempts.c.result_id.in_(results)))
    conn.execute(delete(t.artifacts).where(t.artifacts.c.run_id.in_(run_ids)))
    conn.execute(delete(t.run_tags).where(t.run_tags.c.run_id.in_(run_ids)))
    conn.execute(delete(t.results).where(t.results.c.run_id.in_(run_ids)))
    conn.execute(delete(t.runs).where(t.runs.c.id.in_(run_ids)))
    conn.execute(
        delete(t.triggers).where(t.triggers.c.id.in_(run_ids))
    )  # a trigger's id is its run's


def compact(store: Store) -> None:
    """Give free space back: VACUUM (and truncate the WAL) on SQLite, VACUUM on PostgreSQL."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if store.dialect == "sqlite":
            incremental = conn.execute(text("PRAGMA auto_vacuum")).scalar() == 2
            done = conn.execute(text("PRAGMA incremental_vacuum" if incremental else "VACUUM"))
            if done.returns_rows:  # the pragma frees pages row by row while it is stepped
                done.fetchall()
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:
            conn.execute(text("VACUUM (ANALYZE)"))


def size_on_disk(store: Store) -> int | None:
    """Bytes the store takes: the SQLite file with its WAL, or the PostgreSQL database."""
    if store.dialect == "sqlite":
        database = store.engine.url.database or ""
        if not database or database == ":memory:":
            return None
        return sum(
            Path(database + suffix).stat().st_size
            for suffix in ("", "-wal")
            if Path(database + suffix).exists()
        )
    with store.engine.connect() as conn:
        value = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    return int(value) if value is not None else None
