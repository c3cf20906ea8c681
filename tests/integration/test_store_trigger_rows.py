"""The rows of `triggers` on SQLite and on a real PostgreSQL (started by splice's postgres
kind): what a gone server left is found in queue order, a live server's rows and other
projects' are not; interrupting marks the triggers and their runs; the listing is newest
first and filters by state; retention drops the triggers of deleted runs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from splice._internal.store import Store, trigger_rows
from splice._internal.store import schema as t
from splice._internal.store.liveness import process_start
from tests.support.pg_store import new_database, postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store: a SQLite file, or a new database on the shared server."""
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'results.db'}")
        yield opened
        opened.close()
        return
    with new_database(request.getfixturevalue("postgres")) as url:
        opened = Store.open(url)
        yield opened
        opened.close()


def _gone_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _trigger(trigger_id: str, state: str, queued_at: float) -> dict[str, object]:
    return {
        "id": trigger_id,
        "kind": "workflow",
        "target": "smoke",
        "args": ["workflow", "run", "smoke"],
        "state": state,
        "branch": "main",
        "commit_sha": "abc",
        "environment": "",
        "ci_url": "",
        "queued_at": queued_at,
        "reason": "",
    }


def test_what_a_gone_server_left_is_found_and_interrupted(store: Store) -> None:
    """Open triggers of a gone server of the project come back oldest first; a live
    server's, finished ones and another project's do not. Interrupting one whose run is
    `running` finishes that run as `interrupted`; one whose run was found `killed` is
    called `interrupted`; the reasons are kept; a take-over makes the new server the owner."""
    gone = trigger_rows.Owner("/srv/shop", _gone_pid(), None)
    me = trigger_rows.Owner("/srv/shop", os.getpid(), process_start(os.getpid()))
    other = trigger_rows.Owner("/srv/other", _gone_pid(), None)
    trigger_rows.add(store, _trigger("w2", "queued", 20.0), gone)
    trigger_rows.add(store, _trigger("r1", "running", 10.0), gone)
    trigger_rows.add(store, _trigger("k1", "running", 5.0), gone)
    trigger_rows.add(store, _trigger("done", "passed", 1.0), gone)
    trigger_rows.add(store, _trigger("live", "queued", 2.0), me)
    trigger_rows.add(store, _trigger("else", "queued", 3.0), other)
    with store.engine.begin() as conn:
        for run_id, status in (("r1", "running"), ("k1", "killed")):
            conn.execute(
                t.runs.insert().values(
                    id=run_id, status=status, source="workflow", started_at=10.0, updated_at=11.0
                )
            )
    left = trigger_rows.left_behind(store, "/srv/shop")
    assert [(row["id"], row["state"]) for row in left] == [
        ("k1", "running"),
        ("r1", "running"),
        ("w2", "queued"),
    ]
    assert left[0]["args"] == ["workflow", "run", "smoke"]
    reason = f"the server stopped while it ran (pid {gone.pid})"
    trigger_rows.interrupt(store, {"r1": reason, "k1": reason}, 30.0)
    trigger_rows.take_over(store, ["w2"], me)
    with store.engine.connect() as conn:
        runs = dict(conn.execute(select(t.runs.c.id, t.runs.c.status)).all())
    assert runs == {"r1": "interrupted", "k1": "interrupted"}
    ended = trigger_rows.get(store, "r1")
    assert ended is not None and (ended["state"], ended["reason"], ended["finished_at"]) == (
        "interrupted",
        reason,
        30.0,
    )
    assert trigger_rows.left_behind(store, "/srv/shop") == []
    taken = trigger_rows.get(store, "w2")
    assert taken is not None and (taken["server_pid"], taken["state"]) == (me.pid, "queued")


