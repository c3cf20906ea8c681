"""`Store`: an open results store (engine plus what every store operation needs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from splice._internal.store import opening as engines
from splice._internal.store import schema as t
from splice._internal.store.errors import StoreError
from splice._internal.store.liveness import STALE_AFTER, dead_runs


@dataclass
class Store:
    """An open store. Create with `Store.open`; every module of `store` takes one."""

    engine: Engine
    url: str

    @classmethod
    def open(cls, url: str | None = None, root: Path | None = None) -> Store:
        """Open (creating and migrating when needed) the store at `url` (see `resolve_url`).

        Runs left 'running' by a process that is gone are marked 'killed' on the way.
        """
        resolved = engines.resolve_url(url, root or Path.cwd())
        engine = engines.create(resolved)
        try:
            engines.migrate(engine)
            store = cls(engine, resolved)
            store.reap()
        except OperationalError as exc:
            engine.dispose()
            raise StoreError(
                f"cannot open the results store {engine.url.render_as_string()!r}: "
                f"{str(exc.orig).strip()}",
                "check the URL, that the server runs and accepts the user; "
                "or use the default SQLite store by leaving --store and SPLICE_STORE_URL unset",
            ) from exc
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(
                f"cannot use the results store {engine.url.render_as_string()!r}: {exc}"
            ) from exc
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def reap(self, now: float | None = None) -> list[str]:
        """Mark runs whose process is gone as 'killed'; return their ids."""
        from splice._internal.store.finish import finish_runs

        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            running = conn.execute(
                select(t.runs.c.id, t.runs.c.host, t.runs.c.pid, t.runs.c.pid_start).where(
                    t.runs.c.status == "running", t.runs.c.updated_at < now
                )
            ).all()
            stale = {
                row.id
                for row in conn.execute(
                    select(t.runs.c.id).where(
                        t.runs.c.status == "running", t.runs.c.updated_at < now - STALE_AFTER
                    )
                )
            }
        dead = dead_runs(running, stale)
        if dead:
            with self.engine.begin() as conn:
                finish_runs(conn, dead, "killed", now)
        return dead
