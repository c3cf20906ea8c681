"""Reading runs: the list with filters, one run in detail, one testcase's attempts and steps,
and the comparison of two runs. Every function returns JSON-ready dicts, shared by the
dashboard's pages and the REST API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, exists, func, or_, select

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.query_jobs import JOB_KIND, jobs_of
from splice._internal.store.query_shards import (
    LIVE_STATES,
    SHARD_KINDS,
    shard_critical,
    shard_imbalance,
    shards_of,
)
from splice._internal.store.rows import loads

RUN_STATUSES = ("running", "passed", "failed", "error", "interrupted", "killed")
_NOT_OK = ("failed", "error", "interrupted")
SLOWER_FACTOR, SLOWER_MIN = 1.5, 0.05  # "got slower": 1.5 times and at least 50 ms more


def run_dict(row: Row[Any]) -> dict[str, Any]:
    """A `runs` row for pages and the API."""
    return {
        "id": row.id,
        "status": row.status,
        "source": row.source,
        "project": row.project,
        "branch": row.branch,
        "commit": row.commit_sha,
        "ci_url": row.ci_url,
        "host": row.host,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "duration": row.duration,
        "updated_at": row.updated_at,
        "total": row.total,
        "done": row.done,
        "counts": {
            "passed": row.passed,
            "failed": row.failed,
            "error": row.errors,
            "skipped": row.skipped,
            "flaky": row.flaky,
            "xfailed": row.xfailed,
            "xpassed": row.xpassed,
            "quarantined": row.quarantined,
        },
        "outage": bool(row.outage),
    }


def list_runs(
    store: Store,
    *,
    status: str | None = None,
    branch: str | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before: tuple[float, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest runs first; `before` (started_at, id) of the last row shown gives the next page."""
    query = select(t.runs)
    if status:
        query = query.where(t.runs.c.status == status)
    if branch:
        query = query.where(t.runs.c.branch == branch)
    if tag:
        query = query.where(
            exists().where(and_(t.run_tags.c.run_id == t.runs.c.id, t.run_tags.c.tag == tag))
        )
    if since is not None:
        query = query.where(t.runs.c.started_at >= since)
    if until is not None:
        query = query.where(t.runs.c.started_at < until)
    if before is not None:
        query = query.where(
            or_(
                t.runs.c.started_at < before[0],
                and_(t.runs.c.started_at == before[0], t.runs.c.id < before[1]),
            )
        )
    query = query.order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [run_dict(row) for row in conn.execute(query)]


def branches(store: Store, limit: int = 100) -> list[str]:
    """Branches of recent runs, most recently used first (for the filter's choices)."""
    query = (
        select(t.runs.c.branch, func.max(t.runs.c.started_at).label("last"))
        .where(t.runs.c.branch != "")
        .group_by(t.runs.c.branch)
        .order_by(func.max(t.runs.c.started_at).desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [row.branch for row in conn.execute(query)]


def tags(store: Store, limit: int = 200) -> list[str]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.run_tags.c.tag).distinct().order_by(t.run_tags.c.tag).limit(limit)
            ).scalars()
        )


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """One run with its testcases (grouped by suite), suite-level failures and logs."""
    with store.engine.connect() as conn:
        row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        if row is None:
            return None
        run = run_dict(row)
        run["command"] = loads(row.command)
        run["cwd"] = row.cwd
        run["environment"] = loads(row.environment)
        run["services"] = loads(row.services)
        run["openapi"] = loads(row.openapi) or []
        results = conn.execute(
            select(
                t.results.c.id,
                t.results.c.status,
                t.results.c.started_at,
                t.results.c.duration,
                t.results.c.attempts,
                t.results.c.tags,
                t.results.c.message,
                t.results.c.skip_reason,
                t.results.c.quarantined,
                t.results.c.path,
                t.results.c.line,
                t.tests.c.id.label("test_id"),
                t.tests.c.key,
                t.tests.c.suite,
                t.tests.c.name,
            )
            .join(t.tests, t.tests.c.id == t.results.c.test_id)
            .where(t.results.c.run_id == run_id)
            .order_by(t.results.c.id)
        ).all()
        suite_steps = conn.execute(
            select(t.steps)
            .where(t.steps.c.run_id == run_id, t.steps.c.result_id.is_(None))
            .order_by(t.steps.c.id)
        ).all()
        logs = conn.execute(
            select(
                t.artifacts.c.id,
                t.artifacts.c.kind,
                t.artifacts.c.name,
                t.artifacts.c.size,
                t.artifacts.c.content,
            )
            .where(t.artifacts.c.run_id == run_id)
            .order_by(t.artifacts.c.id)
        ).all()
    suites: dict[str, dict[str, Any]] = {}
    for r in results:
        suite = suites.setdefault(r.suite, {"name": r.suite, "testcases": [], "steps": []})
        suite["testcases"].append(
            {
                "id": r.id,
                "test_id": r.test_id,
                "key": r.key,
                "name": r.name,
                "status": r.status,
                "started_at": r.started_at,
                "duration": r.duration,
                "attempts": r.attempts,
                "tags": loads(r.tags),
                "message": r.message,
                "skip_reason": r.skip_reason,
                "quarantined": bool(r.quarantined),
                "path": r.path,
                "line": r.line,
            }
        )
    for step in suite_steps:
        suites.setdefault(step.suite, {"name": step.suite, "testcases": [], "steps": []})
        suites[step.suite]["steps"].append(step_dict(step))
    run["suites"] = list(suites.values())
    items = [
        {"id": a.id, "kind": a.kind, "name": a.name, "size": a.size, "content": a.content}
        for a in logs
    ]
    run["jobs"] = jobs_of(items)
    run["shards"] = shards_of(items)
    for shard in run["shards"]:
        if shard["state"] in LIVE_STATES and run["status"] != "running":
            shard["state"] = "lost"  # the run ended (silent too long) without this shard's end
    run["shard_imbalance"] = shard_imbalance(run["shards"])
    run["shard_critical"] = shard_critical(run["shards"], float(run["started_at"]))
    run["logs"] = [item for item in items if item["kind"] not in (JOB_KIND, *SHARD_KINDS)]
    return run


