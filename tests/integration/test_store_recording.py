"""Runs recorded into the results store while they happen, on SQLite and on a PostgreSQL that
splice's own postgres kind starts: metadata, attempts, steps, masking, live progress,
interrupted and killed runs, the quarantine, stable test identity, schema migrations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from splice._internal.model.results import Status
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.store import Store, StoreError, resolve_url
from splice._internal.store import schema as t
from splice._internal.store.attach import StoreOptions, attach
from tests.support.pg_store import new_database, postgres_server

pytestmark = pytest.mark.integration

SUITE = """
name: shop
tags: [api]
setup:
  - exec: "echo ready"
testcases:
  - name: passes
    tags: [smoke]
    steps:
      - exec: "echo '<b>hello</b> {{ token }}'"
        expect: {stdout: {$contains: hello}}
  - name: fails
    steps:
      - exec: "echo nope"
        expect: {stdout: "yes\\n"}
  - name: passes on a retry
    retries: 1
    steps:
      - exec: "sh -c 'test -f {{ marker }} && echo ok || (touch {{ marker }}; echo first)'"
        expect: {stdout: "ok\\n"}
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server started by splice's own postgres kind, shared by this module."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a new database on the shared server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    with new_database(request.getfixturevalue("postgres")) as url:
        yield url


def _run(folder: Path, store_url: str, **external: Any) -> tuple[Any, Any]:
    """Run the suites of `folder` with the store attached as `splice run` attaches it."""
    suites, problems = load_all(sorted(folder.glob("*.splice.yaml")))
    assert not problems
    bus = EventBus()
    recording = attach(bus, folder, "shop", StoreOptions(store=store_url), warn=pytest.fail)
    options = RunOptions(external=external, secret_names={"token"} & set(external))
    result = Runner(suites, options, bus).run()
    recording.finish(result)
    return result, recording


def _suite(folder: Path, text_: str = SUITE, name: str = "shop.splice.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text_).lstrip())
    return path


def test_a_run_is_recorded_with_metadata_attempts_and_steps(tmp_path: Path, store_url: str) -> None:
    """Every testcase, attempt and step of a run is stored, with the run's counts and metadata."""
    _suite(tmp_path)
    result, _ = _run(tmp_path, store_url, token="tok", marker=str(tmp_path / "m"))
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            run = conn.execute(select(t.runs)).one()
            results = {
                r.name: r
                for r in conn.execute(
                    select(t.results, t.tests.c.name).join(
                        t.tests, t.tests.c.id == t.results.c.test_id
                    )
                )
            }
            attempts = conn.execute(select(t.attempts)).all()
            steps = conn.execute(select(t.steps).order_by(t.steps.c.id)).all()
            tags = set(conn.execute(select(t.run_tags.c.tag)).scalars())
    finally:
        store.close()
    assert run.id == result.id and run.status == "failed" and run.source == "run"
    assert (run.total, run.done, run.passed, run.failed, run.flaky) == (3, 3, 1, 1, 1)
    assert run.project == "shop" and run.pid == os.getpid() and run.finished_at >= run.started_at
    assert {k: v.status for k, v in results.items()} == {
        "passes": "passed",
        "fails": "failed",
        "passes on a retry": "flaky",
    }
    assert results["passes on a retry"].attempts == 2 and len(attempts) == 4
    assert results["fails"].message.startswith("expected 'yes\\n'")
    assert tags == {"api", "smoke"}
    suite_steps = [s for s in steps if s.result_id is None]
    assert [s.phase for s in suite_steps] == ["setup"]
    retry_steps = [s for s in steps if s.result_id == results["passes on a retry"].id]
    assert [(s.attempt, s.status) for s in retry_steps] == [(1, "failed"), (2, "passed")]
    assert '"stdout":"<b>hello</b> ****\\n"' in next(
        s.response for s in steps if s.result_id == results["passes"].id
    )


def test_secret_values_never_reach_the_store(tmp_path: Path, store_url: str) -> None:
    """A value marked secret is masked in every stored column of every table."""
    _suite(tmp_path)
    _run(tmp_path, store_url, token="s3cr3t-v4lue", marker=str(tmp_path / "m"))
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            for table in t.metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    assert "s3cr3t-v4lue" not in repr(tuple(row)), table.name
    finally:
        store.close()


def test_progress_of_a_running_run_is_visible_to_readers(tmp_path: Path) -> None:
    """While a run is running, another connection sees it running with its finished
    testcases counted and the current testcase marked running."""
    go = tmp_path / "go"
    _suite(
        tmp_path,
        f"""
        name: slow
        testcases:
          - name: quick
            steps: [{{exec: "true"}}]
          - name: waits
            steps: [{{exec: "sh -c 'while [ ! -f {go} ]; do sleep 0.02; done'"}}]
        """,
    )
    url = f"sqlite:///{tmp_path / 'results.db'}"
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(_run(tmp_path, url)))
    runner.start()
    reader = create_engine(url)
    try:
        deadline = time.monotonic() + 30
        seen = None
        while time.monotonic() < deadline:
            with reader.connect() as conn:
                if conn.execute(
                    text("select count(*) from sqlite_master where name='results'")
                ).scalar():
                    seen = conn.execute(
                        select(t.runs.c.status, t.runs.c.done, t.runs.c.total)
                    ).first()
                    running = conn.execute(
                        select(t.results.c.id).where(t.results.c.status == "running")
                    ).all()
                    if seen is not None and seen.done == 1 and running:
                        break
            time.sleep(0.02)
        assert seen is not None and tuple(seen) == ("running", 1, 2)
    finally:
        go.touch()
        runner.join(30)
        reader.dispose()
    assert done and done[0][0].status == Status.PASSED


