"""Isolation `snapshot` for PostgreSQL: the database as it was once everything started.

The snapshot is taken after migrations, fixtures and the start of every service, the
system under test included (its users, roles, settings, migration rows...): the rows
of every table (`COPY ... TO STDOUT (FORMAT binary)`, kept in splice's memory) and the
position of every sequence. After each testcase attempt the database is put back in
place, while the system under test stays connected:

1. which tables changed, in one query: a table changed when its row count differs from
   the snapshot's or a row has a newer `xmin` than the last restore (an insert or an
   update writes one; a delete lowers the count);
2. in one transaction with `session_replication_role = replica` (no foreign-key checks,
   no cascades, no triggers of the application fire): `DELETE` the changed tables,
   `COPY` their rows back;
3. `setval` each sequence that moved, so the next id is the one after start-up again.

Without the privilege to set `session_replication_role` (not a superuser), every
restore is a whole one: `TRUNCATE` of every snapshot table, then `COPY` in foreign-key
order; the application's triggers then fire. Tables of extensions, migration tables and
those `data.keep` names are not part of the snapshot. Schema changes are not undone.
"""

from __future__ import annotations

import contextlib
import graphlib
import threading
from dataclasses import dataclass
from typing import Any

from splice._internal.data.tables import TableChoice
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError
from splice._internal.services.kinds.postgres.cluster import connect, driver

_TABLES = """
SELECT n.nspname, c.relname, c.oid,
       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attgenerated = '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
_SEQUENCES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       (SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
          AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
          AND d.deptype IN ('a', 'i') LIMIT 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""
_REFERENCES = "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Table:
    name: str  # schema-qualified and quoted
    oid: int
    columns: str
    rows: bytes = b""
    count: int = 0


class Snapshot:
    """The rows and sequences of a database, taken once; `restorer` puts them back."""

    def __init__(self, service: RunningService, choice: TableChoice) -> None:
        self.service = service
        with connect(service.name, service.endpoint, autocommit=False) as conn:
            with conn.cursor() as cur:
                # one transaction at REPEATABLE READ: every table as of the same instant
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute(_TABLES)
                found = cur.fetchall()
                self.tables = [
                    _Table(f"{_q(schema)}.{_q(name)}", oid, columns or "")
                    for schema, name, oid, columns in found
                    if choice.acts_on(schema, name)
                ]
                for table in self.tables:
                    table.rows = _copy_out(cur, table)
                counts = _counts(cur, self.tables, None)
                for table, (count, _) in zip(self.tables, counts, strict=True):
                    table.count = count
                oids = {t.oid for t in self.tables}
                cur.execute(_SEQUENCES)
                # a sequence of a kept table stays where it is; one of no table is restored
                names = [s for s, owner in cur.fetchall() if owner is None or owner in oids]
                self.sequences = dict(zip(names, _positions(cur, names), strict=True))
                cur.execute(_REFERENCES)
                self.order = _fk_order(self.tables, cur.fetchall())
            conn.rollback()

    def restorer(self, endpoint: Endpoint, *, fresh: bool) -> Restorer:
        """Restores one database (the service's own, or a copy of it for a parallel
        slot); `fresh` says it holds the snapshot's state already."""
        return Restorer(self, endpoint, fresh=fresh)


