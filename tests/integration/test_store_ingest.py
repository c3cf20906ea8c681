"""Both writers of the store give the same rows: `LiteIngest` (sqlite3) into SQLite and
`Ingest` (SQLAlchemy, COPY) into PostgreSQL, whole runs or event by event as the live
recorder writes them; a NUL character, which PostgreSQL text cannot hold, is replaced."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from splice._internal.store import Store
from splice._internal.store import schema as t
from splice._internal.store.ingest import Ingest
from splice._internal.store.lite import LiteStore
from splice._internal.store.lite_ingest import LiteIngest
from splice._internal.store.writers import LocalWriter
from tests.support.pg_store import new_database, postgres_server
from tests.support.store_events import batches

pytestmark = pytest.mark.integration

# set from the wall clock of the writing process, so never equal between two writers
_CLOCK_COLUMNS = {("runs", "updated_at")}


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # SQLite keeps booleans as 0 and 1
    return tuple(int(v) if isinstance(v, bool) else v for v in row)


def _tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted in Python (the databases collate text apart)."""
    out = {}
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        fetch = lambda sql: conn.execute(sql).fetchall()  # noqa: E731 - one line per database
    else:
        engine = create_engine(url)
        pg = engine.connect()
        fetch = lambda sql: [tuple(r) for r in pg.execute(text(sql))]  # noqa: E731
    try:
        for table in t.metadata.sorted_tables:
            names = [c.name for c in table.columns if (table.name, c.name) not in _CLOCK_COLUMNS]
            rows = fetch(f"SELECT {', '.join(names)} FROM {table.name}")
            out[table.name] = sorted((_normal(r) for r in rows), key=repr)
    finally:
        if url.startswith("sqlite"):
            conn.close()
        else:
            pg.close()
            engine.dispose()
    return out


def _lite(path: Path, events: list[list[dict[str, Any]]]) -> str:
    url = f"sqlite:///{path}"
    Store.open(url).close()  # the schema, made by the migrations
    lite = LiteStore.open(url, path.parent)
    assert lite is not None
    try:
        writer = LiteIngest(lite)
        for batch in events:
            writer.apply(batch)
    finally:
        lite.close()
    return url


def _assert_same(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> None:
    assert sum(len(rows) for rows in expected.values()) > 1000
    for table, rows in expected.items():
        assert got[table] == rows, table


def test_the_postgresql_writer_stores_the_same_rows_as_the_sqlite3_writer(
    tmp_path: Path, postgres: str
) -> None:
    """Every table holds the same rows after the same events: results and steps through
    COPY, flaky scores from histories read in one statement, an interrupted run."""
    expected = _tables(_lite(tmp_path / "lite.db", batches()))
    with new_database(postgres) as url:
        store = Store.open(url)
        try:
            ingest = Ingest(store)
            for batch in batches():
                ingest.apply(batch)
        finally:
            store.close()
        got = _tables(url)
    assert any(row[1] == "interrupted" for row in got["runs"])
    _assert_same(expected, got)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_live_recorder_stores_the_same_rows_as_whole_runs(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """Events put one at a time into the recorder's writer thread, which writes whatever
    queued meanwhile, end as the same rows as whole runs written in one transaction each."""
    expected = _tables(_lite(tmp_path / "whole.db", batches()))

    def record(store: Store | LiteStore) -> None:
        warnings: list[str] = []
        for batch in batches():
            writer = LocalWriter(store, warn=warnings.append)
            for event in batch:
                writer.put(event)
            writer.close(timeout=120)
            assert not writer.failed, warnings
        store.close()

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
        Store.open(url).close()
        lite = LiteStore.open(url, tmp_path)
        assert lite is not None
        record(lite)
        _assert_same(expected, _tables(url))
        return
    with new_database(request.getfixturevalue("postgres")) as url:
        record(Store.open(url))
        _assert_same(expected, _tables(url))


def test_a_nul_character_reaches_postgresql_replaced(tmp_path: Path, postgres: str) -> None:
    """A NUL in a step's name, request and response and in a failure message is stored as
    U+FFFD on PostgreSQL (COPY would refuse it), and the run's other rows are untouched."""
    step = {
        "index": 0,
        "name": "GET /a\x00b",
        "executor": "http",
        "status": "failed",
        "started_at": 10.0,
        "duration": 0.1,
        "request": {"method": "GET", "url": "http://127.0.0.1:9/a\x00b"},
        "response": {"status": 200, "body": "x\x00y"},
        "failures": [{"message": "got x\x00y"}],
    }
    attempt = {"number": 1, "status": "failed", "started_at": 10.0, "duration": 0.1}
    testcase = {
        "suite": "s",
        "name": "t\x00",
        "status": "failed",
        "started_at": 10.0,
        "duration": 0.1,
        "attempts": [{**attempt, "steps": [step]}],
    }
    events = [
        {"event": "run_started", "run_id": "n1", "run": {"started_at": 9.0, "total": 1}},
        {"event": "testcase_finished", "run_id": "n1", "testcase": testcase},
        {"event": "run_finished", "run_id": "n1", "run": {"status": "failed"}},
    ]
    with new_database(postgres) as url:
        store = Store.open(url)
        try:
            Ingest(store).apply(events)
            with store.engine.connect() as conn:
                name, request, response = conn.execute(
                    text("SELECT name, request, response FROM steps")
                ).one()
                result = conn.execute(text("SELECT status, message FROM results")).one()
                test = conn.execute(text("SELECT name FROM tests")).scalar_one()
                run = conn.execute(text("SELECT status, failed FROM runs")).one()
        finally:
            store.close()
    assert name == "GET /a\ufffdb"
    assert "a\ufffdb" in request and "x\ufffdy" in response
    assert tuple(result) == ("failed", "got x\ufffdy")
    assert test == "t\ufffd"
    assert tuple(run) == ("failed", 1)
