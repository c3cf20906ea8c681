"""Opening a store: where it is, the engine, migrations, and runs whose process died.

The default store is `.splice/results.db` in the project root (the folder of `splice.yaml`,
or the current folder without one). `--store URL` or `SPLICE_STORE_URL` names another:
a file path or `sqlite:///path` for SQLite, `postgresql+psycopg://user:pw@host/db` (or the
shorter `postgresql://` / `postgres://`) for a shared PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from splice.store.errors import StoreError
from splice.store.schema import HEAD

DEFAULT_PATH = Path(".splice") / "results.db"
ENV_VAR = "SPLICE_STORE_URL"
_PG_ADVISORY_KEY = 0x5311CE  # one lock id for "migrating the splice store"


def resolve_url(given: str | None, root: Path) -> str:
    """The SQLAlchemy URL of the store: `given`, else $SPLICE_STORE_URL, else the default."""
    raw = (given or os.environ.get(ENV_VAR) or "").strip()
    if not raw:
        return f"sqlite:///{(root / DEFAULT_PATH).resolve()}"
    if "://" not in raw:  # a plain path: a SQLite file
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    scheme, _, rest = raw.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite", "postgresql+psycopg"):
        return raw
    raise StoreError(
        f"unsupported store URL scheme {scheme!r}",
        "use a file path, sqlite:///path/results.db or postgresql+psycopg://user:pw@host/db",
    )


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
        # takes effect only when the file is new (before its first table): lets retention
        # hand freed pages back to the filesystem without rewriting the whole file
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        # WAL: readers (the dashboard) never block the writer (a running `splice run`)
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses no committed data on a crash of splice, only on a power
        # failure, and makes each commit several times cheaper
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-32000")
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
    config.set_main_option("script_location", "splice.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def create_current(engine: Engine) -> None:
    """Create the newest schema in an empty database and record its revision."""
    from splice.store.schema import metadata

    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})


def _has_tables(engine: Engine) -> bool:
    from splice.store.schema import metadata

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
