"""`matrix:` and `foreach:` expand when the suite loads: names, order, variables, and a
located error with a hint for every bad table."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.errors import SuiteError
from splice._internal.loader.rows import MAX_ROWS
from splice._internal.loader.suite_loader import load_suite
from splice._internal.model.suite import Suite

STEPS = 'steps: [{exec: "echo {{ x }}"}]'


def _load(write, text: str) -> Suite:  # type: ignore[no-untyped-def]
    return load_suite(write("s.splice.yaml", text))


def _error(write, text: str) -> tuple[str, str, str | None]:  # type: ignore[no-untyped-def]
    with pytest.raises(SuiteError) as caught:
        _load(write, text)
    diag = caught.value.diagnostics[0]
    assert diag.span is not None
    where = f"{diag.span.path.name}:{diag.span.line}:{diag.span.column}"
    return diag.message, where, diag.hint


def test_matrix_crosses_values_in_written_order(write) -> None:  # type: ignore[no-untyped-def]
    """The last key varies fastest; the name lists the row's values; values keep types."""
    suite = _load(
        write, f"testcases:\n  - name: t\n    matrix: {{x: [1, 2], y: [a, b]}}\n    {STEPS}\n"
    )
    assert [tc.name for tc in suite.testcases] == [
        "t [x=1, y=a]",
        "t [x=1, y=b]",
        "t [x=2, y=a]",
        "t [x=2, y=b]",
    ]
    assert suite.testcases[2].vars == {"x": 2, "y": "a"}
    assert suite.testcases[2].row is not None
    assert suite.testcases[2].row.columns == ("x", "y")


def test_rows_come_before_the_testcase_vars(write) -> None:  # type: ignore[no-untyped-def]
    """Testcase vars may be built from the row's values."""
    suite = _load(
        write,
        "testcases:\n  - name: t {{ x }}\n    foreach: [{x: 1}]\n"
        '    vars: {url: "/items/{{ x }}"}\n    ' + STEPS + "\n",
    )
    assert list(suite.testcases[0].vars) == ["x", "url"]
    assert suite.testcases[0].name == "t 1"


def test_foreach_and_matrix_together_cross(write) -> None:  # type: ignore[no-untyped-def]
    """Each foreach row runs with every matrix combination."""
    suite = _load(
        write,
        "testcases:\n  - name: t\n    foreach: [{x: 1}, {x: 2}]\n    matrix: {y: [a, b]}\n"
        f"    {STEPS}\n",
    )
    assert [tc.vars for tc in suite.testcases] == [
        {"x": 1, "y": "a"},
        {"x": 1, "y": "b"},
        {"x": 2, "y": "a"},
        {"x": 2, "y": "b"},
    ]


def test_suite_rows_run_the_whole_suite_per_row(write) -> None:  # type: ignore[no-untyped-def]
    """With `foreach:` on the suite, every testcase runs once per row, row by row."""
    suite = _load(
        write,
        f"foreach: [{{x: 1}}, {{x: 2}}]\ntestcases:\n  - name: a\n    {STEPS}\n"
        f"  - name: b {{{{ x }}}}\n    {STEPS}\n",
    )
    assert [tc.name for tc in suite.testcases] == ["a [x=1]", "b 1", "a [x=2]", "b 2"]


def test_rows_from_yaml_json_and_csv_files(write) -> None:  # type: ignore[no-untyped-def]
    """A YAML or JSON file keeps the values' types; a CSV's are strings; a byte-order
    mark and quoted fields across lines are read as spreadsheets write them."""
    write("rows.yaml", "- {x: 1, ok: true}\n- {x: 2, ok: false}\n")
    write("rows.json", '[{"x": 1.5, "ok": null}]')
    (write("rows.csv", "").parent / "rows.csv").write_bytes(
        '\ufeffx,ok\n"two\nlines",yes\n3,no\n'.encode()
    )
    for name, expected in [
        ("rows.yaml", [{"x": 1, "ok": True}, {"x": 2, "ok": False}]),
        ("rows.json", [{"x": 1.5, "ok": None}]),
        ("rows.csv", [{"x": "two\nlines", "ok": "yes"}, {"x": "3", "ok": "no"}]),
    ]:
        suite = _load(
            write, f"testcases:\n  - name: t\n    foreach: {{file: {name}}}\n    {STEPS}\n"
        )
        assert [tc.vars for tc in suite.testcases] == expected, name
    assert [tc.name for tc in suite.testcases] == ["t [x=two lines, ok=yes]", "t [x=3, ok=no]"]
    row = suite.testcases[1].row
    assert row is not None and row.span is not None
    assert (row.source, row.index, row.span.line) == ("rows.csv", 2, 4)


