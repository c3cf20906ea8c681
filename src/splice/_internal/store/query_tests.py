"""Reading tests: one test's history, the slowest tests, the flaky ranking with evidence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, or_, select

from splice._internal.store import flaky
from splice._internal.store import schema as t
from splice._internal.store.core import Store


def test_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "suite": row.suite,
        "name": row.name,
        "path": row.path,
        "line": row.line,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "last_status": row.last_status,
        "last_duration": row.last_duration,
        "avg_duration": row.avg_duration,
        "flaky": {
            "score": row.flaky_score,
            "confirmed": bool(row.flaky_confirmed),
            "commit": row.flaky_commit,
            "since": row.flaky_since,
            "failure_estimate": row.failure_estimate,
            "flip_rate": row.flip_rate,
            "flips": row.flips,
            "runs": row.window_runs,
            "failures": row.window_failures,
            "flaky": bool(row.flaky_confirmed) or row.flaky_score >= flaky.THRESHOLD,
        },
    }


def get_test(store: Store, test_id: int, limit: int = 100) -> dict[str, Any] | None:
    """A test with its latest `limit` results (newest first) and whether it is quarantined."""
    with store.engine.connect() as conn:
        row = conn.execute(select(t.tests).where(t.tests.c.id == test_id)).first()
        if row is None:
            return None
        history = conn.execute(
            select(
                t.results.c.id,
                t.results.c.run_id,
                t.results.c.status,
                t.results.c.started_at,
                t.results.c.duration,
                t.results.c.attempts,
                t.results.c.message,
                t.results.c.quarantined,
                t.runs.c.branch,
                t.runs.c.commit_sha,
                t.runs.c.outage,
            )
            .join(t.runs, t.runs.c.id == t.results.c.run_id)
            .where(t.results.c.test_id == test_id)
            .order_by(t.results.c.started_at.desc())
            .limit(limit)
        ).all()
        quarantined = conn.execute(
            select(t.quarantine).where(t.quarantine.c.test_key == row.key)
        ).first()
    out = test_dict(row)
    out["quarantine"] = (
        None
        if quarantined is None
        else {
            "reason": quarantined.reason,
            "added_by": quarantined.added_by,
            "added_at": quarantined.added_at,
        }
    )
    out["history"] = [
        {
            "result_id": h.id,
            "run_id": h.run_id,
            "status": h.status,
            "started_at": h.started_at,
            "duration": h.duration,
            "attempts": h.attempts,
            "message": h.message,
            "quarantined": bool(h.quarantined),
            "branch": h.branch,
            "commit": h.commit_sha,
            "outage": bool(h.outage),
        }
        for h in history
    ]
    out["evidence"] = evidence(out["history"])
    return out


def evidence(history: list[dict[str, Any]]) -> list[str]:
    """Sentences that support calling a test flaky, from its history (newest first)."""
    found = []
    outcomes: dict[str, dict[str, str]] = {}
    for h in history:
        if h["outage"] or h["status"] not in ("passed", "failed", "error", "flaky"):
            continue
        if h["status"] == "flaky":
            tries = f" ({h['attempts']} attempts)" if h.get("attempts") else ""
            found.append(f"run {h['run_id']}: failed, then passed on a retry{tries}")
        if h["commit"]:
            kind = "fail" if h["status"] in ("failed", "error") else "pass"
            outcomes.setdefault(h["commit"], {}).setdefault(kind, h["run_id"])
    for commit, seen in outcomes.items():
        if len(seen) == 2:
            found.append(
                f"commit {commit[:12]}: passed in run {seen['pass']} "
                f"and failed in run {seen['fail']}"
            )
    return found[:10]


def list_tests(
    store: Store, *, sort: str = "slowest", search: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Tests by `sort`: slowest (average duration), name, or recent (last seen)."""
    order = {
        "slowest": t.tests.c.avg_duration.desc(),
        "name": t.tests.c.key.asc(),
        "recent": t.tests.c.last_seen.desc(),
    }.get(sort, t.tests.c.avg_duration.desc())
    query = select(t.tests)
    if search:
        like = f"%{search.replace('%', '').replace('_', '')}%"
        query = query.where(or_(t.tests.c.key.ilike(like), t.tests.c.path.ilike(like)))
    with store.engine.connect() as conn:
        return [test_dict(r) for r in conn.execute(query.order_by(order).limit(limit))]


def flaky_ranking(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Confirmed flaky tests first, then by score; each with its recent outcomes."""
    query = (
        select(t.tests)
        .where(or_(t.tests.c.flaky_confirmed.is_(True), t.tests.c.flaky_score > 0.05))
        .order_by(t.tests.c.flaky_confirmed.desc(), t.tests.c.flaky_score.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        strips = flaky.histories(conn, [r.id for r in rows])
        quarantined = set(conn.execute(select(t.quarantine.c.test_key)).scalars())
    out = []
    for row in rows:
        entry = test_dict(row)
        history = strips.get(row.id, [])
        entry["recent"] = [
            {"status": o.status, "run_id": o.run_id, "started_at": o.started_at, "outage": o.outage}
            for o in history[:30]
        ]
        entry["evidence"] = evidence(
            [
                {"status": o.status, "run_id": o.run_id, "commit": o.commit, "outage": o.outage}
                for o in history
            ]
        )
        entry["quarantined"] = row.key in quarantined
        out.append(entry)
    return out


def count_flaky(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    or_(
                        t.tests.c.flaky_confirmed.is_(True),
                        t.tests.c.flaky_score >= flaky.THRESHOLD,
                    )
                )
            ).scalar_one()
        )
