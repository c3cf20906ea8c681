"""Per-testcase isolation on a schema of 50 tables: truncate, template and snapshot side
by side, PostgreSQL and MariaDB, through splice's data manager as the runner calls it.

    .venv/bin/python -m benchmarks isolation

The schema: 50 tables of five columns (an id, text, a number, a timestamp, a reference
to the table before), 10 fixture rows each (500 rows). Between two attempts a
"testcase" inserts a row into two tables and updates a row of a third, as an API call
that writes an order and its line would; that work is not timed. What is timed is the
isolation's own cost per attempt: `DataManager.hold(...)` plus `Hold.release()`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import Table, median, ms

COMMAND = ".venv/bin/python -m benchmarks isolation"
TABLES = 50
ROWS = 10


def _schema(kind: str) -> str:
    key = "serial primary key" if kind == "postgres" else "int auto_increment primary key"
    stamp = "timestamptz" if kind == "postgres" else "datetime"
    lines = []
    for i in range(TABLES):
        ref = f", parent_id int references t{i - 1} (id)" if i else ""
        lines.append(
            f"create table t{i} (id {key}, name varchar(40) not null, amount numeric(10, 2), "
            f"made {stamp} default current_timestamp{ref});"
        )
    return "\n".join(lines)


def _fixtures() -> str:
    data = {
        f"t{i}": [
            {"id": r, "name": f"row {r}", "amount": r * 1.5, **({"parent_id": r} if i else {})}
            for r in range(1, ROWS + 1)
        ]
        for i in range(TABLES)
    }
    return json.dumps(data)


@contextmanager
def _environment(kind: str, mode: str) -> Iterator[tuple[Any, Any, Callable[[str], None]]]:
    from splice._internal.environment.isolation import DataManager
    from splice._internal.environment.services import Environment
    from splice._internal.project.loader import load_project

    folder = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    try:
        (folder / "schema.sql").write_text(_schema(kind))
        (folder / "rows.json").write_text(_fixtures())
        (folder / "splice.yaml").write_text(
            textwrap.dedent(
                f"""
                services:
                  db: {{kind: {kind}, init: [schema.sql], isolation: {mode}}}
                data: {{fixtures: {{db: [rows.json]}}}}
                """
            )
        )
        project = load_project(folder / "splice.yaml")
        with Environment(project) as env:
            env.start()
            manager = DataManager(env, project)
            manager.prepare()
            yield env, manager, _executor(kind)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _executor(kind: str) -> Callable[[str], None]:
    """A function(url) that does one testcase's writes in the database at `url`."""
    writes = [
        "insert into t3 (name, amount, parent_id) values ('new', 1, 1)",
        "insert into t4 (name, amount, parent_id) values ('new line', 2, 1)",
        "update t7 set amount = amount + 1 where id = 2",
    ]

    def run(url: str) -> None:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                for sql in writes:
                    conn.execute(sql)
            return
        import pymysql
        from sqlalchemy.engine import make_url

        u = make_url(url)
        conn = pymysql.connect(
            host=u.host,
            port=u.port,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
        )
        with conn, conn.cursor() as cur:
            for sql in writes:
                cur.execute(sql)

    return run


def _per_attempt(kind: str, mode: str, runs: int, *, gap: float = 0.0, write: bool = True) -> float:
    """Median seconds of hold + release around one testcase's writes (not timed)."""
    with _environment(kind, mode) as (env, manager, execute):
        times = []
        for _ in range(runs + 1):  # the first attempt warms connections up
            started = time.perf_counter()
            hold = manager.hold(manager.modes)
            taken = time.perf_counter() - started
            endpoint = hold.endpoint("db") or env.services["db"].endpoint
            if write:
                execute(endpoint.url)
            time.sleep(gap)  # the testcase's own time: the clone pool works meanwhile
            started = time.perf_counter()
            hold.release()
            times.append(taken + time.perf_counter() - started)
        return median(times[1:])


def measure(runs: int = 15) -> Table:
    table = Table(
        f"Per-testcase isolation on {TABLES} tables, {TABLES * ROWS} fixture rows "
        f"(median of {runs})",
        COMMAND,
        ["server", "mode", "cost per testcase attempt"],
    )
    for name, kind in (("PostgreSQL", "postgres"), ("MariaDB", "mariadb")):
        rows = [
            ("truncate (every table emptied, fixtures loaded again)", "truncate", {}),
            ("template, pool ready (testcases of 50 ms)", "template", {"gap": 0.05}),
            ("template, no pause but the writes (pool may drain)", "template", {}),
            ("snapshot, 3 tables changed", "snapshot", {}),
            ("snapshot, nothing changed", "snapshot", {"write": False}),
        ]
        for label, mode, options in rows:
            seconds = _per_attempt(kind, mode, runs, **options)
            table.rows.append([name, label, ms(seconds)])
    table.notes += [
        "a testcase inserts a row into two tables and updates one of a third (not timed); "
        "timed: `DataManager.hold` + `Hold.release`, as the runner calls them per attempt",
        "snapshot: finds the changed tables in one query (row counts; on PostgreSQL row "
        "versions newer than the last restore, on MariaDB `CHECKSUM TABLE`), then deletes "
        "and copies back only those, and sets back moved sequences / AUTO_INCREMENT",
        "template: the clone is made ahead by a background thread; a testcase shorter "
        "than making one clone waits for it (no pause). Only truncate and snapshot undo what "
        "the system under test writes to its database; snapshot keeps what it wrote while "
        "starting (docs/reference/isolation.md)",
    ]
    return table


def run(runs: int = 15) -> str:
    return measure(runs).markdown()


if __name__ == "__main__":
    print(run())
