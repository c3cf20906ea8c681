"""What the end of a run queues for the webhooks subscribed to its events (delivered later by
`store.delivery`). Kept apart from the webhook settings (`store.webhooks`,
which work on a `Store`) so that ending a run needs only its connection."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, select

from splice._internal.store import schema as t


def run_ended(conn: Connection, run_id: str, now: float, newly_flaky: list[dict[str, Any]]) -> None:
    """Queue the messages of a run that just ended."""
    hooks = conn.execute(select(t.webhooks.c.id, t.webhooks.c.events)).all()
    if not hooks:
        return
    run = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).one()
    summary = run_summary(run)
    messages: list[tuple[str, dict[str, Any]]] = [("run.finished", {"run": summary})]
    if run.status in ("failed", "error", "killed"):
        messages.append(("run.failed", {"run": summary}))
    if newly_flaky:
        in_run = set(
            conn.execute(select(t.results.c.test_id).where(t.results.c.run_id == run_id)).scalars()
        )
        for test in newly_flaky:
            if test["id"] in in_run:
                messages.append(("test.flaky", {"run": summary, "test": test}))
    rows = []
    for hook in hooks:
        wanted = set(json.loads(hook.events))
        for event, body in messages:
            if event in wanted:
                payload = {"event": event, "id": uuid.uuid4().hex, "created_at": now, **body}
                rows.append(
                    {
                        "webhook_id": hook.id,
                        "event": event,
                        "payload": json.dumps(payload, ensure_ascii=False),
                        "status": "pending",
                        "attempts": 0,
                        "next_at": now,
                        "created_at": now,
                    }
                )
    if rows:
        conn.execute(t.deliveries.insert(), rows)


def run_summary(run: Any) -> dict[str, Any]:
    """What a webhook says about a run."""
    return {
        "id": run.id,
        "status": run.status,
        "project": run.project,
        "branch": run.branch,
        "commit": run.commit_sha,
        "ci_url": run.ci_url,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration": run.duration,
        "counts": {
            "total": run.done,
            "passed": run.passed,
            "failed": run.failed,
            "error": run.errors,
            "skipped": run.skipped,
            "flaky": run.flaky,
            "xfailed": run.xfailed,
            "xpassed": run.xpassed,
            "quarantined": run.quarantined,
        },
        "path": f"/runs/{run.id}",
    }