class Restorer:
    """Puts one database back to the snapshot after each attempt (a reset)."""

    def __init__(self, snapshot: Snapshot, endpoint: Endpoint, *, fresh: bool) -> None:
        self.snapshot = snapshot
        self.endpoint = endpoint
        self.name = snapshot.service.name
        self._lock = threading.Lock()
        self._conn: Any = None
        self._replica: bool | None = None
        self._mark: int | None = None  # xid of the last restore; None: restore everything
        self._missing: set[str] = set()  # dropped by a testcase: no longer restored
        if fresh:
            with self._lock:
                self._mark = _xid(self._connection())

    def reset(self) -> None:
        with self._lock:
            conn = self._connection()
            try:
                self._restore(conn)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.close()
                if isinstance(exc, driver(self.name).Error):
                    raise ServiceError(
                        self.name,
                        f"could not restore the snapshot after a testcase: {exc}",
                        hint="a session of the system under test may hold a lock; tables "
                        "listed in `data.keep` must not reference the others",
                    ) from exc
                raise

    def _restore(self, conn: Any) -> None:
        snap = self.snapshot
        with conn.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = '10s'")
            gone = self._gone(cur)
            tables = [t for t in snap.tables if t.name not in self._missing]
            order = [t for t in snap.order if t.name not in self._missing]
            sequences = {n: v for n, v in snap.sequences.items() if n not in self._missing}
            replica = self._replica_mode(cur)
            if replica and self._mark is not None:
                counts = _counts(cur, tables, self._mark)
                changed = [
                    t
                    for t, (count, newer) in zip(tables, counts, strict=True)
                    if newer or count != t.count
                ]
            else:
                changed = order
            if changed and replica:
                cur.execute("; ".join(f"DELETE FROM {t.name}" for t in changed))
            elif changed:
                cur.execute(f"TRUNCATE {', '.join(t.name for t in tables)}")
                changed = order
            for table in changed:
                if table.rows:
                    with cur.copy(
                        f"COPY {table.name} ({table.columns}) FROM STDIN (FORMAT binary)"
                    ) as copy:
                        copy.write(table.rows)
            now = _positions(cur, list(sequences))
            moved = [
                (name, *saved)
                for (name, saved), current in zip(sequences.items(), now, strict=True)
                if current != saved
            ]
            for name, value, called in moved:
                cur.execute("SELECT setval(%s, %s, %s)", [name, value, called])
            cur.execute("SELECT txid_current()")
            mark = int(cur.fetchone()[0]) % (1 << 32)
        conn.commit()
        self._mark = mark
        if gone:
            raise ServiceError(
                self.name,
                f"{', '.join(gone)} of the snapshot no longer exist: the rest is restored, "
                "these are not any more",
                hint="a testcase dropped or renamed them; `snapshot` does not undo schema "
                "changes (run them in migrations, before the snapshot is taken)",
            )

    def _gone(self, cur: Any) -> list[str]:
        """Tables and sequences of the snapshot that were dropped since the last restore
        (they are left out from now on)."""
        names = [t.name for t in self.snapshot.tables] + list(self.snapshot.sequences)
        cur.execute(
            "SELECT name FROM unnest(%s::text[]) AS t(name) WHERE to_regclass(name) IS NULL",
            [names],
        )
        gone = [name for (name,) in cur.fetchall() if name not in self._missing]
        self._missing.update(gone)
        return [n for n in gone if n not in self.snapshot.sequences]

    def _replica_mode(self, cur: Any) -> bool:
        """`SET LOCAL session_replication_role = replica`, when this user may."""
        if self._replica is False:
            return False
        try:
            cur.execute("SAVEPOINT splice_replica")
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("RELEASE SAVEPOINT splice_replica")
        except driver(self.name).errors.InsufficientPrivilege:
            cur.execute("ROLLBACK TO SAVEPOINT splice_replica")
            self._replica = False
            return False
        self._replica = True
        return True

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.name, self.endpoint, autocommit=False)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()


def _copy_out(cur: Any, table: _Table) -> bytes:
    if not table.columns:
        return b""
    out = bytearray()
    with cur.copy(
        f"COPY (SELECT {table.columns} FROM {table.name}) TO STDOUT (FORMAT binary)"
    ) as copy:
        for chunk in copy:
            out += chunk
    return bytes(out)


def _counts(cur: Any, tables: list[_Table], mark: int | None) -> list[tuple[int, bool]]:
    """Each table's row count, and whether a row was written after the xid `mark`."""
    if not tables:
        return []
    newer = f"age(xmin) < age('{int(mark)}'::xid)" if mark is not None else "false"
    parts = [
        f"SELECT {i}, count(*), coalesce(bool_or({newer}), false) FROM {t.name}"
        for i, t in enumerate(tables)
    ]
    cur.execute(" UNION ALL ".join(parts))
    found = {i: (int(count), bool(new)) for i, count, new in cur.fetchall()}
    return [found[i] for i in range(len(tables))]


def _positions(cur: Any, sequences: list[str]) -> list[tuple[int, bool]]:
    if not sequences:
        return []
    cur.execute(
        " UNION ALL ".join(
            f"SELECT {i}, last_value, is_called FROM {name}" for i, name in enumerate(sequences)
        )
    )
    found = {i: (int(value), bool(called)) for i, value, called in cur.fetchall()}
    return [found[i] for i in range(len(sequences))]


def _xid(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT txid_current()")
        mark = int(cur.fetchone()[0]) % (1 << 32)
    conn.commit()
    return mark


def _fk_order(tables: list[_Table], references: list[tuple[int, int]]) -> list[_Table]:
    """Tables with the ones they reference first (for a restore that checks foreign
    keys); a cycle keeps the tables in name order."""
    by_oid = {t.oid: t for t in tables}
    graph: dict[int, set[int]] = {t.oid: set() for t in tables}
    for child, parent in references:
        if child in by_oid and parent in by_oid and child != parent:
            graph[child].add(parent)
    try:
        return [by_oid[oid] for oid in graphlib.TopologicalSorter(graph).static_order()]
    except graphlib.CycleError:
        return list(tables)
