"""Expected durations of testcases, from their recent history: what the shard planner
balances on."""

from __future__ import annotations

import statistics

from sqlalchemy import select

from splice._internal.store import schema as t
from splice._internal.store.core import Store

RECENT = 10  # results per testcase the median is taken over


def median_durations(store: Store, keys: list[str], recent: int = RECENT) -> dict[str, float]:
    """`suite::testcase` → the median duration (seconds) of its last `recent` finished
    results; testcases without history are left out."""
    wanted = set(keys)
    found: dict[str, list[float]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.tests.c.key, t.results.c.duration)
            .join(t.results, t.results.c.test_id == t.tests.c.id)
            .where(t.results.c.status.in_(("passed", "failed", "flaky")))
            .order_by(t.results.c.started_at.desc())
        )
        for key, duration in rows:
            if key in wanted and len(found.setdefault(key, [])) < recent:
                found[key].append(float(duration))
    return {key: statistics.median(values) for key, values in found.items() if values}
