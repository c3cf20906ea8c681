"""Imports of hostile JUnit XML and JSON reports: each is refused with its place and a hint
(file:line:col from `splice import`, exit 2), or stored; never a traceback, never a value
that a page cannot show. Property tests feed generated documents to the importer."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from sqlalchemy import select

from splice._internal.cli.main import SpliceGroup
from splice._internal.cli.store_commands import import_
from splice._internal.store import Store
from splice._internal.store import schema as t
from splice._internal.store.errors import BadImport
from splice._internal.store.importing import Format, store_file, store_stream
from splice._internal.store.meta import RunMeta
from tests.support.hostile_inputs import json_reports, junit_documents, valid_report

ROOT = Path(__file__).resolve().parents[2]
CLI = SpliceGroup(commands={"import": import_})


@pytest.fixture
def store(tmp_path: Path) -> Any:
    db = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    yield db
    db.close()


def _runs(store: Store) -> int:
    with store.engine.connect() as conn:
        return len(conn.execute(select(t.runs.c.id)).all())


HOSTILE_JUNIT = [
    (
        b'<?xml version="1.0" encoding="UTF-7"?>\n<testsuite name="a"><testcase name="t"/></testsuite>',
        1,
        "encoding 'UTF-7'",
    ),
    (b'<testsuite name="a">\n<testcase name="t" time="nan"/></testsuite>', 2, "time='nan'"),
    (b'<testsuite name="a">\n<testcase name="t" time="1e309"/></testsuite>', 2, "time='1e309'"),
    (b'<testsuite name="a">\n<testcase name="t" time="-0.5"/></testsuite>', 2, "time='-0.5'"),
    (b'<testsuite name="a">\n<testcase name="t" line="1e99"/></testsuite>', 2, "line='1e99'"),
    (b'<testsuite name="a">\n<testcase name="t" line="-3"/></testsuite>', 2, "line='-3'"),
    (
        b'<testsuite name="a">\n<testcase name="t" line="99999999999999999999"/></testsuite>',
        2,
        "line=",
    ),
    (b'<testsuites>\n<testsuite name="a" time="inf"/></testsuites>', 2, "time='inf'"),
    (b'<testsuites>\n<testsuite timestamp="yesterday"/></testsuites>', 2, "timestamp='yesterday'"),
    (b'<testsuites>\n<testsuite timestamp="1900-01-01T00:00:00"/></testsuites>', 2, "timestamp="),
    (b'<testsuite name="\xff\xfe"/>', 1, "not well-formed"),
    (b"", 1, "no element found"),
    (b"   \n", 2, "no element found"),
    (b"<testsuites><testsuite>", 1, "not well-formed"),
    (b"<html><body/></html>", 1, "not JUnit"),
    (b"<testsuite>" + b"<a>" * 100 + b"</a>" * 100 + b"</testsuite>", 1, "nested deeper"),
    (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        b'<testsuite name="&lol2;"/>',
        2,
        "document type declaration",
    ),
    (
        b'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<testsuite name="&x;"/>',
        2,
        "document type declaration",
    ),
    (
        b'<?xml version="1.0"?>\n<!DOCTYPE t SYSTEM "http://127.0.0.1:9/evil.dtd">\n<testsuite/>',
        2,
        "document type declaration",
    ),
    (b'<testsuite>\n<testcase name="' + b"x" * 3000 + b'"/></testsuite>', 2, "longer than"),
]


@pytest.mark.parametrize(("data", "line", "message"), HOSTILE_JUNIT)
def test_hostile_junit_is_refused_with_its_place(
    store: Store, tmp_path: Path, data: bytes, line: int, message: str
) -> None:
    """Each hostile document is a BadImport naming the element or attribute, with its line,
    a column and a hint; nothing is stored."""
    path = tmp_path / "report.xml"
    path.write_bytes(data)
    with pytest.raises(BadImport) as caught:
        store_file(store, path, RunMeta(source="junit"))
    problem = caught.value
    assert message in problem.message and problem.hint
    assert problem.line == line and problem.column and problem.column >= 1
    assert _runs(store) == 0


@pytest.mark.parametrize(("data", "line", "message"), HOSTILE_JUNIT)
def test_splice_import_shows_a_located_error_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, line: int, message: str
) -> None:
    """`splice import` prints error, file:line:col and hint for each, exits 2, no traceback."""
    monkeypatch.chdir(tmp_path)
    Path("report.xml").write_bytes(data)
    done = CliRunner().invoke(CLI, ["import", "report.xml", "--store", "sqlite:///r.db"])
    text = done.output + (done.stderr or "")
    assert done.exit_code == 2, text
    assert f"--> report.xml:{line}:" in text and "= hint:" in text and message in text
    assert "Traceback" not in text


def test_an_error_in_a_minified_file_shows_a_window_of_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of one 3 MB line: the error shows the part of the line around the column,
    with the caret under the element, not megabytes of XML."""
    monkeypatch.chdir(tmp_path)
    cases = '<testcase name="x" time="1"/>' * 100_000
    Path("report.xml").write_text(f'<testsuite>{cases}<testcase time="nan"/>{cases}</testsuite>')
    done = CliRunner().invoke(CLI, ["import", "report.xml", "--store", "sqlite:///r.db"])
    text = done.output + (done.stderr or "")
    assert done.exit_code == 2 and max(len(line) for line in text.splitlines()) < 200, text
    source, caret = [line for line in text.splitlines() if line.startswith((" 1 |", "   |"))][1:3]
    assert source[caret.index("^") :].startswith('<testcase time="nan"/>')


