"""The sqlite3 writer of the default store (`splice._internal.store.lite`): the same rows as the
SQLAlchemy writer for the same runs, writers in parallel, a writer killed mid-run, and a
one-step `splice run` that imports neither SQLAlchemy nor Alembic."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from splice._internal.store import Store
from splice._internal.store import schema as t
from splice._internal.store.ingest import Ingest
from splice._internal.store.lite import LiteStore
from splice._internal.store.lite_ingest import LiteIngest
from splice._internal.store.synthetic import runs
from tests.support.modules import heavy, imported_by
from tests.support.store_events import COVERAGE, batches

pytestmark = pytest.mark.integration

# set from the wall clock of the writing process, so never equal between two writers
_CLOCK_COLUMNS = {("runs", "updated_at")}


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in t.metadata.sorted_tables:
            columns = [c.name for c in table.columns if (table.name, c.name) not in _CLOCK_COLUMNS]
            names = ", ".join(columns)
            out[table.name] = conn.execute(
                f"SELECT {names} FROM {table.name} ORDER BY {names}"
            ).fetchall()
        return out
    finally:
        conn.close()


def test_the_sqlite3_writer_stores_the_same_rows_as_the_sqlalchemy_writer(tmp_path: Path) -> None:
    """Every table holds the same rows after the same events, written either way: a
    generated history with flaky tests, retries and outages, plus open testcases, suite
    steps, artifacts, tags and an interrupted run."""
    full_path, lite_path = tmp_path / "full.db", tmp_path / "lite.db"
    full = Store.open(str(full_path))
    ingest = Ingest(full)
    for batch in batches():
        ingest.apply(batch)
    full.close()
    Store.open(str(lite_path)).close()  # the same empty schema
    lite = LiteStore.open(str(lite_path), tmp_path)
    assert lite is not None
    writer = LiteIngest(lite)
    for batch in batches():
        writer.apply(batch)
    lite.close()
    expected, got = _rows(full_path), _rows(lite_path)
    assert sum(len(rows) for rows in expected.values()) > 1000
    assert any(row[1] == "interrupted" for row in expected["runs"])
    assert sum(COVERAGE["service"] in str(row) for row in expected["runs"]) == 1  # its openapi
    for table in expected:
        assert got[table] == expected[table], table


def test_writers_in_parallel_each_store_all_of_their_runs(tmp_path: Path) -> None:
    """Four writers on their own connections, writing at once, lose nothing and fail none."""
    path = tmp_path / "results.db"
    Store.open(str(path)).close()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        store = LiteStore.open(str(path), tmp_path)
        assert store is not None
        try:
            ingest = LiteIngest(store)
            for batch in runs(runs=15, tests=8, steps=2, seed=seed):
                for event in batch:  # event by event, as the live recorder does
                    ingest.apply([event])
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(seed,)) for seed in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    conn = sqlite3.connect(path)
    statuses = conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
    assert sum(n for _, n in statuses) == 60
    assert "running" not in dict(statuses)
    assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 60 * 8
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_KILLED = """
import os, signal, sys
from pathlib import Path
from splice._internal.store.lite import LiteStore
from splice._internal.store.lite_ingest import LiteIngest
from splice._internal.store.liveness import process_start

store = LiteStore.open(sys.argv[1], Path.cwd())
ingest = LiteIngest(store)
head = {"started_at": 1.0, "total": 3, "host": sys.argv[2], "pid": os.getpid(),
        "pid_start": process_start(os.getpid())}
