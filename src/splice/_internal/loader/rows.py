"""The rows of a data-driven testcase: `matrix:` (values crossed) and `foreach:` (inline
mappings, or a CSV, JSON or YAML file).

Each row is a mapping of variable names to values, with the place it was written so that
a problem with one row (a ragged CSV line, a name two rows share) points at that row.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.errors import SourceSpan, SuiteError, display_path
from splice._internal.loader.steps import Collector
from splice._internal.loader.suite_schema import ForeachFileSpec
from splice._internal.model.positions import PathKey, Positions
from splice._internal.source.validation import describe
from splice._internal.source.yaml_source import Document, read_yaml

# One testcase may become at most this many: a matrix of ten keys of ten values each
# would otherwise ask for ten billion testcases and never finish loading.
MAX_ROWS = 10_000

FILE_FORMATS = {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class Row:
    """One row: its values, where it is written, and where each of its keys is."""

    values: dict[str, Any]
    span: SourceSpan | None
    source: str  # `matrix`, `foreach`, or the file's path as the user wrote it
    index: int  # 1-based, in the order of the source
    key_spans: dict[str, SourceSpan | None] = field(default_factory=dict)


def rows_of(
    matrix: dict[str, list[Any]] | None,
    foreach: list[Any] | ForeachFileSpec | None,
    doc: Document,
    loc: PathKey,
    out: Collector,
) -> list[Row] | None:
    """The rows that `matrix:` and `foreach:` at `loc` give (crossed when both are
    written), or None when neither is. Problems go to `out`; an empty list then."""
    if matrix is None and foreach is None:
        return None
    tables: list[list[Row]] = []
    if foreach is not None:
        tables.append(_foreach(foreach, doc, (*loc, "foreach"), out))
    if matrix is not None:
        tables.append(_matrix(matrix, doc.positions, (*loc, "matrix"), out))
    if any(not table for table in tables):
        return []
    if len(tables) == 1:
        return tables[0]
    first, second = tables
    clash = sorted(set(first[0].values) & set(second[0].values))
    if clash:
        out.add(
            f"{clash[0]!r} is both a `matrix` key and a `foreach` column",
            second[0].key_spans.get(clash[0]) or doc.positions.key((*loc, "matrix")),
            "each row gets both; rename one of them",
        )
        return []
    if len(first) * len(second) > MAX_ROWS:
        out.add(
            f"`foreach` and `matrix` together make {len(first) * len(second):,} testcases",
            doc.positions.key((*loc, "matrix")),
            f"one testcase may run at most {MAX_ROWS:,} times; use fewer values",
        )
        return []
    return cross(first, second)


def cross(outer: list[Row], inner: list[Row]) -> list[Row]:
    """Every row of `outer` with every row of `inner` (keys must not overlap)."""
    crossed: list[Row] = []
    for a, b in itertools.product(outer, inner):
        crossed.append(
            Row(
                {**a.values, **b.values},
                b.span,
                b.source,
                len(crossed) + 1,
                {**a.key_spans, **b.key_spans},
            )
        )
    return crossed


def _matrix(
    matrix: dict[str, list[Any]], pos: Positions, loc: PathKey, out: Collector
) -> list[Row]:
    if not matrix:
        out.add(
            "a matrix needs at least one key",
            pos.value(loc),
            "write `matrix: {size: [s, m, l]}`: the testcase runs once per value",
        )
        return []
    for key, values in matrix.items():
        if not values:
            out.add(
                f"matrix key {key!r} has no values",
                pos.value((*loc, key)),
                "give it a list of at least one value",
            )
            return []
    count = math.prod(len(values) for values in matrix.values())
    if count > MAX_ROWS:
        out.add(
            f"this matrix makes {count:,} testcases",
            pos.key(loc),
            f"one testcase may run at most {MAX_ROWS:,} times; use fewer values",
        )
        return []
    keys = list(matrix)
    key_spans = {k: pos.key((*loc, k)) for k in keys}
    rows: list[Row] = []
    for combo in itertools.product(*(enumerate(matrix[k]) for k in keys)):
        last_key, (last_i, _) = keys[-1], combo[-1]
        rows.append(
            Row(
                {k: value for k, (_, value) in zip(keys, combo, strict=True)},
                pos.value((*loc, last_key, last_i)),
                "matrix",
                len(rows) + 1,
                key_spans,
            )
        )
    return rows


def _foreach(
    foreach: list[Any] | ForeachFileSpec, doc: Document, loc: PathKey, out: Collector
) -> list[Row]:
    if isinstance(foreach, list):
        return _mappings(foreach, doc.positions, loc, "foreach", out)
    target = foreach.file
    path = doc.path.parent / target
    fmt = FILE_FORMATS.get(path.suffix.lower())
    where = doc.positions.value((*loc, "file"))
    if fmt is None:
        out.add(
            f"cannot read rows from {target!r}: unknown file type {path.suffix or '(none)'!r}",
            where,
            "rows come from a .csv (with a header line), .json or .yaml file",
        )
        return []
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a path too long
        found = False
    if not found:
        out.add(
            f"foreach file not found: {target!r}",
            where,
            f"looked for {display_path(path)}; the path is relative to the suite file",
        )
        return []
    try:
        if fmt == "csv":
            return _csv(path, target, out)
        return _document(_read_document(path, fmt), target, out)
    except SuiteError as exc:
        out.extend(exc.diagnostics)
        return []
    except OSError as exc:
        out.add(f"cannot read {target!r}: {exc.strerror or exc}", where, "check its permissions")
        return []


def _mappings(
    items: list[Any], pos: Positions, loc: PathKey, source: str, out: Collector
) -> list[Row]:
    if not items:
        out.add(
            "foreach has no rows",
            pos.value(loc),
            "give it at least one row: `- {user: ada, status: 200}`",
        )
        return []
    rows: list[Row] = []
    columns: list[str] | None = None
    for i, item in enumerate(items):
        here = (*loc, i)
        if not isinstance(item, dict) or not item:
            out.add(
                f"a foreach row must be a mapping of names to values, found {describe(item)}",
                pos.value(here),
                "write each row as `- {user: ada, status: 200}`",
            )
            continue
        bad = [k for k in item if not k.isidentifier()]
        if bad:
            out.add(
                f"row key {bad[0]!r} is not a variable name",
                pos.key((*here, bad[0])),
                "use letters, digits and underscores (not first), so templates can read it",
            )
            continue
        if columns is None:
            columns = list(item)
        elif set(item) != set(columns):
            missing = [c for c in columns if c not in item]
            extra = [k for k in item if k not in columns]
            problem = f"lacks {missing[0]!r}" if missing else f"has {extra[0]!r} too"
            out.add(
                f"row {i + 1} {problem}; every row needs the same keys as the first",
                pos.value(here),
                "the first row has " + ", ".join(columns),
            )
            continue
        rows.append(
            Row(
                dict(item),
                pos.value(here),
                source,
                i + 1,
                {k: pos.key((*here, k)) for k in item},
            )
        )
    return rows if len(rows) == len(items) else []


def _read_document(path: Path, fmt: str) -> Document:
    if fmt == "yaml":
        return read_yaml(path)
    # YAML is no judge of JSON (it takes `{"x": }` for a null), so JSON reads the data and
    # YAML, when it agrees, gives the positions
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError.single(
            f"invalid JSON: {exc.msg}",
            SourceSpan(path, exc.lineno, exc.colno, exc.colno + 1),
            'the file must hold a JSON list of objects: [{"user": "ada"}]',
        ) from exc
    try:
        doc = read_yaml(path)
    except SuiteError:
        doc = None
    if doc is not None and doc.data == data:
        return doc
    return Document(path, text, data, Positions(path, {(): SourceSpan(path, 1, 1)}))


def _document(doc: Document, target: str, out: Collector) -> list[Row]:
    if not isinstance(doc.data, list):
        found = "an empty file" if doc.data is None else describe(doc.data)
        out.add(
            f"a foreach file must hold a list of rows, found {found}",
            doc.positions.value(()) or SourceSpan(doc.path, 1, 1),
            "write a list of mappings, one per row: `- {user: ada, status: 200}`",
        )
        return []
    return _mappings(doc.data, doc.positions, (), target, out)


def _csv(path: Path, target: str, out: Collector) -> list[Row]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SuiteError.single(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at line {line}",
            SourceSpan(path, line, 1),
            "save the file as UTF-8 (CSV UTF-8 in a spreadsheet's save dialog)",
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            if record:  # blank lines separate nothing
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SuiteError.single(
            f"invalid CSV: {exc}",
            SourceSpan(path, start, 1),
            'quote a field that holds a comma, a quote or a line break: "a, b"',
        ) from exc
    if not records:
        out.add(
            "a foreach CSV file needs a header line and at least one row",
            SourceSpan(path, 1, 1),
            "write the column names on the first line: `user,status`",
        )
        return []
    header_line, header = records[0]
    header = [name.strip() for name in header]
    problem = _header_problem(header)
    if problem is not None:
        message, column = problem
        out.add(
            message,
            SourceSpan(path, header_line, _column_of(text, header_line, column)),
            "the first line names the columns; each name is a variable of the row",
        )
        return []
    if len(records) == 1:
        out.add(
            "a foreach CSV file needs at least one row under its header",
            SourceSpan(path, header_line, 1),
            "add a line of values: `ada,200`",
        )
        return []
    rows: list[Row] = []
    for line, record in records[1:]:
        if len(record) != len(header):
            out.add(
                f"this row has {len(record)} fields, the header has {len(header)}",
                SourceSpan(path, line, 1),
                "columns: " + ", ".join(header) + "; quote a value that holds a comma",
            )
            continue
        rows.append(
            Row(
                dict(zip(header, record, strict=True)),
                SourceSpan(path, line, 1),
                target,
                len(rows) + 1,
                {name: SourceSpan(path, header_line, 1) for name in header},
            )
        )
    return rows if len(rows) == len(records) - 1 else []


def _header_problem(header: list[str]) -> tuple[str, int] | None:
    """(message, 0-based field index) of the first bad column name, if any."""
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            return f"column {i + 1} has no name", i
        if not name.isidentifier():
            return f"column name {name!r} is not a variable name (letters, digits, _)", i
        if name in seen:
            return f"column {name!r} appears twice", i
        seen.add(name)
    return None


def _column_of(text: str, line: int, field_index: int) -> int:
    """The 1-based column where field `field_index` starts on `line` (commas counted
    naively: a header seldom quotes its names)."""
    lines = text.splitlines()
    if line > len(lines):
        return 1
    column = 1
    for i, char in enumerate(lines[line - 1]):
        if field_index == 0:
            return column
        column = i + 2
        if char == ",":
            field_index -= 1
    return column
