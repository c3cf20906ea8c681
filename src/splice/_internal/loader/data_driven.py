"""Data-driven testcases: one written testcase becomes one testcase per row.

Expansion happens when the suite loads, so every front end (the CLI runner, the pytest
plugin's items, `splice check`) sees the rows as ordinary testcases: each is reported,
stored, retried, isolated and scheduled under `--jobs` on its own. The row's values
become the first variables of the testcase; its name comes from the row.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from splice._internal.loader.rows import MAX_ROWS, Row, cross
from splice._internal.loader.steps import Collector
from splice._internal.model.suite import RowOrigin, Testcase
from splice._internal.templating import TemplateFailure, find_variables, is_template, render

# names a row may not take: the run sets them itself
RESERVED = frozenset({"suite", "testcase", "services", "project", "run_id", "result"})

# a value longer than this is cut in a generated name
_NAME_VALUE_LIMIT = 40


def expand(
    testcase: Testcase,
    suite_rows: list[Row] | None,
    own_rows: list[Row] | None,
    suite_vars: dict[str, Any],
    out: Collector,
) -> list[Testcase]:
    """The testcases `testcase` stands for: itself, or one per row (suite rows crossed
    with its own). Problems go to `out`; no testcase is returned for a faulty table."""
    if suite_rows is None and own_rows is None:
        return [testcase]
    if suite_rows == [] or own_rows == []:
        return []  # the table's problem is already reported
    rows = _combined(suite_rows, own_rows, testcase, out)
    if not rows or not _keys_are_free(rows[0], testcase, suite_vars, out):
        return []
    columns = tuple(rows[0].values)
    expanded: list[Testcase] = []
    seen: dict[str, Row] = {}
    for row in rows:
        name = _name(testcase, row, columns, out)
        if name is None:
            return []
        first = seen.get(name)
        if first is not None:
            differ = [k for k in columns if first.values[k] != row.values[k]]
            out.add(
                f"rows {first.index} and {row.index} of {row.source} both make "
                f"the testcase {name!r}",
                row.span,
                "names identify testcases across runs; put a key whose value differs "
                f"in the name: `name: {testcase.name} ({{{{ {differ[0]} }}}})`"
                if differ
                else "the two rows are the same; remove one",
            )
            return []
        seen[name] = row
        expanded.append(
            replace(
                testcase,
                name=name,
                vars={**row.values, **testcase.vars},
                row=RowOrigin(row.source, row.index, columns, row.span),
            )
        )
    return expanded


def _combined(
    suite_rows: list[Row] | None, own_rows: list[Row] | None, testcase: Testcase, out: Collector
) -> list[Row]:
    if suite_rows is None:
        return own_rows or []
    if own_rows is None:
        return suite_rows
    clash = sorted(set(suite_rows[0].values) & set(own_rows[0].values))
    if clash:
        out.add(
            f"{clash[0]!r} is a row key of both the suite and this testcase",
            own_rows[0].key_spans.get(clash[0]) or testcase.span,
            "each testcase row gets the suite row's values too; rename one of them",
        )
        return []
    if len(suite_rows) * len(own_rows) > MAX_ROWS:
        out.add(
            f"the suite's rows and this testcase's make {len(suite_rows) * len(own_rows):,} "
            "testcases",
            testcase.span,
            f"one testcase may run at most {MAX_ROWS:,} times; use fewer rows",
        )
        return []
    return cross(suite_rows, own_rows)


def _keys_are_free(
    row: Row, testcase: Testcase, suite_vars: dict[str, Any], out: Collector
) -> bool:
    kind = {"matrix": "matrix key", "foreach": "row key"}.get(row.source, "column")
    for key in row.values:
        if key in RESERVED:
            problem = f"{kind} {key!r} is a name splice sets itself"
        elif key in testcase.vars:
            problem = f"{kind} {key!r} is also a variable of the testcase"
        elif key in suite_vars:
            problem = f"{kind} {key!r} is also a variable of the suite"
        else:
            continue
        out.add(
            problem,
            row.key_spans.get(key) or row.span,
            "a row's value and the variable would hide each other; rename one of them",
        )
        return False
    return True


def _name(testcase: Testcase, row: Row, columns: tuple[str, ...], out: Collector) -> str | None:
    """The row's testcase name: the name rendered with the row's values when it is a
    template, else the name with the row's values after it: `login [user=ada]`."""
    if not is_template(testcase.name):
        shown = ", ".join(f"{k}={_short(v)}" for k, v in row.values.items())
        return f"{testcase.name} [{shown}]"
    unknown = sorted(find_variables(testcase.name) - set(columns))
    if unknown:
        out.add(
            f"the testcase name reads {unknown[0]!r}, which is not a key of its rows",
            testcase.span,
            "a data-driven testcase's name is made from its row; it may use " + ", ".join(columns),
        )
        return None
    try:
        name = render(testcase.name, row.values)
    except TemplateFailure as exc:
        out.add(
            f"cannot make the testcase name: {exc.message}", row.span or testcase.span, exc.hint
        )
        return None
    return name if isinstance(name, str) else _short(name)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())  # a name stays on one line
    if len(text) > _NAME_VALUE_LIMIT:
        return text[: _NAME_VALUE_LIMIT - 1] + "…"
    return text
