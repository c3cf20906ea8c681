"""The default SQLite store opened with the standard library's sqlite3, for recording a run.

Importing SQLAlchemy costs a `splice run` about 0.2 s, more than a one-step suite takes, so
the recorder of a run into a SQLite store uses sqlite3 directly (`LiteStore` here and
`splice._internal.store.lite_ingest.LiteIngest`). SQLAlchemy (and Alembic) are still used, and
imported, only where they earn it: a store that is new or behind the newest schema is
created or migrated by `Store.open`, and runs of dead processes found on the way are
finished by `Store.reap`; both are rare, and both happen before the run begins. PostgreSQL
stores and every other command (the dashboard, imports, retention) use `Store`.

A test keeps both ways writing the same rows for the same runs.
"""

from __future__ import annotations

import sqlite3
import time
from collections import namedtuple
from pathlib import Path

from splice._internal.store.errors import StoreError
from splice._internal.store.liveness import STALE_AFTER, dead_runs
from splice._internal.store.location import SQLITE_PRAGMAS, resolve_url, sqlite_path
from splice._internal.store.revision import HEAD

_Running = namedtuple("_Running", "id host pid pid_start")


class LiteStore:
    """An open SQLite store on one sqlite3 connection (in autocommit mode: writers open
    their transactions with `BEGIN IMMEDIATE`, which takes the write lock at once)."""

    def __init__(self, path: str, url: str, conn: sqlite3.Connection) -> None:
        self.path, self.url, self.conn = path, url, conn
        self.dialect = "sqlite"

    @classmethod
    def open(cls, url: str | None, root: Path) -> LiteStore | None:
        """The store at `url` (see `resolve_url`) when it is a SQLite file, else None (the
        caller then uses `Store.open`). Creates, migrates and reaps through `Store` when
        the file needs it."""
        resolved = resolve_url(url, root)
        path = sqlite_path(resolved)
        if not path or path == ":memory:":
            return None
        try:
            conn = _connect(path)
            if _revision(conn) != HEAD or _has_dead_runs(conn):
                conn.close()
                _through_sqlalchemy(resolved, root)
                conn = _connect(path)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the results store {resolved!r}: {exc}",
                "check the file; or give another path with --store or SPLICE_STORE_URL",
            ) from exc
        return cls(path, resolved, conn)

    def quarantine_keys(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT test_key FROM quarantine")}

    def close(self) -> None:
        self.conn.close()


def _connect(path: str) -> sqlite3.Connection:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder of the store {path!r}: {exc.strerror}",
            "give a writable path with --store or SPLICE_STORE_URL",
        ) from exc
    # check_same_thread: opened here, written by the recorder's thread, one at a time
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: a new store
        return None
    return None if row is None else str(row[0])


def _has_dead_runs(conn: sqlite3.Connection) -> bool:
    """Runs left 'running' by a process that is gone (the same rule as `Store.reap`)."""
    now = time.time()
    running = [
        (_Running(*row[:4]), row[4])
        for row in conn.execute(
            "SELECT id, host, pid, pid_start, updated_at FROM runs "
            "WHERE status = 'running' AND updated_at < ?",
            (now,),
        )
    ]
    stale = {row.id for row, updated in running if updated < now - STALE_AFTER}
    return bool(dead_runs([row for row, _ in running], stale))


def _through_sqlalchemy(url: str, root: Path) -> None:
    """Create or migrate the store and finish the runs of dead processes, with `Store`."""
    from splice._internal.store.core import Store

    Store.open(url, root).close()
