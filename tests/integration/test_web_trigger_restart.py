"""The queue of triggered runs outlives its server: a real `splice serve --project` killed
with SIGKILL while one trigger runs and another waits leaves both in its store; the next
server of the project interrupts the first (and its run), saying why, runs the second, and
nothing of the killed one is left behind. A store from before the triggers table is
migrated by `splice serve`; a server of the project that still runs keeps its triggers."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from splice._internal.store import opening
from splice._internal.store import schema as t
from splice._internal.store.tokens import digest
from tests.support.trigger_server import (
    DEADLINE,
    SPLICE,
    Served,
    alive,
    ancestors,
    project,
    read,
    serve,
    until,
)

pytestmark = pytest.mark.integration


def test_a_killed_server_s_running_trigger_is_interrupted_and_its_queue_runs_on(
    tmp_path: Path,
) -> None:
    """SIGKILL to `splice serve` while a held job runs and a workflow waits (one at a time):
    its reaper stops the run's processes; the restarted server (on the same port) marks the
    trigger and its run interrupted with the reason "the server stopped while it ran (pid
    N)", says its output is gone, runs the waiting one to its end, lists both; the
    `splice trigger --wait` that queued the waiting one rides out the restart and exits 0;
    no process or temporary folder of either server is left."""
    root = project(tmp_path / "shop")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch), "SPLICE_TMPDIR": str(scratch)}
    with serve(root, "--max-concurrent-runs", "1", env=env) as killed:
        first = killed.post("/api/workflows/hold/runs").json()
        waiter = _wait_for("deploy-check", killed)
        try:
            assert waiter.stdout is not None
            started = waiter.stdout.readline()  # started run ID (queued, 1st in the queue): URL
            assert "(queued, 1st in the queue)" in started, started
            second_id = started.split()[2]
            job_pid = int(until(lambda: read(root / "hold.pid"), "the held job to start"))
            until(lambda: killed.stored(first["id"]), "the run to be stored")
            chain = ancestors(job_pid, killed.proc.pid)  # the job, its shell, `splice workflow run`
            running, waiting = killed.row(first["id"]), killed.row(second_id)
            assert running is not None and running["state"] == "running" and running["pid"]
            assert waiting is not None and waiting["state"] == "queued"
            killed.proc.kill()
            killed.proc.wait(timeout=30)
            until(lambda: not any(alive(pid) for pid in chain), "the reaper to stop the run")
            away = waiter.stdout.readline()
            assert away.strip() == f"run {second_id}: the server does not answer; waiting for it"
            port = int(killed.url.rsplit(":", 1)[1])
            with serve(root, after=killed, env=env, port=port) as restarted:
                ended = restarted.status(first["id"])
                assert ended["status"] == "interrupted"
                assert ended["reason"] == f"the server stopped while it ran (pid {killed.proc.pid})"
                assert ended["log"] == [] and "not kept" in ended["log_note"]
                run = restarted.stored(first["id"])
                assert run is not None and run["status"] == "interrupted"
                out, err = waiter.communicate(timeout=DEADLINE)
                assert waiter.returncode == 0, out + err
                assert f"run {second_id}: the server answers again" in out
                assert f"run {second_id} passed" in out
                done = restarted.status(second_id)
                assert done["status"] == "passed" and done["exit_code"] == 0, done["log"]
                assert done["log"][0].startswith("requeued by splice serve")
                assert done["log_note"] == ""
                _listed(restarted, [(second_id, "passed"), (first["id"], "interrupted")])
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waiter.communicate()
    # the killed run's own reaper removes its folders once it has stopped its processes
    until(lambda: not any(scratch.iterdir()), "the temporary folders to be removed")


def _listed(served: Served, expected: list[tuple[str, str]]) -> None:
    """`GET /api/triggers` lists `expected` (id, status), newest first; filtered by status,
    the interrupted ones, with their reason."""
    listed = httpx.get(served.url + "/api/triggers", timeout=30).json()["triggers"]
    assert [(t["id"], t["status"]) for t in listed] == expected
    only = httpx.get(
        served.url + "/api/triggers", params={"status": "interrupted"}, timeout=30
    ).json()["triggers"]
    assert [t["id"] for t in only] == [i for i, status in expected if status == "interrupted"]
    assert all(t["reason"].startswith("the server stopped while it ran (pid ") for t in only)


def _wait_for(workflow: str, served: Served) -> subprocess.Popen[str]:
    """`splice trigger WORKFLOW --wait` against `served`, its output read by the test."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "SPLICE_TOKEN": served.token}
    return subprocess.Popen(
        [*SPLICE, "trigger", workflow, "--wait", "--server", served.url],
        cwd=served.root.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_store_from_before_triggers_is_migrated_by_splice_serve(tmp_path: Path) -> None:
    """A SQLite store at schema 0004 (no `triggers` table): `splice serve --project`
    migrates it to the head and keeps the triggers it runs there."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = opening.create(url)
    config = Config()
    config.set_main_option("script_location", "splice._internal.store:migrations")
    write, viewer = (f"spl_{secrets.token_urlsafe(32)}" for _ in range(2))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
        with engine.begin() as conn:
            for name, token, scope in (("ci", write, "write"), ("viewer", viewer, "read")):
                conn.execute(
                    t.tokens.insert().values(
                        name=name, digest=digest(token), scope=scope, created_at=time.time()
                    )
                )
        assert opening.current_revision(engine) == "0004"
        with engine.connect() as conn:
            assert not inspect(conn).has_table("triggers")
    finally:
        engine.dispose()
    with serve(project(tmp_path / "shop"), tokens_of=(write, viewer)) as served:
        health = httpx.get(served.url + "/api/health", timeout=30).json()
        assert health["schema_revision"] == t.HEAD == "0005"
        started = served.post("/api/suites/runs", {"tags": ["deploy"]})
        assert started.status_code == 202, started.text
        done = served.until_done(started.json()["id"])
        assert done["status"] == "passed", done["log"]
        row = served.row(done["id"])
        assert row is not None and row["state"] == "passed" and row["args"][:1] == ["run"]
    engine = opening.create(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == "0005"


def test_a_second_server_of_the_project_leaves_a_live_server_s_triggers_alone(
    tmp_path: Path,
) -> None:
    """Starting another `splice serve` of the same project and store while the first one
    runs a trigger and holds another in its queue takes over neither: the second server
    shows them from the store as they are, and the first runs both to their ends."""
    root = project(tmp_path / "shop")
    with serve(root) as first_server:
        held = first_server.post("/api/workflows/hold/runs").json()
        waiting = first_server.post("/api/workflows/deploy-check/runs").json()
        until(lambda: read(root / "hold.pid"), "the held job to start")
        with serve(root, after=first_server) as second_server:
            seen = second_server.status(waiting["id"])
            assert seen["status"] == "queued" and seen["position"] is None
            assert second_server.status(held["id"])["status"] == "running"
        assert first_server.status(waiting["id"])["position"] == 1
        (root / "release").write_text("go")
        assert first_server.until_done(held["id"])["status"] == "passed"
        assert first_server.until_done(waiting["id"])["status"] == "passed"
