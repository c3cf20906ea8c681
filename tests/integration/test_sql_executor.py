"""The sql executor against private PostgreSQL and MariaDB servers: parameters, results
as plain values, errors, connections per attempt, rollback isolation, timeouts."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.environment.services import Environment
from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.sql import SqlBlock, SqlExecutor, sqlalchemy_url
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration

PG_SCHEMA = "create table items (id serial primary key, sku text unique, qty int);"
MY_SCHEMA = (
    "create table items (id int auto_increment primary key, sku varchar(9) unique, qty int);"
)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One private PostgreSQL and one private MariaDB for the whole module."""
    folder = tmp_path_factory.mktemp("sql")
    (folder / "pg.sql").write_text(PG_SCHEMA)
    (folder / "my.sql").write_text(MY_SCHEMA)
    (folder / "splice.yaml").write_text(
        textwrap.dedent("""
        services:
          pg: {kind: postgres, init: [pg.sql]}
          my: {kind: mariadb, init: [my.sql]}
    """)
    )
    with Environment(load_project(folder / "splice.yaml")) as env:
        env.start()
        yield env.vars()


def _ctx(
    services: dict[str, Any],
    session: TestcaseSession | None = None,
    timeout: float | None = None,
    **override: Any,
) -> StepContext:
    if override:
        services = {name: {**vars_, **override} for name, vars_ in services.items()}
    return StepContext(
        vars={"services": services},
        session=session or TestcaseSession(),
        base_dir=Path.cwd(),
        timeout=timeout,
    )


