"""The hot path of ingest: step rows as tuples, written with the driver's bulk statement.

A run writes ten or a hundred times more steps than anything else, so steps skip the
SQL expression layer: rows are tuples in `COLUMNS` order, sent with `executemany` on
SQLite and with `COPY` on PostgreSQL, inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from splice._internal.store import schema as t
from splice._internal.store.dialect import upsert_add
from splice._internal.store.step_rows import COLUMNS, Stats, stat_rows, step_rows

__all__ = [
    "COLUMNS",
    "Stats",
    "insert_rows",
    "step_rows",
    "update_rows",
    "write_steps",
]


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert tuples with the driver itself: `executemany` on SQLite, `COPY` on PostgreSQL."""
    if not rows:
        return
    driver: Any = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor = driver.cursor()
    try:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def update_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """`UPDATE table SET columns... WHERE id = ?` for tuples of the columns' values, then id."""
    if not rows:
        return
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = {mark}", rows)
    finally:
        cursor.close()


def write_steps(conn: Connection, rows: list[tuple[Any, ...]], stats: Stats) -> None:
    """Insert `rows` and add `stats` (gathered by `step_rows` from them) to the per-day
    statistics of integration points."""
    if not rows:
        return
    insert_rows(conn, "steps", COLUMNS, rows)
    upsert_add(
        conn,
        t.target_stats,
        [
            {
                "day": d,
                "executor": e,
                "service": s,
                "target": g,
                "calls": c,
                "failures": f,
                "duration": du,
            }
            for d, e, s, g, c, f, du in stat_rows(stats)
        ],
        ["day", "executor", "service", "target"],
        ["calls", "failures", "duration"],
    )
