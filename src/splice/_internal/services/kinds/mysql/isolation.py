"""Per-testcase isolation of a MySQL/MariaDB database: template, truncate, rollback.

MySQL has no template databases, so `template` is emulated: after fixtures, the
database is copied once into `<db>_tpl_<token>`, and each clone is a new database with
every table re-created from `SHOW CREATE TABLE` (indexes, foreign keys and
AUTO_INCREMENT included) and filled with `INSERT ... SELECT`. Views, triggers and
routines are not copied. A pool makes clones ahead of need, so taking one is instant.
`truncate` empties every table (foreign key checks off) but migration tables and those
`data.keep` names (see `splice._internal.data.tables`), and loads the fixtures again.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from splice._internal.data import sql_fixtures
from splice._internal.data.tables import TableChoice
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError
from splice._internal.services.kinds.mysql.server import connect, make_endpoint
from splice._internal.services.kinds.postgres.data import owned
from splice._internal.services.kinds.postgres.pool import ClonePool


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def with_database(endpoint: Endpoint, database: str) -> Endpoint:
    made = make_endpoint(
        endpoint.host,
        endpoint.port or 3306,
        endpoint.user or "root",
        endpoint.password or "",
        database,
    )
    return replace(made, extra={**endpoint.extra, **made.extra})


@dataclass(frozen=True)
class _TableCopy:
    name: str
    create: str  # SHOW CREATE TABLE, unqualified: runs in the clone database
    columns: str  # the columns to copy (generated ones cannot be inserted)


def table_copies(cur: Any, database: str) -> list[_TableCopy]:
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
        [database],
    )
    out = []
    for (name,) in cur.fetchall():
        cur.execute(f"SHOW CREATE TABLE {_q(database)}.{_q(name)}")
        create = cur.fetchone()[1]
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s AND extra NOT LIKE '%%GENERATED%%' ORDER BY ordinal_position",
            [database, name],
        )
        columns = ", ".join(_q(c) for (c,) in cur.fetchall())
        out.append(_TableCopy(name, create, columns))
    return out


def copy_database(conn: Any, source: str, target: str, tables: list[_TableCopy]) -> None:
    """Create `target` with the tables and rows of `source`."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT default_character_set_name, default_collation_name FROM "
            "information_schema.schemata WHERE schema_name = %s",
            [source],
        )
        charset, collation = cur.fetchone()
        cur.execute(f"CREATE DATABASE {_q(target)} CHARACTER SET {charset} COLLATE {collation}")
        cur.execute(f"USE {_q(target)}")  # foreign keys in SHOW CREATE TABLE are unqualified
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            for table in tables:
                cur.execute(table.create)
                if table.columns:
                    cur.execute(
                        f"INSERT INTO {_q(target)}.{_q(table.name)} ({table.columns}) "
                        f"SELECT {table.columns} FROM {_q(source)}.{_q(table.name)}"
                    )
        finally:
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")
            cur.execute("USE information_schema")


def _drop(conn: Any, name: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {_q(name)}")


class Template:
    """A copy of the database made after fixtures, and a pool of clones of it."""

    def __init__(self, service: RunningService) -> None:
        self.service = service
        self.endpoint = service.endpoint
        base = self.endpoint.database
        if not base:
            raise ServiceError(
                service.name,
                "isolation 'template' needs a database",
                hint="give the URL a database: mysql://user@host/DATABASE",
            )
        token = uuid.uuid4().hex[:6]
        self.template = f"{base[:40]}_tpl_{token}"  # at most 64 characters
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                source_tables = table_copies(cur, base)
            copy_database(conn, base, self.template, source_tables)
            with conn.cursor() as cur:
                tables = table_copies(cur, self.template)
        finally:
            conn.close()
        self.pool = ClonePool(
            service.name,
            connect=self._connect,
            create=lambda c, name: copy_database(c, self.template, name, tables),
            drop=_drop,
            prefix=f"{base[:40]}_tc{token}_",
        )

    def _connect(self) -> Any:
        return connect(self.service.name, self.endpoint, database="")

    def acquire(self) -> Endpoint:
        return with_database(self.endpoint, self.pool.take())

    def release(self, endpoint: Endpoint | None) -> None:
        if endpoint is not None and endpoint.database:
            self.pool.give_back(endpoint.database)

    def close(self) -> None:
        keep = not owned(self.service)  # a server stopping now takes its clones along
        self.pool.close(drop=keep)
        if keep:
            with contextlib.suppress(Exception):
                conn = self._connect()
                with contextlib.closing(conn):
                    _drop(conn, self.template)


class Truncate:
    """Empties the tables of one database after an attempt and loads the fixtures again
    (the service's own database, or a copy of it for a parallel slot)."""

    def __init__(
        self,
        service: RunningService,
        endpoint: Endpoint,
        fixtures: list[Path],
        choice: TableChoice,
    ) -> None:
        self.service = service
        self.endpoint = endpoint
        self.fixtures = fixtures
        self.choice = choice
        self._lock = threading.Lock()
        self._conn: Any = None

    def reset(self) -> None:
        with self._lock:
            if self._conn is None or not self._conn.open:
                self._conn = connect(self.service.name, self.endpoint)
            conn = self._conn
            database = self.endpoint.database or ""
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION lock_wait_timeout = 10")
                    cur.execute(
                        "SELECT table_name FROM information_schema.tables WHERE "
                        "table_schema = DATABASE() AND table_type = 'BASE TABLE'"
                    )
                    tables = [r[0] for r in cur.fetchall() if self.choice.acts_on(database, r[0])]
                    cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                    try:
                        for table in tables:
                            cur.execute(f"TRUNCATE TABLE {_q(table)}")
                    finally:
                        cur.execute("SET FOREIGN_KEY_CHECKS = 1")
                conn.autocommit(False)
                try:
                    sql_fixtures.load(
                        conn,
                        self.fixtures,
                        sql_fixtures.MYSQL,
                        skip_table=lambda name: self.choice.keeps(name, database),
                    )
                finally:
                    conn.autocommit(True)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.close()
                if isinstance(exc, Exception) and sql_fixtures.MYSQL.is_db_error(exc):
                    raise ServiceError(
                        self.service.name,
                        f"could not truncate after a testcase: {exc}",
                        hint="a session of the system under test may hold a lock",
                    ) from exc
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
