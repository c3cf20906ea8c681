"""Per-testcase isolation of a PostgreSQL database: template, truncate, rollback.

- template: after fixtures and migrations, the database is copied once into a template
  (`<db>_tpl_<token>`, connections disallowed); each testcase attempt gets its own clone
  (`CREATE DATABASE ... TEMPLATE`, ~10 ms on tmpfs), made ahead of need by a pool.
  The copy, not the database itself, is the template: the system under test may stay
  connected to its database, which `CREATE DATABASE ... TEMPLATE` would refuse.
- truncate: after each attempt, every user table (but migration tables and those
  `data.keep` names; see `splice._internal.data.tables`) is emptied in one `TRUNCATE ... RESTART
  IDENTITY` and the fixtures are loaded again.
- rollback: the attempt's endpoint says `isolation: rollback`; the sql executor then runs
  the attempt's statements in one transaction and rolls it back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

from splice._internal.data import sql_fixtures
from splice._internal.data.tables import TableChoice
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError
from splice._internal.services.kinds.postgres import binaries as postgres_binaries
from splice._internal.services.kinds.postgres import cache as postgres_cache
from splice._internal.services.kinds.postgres.cluster import connect, driver, make_endpoint
from splice._internal.services.kinds.postgres.data import live, owned
from splice._internal.services.kinds.postgres.pool import ClonePool

_USER_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""


def with_database(endpoint: Endpoint, database: str, **extra: Any) -> Endpoint:
    """The same server, another database (URLs rewritten)."""
    made = make_endpoint(
        endpoint.host, endpoint.port or 5432, endpoint.user or "", endpoint.password or "", database
    )
    return dataclasses.replace(made, extra={**endpoint.extra, **made.extra, **extra})


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Template:
    """A template database and a pool of clones made from it."""

    def __init__(self, service: RunningService) -> None:
        self.service = service
        self.endpoint = service.endpoint
        base = self.endpoint.database or "postgres"
        token = uuid.uuid4().hex[:6]
        # at most 63 bytes per name; the token keeps runs on one external server apart
        self.template = f"{base[:40]}_tpl_{token}"
        self.admin_db = _admin_database(service)
        with connect(service.name, self.endpoint, database=self.admin_db) as conn:
            self._make_template(conn, base)
        template = self.template
        self.pool = ClonePool(
            service.name,
            connect=lambda: connect(service.name, self.endpoint, database=self.admin_db),
            create=lambda conn, name: conn.execute(
                f"CREATE DATABASE {_q(name)} TEMPLATE {_q(template)}"
            ),
            drop=_drop,
            prefix=f"{base[:40]}_tc{token}_",
        )

    def _make_template(self, conn: Any, base: str) -> None:
        psycopg = driver(self.service.name)
        # CREATE DATABASE ... TEMPLATE waits 5 s for other sessions before it gives up:
        # when the system under test is connected, copy with pg_dump at once instead
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [base],
        ).fetchone()[0]
        if others:
            self._dump_copy(conn, base)
        else:
            try:
                conn.execute(f"CREATE DATABASE {_q(self.template)} TEMPLATE {_q(base)}")
            except psycopg.errors.ObjectInUse:  # someone connected in between
                self._dump_copy(conn, base)
        conn.execute(f"ALTER DATABASE {_q(self.template)} WITH ALLOW_CONNECTIONS false")

    def _dump_copy(self, conn: Any, base: str) -> None:
        """Copy with pg_dump | psql: slower, but works while others are connected."""
        try:
            tools = live(self.service).get("binaries") or postgres_binaries.find(
                self.service.name, None
            )
        except ServiceError as exc:
            raise ServiceError(
                self.service.name,
                f"cannot make a template of database {base!r}: other sessions are "
                "connected to it, and pg_dump to copy it instead was not found",
                hint="install the PostgreSQL client tools, or use `isolation: truncate`",
            ) from exc
        conn.execute(f"CREATE DATABASE {_q(self.template)}")
        env = {**postgres_cache.clean_env(), "PGPASSWORD": self.endpoint.password or ""}
        common = [
            "-h",
            self.endpoint.host,
            "-p",
            str(self.endpoint.port),
            "-U",
            self.endpoint.user or "postgres",
        ]
        dump = subprocess.Popen(
            [tools.tool("pg_dump"), *common, "-d", base],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        load = subprocess.run(
            [tools.tool("psql"), *common, "-d", self.template, "-q", "-v", "ON_ERROR_STOP=1"],
            stdin=dump.stdout,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        _, dump_err = dump.communicate()
        if dump.returncode != 0 or load.returncode != 0:
            lines = (dump_err.decode(errors="replace") + load.stderr).strip().splitlines()
            raise ServiceError(
                self.service.name, f"copying database {base!r} failed", log_tail=lines[-20:]
            )

    def acquire(self) -> Endpoint:
        return with_database(self.endpoint, self.pool.take())

    def release(self, endpoint: Endpoint | None) -> None:
        if endpoint is not None and endpoint.database:
            self.pool.give_back(endpoint.database)

    def close(self) -> None:
        keep = not owned(self.service)  # a server stopping now takes its clones along
        self.pool.close(drop=keep)
        if keep:
            with (
                contextlib.suppress(Exception),
                connect(self.service.name, self.endpoint, database=self.admin_db) as conn,
            ):
                _drop(conn, self.template)


def _drop(conn: Any, name: str) -> None:
    try:
        # WITH (FORCE) ends sessions still open on the clone (PostgreSQL 13+)
        conn.execute(f"DROP DATABASE IF EXISTS {_q(name)} WITH (FORCE)")
    except Exception:  # noqa: BLE001 - older servers: without FORCE
        conn.execute(f"DROP DATABASE IF EXISTS {_q(name)}")


def _admin_database(service: RunningService) -> str:
    """A database to connect to while copying the service's own: `postgres` if it exists."""
    try:
        with connect(service.name, service.endpoint, database="postgres"):
            return "postgres"
    except Exception:  # noqa: BLE001 - fall back to the database every cluster has
        return "template1"


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
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.service.name, self.endpoint, autocommit=False)
            conn = self._conn
            try:
                with conn.cursor() as cur:
                    # a session of the system under test that holds a lock must not hang us
                    cur.execute("SET lock_timeout = '10s'")
                    cur.execute(_USER_TABLES)
                    tables = [
                        f"{_q(schema)}.{_q(name)}"
                        for schema, name in cur.fetchall()
                        if self.choice.acts_on(schema, name)
                    ]
                    if tables:
                        # no CASCADE: it would empty a kept table that references these
                        cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
                sql_fixtures.load(
                    conn,
                    self.fixtures,
                    sql_fixtures.POSTGRES,
                    skip_table=lambda name: self.choice.keeps(name, "public"),
                )
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.close()
                if isinstance(exc, Exception) and sql_fixtures.POSTGRES.is_db_error(exc):
                    raise ServiceError(
                        self.service.name,
                        f"could not truncate after a testcase: {exc}",
                        hint="a session of the system under test may hold a lock; a table "
                        "`data.keep` names must not reference the tables that are emptied",
                    ) from exc
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
