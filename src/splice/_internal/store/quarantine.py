"""The quarantine: tests whose failures are reported but do not fail the run.

Managed from the dashboard, the API and `splice quarantine`; honoured by `splice run`
through `QuarantineGate` (`store.gate`), a listener placed first on the event bus so
every later listener (the console, reporters, the recorder) sees the run's status after the
gate decided it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.dialect import insert_ignore
from splice._internal.store.errors import StoreError
from splice._internal.store.gate import QuarantineGate

__all__ = ["QuarantineGate", "add", "keys", "listing", "remove"]


def keys(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(t.quarantine.c.test_key)).scalars())


def listing(store: Store) -> list[dict[str, Any]]:
    """Quarantined tests with why, who and when, and the test's id when it has history."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.quarantine, t.tests.c.id.label("test_id"), t.tests.c.last_status)
            .outerjoin(t.tests, t.tests.c.key == t.quarantine.c.test_key)
            .order_by(t.quarantine.c.added_at.desc())
        ).all()
    return [
        {
            "test": row.test_key,
            "test_id": row.test_id,
            "reason": row.reason,
            "added_by": row.added_by,
            "added_at": row.added_at,
            "last_status": row.last_status,
        }
        for row in rows
    ]


def add(store: Store, key: str, reason: str = "", added_by: str = "") -> bool:
    """Quarantine the test `key` ("suite::testcase"); False when it already was."""
    if "::" not in key:
        raise StoreError(
            f"{key!r} is not a test id",
            "a test is named 'suite::testcase', as in `splice run -k` and the dashboard",
        )
    with store.engine.begin() as conn:
        before = conn.execute(
            select(t.quarantine.c.test_key).where(t.quarantine.c.test_key == key)
        ).first()
        insert_ignore(
            conn,
            t.quarantine,
            [{"test_key": key, "reason": reason, "added_by": added_by, "added_at": time.time()}],
            ["test_key"],
        )
    return before is None


def remove(store: Store, key: str) -> bool:
    """Release `key` from the quarantine; False when it was not in it."""
    with store.engine.begin() as conn:
        return bool(
            conn.execute(delete(t.quarantine).where(t.quarantine.c.test_key == key)).rowcount
        )
