"""The end of a run, however it ended: counts closed, outage flagged, flakiness refreshed,
webhooks queued. Used when a run finishes, is interrupted, or is found killed."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from splice._internal.store import flaky, webhook_queue
from splice._internal.store import schema as t
from splice._internal.store.flaky_score import OUTAGE_MIN


def finish_runs(
    conn: Connection,
    run_ids: list[str],
    status: str,
    finished_at: float,
    duration: float | None = None,
) -> None:
    """Mark `run_ids` finished with `status`; runs already finished are left alone."""
    ended = []
    for run_id in run_ids:
        run = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        if run is None or run.status != "running":
            continue
        # a killed run ended at its last sign of life, not when that was noticed
        end = run.updated_at if status == "killed" else finished_at
        open_results = conn.execute(
            update(t.results)
            .where(t.results.c.run_id == run_id, t.results.c.status == "running")
            .values(status="interrupted", message="the run ended before this testcase did")
        ).rowcount
        done, errors = run.done + open_results, run.errors + open_results
        tested = done - run.skipped
        failing = run.failed + errors
        conn.execute(
            update(t.runs)
            .where(t.runs.c.id == run_id)
            .values(
                status=status,
                finished_at=end,
                duration=duration if duration is not None else max(0.0, end - run.started_at),
                updated_at=end,
                done=done,
                errors=errors,
                outage=tested >= OUTAGE_MIN and failing * 2 > tested,
            )
        )
        ended.append(run_id)
    if not ended:
        return
    newly = flaky.refresh(conn, ended, finished_at)
    for run_id in ended:
        webhook_queue.run_ended(conn, run_id, finished_at, newly)
