"""Where the store is, and how its SQLite file is opened: no SQLAlchemy here, so a run that
records into the default store (`splice._internal.store.lite`) does not import it.

The default store is `.splice/results.db` in the project root (the folder of `splice.yaml`,
or the current folder without one). `--store URL` or `SPLICE_STORE_URL` names another:
a file path or `sqlite:///path` for SQLite, `postgresql+psycopg://user:pw@host/db` (or the
shorter `postgresql://` / `postgres://`) for a shared PostgreSQL server.
"""

from __future__ import annotations

import os
from pathlib import Path

from splice._internal.store.errors import StoreError

DEFAULT_PATH = Path(".splice") / "results.db"
ENV_VAR = "SPLICE_STORE_URL"

# Every connection to a SQLite store, whichever driver layer opens it, runs these first.
SQLITE_PRAGMAS = (
    # takes effect only when the file is new (before its first table): lets retention
    # hand freed pages back to the filesystem without rewriting the whole file
    "PRAGMA auto_vacuum=INCREMENTAL",
    # WAL: readers (the dashboard) never block the writer (a running `splice run`)
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode loses no committed data on a crash of splice, only on a power
    # failure, and makes each commit several times cheaper
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
)


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


def sqlite_path(url: str) -> str | None:
    """The file of a `sqlite:///` URL (":memory:" or "" for an in-memory one); None for
    any other database."""
    if not url.startswith("sqlite://"):
        return None
    return url.removeprefix("sqlite://").removeprefix("/")
