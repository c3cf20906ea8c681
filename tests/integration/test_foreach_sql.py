"""`foreach: {sql: ...}` against a private PostgreSQL that splice starts: the query runs
once the services are up and the data loaded, each row becomes its own testcase named
from the row; a query that fails or gives no rows makes one error, placed at the query;
`splice check` (no services) accepts the testcase and says it is expanded at run time."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import splice
from splice._internal.model.results import RunResult, Status

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

PROJECT = """
name: rows
services:
  db: {kind: postgres, init: [schema.sql]}
  web:
    kind: process
    command: ["python3", "-m", "http.server", "{{ port }}", "--bind", "127.0.0.1"]
data:
  fixtures: {db: [users.yaml]}
"""
SCHEMA = "create table users (id int primary key, name text, active bool);"
FIXTURES = """
users:
  - {id: 1, name: ada, active: true}
  - {id: 2, name: grace, active: true}
  - {id: 3, name: linus, active: false}
"""
SUITE = """
name: users
vars: {wanted: true}
testcases:
  - name: "user {{ name }}"
    foreach:
      sql:
        service: db
        query: select id, name from users where active = :active order by id
        params: {active: "{{ wanted }}"}
    steps:
      - sql:
          service: db
          query: select name from users where id = :id
          params: {id: "{{ id }}"}
        expect: {rows: [{name: "{{ name }}"}]}
  - name: count
    foreach: {sql: {service: db, query: "select count(*) as n from users"}}
    steps:
      - exec: {command: "test {{ n }} -eq 3"}
  - name: nobody
    foreach: {sql: {service: db, query: "select id from users where id > 100"}}
    steps:
      - exec: {command: "true"}
  - name: broken
    foreach:
      sql: {service: db, query: "select id from no_such_table"}
    steps:
      - exec: {command: "true"}
  - name: plain
    steps:
      - exec: {command: "true"}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("foreach-sql")
    for name, text in {
        "splice.yaml": PROJECT,
        "schema.sql": SCHEMA,
        "users.yaml": FIXTURES,
        "users.splice.yaml": SUITE,
    }.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def run(folder: Path) -> Iterator[RunResult]:
    yield splice.run([str(folder / "users.splice.yaml")], project=folder, reuse_up=False)


def test_each_row_is_its_own_testcase_named_from_the_row(run: RunResult) -> None:
    """Rows of the query come in order, each a testcase with the row's values."""
    by_name = {tc.name: tc for tc in run.testcases()}
    assert list(by_name) == ["user ada", "user grace", "count [n=3]", "nobody", "broken", "plain"]
    assert by_name["user ada"].status == Status.PASSED
    assert by_name["user grace"].status == Status.PASSED
    assert by_name["count [n=3]"].status == Status.PASSED
    assert by_name["plain"].status == Status.PASSED


def test_a_query_without_rows_is_an_error_at_the_query(run: RunResult, folder: Path) -> None:
    """No rows is an error (as an inline `foreach: []` is), placed at the query."""
    tc = next(t for t in run.testcases() if t.name == "nobody")
    assert tc.status == Status.ERROR
    step = tc.attempts[0].steps[0]
    assert step.failures[0].message == "the foreach query gave no rows"
    assert step.location is not None
    assert (step.location.path, step.location.line) == (folder / "users.splice.yaml", 21)


def test_a_failing_query_says_what_the_database_said(run: RunResult, folder: Path) -> None:
    """The database's own message, at the query, never a traceback."""
    tc = next(t for t in run.testcases() if t.name == "broken")
    assert tc.status == Status.ERROR
    step = tc.attempts[0].steps[0]
    message = step.failures[0].message
    assert message.startswith("the foreach query failed: ")
    assert 'relation "no_such_table" does not exist' in message
    assert step.location is not None
    assert (step.location.line, step.location.column) == (26, 33)
    assert run.status == Status.ERROR


def test_check_accepts_it_and_says_it_is_expanded_at_run_time(folder: Path, splice_cli) -> None:  # type: ignore[no-untyped-def]
    """Without starting anything, check counts such a testcase once and says so."""
    import os

    os.chdir(folder)
    result = splice_cli("check", "users.splice.yaml")
    assert result.exit_code == 0, result.output + result.stderr
    assert "5 testcases (4 expanded at run time)" in result.output


@pytest.mark.parametrize(
    ("service", "message", "hint"),
    [
        ("dbb", "unknown service 'dbb'", "did you mean 'db'?"),
        (
            "web",
            "service 'web' is a process service, not a database the query can run on",
            "name one of the project's databases: db",
        ),
    ],
)
def test_the_service_must_be_a_database_of_the_project(  # type: ignore[no-untyped-def]
    folder: Path, splice_cli, service: str, message: str, hint: str
) -> None:
    """An unknown or non-database service is a located error of `splice check`."""
    import os

    (folder / "bad.splice.yaml").write_text(
        "name: bad\ntestcases:\n  - name: t\n"
        f"    foreach: {{sql: {{service: {service}, query: select 1 as one}}}}\n"
        "    steps: [{exec: 'true'}]\n"
    )
    os.chdir(folder)
    result = splice_cli("check", "bad.splice.yaml")
    assert result.exit_code == 2
    text = result.output + result.stderr
    assert f"error: {message}" in text
    assert "bad.splice.yaml:4:30" in text
    assert hint in text


def test_url_rows_and_the_pytest_plugin(pytester: pytest.Pytester) -> None:
    """`url:` queries any database without a service (here a SQLite file); the pytest
    plugin, which collects before services start, reports such a testcase as one failing
    item that says where to run it, never a traceback."""
    import sqlite3

    db = pytester.path / "rows.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (word text)")
        conn.executemany("insert into t values (?)", [("a",), ("b",)])
    conn.close()
    suite = (
        "name: words\ntestcases:\n  - name: w\n"
        f'    foreach: {{sql: {{url: "sqlite:///{db}", query: select word from t order by word}}}}\n'
        "    steps: [{exec: 'test -n {{ word }}'}]\n"
    )
    (pytester.path / "words.splice.yaml").write_text(suite)
    (pytester.path / "splice.yaml").write_text("name: p\nsuites: [words.splice.yaml]\n")
    run = splice.run([str(pytester.path / "words.splice.yaml")], project=pytester.path)
    assert [(tc.name, tc.status) for tc in run.testcases()] == [
        ("w [word=a]", Status.PASSED),
        ("w [word=b]", Status.PASSED),
    ]
    picked = splice.run(
        [str(pytester.path / "words.splice.yaml")], project=pytester.path, keywords=["word=b"]
    )
    assert [tc.name for tc in picked.testcases()] == ["w [word=b]"]  # -k picks made names
    outcome = pytester.runpytest("-q", "-p", "no:cacheprovider")
    assert outcome.parseoutcomes().get("failed") == 1
    text = outcome.stdout.str()
    assert "rows come from a query, which this front end does not run" in text
    assert "Traceback" not in text
