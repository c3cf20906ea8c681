"""The rows of `triggers`: the queue of runs started through the API, as `splice serve
--project` writes it through (`web.triggers` keeps the queue itself, in memory).

A row belongs to one server: its project folder, host, pid and the pid's start marker. A
server starting on the same project takes over the rows of servers that are gone
(`left_behind`): a pid of this host that no longer runs, or any server of another host (a
restarted container has a new host name; one server per project and store is the rule).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.finish import finish_runs
from splice._internal.store.liveness import HOST, alive

OPEN = ("queued", "running")


@dataclass(frozen=True)
class Owner:
    """The server holding a trigger."""

    project: str
    pid: int
    start: str | None
    host: str = HOST

    def values(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "host": self.host,
            "server_pid": self.pid,
            "server_start": self.start,
        }


def add(store: Store, values: dict[str, Any], owner: Owner) -> None:
    """Record a new trigger (`values`: the columns of `triggers`, `args` as a list)."""
    row = {**values, "args": json.dumps(values["args"]), **owner.values()}
    with store.engine.begin() as conn:
        conn.execute(t.triggers.insert().values(**row))


def change(store: Store, trigger_id: str, **values: Any) -> None:
    """Update columns of one trigger (its state as it goes, its end)."""
    with store.engine.begin() as conn:
        conn.execute(update(t.triggers).where(t.triggers.c.id == trigger_id).values(**values))


def get(store: Store, trigger_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(t.triggers).where(t.triggers.c.id == trigger_id)).first()
    return None if row is None else _plain(row)


def listing(
    store: Store, project: str, states: Iterable[str] = (), limit: int = 50
) -> list[dict[str, Any]]:
    """The project's triggers, newest first; only those in `states` when given."""
    query = select(t.triggers).where(t.triggers.c.project == project)
    wanted = list(states)
    if wanted:
        query = query.where(t.triggers.c.state.in_(wanted))
    query = query.order_by(t.triggers.c.queued_at.desc(), t.triggers.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [_plain(row) for row in conn.execute(query)]


def left_behind(store: Store, project: str) -> list[dict[str, Any]]:
    """Queued and running triggers of `project` whose server is gone, oldest first."""
    query = (
        select(t.triggers)
        .where(t.triggers.c.project == project, t.triggers.c.state.in_(OPEN))
        .order_by(t.triggers.c.queued_at, t.triggers.c.id)
    )
    with store.engine.connect() as conn:
        rows = [_plain(row) for row in conn.execute(query)]
    return [
        row
        for row in rows
        if row["host"] != HOST or not alive(row["server_pid"], row["server_start"])
    ]


def take_over(store: Store, trigger_ids: list[str], owner: Owner) -> None:
    """Make `owner` the server of these (queued) triggers."""
    if trigger_ids:
        with store.engine.begin() as conn:
            conn.execute(
                update(t.triggers).where(t.triggers.c.id.in_(trigger_ids)).values(**owner.values())
            )


def interrupt(store: Store, reasons: dict[str, str], now: float) -> None:
    """Mark triggers (id: reason) interrupted, and their runs too: one still `running` is
    finished as `interrupted`, one already found `killed` (its process is gone) is called
    `interrupted`, which says why."""
    if not reasons:
        return
    ids = list(reasons)
    with store.engine.begin() as conn:
        for trigger_id, reason in reasons.items():
            conn.execute(
                update(t.triggers)
                .where(t.triggers.c.id == trigger_id)
                .values(state="interrupted", finished_at=now, reason=reason)
            )
        finish_runs(conn, ids, "interrupted", now)
        conn.execute(
            update(t.runs)
            .where(t.runs.c.id.in_(ids), t.runs.c.status == "killed")
            .values(status="interrupted")
        )


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict, `args` parsed: None when they are not a JSON list of strings (a
    row damaged outside splice), so the row is still listed and is never run."""
    values = dict(row._mapping)
    try:
        args = json.loads(values["args"])
    except (TypeError, ValueError):
        args = None
    ok = isinstance(args, list) and all(isinstance(a, str) for a in args)
    values["args"] = args if ok else None
    return values
