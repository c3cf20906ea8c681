"""Fixtures for SQL databases: SQL scripts, and rows per table in YAML or JSON.

    # fixtures/users.yaml: tables in file order, rows in list order
    users:
      - {id: 1, name: alice, tags: [admin]}
      - {id: 2, name: bob}
    orders:
      - {id: 10, user_id: 1, total: 9.5, meta: {source: web}}

Like Venom's dbfixtures, a file maps table names (optionally `schema.table`) to lists of
rows. Mappings and lists go to JSON columns as JSON (lists go to PostgreSQL arrays when
the column is an array). Every file is loaded in one transaction per call; a mistake is
a located error in the fixture file: the row, the column or the SQL statement.

On PostgreSQL, sequences of the tables filled from rows are moved past the largest
value loaded, so the system under test does not collide with fixture ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.data import pg_statements
from splice._internal.errors import SourceSpan, SuiteError
from splice._internal.model.positions import Positions
from splice._internal.source.yaml_source import read_yaml

SCRIPT_SUFFIXES = (".sql",)
ROWS_SUFFIXES = (".yaml", ".yml", ".json")
_SPACE = (" ", "\t", "\n", "\r", "")  # MySQL's `--` starts a comment only before one


@dataclass(frozen=True)
class Dialect:
    """What differs between the databases: quoting, errors, sequences, scripts."""

    name: str  # "postgresql" or "mysql"
    quote_char: str

    def quote(self, table: str) -> str:
        q = self.quote_char
        return ".".join(f"{q}{part.replace(q, q + q)}{q}" for part in table.split("."))

    def message(self, exc: Exception) -> str:
        if self.name == "mysql":
            args: tuple[Any, ...] = getattr(exc, "args", ())
            if len(args) >= 2 and isinstance(args[1], str):
                return args[1]
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None)
        return str(primary or exc).strip().splitlines()[0]

    def position(self, exc: Exception) -> int | None:
        """1-based character offset of the error in the statement, when the server says."""
        diag = getattr(exc, "diag", None)
        raw = getattr(diag, "statement_position", None)
        return int(raw) if raw else None

    def is_db_error(self, exc: BaseException) -> bool:
        module = type(exc).__module__
        return module.startswith(("psycopg", "pymysql"))


POSTGRES = Dialect("postgresql", '"')
MYSQL = Dialect("mysql", "`")


def load(
    conn: Any,
    files: list[Path],
    dialect: Dialect,
    skip_table: Callable[[str], bool] | None = None,
) -> None:
    """Load every file in one transaction; on any error roll back and raise it located.

    `skip_table(name)`: tables of rows files not to fill (a truncate that kept them
    filled: their rows are there already); scripts always run whole."""
    try:
        with conn.cursor() as cur:
            for path in files:
                if path.suffix.lower() in SCRIPT_SUFFIXES:
                    run_script(cur, path, dialect)
                elif path.suffix.lower() in ROWS_SUFFIXES:
                    _load_rows(cur, path, dialect, skip_table)
                else:
                    raise SuiteError.single(
                        f"cannot load {path.name!r} as SQL fixtures",
                        SourceSpan(path, 1, 1),
                        "SQL fixtures are .sql scripts or .yaml/.yml/.json rows per table",
                    )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def run_script(cur: Any, path: Path, dialect: Dialect) -> None:
    """Run a SQL file; an error points at the statement (and column) the server named."""
    text = _read(path)
    if dialect.name == "postgresql":
        # without parameters psycopg sends the text as one simple query: many statements
        if text.strip():
            try:
                cur.execute(text)
            except Exception as exc:
                if not dialect.is_db_error(exc):
                    raise
                message = dialect.message(exc)
                position = dialect.position(exc)
                found = (
                    position - 1
                    if position is not None
                    # no position (a missing role): find the statement that fails
                    else pg_statements.failing_statement(cur, text, message, dialect.message)
                )
                raise _script_error(path, text, found or 0, message) from exc
        return
    for offset, statement in split_statements(text):
        try:
            cur.execute(statement)
            while cur.nextset():
                pass
        except Exception as exc:
            if not dialect.is_db_error(exc):
                raise
            message = dialect.message(exc)
            start = offset
            near = re.search(r"at line (\d+)$", message)
            if near:  # MySQL counts lines from the statement's start
                start = _line_offset(text, offset, int(near.group(1)) - 1)
            raise _script_error(path, text, start, message) from exc


def split_statements(text: str) -> list[tuple[int, str]]:
    """MySQL script text into (offset, statement) pairs, respecting quotes and comments.

    `DELIMITER` (a feature of the mysql client, for procedure bodies) is not supported.
    """
    out: list[tuple[int, str]] = []
    start, i, n = 0, 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "#" or (text.startswith("--", i) and text[i + 2 : i + 3] in _SPACE):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ";":
            _add(out, text, start, i)
            start = i + 1
        i += 1
    _add(out, text, start, n)
    return out


def _add(out: list[tuple[int, str]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = _strip_comments(chunk).strip()
    if stripped:
        lead = len(chunk) - len(chunk.lstrip())
        out.append((start + lead, chunk.strip()))


def _strip_comments(chunk: str) -> str:
    chunk = re.sub(r"/\*.*?\*/", " ", chunk, flags=re.S)
    return re.sub(r"(--\s|#).*$", "", chunk, flags=re.M)


def _load_rows(
    cur: Any, path: Path, dialect: Dialect, skip_table: Callable[[str], bool] | None
) -> None:
    doc = _read_rows_file(path)
    data, pos = doc.data, doc.positions
    if data is None:
        return
    if not isinstance(data, dict):
        raise SuiteError.single(
            "a rows fixture maps table names to lists of rows",
            pos.value(()),
            "for example:\nusers:\n  - {id: 1, name: alice}",
        )
    filled: list[str] = []
    for table, rows in data.items():
        if rows is None or (
            skip_table is not None and isinstance(table, str) and skip_table(table)
        ):
            continue
        if not isinstance(table, str) or not isinstance(rows, list):
            raise SuiteError.single(
                f"the rows of table {table!r} must be a list of mappings",
                pos.value((table,)),
                "write each row as `- {column: value, ...}`",
            )
        target = _Table(cur, table, dialect, pos)
        if _has_lists(rows):
            target.find_arrays()
        target.insert_all(rows)
        if rows:
            filled.append(dialect.quote(table))
    if dialect.name == "postgresql" and filled:
        move_sequences(cur, filled)


_PARSED: dict[Path, tuple[tuple[int, int], Any]] = {}


def _read_rows_file(path: Path) -> Any:
    """The parsed file, read again only when it changed: a truncate reloads the
    fixtures after every testcase."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return read_yaml(path)  # which reports the problem, located
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    doc = read_yaml(path)
    _PARSED[path] = (stamp, doc)
    return doc