def test_long_values_are_cut_in_generated_names(write) -> None:  # type: ignore[no-untyped-def]
    """A generated name stays short and on one line."""
    suite = _load(
        write, f"testcases:\n  - name: t\n    foreach: [{{x: {'a' * 100}}}]\n    {STEPS}\n"
    )
    assert suite.testcases[0].name == "t [x=" + "a" * 39 + "…]"


@pytest.mark.parametrize(
    ("files", "table", "message", "where", "hint"),
    [
        (
            {"r.csv": "x,y\n1,2\n3,4,5\n"},
            "foreach: {file: r.csv}",
            "this row has 3 fields, the header has 2",
            "r.csv:3:1",
            "columns: x, y",
        ),
        (
            {"r.csv": "x,x\n1,2\n"},
            "foreach: {file: r.csv}",
            "column 'x' appears twice",
            "r.csv:1:3",
            "the first line names",
        ),
        (
            {"r.csv": "x,first name\n1,2\n"},
            "foreach: {file: r.csv}",
            "column name 'first name' is not a variable name",
            "r.csv:1:3",
            "the first line names",
        ),
        ({"r.csv": "x\n"}, "foreach: {file: r.csv}", "at least one row", "r.csv:1:1", "add a line"),
        ({"r.csv": ""}, "foreach: {file: r.csv}", "needs a header line", "r.csv:1:1", "write the"),
        (
            {"r.csv": 'x\n"open\n'},
            "foreach: {file: r.csv}",
            "invalid CSV",
            "r.csv:2:1",
            "quote a field",
        ),
        (
            {"r.json": '[{"x": 1},\n {"x": }]'},
            "foreach: {file: r.json}",
            "invalid JSON: Expecting value",
            "r.json:2:8",
            "a JSON list of objects",
        ),
        (
            {"r.yaml": "x: 1\n"},
            "foreach: {file: r.yaml}",
            "must hold a list of rows, found a mapping",
            "r.yaml:1:1",
            "one per row",
        ),
        (
            {"r.txt": "x\n"},
            "foreach: {file: r.txt}",
            "unknown file type '.txt'",
            "s.splice.yaml:3:21",
            ".csv",
        ),
        (
            {},
            "foreach: [{x: 1}, {y: 2}]",
            "row 2 lacks 'x'",
            "s.splice.yaml:3:23",
            "the first row has x",
        ),
        ({}, "foreach: [3]", "must be a mapping", "s.splice.yaml:3:15", "write each row"),
        ({}, "foreach: []", "foreach has no rows", "s.splice.yaml:3:14", "at least one row"),
        ({}, "matrix: {}", "at least one key", "s.splice.yaml:3:13", "once per value"),
        ({}, "matrix: {x: []}", "'x' has no values", "s.splice.yaml:3:17", "at least one"),
        (
            {},
            "matrix: {"
            + ", ".join(f"k{i}: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" for i in range(5))
            + "}",
            "this matrix makes 100,000 testcases",
            "s.splice.yaml:3:5",
            f"at most {MAX_ROWS:,}",
        ),
        (
            {},
            "matrix: {testcase: [1]}",
            "matrix key 'testcase' is a name splice sets itself",
            "s.splice.yaml:3:14",
            "rename",
        ),
        (
            {},
            "matrix: {x: [1]}\n    foreach: [{x: 2}]",
            "'x' is both a `matrix` key and a `foreach` column",
            "s.splice.yaml:3:14",
            "rename one",
        ),
        (
            {},
            "matrix: {x: [1]}\n    vars: {x: 2}",
            "matrix key 'x' is also a variable of the testcase",
            "s.splice.yaml:3:14",
            "hide each other",
        ),
    ],
)
def test_bad_tables_are_located_with_a_hint(  # type: ignore[no-untyped-def]
    write, *, files: dict[str, str], table: str, message: str, where: str, hint: str
) -> None:
    """Each broken table points at the place to fix, in the suite or the rows file."""
    for name, text in files.items():
        (Path(write(name, "x").parent) / name).write_text(text)
    found, at, found_hint = _error(write, f"testcases:\n  - name: t\n    {table}\n    {STEPS}\n")
    assert message in found
    assert at == where, found
    assert found_hint is not None and hint in found_hint