_CHILD = """
import signal
import sys
# take Ctrl-C as a terminal would deliver it, even when started from a shell's background
# job (which ignores SIGINT, and Python then keeps it ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.store.attach import StoreOptions, attach

folder = Path(sys.argv[1])
suites, _ = load_all(sorted(folder.glob("*.splice.yaml")))
bus = EventBus()
recording = attach(bus, folder, "shop", StoreOptions(store=sys.argv[2]), warn=print)
result = Runner(suites, RunOptions(), bus).run()
recording.finish(result)
print("exit", result.status.value, flush=True)
"""


def _start_child(folder: Path, url: str) -> subprocess.Popen[str]:
    """A `splice run`-like process recording into `url`, stopped in its second testcase."""
    _suite(
        folder,
        """
        name: long
        testcases:
          - name: quick
            steps: [{exec: "true"}]
          - name: hangs
            steps: [{exec: "sleep 60", timeout: 120s}]
        """,
    )
    script = folder / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(folder), url],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    reader = create_engine(url)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                with reader.connect() as conn:
                    row = conn.execute(select(t.runs.c.done)).first()
                    if row is not None and row.done == 1:
                        return proc
            except Exception:  # noqa: BLE001 - the child has not created the tables yet
                pass
            time.sleep(0.05)
    finally:
        reader.dispose()
    proc.kill()
    raise AssertionError("the child did not reach its second testcase")


def test_a_killed_run_is_marked_killed_by_the_next_open(tmp_path: Path) -> None:
    """A run whose process is SIGKILLed stays 'running' until a later open of the store
    marks it 'killed', keeping what it recorded and closing its open testcase."""
    url = f"sqlite:///{tmp_path / 'results.db'}"
    proc = _start_child(tmp_path, url)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()  # type: ignore[union-attr]
    raw = create_engine(url)
    with raw.connect() as conn:
        assert conn.execute(select(t.runs.c.status)).scalar() == "running"
    raw.dispose()
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            run = conn.execute(select(t.runs)).one()
            statuses = sorted(conn.execute(select(t.results.c.status)).scalars())
    finally:
        store.close()
    assert run.status == "killed" and run.finished_at is not None
    assert statuses == ["interrupted", "passed"]


