"""A PostgreSQL server for store tests, started by splice's own postgres kind, and fresh
databases on it (one per test, dropped at its end)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


@contextmanager
def postgres_server() -> Iterator[str]:
    """The SQLAlchemy URL of a server that lives as long as the block."""
    pytest.importorskip(
        "splice._internal.services.kinds.postgres", reason="the postgres kind is not written yet"
    )
    from splice._internal.environment.services import Environment
    from splice._internal.project.loader import load_project

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"splice-store-pg-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "splice.yaml").write_text("services:\n  db: {kind: postgres}\n")
    try:
        with Environment(load_project(folder / "splice.yaml")) as env:
            env.start()
            yield str(env.services["db"].endpoint.extra["sqlalchemy_url"])
    finally:
        (folder / "splice.yaml").unlink()
        folder.rmdir()


@contextmanager
def new_database(server: str) -> Iterator[str]:
    """The URL of a new, empty database on `server`, dropped when the block ends."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