def step_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "index": row.idx,
        "name": row.name,
        "executor": row.executor,
        "phase": row.phase,
        "status": row.status,
        "started_at": row.started_at,
        "duration": row.duration,
        "polls": row.polls,
        "location": row.location,
        "service": row.service,
        "target": row.target,
        "request": loads(row.request),
        "response": loads(row.response),
        "captures": loads(row.captures),
        "failures": loads(row.failures) or [],
        "skip_reason": row.skip_reason,
    }


def get_artifact(store: Store, run_id: str, artifact_id: int) -> dict[str, Any] | None:
    """One kept log or artifact of a run: its kind, name, size and the content kept."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(
                t.artifacts.c.kind, t.artifacts.c.name, t.artifacts.c.size, t.artifacts.c.content
            ).where(t.artifacts.c.run_id == run_id, t.artifacts.c.id == artifact_id)
        ).first()
    if row is None:
        return None
    return {"kind": row.kind, "name": row.name, "size": row.size, "content": row.content}


def get_result(store: Store, run_id: str, result_id: int) -> dict[str, Any] | None:
    """One testcase of a run: every attempt with its steps, requests and responses."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.results, t.tests.c.key, t.tests.c.suite, t.tests.c.name)
            .join(t.tests, t.tests.c.id == t.results.c.test_id)
            .where(t.results.c.id == result_id, t.results.c.run_id == run_id)
        ).first()
        if row is None:
            return None
        attempts = conn.execute(
            select(t.attempts)
            .where(t.attempts.c.result_id == result_id)
            .order_by(t.attempts.c.number)
        ).all()
        steps = conn.execute(
            select(t.steps).where(t.steps.c.result_id == result_id).order_by(t.steps.c.id)
        ).all()
    by_attempt: dict[int, list[dict[str, Any]]] = {}
    for step in steps:
        by_attempt.setdefault(step.attempt, []).append(step_dict(step))
    return {
        "id": row.id,
        "run_id": run_id,
        "test_id": row.test_id,
        "key": row.key,
        "suite": row.suite,
        "name": row.name,
        "status": row.status,
        "started_at": row.started_at,
        "duration": row.duration,
        "tags": loads(row.tags),
        "message": row.message,
        "skip_reason": row.skip_reason,
        "quarantined": bool(row.quarantined),
        "path": row.path,
        "line": row.line,
        "attempts": [
            {
                "number": a.number,
                "status": a.status,
                "started_at": a.started_at,
                "duration": a.duration,
                "steps": by_attempt.get(a.number, []),
            }
            for a in attempts
        ],
    }


def compare(store: Store, base_id: str, head_id: str) -> dict[str, Any] | None:
    """What changed from run `base_id` to run `head_id`, by test identity."""
    with store.engine.connect() as conn:
        runs = {
            row.id: run_dict(row)
            for row in conn.execute(select(t.runs).where(t.runs.c.id.in_((base_id, head_id))))
        }
        if base_id not in runs or head_id not in runs:
            return None
        rows = conn.execute(
            select(
                t.results.c.run_id,
                t.results.c.id,
                t.results.c.status,
                t.results.c.duration,
                t.results.c.message,
                t.tests.c.id.label("test_id"),
                t.tests.c.key,
            )
            .join(t.tests, t.tests.c.id == t.results.c.test_id)
            .where(t.results.c.run_id.in_((base_id, head_id)))
        ).all()
    base = {r.key: r for r in rows if r.run_id == base_id}
    head = {r.key: r for r in rows if r.run_id == head_id}

    def entry(key: str) -> dict[str, Any]:
        b, h = base.get(key), head.get(key)
        some = h or b
        assert some is not None
        return {
            "key": key,
            "test_id": some.test_id,
            "base": None
            if b is None
            else {"result_id": b.id, "status": b.status, "duration": b.duration},
            "head": None
            if h is None
            else {
                "result_id": h.id,
                "status": h.status,
                "duration": h.duration,
                "message": h.message,
            },
        }

    def bad(status: str) -> bool:
        return status in _NOT_OK

    both = sorted(base.keys() & head.keys())
    slower = [
        k
        for k in both
        if head[k].duration >= base[k].duration * SLOWER_FACTOR
        and head[k].duration - base[k].duration >= SLOWER_MIN
    ]
    slower.sort(key=lambda k: base[k].duration - head[k].duration)
    return {
        "base": runs[base_id],
        "head": runs[head_id],
        "newly_failed": [entry(k) for k in both if bad(head[k].status) and not bad(base[k].status)],
        "fixed": [entry(k) for k in both if bad(base[k].status) and not bad(head[k].status)],
        "still_failing": [entry(k) for k in both if bad(base[k].status) and bad(head[k].status)],
        "slower": [entry(k) for k in slower],
        "added": [entry(k) for k in sorted(head.keys() - base.keys())],
        "removed": [entry(k) for k in sorted(base.keys() - head.keys())],
    }