def move_sequences(cur: Any, tables: list[str]) -> None:
    """Set each sequence owned by a column of these (quoted) tables past the largest
    value, in two statements."""
    cur.execute(
        "SELECT a.attrelid::regclass::text, a.attname, "
        "pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) FROM pg_attribute a "
        "WHERE a.attrelid = ANY(%s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped",
        [tables],
    )
    found = [(table, column, seq) for table, column, seq in cur.fetchall() if seq]
    if not found:
        return
    calls = ", ".join(
        f"setval(%s, COALESCE((SELECT MAX({POSTGRES.quote(column)}) FROM {table}), 0) + 1, false)"
        for table, column, _ in found
    )
    cur.execute(f"SELECT {calls}", [seq for _, _, seq in found])


@dataclass
class _Table:
    """Rows going into one table of a fixture file."""

    cur: Any
    table: str
    dialect: Dialect
    pos: Positions
    arrays: frozenset[str] = frozenset()

    def insert_all(self, rows: list[Any]) -> None:
        """Insert the rows in order: runs of rows with the same columns in one batch
        (`executemany`); a batch that fails is tried again row by row, in a savepoint,
        so the error names its row."""
        start = 0
        while start < len(rows):
            row = rows[start]
            end = start + 1
            if isinstance(row, dict) and row:
                columns = list(row)
                while (
                    end < len(rows) and isinstance(rows[end], dict) and list(rows[end]) == columns
                ):
                    end += 1
            if end - start == 1 or not self._batch(rows[start:end]):
                for i in range(start, end):
                    self.insert(i, rows[i])
            start = end

    def _batch(self, rows: list[dict[str, Any]]) -> bool:
        """Insert rows with the same columns at once; false (and nothing inserted) when
        the server refused one."""
        quoted = self.dialect.quote(self.table)
        columns = list(rows[0])
        names = ", ".join(self.dialect.quote(str(c)) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        values = [[_value(r[c], str(c) in self.arrays) for c in columns] for r in rows]
        self.cur.execute("SAVEPOINT splice_rows")
        try:
            self.cur.executemany(f"INSERT INTO {quoted} ({names}) VALUES ({marks})", values)
        except Exception as exc:
            if not self.dialect.is_db_error(exc):
                raise
            self.cur.execute("ROLLBACK TO SAVEPOINT splice_rows")
            return False
        self.cur.execute("RELEASE SAVEPOINT splice_rows")
        return True

    def insert(self, i: int, row: Any) -> None:
        table, dialect = self.table, self.dialect
        if not isinstance(row, dict):
            raise SuiteError.single(
                f"row {i + 1} of table {table!r} must be a mapping of column to value",
                self.pos.value((table, i)),
                "write each row as `- {column: value, ...}`",
            )
        quoted = dialect.quote(table)
        if row:
            names = ", ".join(dialect.quote(str(c)) for c in row)
            marks = ", ".join(["%s"] * len(row))
            sql = f"INSERT INTO {quoted} ({names}) VALUES ({marks})"
        elif dialect.name == "postgresql":
            sql = f"INSERT INTO {quoted} DEFAULT VALUES"
        else:
            sql = f"INSERT INTO {quoted} () VALUES ()"
        values = [_value(v, str(c) in self.arrays) for c, v in row.items()]
        try:
            self.cur.execute(sql, values) if values else self.cur.execute(sql)
        except Exception as exc:
            if not dialect.is_db_error(exc):
                raise
            raise self._row_error(exc, i, row) from exc

    def find_arrays(self) -> None:
        """PostgreSQL columns of an array type: lists go there as arrays, elsewhere as
        JSON."""
        if self.dialect.name != "postgresql":
            return
        try:
            self.cur.execute(
                "SELECT a.attname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                "AND t.typcategory = 'A'",
                [self.dialect.quote(self.table)],
            )
        except Exception as exc:
            if not self.dialect.is_db_error(exc):
                raise
            raise SuiteError.single(
                f"table {self.table!r}: {self.dialect.message(exc)}",
                self.pos.key((self.table,)),
                "check the table name and that the schema is created first",
            ) from exc
        self.arrays = frozenset(r[0] for r in self.cur.fetchall())

    def _row_error(self, exc: Exception, i: int, row: dict[str, Any]) -> SuiteError:
        table, pos = self.table, self.pos
        message = self.dialect.message(exc)
        for column in row:
            if re.search(rf"[\"'`]{re.escape(str(column))}[\"'`]", message):
                return SuiteError.single(
                    f"table {table!r}, row {i + 1}: {message}",
                    pos.key((table, i, column)),
                    "check the column name and the value's type",
                )
        lowered = message.lower()
        if ("relation" in lowered and "does not exist" in lowered) or "doesn't exist" in lowered:
            return SuiteError.single(
                f"table {table!r}: {message}",
                pos.key((table,)),
                "check the table name and that the schema is created first",
            )
        return SuiteError.single(
            f"table {table!r}, row {i + 1}: {message}",
            pos.value((table, i)),
            "check the row against the table's columns and constraints",
        )


def _value(value: Any, array: bool) -> Any:
    if isinstance(value, dict) or (isinstance(value, list) and not array):
        return json.dumps(value)
    return value


def _has_lists(rows: list[Any]) -> bool:
    return any(isinstance(r, dict) and any(isinstance(v, list) for v in r.values()) for r in rows)


def _script_error(path: Path, text: str, offset: int, message: str) -> SuiteError:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    token = re.match(r"\"[^\"\n]*\"|`[^`\n]*`|\w+|[^\s]", text[offset:])
    end = column + len(token.group()) if token else None
    return SuiteError.single(
        message,
        SourceSpan(path, line, column, end),
        "fix the statement; the server's message is above",
    )


def _line_offset(text: str, start: int, lines: int) -> int:
    offset = start
    for _ in range(lines):
        nxt = text.find("\n", offset)
        if nxt < 0:
            break
        offset = nxt + 1
    return offset


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError.single(f"cannot read SQL file: {exc}", SourceSpan(path, 1, 1)) from exc
