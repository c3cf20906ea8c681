"""Test identities: `suite::testcase` to the id of its `tests` row, made when first seen.

A test keeps its id (and so its history) when its suite file is renamed or moved: only
the recorded path and line follow it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from splice._internal.store import schema as t
from splice._internal.store.dialect import insert_ignore

_CHUNK = 500  # keys per `IN (...)`: far below every database's limit on parameters
_KEEP = 50000  # ids cached at most: an import of a million tests must not keep them all


class TestIds:
    """Ids of tests by key, cached for the life of one writer."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, str, int]] = {}  # key -> (id, path, line)

    def ids(self, conn: Connection, tests: list[dict[str, Any]]) -> dict[str, int]:
        """Ids of tests by key, inserting the new ones; path and line follow the latest run."""
        wanted: dict[str, dict[str, Any]] = {}
        for test in tests:
            wanted[f"{test.get('suite', '')}::{test.get('name', '')}"] = test
        if len(self._known) > _KEEP:
            self._known.clear()  # only a cache: what it forgets is read again
        missing = [k for k in wanted if k not in self._known]
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for row in conn.execute(
                select(t.tests.c.id, t.tests.c.key, t.tests.c.path, t.tests.c.line).where(
                    t.tests.c.key.in_(chunk)
                )
            ):
                self._known[row.key] = (row.id, row.path, row.line)
        new = [k for k in missing if k not in self._known]
        if new:
            now = time.time()
            rows = [
                {
                    "key": k,
                    "suite": str(wanted[k].get("suite", "")),
                    "name": str(wanted[k].get("name", "")),
                    "path": str(wanted[k].get("path", "")),
                    "line": int(wanted[k].get("line") or 0),
                    "first_seen": float(wanted[k].get("started_at") or now),
                    "last_seen": float(wanted[k].get("started_at") or now),
                }
                for k in new
            ]
            insert_ignore(conn, t.tests, rows, ["key"])
            for start in range(0, len(new), _CHUNK):
                chunk = new[start : start + _CHUNK]
                for row in conn.execute(
                    select(t.tests.c.id, t.tests.c.key, t.tests.c.path, t.tests.c.line).where(
                        t.tests.c.key.in_(chunk)
                    )
                ):
                    self._known[row.key] = (row.id, row.path, row.line)
        moved = []
        for key, test in wanted.items():
            test_id, path, line = self._known[key]
            new_path, new_line = str(test.get("path", "")), int(test.get("line") or 0)
            if (new_path, new_line) != (path, line):
                moved.append({"b_id": test_id, "b_path": new_path, "b_line": new_line})
                self._known[key] = (test_id, new_path, new_line)
        if moved:  # a renamed file keeps the test's history: only its location changes
            conn.execute(
                update(t.tests)
                .where(t.tests.c.id == bindparam("b_id"))
                .values(path=bindparam("b_path"), line=bindparam("b_line")),
                moved,
            )
        return {k: self._known[k][0] for k in wanted}