def test_a_name_template_reads_only_the_row(write) -> None:  # type: ignore[no-untyped-def]
    """The name is made at load time, so it may use only the row's keys."""
    message, where, hint = _error(
        write, f"testcases:\n  - name: t {{{{ other }}}}\n    matrix: {{x: [1]}}\n    {STEPS}\n"
    )
    assert message == "the testcase name reads 'other', which is not a key of its rows"
    assert where == "s.splice.yaml:2:11"
    assert hint is not None and hint.endswith("it may use x")


def test_rows_that_make_a_written_name_collide(write) -> None:  # type: ignore[no-untyped-def]
    """A row whose name equals another testcase's is a duplicate, at the row."""
    message, where, _ = _error(
        write,
        f"testcases:\n  - name: t 1\n    {STEPS}\n  - name: t {{{{ x }}}}\n"
        f"    foreach:\n      - {{x: 1}}\n    {STEPS}\n",
    )
    assert message == "duplicate testcase name 't 1'"
    assert where == "s.splice.yaml:6:9"


Q = "{sql: {service: db, query: select 1 as x}}"


@pytest.mark.parametrize(
    ("text", "message", "where", "hint"),
    [
        (
            f"testcases:\n  - name: t\n    foreach: {{sql: {{query: select 1}}}}\n    {STEPS}\n",
            "give either `service:` (a service of the project) or `url:`",
            "s.splice.yaml:3:20",
            None,
        ),
        (
            f"testcases:\n  - name: t\n    foreach: {{sql: {{service: db}}}}\n    {STEPS}\n",
            "missing required key 'query'",
            "s.splice.yaml:3:15",
            None,
        ),
        (
            "testcases:\n  - name: t\n    foreach: {sql: {service: db, query: q, many: [{}]}}\n"
            f"    {STEPS}\n",
            "`many:` runs a statement once per set of values",
            "s.splice.yaml:3:44",
            "params",
        ),
        (
            f"testcases:\n  - name: t\n    foreach: {Q}\n    matrix: {{y: [1]}}\n    {STEPS}\n",
            "rows from a query cannot be crossed with a `matrix:`",
            "s.splice.yaml:4:5",
            "cross join",
        ),
        (
            f"foreach: {Q}\ntestcases:\n  - name: t\n    {STEPS}\n",
            "`foreach: {sql: ...}` is for a testcase, not for the whole suite",
            "s.splice.yaml:1:1",
            "move it",
        ),
        (
            f"foreach: [{{r: 1}}]\ntestcases:\n  - name: t\n    foreach: {Q}\n    {STEPS}\n",
            "rows from a query cannot be crossed with the suite's rows",
            "s.splice.yaml:4:5",
            "in the query",
        ),
    ],
)
def test_bad_query_rows_are_located(  # type: ignore[no-untyped-def]
    write, text: str, message: str, where: str, hint: str | None
) -> None:
    """`foreach: {sql: ...}` is checked when the suite loads, at the place to fix."""
    found, at, found_hint = _error(write, text)
    assert message in found
    assert at == where
    if hint is not None:
        assert found_hint is not None and hint in found_hint


def test_query_rows_keep_the_testcase_whole_until_the_run(write) -> None:  # type: ignore[no-untyped-def]
    """The loader keeps one testcase, marked with the query, for the runner to expand."""
    suite = _load(write, f"testcases:\n  - name: t\n    foreach: {Q}\n    {STEPS}\n")
    (tc,) = suite.testcases
    assert tc.name == "t"
    assert tc.later is not None
    assert tc.later.block == {"service": "db", "query": "select 1 as x"}
    assert tc.later.span is not None and (tc.later.span.line, tc.later.span.column) == (3, 41)