def _sql(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return SqlExecutor().execute(SqlBlock.model_validate(block), ctx).result


@pytest.mark.parametrize("db", ["pg", "my"])
def test_params_many_and_the_result_fields(services: dict[str, Any], db: str) -> None:
    """Named parameters bind; `many` runs once per set with `params` shared; rows, first,
    scalar, columns and rowcount describe the result."""
    ctx = _ctx(services)
    try:
        done = _sql(
            ctx,
            service=db,
            query="insert into items (sku, qty) values (:sku, :qty)",
            params={"qty": 1},
            many=[{"sku": "a1"}, {"sku": "a2", "qty": 2}],
        )
        assert done == {"rows": [], "rowcount": 2, "columns": [], "first": None, "scalar": None}
        got = _sql(
            ctx,
            service=db,
            query="select sku, qty from items where sku like :p order by sku",
            params={"p": "a%"},
        )
        assert got["rows"] == [{"sku": "a1", "qty": 1}, {"sku": "a2", "qty": 2}]
        assert got["columns"] == ["sku", "qty"] and got["rowcount"] == 2
        assert got["first"] == {"sku": "a1", "qty": 1} and got["scalar"] == "a1"
        changed = (
            _sql(
                ctx,
                service=db,
                query="update items set qty = qty + 1 where sku in :s",
                params={"s": ["a1", "a2"]},
            )
            if db == "my"
            else _sql(
                ctx,
                service=db,
                query="update items set qty = qty + 1 where sku = any(:s)",
                params={"s": ["a1", "a2"]},
            )
        )
        assert changed["rowcount"] == 2
    finally:
        _sql(ctx, service=db, query="delete from items")
        ctx.session.close()


def test_a_parameter_followed_by_a_cast_is_bound(services: dict[str, Any]) -> None:
    """`:uid::uuid` binds `uid` and casts it; a literal `'a::b'` and `\\:x` stay as written."""
    ctx = _ctx(services)
    try:
        got = _sql(
            ctx,
            service="pg",
            query="select :uid::uuid as id, :n::int + 1 as n, 'a::b' as lit, '\\:x' as esc",
            params={"uid": "6f1c2a44-9a44-4ef7-9d6a-5f4a2b7c1e11", "n": "41"},
        )
        assert got["first"] == {
            "id": "6f1c2a44-9a44-4ef7-9d6a-5f4a2b7c1e11",
            "n": 42,
            "lit": "a::b",
            "esc": ":x",
        }
    finally:
        ctx.session.close()


def test_postgres_values_become_plain_data(services: dict[str, Any]) -> None:
    """Numbers, times, intervals, bytes, UUIDs, JSON and arrays come back JSON-friendly."""
    ctx = _ctx(services)
    row = _sql(
        ctx,
        service="pg",
        query="""
        select 9.50::numeric as price, 12345678901234567890.5::numeric as big,
               3::numeric as whole, 2::int8 as n, true as ok, null as nothing,
               date '2024-01-02' as d, timestamptz '2024-01-02 03:04:05+00' as ts,
               interval '90 seconds' as iv, '\\x0aff'::bytea as raw,
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id,
               '{"a": [1, 2.5]}'::jsonb as doc, array['x', 'y'] as tags
    """,
    )["first"]
    ctx.session.close()
    assert row == {
        "price": 9.5,
        "big": "12345678901234567890.5",
        "whole": 3,
        "n": 2,
        "ok": True,
        "nothing": None,
        "d": "2024-01-02",
        "ts": "2024-01-02T03:04:05+00:00",
        "iv": 90.0,
        "raw": "0aff",
        "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "doc": {"a": [1, 2.5]},
        "tags": ["x", "y"],
    }


def test_mariadb_values_become_plain_data(services: dict[str, Any]) -> None:
    """Decimals, datetimes, blobs and a literal % come back as plain values from MariaDB."""
    ctx = _ctx(services)
    row = _sql(
        ctx,
        service="my",
        query="select cast(9.5 as decimal(5,2)) as price, "
        "timestamp('2024-01-02 03:04:05') as ts, x'0aff' as raw, '50%' as pct, "
        ":doc as doc",
        params={"doc": {"k": 1}},
    )["first"]
    ctx.session.close()
    assert row == {
        "price": 9.5,
        "ts": "2024-01-02T03:04:05",
        "raw": "0aff",
        "pct": "50%",
        "doc": '{"k": 1}',
    }


def test_statements_share_a_connection_per_attempt(services: dict[str, Any]) -> None:
    """Steps of one attempt use one connection; another attempt gets its own; statements
    commit one by one, so another attempt sees a write at once."""
    first, second = _ctx(services), _ctx(services)
    try:
        pid = _sql(first, service="pg", query="select pg_backend_pid()")["scalar"]
        assert _sql(first, service="pg", query="select pg_backend_pid()")["scalar"] == pid
        assert _sql(second, service="pg", query="select pg_backend_pid()")["scalar"] != pid
        _sql(first, service="pg", query="insert into items (sku) values ('c1')")
        assert _sql(second, service="pg", query="select count(*) from items")["scalar"] == 1
    finally:
        _sql(first, service="pg", query="delete from items")
        first.session.close()
        second.session.close()


@pytest.mark.parametrize("db", ["pg", "my"])
def test_rollback_isolation_undoes_the_attempt(services: dict[str, Any], db: str) -> None:
    """With `isolation: rollback` on the endpoint, an attempt's writes are rolled back when
    it ends, and a failed statement does not spoil the ones after it."""
    ctx = _ctx(services, isolation="rollback")
    _sql(ctx, service=db, query="insert into items (sku) values ('r1')")
    with pytest.raises(StepError):
        _sql(ctx, service=db, query="insert into items (sku) values ('r1')")
    assert _sql(ctx, service=db, query="select sku from items")["rows"] == [{"sku": "r1"}]
    ctx.session.close()
    after = _ctx(services)
    assert _sql(after, service=db, query="select count(*) from items")["scalar"] == 0
    after.session.close()


def test_database_errors_name_the_message_and_the_statement(services: dict[str, Any]) -> None:
    """A syntax error, an unknown table and a missing parameter are step errors that say
    what the database said and which statement."""
    ctx = _ctx(services)
    with pytest.raises(StepError) as info:
        _sql(ctx, service="pg", query="selec 1")
    assert 'syntax error at or near "selec"' in info.value.message
    assert info.value.message.endswith("query: selec 1")
    with pytest.raises(StepError) as info:
        _sql(ctx, service="my", query="select * from nope")
    assert "Table 'splice.nope' doesn't exist (error 1146)" in info.value.message
    with pytest.raises(StepError) as info:
        _sql(ctx, service="pg", query="select :missing")
    assert "uses :missing but no value is given" in info.value.message
    ctx.session.close()


def test_unknown_or_unreachable_services_are_named(services: dict[str, Any]) -> None:
    """A service that does not exist lists the known ones; one that refuses connections
    is named with its address."""
    with pytest.raises(StepError) as info:
        _sql(_ctx(services), service="nope", query="select 1")
    assert info.value.message == "no service named 'nope'"
    assert info.value.hint == "expected one of my, pg"
    with pytest.raises(StepError) as info:
        _sql(_ctx(services), service="pgg", query="select 1")
    assert info.value.hint == "did you mean 'pg'?"
    gone = {
        "pg": {
            **services["pg"],
            "port": 1,
            "sqlalchemy_url": "postgresql+psycopg://splice:x@127.0.0.1:1/splice",
        }
    }
    with pytest.raises(StepError) as info:
        _sql(_ctx(gone), service="pg", query="select 1")
    assert info.value.message.startswith("cannot connect to service 'pg' (127.0.0.1:1):")


def test_the_step_timeout_stops_a_slow_query(services: dict[str, Any]) -> None:
    """A query running past the step's timeout is cancelled by the server and reported."""
    ctx = _ctx(services, timeout=0.2)
    with pytest.raises(StepError) as info:
        _sql(ctx, service="pg", query="select pg_sleep(30)")
    assert "ran past the step's timeout of 0.2s" in info.value.message
    ctx.session.close()


@pytest.mark.parametrize(
    "db,query",
    [
        ("pg", "select pg_sleep(30)"),
        ("my", "select sleep(30) from items, (select 1 union select 2) t"),
    ],
)
def test_an_interrupted_run_cancels_the_running_query(
    services: dict[str, Any], db: str, query: str
) -> None:
    """Setting the run's cancelled event stops a long query instead of waiting for it."""
    ctx = _ctx(services)
    if db == "my":
        _sql(ctx, service=db, query="insert into items (sku) values ('s1')")
    timer = threading.Timer(0.3, ctx.cancelled.set)
    timer.start()
    try:
        with pytest.raises(StepError) as info:
            _sql(ctx, service=db, query=query)
        assert info.value.message == "interrupted while the query was running"
    finally:
        timer.cancel()
        ctx.cancelled.clear()
        _sql(ctx, service=db, query="delete from items")
        ctx.session.close()


def test_urls_are_mapped_to_the_installed_drivers(services: dict[str, Any]) -> None:
    """`url:` takes postgres:// and mysql:// URLs (with the drivers splice installs) and
    any other SQLAlchemy URL."""
    assert sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert sqlalchemy_url("mysql://u@h/d") == "mysql+pymysql://u@h/d"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"
    ctx = _ctx(services)
    assert _sql(ctx, url=services["pg"]["url"], query="select 1")["scalar"] == 1
    assert _sql(ctx, url=services["my"]["url"], query="select 2")["scalar"] == 2
    assert _sql(ctx, url="sqlite://", query="select 3 as n")["rows"] == [{"n": 3}]
    ctx.session.close()


def test_a_block_names_exactly_one_target() -> None:
    """A block gives `service` or `url`, not both and not neither."""
    for block in ({"query": "select 1"}, {"service": "a", "url": "sqlite://", "query": "x"}):
        with pytest.raises(ValidationError, match="either `service:`"):
            SqlBlock.model_validate(block)
