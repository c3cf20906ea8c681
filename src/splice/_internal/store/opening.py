"""Opening a store with SQLAlchemy: the engine and migrations (where a store is, and the
settings of its SQLite file: `splice._internal.store.location`)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from splice._internal.store.errors import StoreError
from splice._internal.store.location import DEFAULT_PATH, ENV_VAR, SQLITE_PRAGMAS, resolve_url
from splice._internal.store.revision import HEAD

__all__ = ["DEFAULT_PATH", "ENV_VAR", "create", "migrate", "resolve_url"]

_PG_ADVISORY_KEY = 0x5311CE  # one lock id for "migrating the splice store"


def create(url: str) -> Engine:
    """An engine for `url` with the settings the store relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(parsed.database or "")
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=8)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the PostgreSQL store needs the {exc.name!r} driver",
            "pip install 'splice[postgres]'",
        ) from exc


def _sqlite(database: str) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of the store {str(path)!r}: {exc.strerror}",
                "give a writable path with --store or SPLICE_STORE_URL",
            ) from exc
    # pooled connections: closing the last connection to a WAL database checkpoints it,
    # which would cost milliseconds per write; a connection serves one thread at a time
    engine = create_engine(
        f"sqlite:///{database}",
        pool_size=8,
        max_overflow=16,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database, None when it has no splice tables yet."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if value is None else str(value)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op, without Alembic, when it is).

    A new, empty database gets the tables of `schema.py` at once and is stamped with the
    newest revision: Alembic's own recipe for building a current database from scratch,
    and ten times faster than replaying every migration. Existing databases are upgraded
    by the migrations; a test keeps both ways giving the same schema.
    """
    if current_revision(engine) == HEAD:
        return
    with _migration_lock(engine):
        revision = current_revision(engine)
        if revision == HEAD:  # another process migrated while we waited
            return
        if revision is None and not _has_tables(engine):
            create_current(engine)
            return
        upgrade(engine)


def upgrade(engine: Engine) -> None:
    """Run the Alembic migrations up to the newest revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "splice._internal.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def create_current(engine: Engine) -> None:
    """Create the newest schema in an empty database and record its revision."""
    from splice._internal.store.schema import metadata

    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})


def _has_tables(engine: Engine) -> bool:
    from splice._internal.store.schema import metadata

    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    return bool(names & set(metadata.tables))


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates at a time (two `splice run` starting on a fresh store)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        if not database or database == ":memory:":
            yield
            return
        with Path(f"{database}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(select(text(f"pg_advisory_lock({_PG_ADVISORY_KEY})")))
        try:
            yield
        finally:
            conn.execute(select(text(f"pg_advisory_unlock({_PG_ADVISORY_KEY})")))
            conn.commit()
