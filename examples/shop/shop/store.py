"""Orders and products in PostgreSQL, through a small pool of autocommit connections."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_COLUMNS = "id, sku, qty, status, created_at"


class Store:
    """The shop's database. Connections are reused across requests (opening one costs
    more than the query) and a broken one is dropped rather than returned to the pool."""

    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self._idle: queue.LifoQueue[psycopg.Connection[dict[str, Any]]] = queue.LifoQueue(size)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=5
            )
        try:
            yield conn
        except psycopg.OperationalError:
            conn.close()
            raise
        if conn.closed or conn.broken:
            return
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("select 1")

    def product_exists(self, sku: str) -> bool:
        with self._connection() as conn:
            return (
                conn.execute("select 1 from products where sku = %s", (sku,)).fetchone() is not None
            )

    def create_order(self, sku: str, qty: int) -> dict[str, Any]:
        with self._connection() as conn:
            row = conn.execute(
                f"insert into orders (sku, qty) values (%s, %s) returning {_COLUMNS}",
                (sku, qty),
            ).fetchone()
        assert row is not None
        return as_json(row)

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        with self._connection() as conn:
            row = conn.execute(
                f"select {_COLUMNS} from orders where id = %s", (order_id,)
            ).fetchone()
        return as_json(row) if row else None

    def is_pending(self, order_id: int, created_at: str | None) -> bool:
        """Whether the order of this event is still there and pending (see ship_order)."""
        with self._connection() as conn:
            row = conn.execute(
                "select 1 from orders where id = %s and status = 'pending'"
                " and (%s::timestamptz is null or created_at = %s::timestamptz)",
                (order_id, created_at, created_at),
            ).fetchone()
        return row is not None

    def ship_order(self, order_id: int, created_at: str | None) -> dict[str, Any] | None:
        """Mark a pending order shipped; None when there is no such pending order.

        `created_at` (from the event) guards against an event outliving its order: after
        the tables are reset, ids start again at 1, and an old `order.created` must not
        ship the new order that happens to have the same id.
        """
        with self._connection() as conn:
            row = conn.execute(
                f"update orders set status = 'shipped' where id = %s and status = 'pending'"
                f" and (%s::timestamptz is null or created_at = %s::timestamptz)"
                f" returning {_COLUMNS}",
                (order_id, created_at, created_at),
            ).fetchone()
        return as_json(row) if row else None

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready values (timestamps in ISO 8601)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