def test_an_interrupted_run_is_stored_as_interrupted(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) during a run: the run winds down and is stored as 'interrupted'."""
    url = f"sqlite:///{tmp_path / 'results.db'}"
    proc = _start_child(tmp_path, url)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert "exit" in out
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(t.runs.c.status)).scalar() == "interrupted"
    finally:
        store.close()


def test_a_quarantined_failure_does_not_fail_the_run(tmp_path: Path, store_url: str) -> None:
    """With the failing test quarantined the run passes and the failure is still stored as
    failed (and flagged); a failure of another test still fails the run."""
    from splice._internal.store import quarantine

    _suite(
        tmp_path,
        """
        name: q
        testcases:
          - name: broken
            steps: [{exec: "echo a", expect: {stdout: "b"}}]
          - name: fine
            steps: [{exec: "true"}]
        """,
    )
    store = Store.open(store_url)
    quarantine.add(store, "q::broken", "known bug", "test")
    store.close()
    result, recording = _run(tmp_path, store_url)
    assert result.status == Status.PASSED and recording.gate.held == ["q::broken"]
    assert {tc.name: tc.status for tc in result.testcases()}["broken"] == Status.FAILED
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            run = conn.execute(select(t.runs)).one()
            row = conn.execute(select(t.results).where(t.results.c.status == "failed")).one()
    finally:
        store.close()
    assert (run.status, run.failed, run.quarantined) == ("passed", 1, 1) and row.quarantined
    store = Store.open(store_url)
    quarantine.remove(store, "q::broken")
    store.close()
    result, _ = _run(tmp_path, store_url)
    assert result.status == Status.FAILED


def test_renaming_a_suite_file_keeps_the_test_history(tmp_path: Path, store_url: str) -> None:
    """A test is identified by suite and testcase name: moved to another file it keeps its
    history, and its recorded location follows it."""
    body = "name: ident\ntestcases:\n  - name: one\n    steps: [{exec: 'true'}]\n"
    first = _suite(tmp_path, body, "a.splice.yaml")
    _run(tmp_path, store_url)
    first.rename(tmp_path / "b.splice.yaml")
    _run(tmp_path, store_url)
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            test = conn.execute(select(t.tests)).one()
            count = conn.execute(select(text("count(*)")).select_from(t.results)).scalar()
    finally:
        store.close()
    assert test.key == "ident::one" and test.path.endswith("b.splice.yaml") and count == 2


def test_the_default_store_is_results_db_under_dot_splice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --store or SPLICE_STORE_URL the store is .splice/results.db in the project
    root; the variable overrides it; a plain path means SQLite; postgres:// is translated."""
    monkeypatch.delenv("SPLICE_STORE_URL", raising=False)
    store = Store.open(None, tmp_path)
    store.close()
    assert (tmp_path / ".splice" / "results.db").is_file()
    monkeypatch.setenv("SPLICE_STORE_URL", str(tmp_path / "other.db"))
    assert resolve_url(None, tmp_path) == f"sqlite:///{tmp_path / 'other.db'}"
    assert resolve_url("postgres://u:p@h/db", tmp_path) == "postgresql+psycopg://u:p@h/db"
    with pytest.raises(StoreError) as caught:
        resolve_url("mysql://h/db", tmp_path)
    assert "postgresql+psycopg://" in (caught.value.hint or "")


def test_an_unreachable_postgres_store_is_a_usage_error_with_a_hint() -> None:
    """A store URL nobody answers gives a StoreError naming the URL (password hidden)."""
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://u:pw@127.0.0.1:9/db?connect_timeout=2")
    assert "127.0.0.1:9" in caught.value.message and "pw" not in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize("way", ["migrations", "fresh"])
def test_migrations_build_exactly_the_declared_schema(store_url: str, way: str) -> None:
    """The Alembic migrations, and the fast creation of a fresh store, both give the tables
    of schema.py (autogenerate finds no difference) at the declared head revision."""
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from splice._internal.store import opening as engines

    if way == "migrations":
        raw = engines.create(store_url)
        engines.upgrade(raw)
        raw.dispose()
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
            revision = conn.execute(text("select version_num from alembic_version")).scalar()
    finally:
        store.close()
    config = Config()
    config.set_main_option("script_location", "splice._internal.store:migrations")
    assert diff == []
    assert revision == t.HEAD == ScriptDirectory.from_config(config).get_current_head()


def _shape(url: str) -> dict[str, Any]:
    """Tables of a database as the database reports them: columns with types, nullability
    and server defaults, indexes, unique constraints."""
    from sqlalchemy import inspect

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return {
                name: (
                    [
                        (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in found.get_columns(name)
                    ],
                    sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(name)),
                    sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
                )
                for name in sorted(found.get_table_names())
            }
    finally:
        engine.dispose()


def test_a_fresh_store_and_a_migrated_one_are_alike(tmp_path: Path, store_url: str) -> None:
    """Creating a fresh store from schema.py and running the migrations give the same
    columns, defaults and indexes, so a new store never differs from an upgraded one."""
    from splice._internal.store import opening as engines

    migrated = engines.create(store_url)
    engines.upgrade(migrated)
    migrated.dispose()
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}" if store_url.startswith("sqlite") else None
    if fresh_url is None:  # PostgreSQL: a second database on the same server
        name = f"f_{uuid.uuid4().hex[:12]}"
        admin = create_engine(store_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        fresh_url = store_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        Store.open(fresh_url).close()
        assert _shape(fresh_url) == _shape(store_url)
    finally:
        if not fresh_url.startswith("sqlite"):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