test = {"suite": "s", "name": "t", "started_at": 2.0}
ingest.apply([{"event": "run_started", "run_id": "k1", "run": head}])
ingest.apply([{"event": "testcase_started", "run_id": "k1", "test": test}])
events = ({"event": "heartbeat", "run_id": "k1"} for _ in iter(int, 1))
print("writing", flush=True)
ingest.apply(events)  # an endless transaction, killed in its middle
"""


def test_a_writer_killed_mid_write_leaves_a_readable_store_with_the_run_killed(
    tmp_path: Path,
) -> None:
    """kill -9 during a transaction: the store stays readable, the run is marked killed by
    the next opening and its open testcase interrupted."""
    from splice._internal.store.liveness import HOST

    path = tmp_path / "results.db"
    Store.open(str(path)).close()
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(_KILLED))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), HOST], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT status FROM runs WHERE id = 'k1'").fetchone() == ("running",)
    conn.close()
    store = LiteStore.open(str(path), tmp_path)  # the next run: reaps on the way
    assert store is not None
    run = store.conn.execute("SELECT status, errors FROM runs WHERE id = 'k1'").fetchone()
    result = store.conn.execute("SELECT status FROM results WHERE run_id = 'k1'").fetchall()
    store.close()
    assert run == ("killed", 1)
    assert result == [("interrupted",)]


def test_a_lite_run_queues_the_webhooks_of_the_store(tmp_path: Path) -> None:
    """A store with a webhook gets its delivery for a run written with sqlite3."""
    from splice._internal.store import webhooks

    path = tmp_path / "results.db"
    full = Store.open(str(path))
    webhooks.add(full, "https://hooks.example.com/x", ["run.finished"])
    full.close()
    lite = LiteStore.open(str(path), tmp_path)
    assert lite is not None
    ingest = LiteIngest(lite)
    for batch in runs(runs=1, tests=2, steps=1):
        ingest.apply(batch)
    lite.close()
    conn = sqlite3.connect(path)
    (payload,) = conn.execute("SELECT payload FROM deliveries").fetchone()
    assert json.loads(payload)["event"] == "run.finished"


def test_a_recorded_one_step_run_imports_no_sqlalchemy_alembic_or_jinja2(tmp_path: Path) -> None:
    """`splice run` of one exec step into the default store (created by an earlier run)
    loads no SQLAlchemy, Alembic, store queries or Jinja2 (its template only reads a
    variable), and `--version` loads none of the CLI's libraries either."""
    (tmp_path / "one.splice.yaml").write_text(
        "name: one\nvars: {word: hi}\ntestcases:\n  - name: t\n    steps:\n"
        "      - exec: 'echo {{ word }}'\n        expect: {stdout: \"hi\\n\"}\n"
    )
    first, _ = imported_by(["run", "one.splice.yaml"], tmp_path)  # creates the store
    code, modules = imported_by(["run", "one.splice.yaml"], tmp_path)
    assert (first, code) == (0, 0)
    assert heavy(modules, ("sqlalchemy", "alembic", "jinja2")) == set()
    assert "splice._internal.store.lite_ingest" in modules
    assert not {m for m in modules if m.startswith("splice._internal.store.query")}
    code, modules = imported_by(["--version"], tmp_path)
    assert code == 0
    assert heavy(modules, ("sqlalchemy", "pydantic", "jinja2", "httpx", "click", "rich")) == set()


def _run_of_starts_and_ends() -> list[dict[str, Any]]:
    """One batch as a live run sends it: a start and an end per testcase, one test run
    twice (its second start comes after its first end, within the batch)."""
    test = {"suite": "a", "name": "again", "path": "a.splice.yaml", "line": 3}

    def end(status: str, name: str = "again") -> dict[str, Any]:
        body = {**test, "name": name, "status": status, "started_at": 1000.0, "attempts": []}
        return {"event": "testcase_finished", "run_id": "r2", "testcase": body}

    def start(name: str = "again") -> dict[str, Any]:
        return {"event": "testcase_started", "run_id": "r2", "test": {**test, "name": name}}

    head = {"started_at": 999.0, "total": 3, "host": "elsewhere", "pid": 1}
    return [
        {"event": "run_started", "run_id": "r2", "run": head},
        start(),
        end("failed"),
        start("other"),
        start(),
        end("passed", "other"),
        end("passed"),
        {"event": "run_finished", "run_id": "r2", "run": {"status": "failed"}},
    ]


@pytest.mark.parametrize("lite", [True, False])
def test_a_test_started_again_within_a_batch_keeps_both_results(tmp_path: Path, lite: bool) -> None:
    """A writer holds the ends of a batch's testcases and writes starts before them; a
    start of a test whose end it holds is written after that end, so both runs of the test
    keep their result and none is left open (then marked interrupted)."""
    path = tmp_path / "store.db"
    store = Store.open(str(path))
    if lite:
        store.close()
        opened = LiteStore.open(str(path), tmp_path)
        assert opened is not None
        LiteIngest(opened).apply(_run_of_starts_and_ends())
        opened.close()
    else:
        Ingest(store).apply(_run_of_starts_and_ends())
        store.close()
    conn = sqlite3.connect(path)
    try:
        got = conn.execute(
            "SELECT t.name, r.status FROM results r JOIN tests t ON t.id = r.test_id ORDER BY r.id"
        ).fetchall()
    finally:
        conn.close()
    assert got == [("again", "failed"), ("other", "passed"), ("again", "passed")]