def test_the_listing_is_newest_first_and_filters_by_state(store: Store) -> None:
    """`listing` gives a project's triggers newest first, only the states asked for, at
    most `limit`; `change` updates columns; an unknown id is None."""
    owner = trigger_rows.Owner("/srv/shop", os.getpid(), process_start(os.getpid()))
    for n, state in enumerate(["passed", "failed", "queued"]):
        trigger_rows.add(store, _trigger(f"t{n}", state, float(n)), owner)
    trigger_rows.change(store, "t2", state="running", started_at=5.0, pid=123)
    assert [r["id"] for r in trigger_rows.listing(store, "/srv/shop")] == ["t2", "t1", "t0"]
    only = trigger_rows.listing(store, "/srv/shop", ["running", "passed"], limit=1)
    assert [(r["id"], r["state"], r["pid"]) for r in only] == [("t2", "running", 123)]
    assert trigger_rows.listing(store, "/srv/other") == []
    assert trigger_rows.get(store, "nope") is None


def test_retention_drops_the_triggers_of_deleted_runs_and_old_ended_ones(store: Store) -> None:
    """`prune` by age deletes a deleted run's trigger and an old cancelled one (it had no
    run), and keeps a trigger still queued, however old."""
    from splice._internal.store.retention import prune

    owner = trigger_rows.Owner("/srv/shop", os.getpid(), process_start(os.getpid()))
    trigger_rows.add(store, _trigger("ran", "passed", 10.0), owner)
    trigger_rows.add(store, _trigger("dropped", "cancelled", 10.0), owner)
    trigger_rows.add(store, _trigger("waits", "queued", 10.0), owner)
    with store.engine.begin() as conn:
        conn.execute(
            t.runs.insert().values(
                id="ran", status="passed", source="workflow", started_at=10.0, updated_at=11.0
            )
        )
    report = prune(store, max_age_days=1, now=10.0 + 3 * 86400, vacuum=False)
    assert report.runs == 1
    assert [r["id"] for r in trigger_rows.listing(store, "/srv/shop")] == ["waits"]


def test_a_damaged_queued_row_is_listed_and_interrupted_not_run(store: Store) -> None:
    """A queued trigger whose `args` are not a JSON list (a row changed outside splice):
    the restarted server's take-over interrupts it with the reason instead of failing to
    start, and the listing still shows it."""
    from splice._internal.web.triggers import TriggerQueue, TriggerSettings

    gone = trigger_rows.Owner("/srv/shop", _gone_pid(), None)
    trigger_rows.add(store, _trigger("bad", "queued", 1.0), gone)
    trigger_rows.add(store, _trigger("good", "queued", 2.0), gone)
    with store.engine.begin() as conn:
        conn.execute(t.triggers.update().where(t.triggers.c.id == "bad").values(args="{oops"))
    queue = TriggerQueue(TriggerSettings(Path("/srv/shop"), store.url), store)
    queue.recover()
    queue.recover()  # once only
    bad = trigger_rows.get(store, "bad")
    assert bad is not None and bad["state"] == "interrupted" and bad["args"] is None
    assert "not a JSON list" in bad["reason"]
    good = trigger_rows.get(store, "good")
    assert good is not None and good["state"] == "queued" and good["server_pid"] == os.getpid()
    assert [row["id"] for row in trigger_rows.listing(store, "/srv/shop")] == ["good", "bad"]


def test_a_store_failing_at_the_take_over_is_a_usage_error(tmp_path: Path) -> None:
    """`splice serve` takes the queue over before it listens: a store error then is one
    line and a hint, not a web server's traceback."""
    from sqlalchemy.exc import OperationalError

    from splice._internal.cli.serve_command import _recover
    from splice._internal.errors import UsageError

    class Failing:
        def recover(self) -> None:
            raise OperationalError("SELECT", {}, Exception("database is locked"))

    with pytest.raises(UsageError) as raised:
        _recover(Failing(), "sqlite:///results.db")
    assert "database is locked" in raised.value.message
    assert raised.value.hint is not None and "splice store info" in raised.value.hint