def test_the_import_error_in_the_docs_is_what_splice_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console block of cli.md under `splice import` is splice's output."""
    doc = (ROOT / "docs" / "reference" / "cli.md").read_text()
    block = doc.split("$ splice import report.xml\n", 1)[1].split("```", 1)[0]
    source = re.search(r"^ 2 \| (.*)$", block, re.M)
    assert source is not None
    monkeypatch.chdir(tmp_path)
    Path("report.xml").write_text(f'<testsuite name="a">\n{source.group(1)}\n</testsuite>\n')
    done = CliRunner().invoke(CLI, ["import", "report.xml", "--store", "sqlite:///r.db"])
    assert done.exit_code == 2
    assert (done.output + (done.stderr or "")).strip().startswith(block.strip())


def test_a_report_with_wrong_types_names_the_field(store: Store, tmp_path: Path) -> None:
    """A JSON report whose testcase has a negative duration, or a string for a number, is
    refused naming the JSON path of the field; nothing is stored."""
    path = tmp_path / "run.json"
    for value, said in ((-1, "greater than or equal to 0"), ("slow", "should be a number")):
        report = {
            "schema": "splice-run/1",
            "suites": [
                {
                    "name": "s",
                    "testcases": [
                        {"suite": "s", "name": "a"},
                        {"suite": "s", "name": "b", "duration": value},
                    ],
                }
            ],
        }
        path.write_text(json.dumps(report))
        with pytest.raises(BadImport) as caught:
            store_file(store, path, RunMeta(source="upload"))
        assert caught.value.message.startswith("suites[0].testcases[1].duration: ")
        assert said in caught.value.message and caught.value.errors
    assert _runs(store) == 0


def test_a_report_holding_a_huge_integer_is_stored(store: Store, tmp_path: Path) -> None:
    """An integer past 64 bits in a captured value (valid JSON, which the fast parser cannot
    hold) is read by the exact one: the run is stored with its testcase."""
    report = valid_report()
    step = report["suites"][0]["testcases"][0]["attempts"][0]["steps"][0]
    step["captures"] = {"big": 2**80}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(report))
    done = store_file(store, path, RunMeta(source="upload"))
    assert done.testcases == 1 and _runs(store) == 1
    with store.engine.connect() as conn:
        assert str(2**80) in conn.execute(select(t.steps.c.captures)).scalar_one()


