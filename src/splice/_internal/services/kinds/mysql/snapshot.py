"""Isolation `snapshot` for MySQL/MariaDB: the database as it was once everything started.

After migrations, fixtures and the start of every service (the system under test
included), the tables are copied once into a database of their own
(`<db>_snap_<token>`, see `mysql_isolation.copy_database`), with each table's
`CHECKSUM TABLE` and `AUTO_INCREMENT`. After each testcase attempt, while the system under
test stays connected, the tables whose checksum changed are emptied (`DELETE`, foreign
key checks off, so nothing cascades) and filled again with `INSERT ... SELECT` from the
copy, in one transaction; then each `AUTO_INCREMENT` that moved is set back. MySQL
cannot turn triggers off for a session: the application's triggers fire on the restore.
Migration tables and those `data.keep` names are not part of the snapshot.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

from splice._internal.data.tables import TableChoice
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError
from splice._internal.services.kinds.mysql.isolation import copy_database, table_copies
from splice._internal.services.kinds.mysql.server import connect


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class Snapshot:
    """A copy of the database's tables, taken once; `restorer` puts them back."""

    def __init__(self, service: RunningService, choice: TableChoice) -> None:
        self.service = service
        base = service.endpoint.database
        if not base:
            raise ServiceError(
                service.name,
                "isolation 'snapshot' needs a database",
                hint="give the URL a database: mysql://user@host/DATABASE",
            )
        self.copy = f"{base[:40]}_snap_{uuid.uuid4().hex[:6]}"
        conn = connect(service.name, service.endpoint, database="")
        try:
            with conn.cursor() as cur:
                everything = table_copies(cur, base)
            self.tables = [t for t in everything if choice.acts_on(base, t.name)]
            copy_database(conn, base, self.copy, self.tables)
            with conn.cursor() as cur:
                self.sums = _checksums(cur, self.copy, [t.name for t in self.tables])
                self.counters = _counters(cur, base)
        finally:
            conn.close()

    def restorer(self, endpoint: Endpoint, *, fresh: bool) -> Restorer:
        return Restorer(self, endpoint, fresh=fresh)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            conn = connect(self.service.name, self.service.endpoint, database="")
            with contextlib.closing(conn), conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_q(self.copy)}")


class Restorer:
    """Puts one database back to the snapshot after each attempt (a reset)."""

    def __init__(self, snapshot: Snapshot, endpoint: Endpoint, *, fresh: bool) -> None:
        self.snapshot = snapshot
        self.endpoint = endpoint
        self.database = endpoint.database or ""
        self.name = snapshot.service.name
        self._lock = threading.Lock()
        self._conn: Any = None
        self._fresh = fresh
        self._missing: set[str] = set()  # dropped by a testcase: no longer restored

    def reset(self) -> None:
        with self._lock:
            if self._conn is None or not self._conn.open:
                self._conn = connect(self.name, self.endpoint, database="")
            conn = self._conn
            try:
                self._restore(conn)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.close()
                if type(exc).__module__.startswith("pymysql"):
                    raise ServiceError(
                        self.name,
                        f"could not restore the snapshot after a testcase: {exc}",
                        hint="a session of the system under test may hold a lock",
                    ) from exc
                raise

    def _restore(self, conn: Any) -> None:
        snap, db = self.snapshot, _q(self.database)
        with conn.cursor() as cur:
            cur.execute("SET SESSION lock_wait_timeout = 10")
            counters = _counters(cur, self.database)
            gone = [t.name for t in snap.tables if t.name not in counters]
            tables = [t for t in snap.tables if t.name in counters]
            if self._fresh:
                now = _checksums(cur, self.database, [t.name for t in tables])
                changed = [t for t in tables if now.get(t.name) != snap.sums.get(t.name)]
            else:
                changed = tables
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                cur.execute("START TRANSACTION")
                for table in changed:
                    cur.execute(f"DELETE FROM {db}.{_q(table.name)}")
                    if table.columns:
                        cur.execute(
                            f"INSERT INTO {db}.{_q(table.name)} ({table.columns}) "
                            f"SELECT {table.columns} FROM {_q(snap.copy)}.{_q(table.name)}"
                        )
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK")
                raise
            finally:
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
            if changed:
                counters = _counters(cur, self.database)
            for table in tables:
                wanted = snap.counters.get(table.name)
                if wanted is not None and counters.get(table.name) != wanted:
                    name = _q(table.name)
                    cur.execute(f"ALTER TABLE {db}.{name} AUTO_INCREMENT = {int(wanted)}")
        self._fresh = True
        new = [name for name in gone if name not in self._missing]
        self._missing.update(new)
        if new:
            raise ServiceError(
                self.name,
                f"{', '.join(new)} of the snapshot no longer exist: the rest is restored, "
                "these are not any more",
                hint="a testcase dropped or renamed them; `snapshot` does not undo schema "
                "changes (run them in migrations, before the snapshot is taken)",
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()


def _checksums(cur: Any, database: str, names: list[str]) -> dict[str, Any]:
    if not names:
        return {}
    cur.execute("CHECKSUM TABLE " + ", ".join(f"{_q(database)}.{_q(n)}" for n in names))
    # answers `database.table`, checksum
    return {str(row[0]).split(".", 1)[1]: row[1] for row in cur.fetchall()}


def _counters(cur: Any, database: str) -> dict[str, Any]:
    """Each table's next AUTO_INCREMENT, as the server has it now (MySQL 8 caches these
    figures unless told not to)."""
    with contextlib.suppress(Exception):
        cur.execute("SET SESSION information_schema_stats_expiry = 0")
    cur.execute(
        "SELECT table_name, auto_increment FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        [database],
    )
    return dict(cur.fetchall())
