"""The two statements SQLite and PostgreSQL spell differently: insert-or-ignore and
insert-or-add (both are `INSERT ... ON CONFLICT` with dialect-specific constructors)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """Insert `rows`, skipping those whose `keys` exist (another writer inserted them)."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=keys), rows)


def upsert_add(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    keys: list[str],
    summed: list[str],
) -> None:
    """Insert `rows`; where `keys` exist already, add the `summed` columns to the stored ones."""
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: table.c[c] + stmt.excluded[c] for c in summed}
    )
    conn.execute(stmt, rows)


def lock_for_writing(conn: Connection) -> None:
    """Take SQLite's write lock now, at the start of a transaction.

    Ids are then allocated by `allocate_ids` without a race, and no read of this
    transaction can be overtaken by another writer's commit. PostgreSQL needs no lock; it commits
    asynchronously (below).
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE runs SET updated_at = updated_at WHERE 0"))
    elif conn.dialect.name == "postgresql":
        # the commit does not wait for its WAL to reach the disk: a crash of the server
        # (not of splice) may lose the last fraction of a second of results, never corrupt
        # the store; a live run commits many small batches, each one fsync less
        conn.execute(text("SET LOCAL synchronous_commit = off"))


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids of `table`, so rows can be inserted in bulk without RETURNING.

    SQLite: the next ids after the largest (the transaction holds the write lock, see
    `lock_for_writing`). PostgreSQL: values of the table's own sequence.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        sequence = f"{table.name}_id_seq"
        return list(
            conn.execute(
                text("SELECT nextval(:seq) FROM generate_series(1, :n)"),
                {"seq": sequence, "n": count},
            ).scalars()
        )
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))