def test_a_reports_openapi_coverage_is_stored_with_its_run(store: Store, tmp_path: Path) -> None:
    """The report's `openapi` (operation coverage) goes into the run, as a live run's
    does; one that is not a list of objects is refused at its place."""
    from splice._internal.store.query_runs import get_run

    coverage = [
        {
            "service": "payments",
            "document": "openapi.yaml",
            "documented": 2,
            "exercised": 1,
            "missing": ["DELETE /payments/{id}"],
            "operations": [
                {"operation": "GET /payments/{id}", "statuses": ["200"], "hit": ["200"]},
                {"operation": "DELETE /payments/{id}", "statuses": ["204"], "hit": []},
            ],
        }
    ]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(valid_report() | {"openapi": coverage}))
    done = store_file(store, path, RunMeta(source="upload"))
    run = get_run(store, done.run_id)
    assert run is not None and run["openapi"] == coverage
    path.write_text(json.dumps(valid_report()))  # none: the run's coverage is empty
    plain = get_run(store, store_file(store, path, RunMeta(source="upload")).run_id)
    assert plain is not None and plain["openapi"] == []
    path.write_text(json.dumps(valid_report() | {"openapi": {"service": "payments"}}))
    with pytest.raises(BadImport, match=r"^openapi: Input should be a valid list"):
        store_file(store, path, RunMeta(source="upload"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema": "splice-run/1", "duration": NaN}', "not valid JSON"),
        ('{"schema": "splice-run/1", "duration": true}', "duration: Value error"),
        ('{"schema": "splice-run/1", "interrupted": 1}', "interrupted"),
        ('{"schema": "splice-run/1", "duration": 1e999}', "not valid JSON"),
        ('{"schema": "splice-run/1", "suites": [', "not valid JSON"),
        ('{"schema": "splice-run/1"} {"x": 1}', "not valid JSON"),
        ("[1, 2]", "not a splice report"),
        ('{"schema": "other/2"}', "not a splice report"),
        ('{"schema": "splice-run/1", "suites": {"a": 1}}', "suites"),
        ('{"schema": "splice-run/1", "suites": [7]}', "suites[0]"),
        ('{"schema": "splice-run/1", "suites": [{"name": "s", "testcases": [7]}]}', "testcases[0]"),
        ('{"schema": "splice-run/1", "id": "../../x"}', "id"),
    ],
)
def test_malformed_json_reports_are_refused(
    store: Store, tmp_path: Path, text: str, message: str
) -> None:
    """Invalid JSON, JSON that is no report, and reports of the wrong shape are a BadImport."""
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(BadImport) as caught:
        store_file(store, path, RunMeta(source="upload"))
    assert message in caught.value.message
    assert _runs(store) == 0


# -- property tests ---------------------------------------------------------------------------


def _stored_values_are_finite(store: Store) -> None:
    with store.engine.connect() as conn:
        for table in (t.runs, t.results, t.attempts, t.steps):
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, float):
                        assert math.isfinite(value) and 0 <= value <= 1e12, (table.name, row)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=junit_documents())
def test_no_junit_document_crashes_the_importer(store: Store, data: bytes) -> None:
    """Any generated JUnit-like document is stored or refused with a BadImport; what is
    stored holds only finite times."""
    try:
        store_stream(store, io.BytesIO(data), RunMeta(source="junit"), Format.JUNIT, "x.xml")
        event("stored")
    except BadImport as exc:
        assert exc.message and exc.hint
        event("refused")
    _stored_values_are_finite(store)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=json_reports())
def test_no_json_report_crashes_the_importer(store: Store, data: bytes) -> None:
    """Any mutated JSON report is stored or refused with a BadImport (a second upload of the
    same run id is the store's own refusal), never another exception."""
    from splice._internal.store.ingest import IngestError

    try:
        store_stream(store, io.BytesIO(data), RunMeta(source="upload"), Format.REPORT, "x.json")
        event("stored")
    except BadImport as exc:
        assert exc.message
        event("refused")
    except IngestError as exc:
        assert exc.status == 409, exc
        event("a conflict")
    _stored_values_are_finite(store)


def test_a_raw_control_character_beside_a_huge_integer_is_refused(store: Store) -> None:
    """An integer past 64 bits sends the report to the pure-Python parser, whose error for a
    raw control character inside a string is the standard library's: still a BadImport."""
    data = b'{"schema": "splice-run/1", "n": 123456789012345678901234567890, "s": "\x00failed"}'
    with pytest.raises(BadImport, match="not valid JSON"):
        store_stream(store, io.BytesIO(data), RunMeta(source="upload"), Format.REPORT, "x.json")
