"""File reporters: JUnit XML, JSON and HTML written from hand-built runs."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import sys
import types
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from splice._internal.errors import SourceSpan
from splice._internal.model.results import (
    AttemptResult,
    Failure,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)
from splice._internal.reporting.html import render_html, write_html
from splice._internal.reporting.json_report import write_json
from splice._internal.reporting.junit import write_junit

DATA = Path(__file__).parent / "data"
T0 = 1_714_000_000.0
XSS = "<script>alert(1)</script>"
CONTROL = "bell\x07 esc\x1b[31m nul\x00 end"
EVIL_URL = "https://evil.example/x.js"
BIG_BODY = "x" * 10_000


def _step(
    index: int,
    name: str,
    status: Status = Status.PASSED,
    *,
    executor: str = "http",
    phase: Phase = Phase.TEST,
    failures: list[Failure] | None = None,
    **extra: Any,
) -> StepResult:
    return StepResult(
        index=index,
        name=name,
        executor=executor,
        phase=phase,
        status=status,
        started_at=T0,
        duration=0.0123,
        failures=failures or [],
        **extra,
    )


def _case(
    suite: SuiteResult, name: str, status: Status, attempts: list[AttemptResult], **extra: Any
) -> TestcaseResult:
    tc = TestcaseResult(
        suite=suite.name,
        name=name,
        path=suite.path,
        line=10 + len(suite.testcases),
        status=status,
        started_at=T0,
        duration=1.23456,
        attempts=attempts,
        **extra,
    )
    suite.testcases.append(tc)
    return tc


def sample_run(root: Path) -> RunResult:
    """A run with every outcome the reporters must handle, paths below `root`."""
    orders = SuiteResult("orders", root / "suites" / "orders.splice.yaml", Status.FAILED, T0, 9.5)
    span = SourceSpan(orders.path, 12, 9)
    request = {"method": "POST", "url": "http://localhost:8080/orders", "json": {"sku": "A"}}
    listed = _step(
        1,
        "list orders",
        request={"method": "GET", "url": "http://localhost:8080/orders"},
        response={"status": 200, "body": BIG_BODY},
        captures={"first_id": 42},
    )
    _case(
        orders,
        "lists orders",
        Status.PASSED,
        [AttemptResult(1, Status.PASSED, T0, 1.2, [listed])],
        tags=["smoke"],
    )
    mismatch = [
        Failure("expect", "status: expected 201, got 500", "status", 201, 500),
        Failure(
            "expect",
            "json differs",
            "json",
            {"status": "pending", "qty": 2},
            {"status": "failed", "qty": 2, "id": 7},
            hint="check the order service log",
        ),
    ]
    created = _step(
        1,
        "create order",
        Status.FAILED,
        failures=mismatch,
        location=span,
        request=request,
        response={"status": 500, "body": f"oops {XSS} {CONTROL} see {EVIL_URL}"},
    )
    _case(
        orders,
        "creates an order",
        Status.FAILED,
        [AttemptResult(1, Status.FAILED, T0, 0.4, [created])],
    )
    refused = _step(
        1,
        "read cache",
        Status.ERROR,
        executor="redis",
        failures=[Failure("error", "connection refused")],
    )
    _case(
        orders,
        "reads the cache",
        Status.ERROR,
        [AttemptResult(1, Status.ERROR, T0, 0.1, [refused])],
    )
    _case(orders, "needs kafka", Status.SKIPPED, [], skip_reason="kafka is not installed")
    late = _step(
        1, "wait shipped", Status.FAILED, failures=[Failure("retry", "not shipped yet")], polls=5
    )
    _case(
        orders,
        "ships eventually",
        Status.FLAKY,
        [
            AttemptResult(1, Status.FAILED, T0, 2.0, [late]),
            AttemptResult(2, Status.PASSED, T0 + 2, 1.0, [_step(1, "wait shipped")]),
        ],
    )
    broken = [
        _step(1, "always", Status.FAILED, failures=[Failure("assert", f"try {n}")]) for n in (1, 2)
    ]
    _case(
        orders,
        "always broken",
        Status.FAILED,
        [
            AttemptResult(1, Status.FAILED, T0, 0.2, [broken[0]]),
            AttemptResult(2, Status.FAILED, T0, 0.2, [broken[1]]),
        ],
    )

    payments = SuiteResult(
        "payments", root / "suites" / "payments.splice.yaml", Status.ERROR, T0 + 10, 0.5
    )
    payments.setup = [
        _step(
            0,
            "load fixtures",
            Status.ERROR,
            executor="sql",
            phase=Phase.SETUP,
            failures=[Failure("error", "could not connect to db")],
        )
    ]
    payments.teardown = [_step(0, "drop data", executor="sql", phase=Phase.TEARDOWN)]
    _case(payments, "charges a card", Status.ERROR, [])
    _case(payments, "refunds", Status.SKIPPED, [], skip_reason="suite setup failed")
    return RunResult(
        id="run-1",
        status=Status.FAILED,
        started_at=T0,
        duration=10.25,
        command=["splice", "run", "--tag", "smoke"],
        host="ci-7",
        cwd=str(root),
        suites=[orders, payments],
    )


@pytest.fixture
def run(tmp_path: Path) -> RunResult:
    return sample_run(tmp_path)


# JUnit


def test_junit_counts_names_times_and_files(run: RunResult, tmp_path: Path) -> None:
    """junitparser reads the right totals, suite names, testcase names, times, files and lines."""
    from junitparser import JUnitXml

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    xml = JUnitXml.fromfile(str(out))
    assert (xml.tests, xml.failures, xml.errors) == (8, 2, 2)
    assert sum(suite.skipped for suite in xml) == 2  # <testsuites> has no `skipped` (Jenkins XSD)
    assert xml.time == 10.25
    suites = list(xml)
    assert [s.name for s in suites] == ["orders", "payments"]
    assert [(s.tests, s.failures, s.errors, s.skipped) for s in suites] == [
        (6, 2, 1, 1),
        (2, 0, 1, 1),
    ]
    cases = list(suites[0])
    assert [c.name for c in cases] == [
        "lists orders",
        "creates an order",
        "reads the cache",
        "needs kafka",
        "ships eventually",
        "always broken",
    ]
    assert {c.classname for c in cases} == {"orders"}
    assert cases[0].time == 1.235
    assert [c._elem.get("file") for c in cases] == ["suites/orders.splice.yaml"] * 6
    assert cases[1]._elem.get("line") == "11"
    assert [c.is_passed for c in cases] == [True, False, False, False, True, False]
    assert cases[1].is_failure and cases[2].is_error and cases[3].is_skipped
    assert cases[3].result[0].message == "kafka is not installed"


def test_junit_time_and_timestamp_formats(run: RunResult, tmp_path: Path) -> None:
    """Times carry exactly three decimals and timestamps are ISO 8601 in UTC."""
    from lxml import etree

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    root = etree.parse(str(out)).getroot()
    times = [e.get("time") for e in root.iter("testsuites", "testsuite", "testcase")]
    assert all(re.fullmatch(r"\d+\.\d{3}", t) for t in times), times
    assert root.get("timestamp") is None  # not declared on <testsuites> by the Jenkins XSD
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", root[0].get("timestamp"))
    assert root.find("testsuite").get("hostname") == "ci-7"


def test_junit_is_valid_for_jenkins(run: RunResult, tmp_path: Path) -> None:
    """The XML validates against the Jenkins XSD once Surefire's flaky elements (which it
    does not declare, see docs/how-to/ci.md) are taken out; <testsuites> carries only the
    attributes it declares."""
    from lxml import etree

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    doc = etree.parse(str(out))
    undeclared = copy.deepcopy(doc)
    for elem in undeclared.xpath("//flakyFailure | //flakyError"):
        elem.getparent().remove(elem)
    schema = etree.XMLSchema(etree.parse(str(DATA / "jenkins-junit.xsd")))
    assert schema.validate(undeclared), schema.error_log
    assert not schema.validate(doc)  # proves the flaky elements were really there


def test_junit_failure_body_names_step_and_values(run: RunResult, tmp_path: Path) -> None:
    """A <failure> names the failing step and its place, each message, expected and actual."""
    from lxml import etree

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    (failure,) = etree.parse(str(out)).xpath("//testcase[@name='creates an order']/failure")
    assert failure.get("message") == "status: expected 201, got 500"
    assert failure.get("type") == "expect"
    body = failure.text
    assert "test step 'create order' (http) failed at " in body
    testcase = failure.getparent()
    assert f" at {testcase.get('file')}:12:9\n" in body  # the same relative path as `file`
    assert "status: expected 201, got 500" in body and "json differs" in body
    assert "expected: 201" in body and "actual:   500" in body
    assert '"status": "pending"' in body and "hint:     check the order service" in body


def test_junit_flaky_and_rerun_in_surefire_format(run: RunResult, tmp_path: Path) -> None:
    """A flaky testcase passes with <flakyFailure>; an always-failing one adds <rerunFailure>."""
    from junitparser import xunit2

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    cases = {c.name: c for suite in xunit2.JUnitXml.fromfile(str(out)) for c in suite}
    flaky = cases["ships eventually"]
    assert flaky.is_passed and flaky.is_flaky and not flaky.is_rerun
    (attempt,) = flaky.flaky_failures()
    assert (attempt.message, attempt.type) == ("not shipped yet", "retry")
    assert "attempt 1 of 2: failed" in attempt.text and "polled 5 times" in attempt.text
    assert attempt.stack_trace is None
    broken = cases["always broken"]
    assert broken.is_failure and broken.result[0].message == "try 2"
    assert [r.message for r in broken.rerun_failures()] == ["try 1"]
    assert not cases["lists orders"].interim_result


def test_junit_suite_setup_failure_goes_to_system_err(run: RunResult, tmp_path: Path) -> None:
    """Setup failures appear in the suite's <system-err>; its testcases keep the model's status."""
    from junitparser import xunit2

    out = tmp_path / "junit.xml"
    write_junit(run, out)
    payments = list(xunit2.JUnitXml.fromfile(str(out)))[1]
    assert "suite setup failed" in payments.system_err
    assert "could not connect to db" in payments.system_err
    assert "drop data" not in payments.system_err  # teardown passed
    charged, refunds = list(payments)
    assert charged.is_error and refunds.is_skipped


def test_junit_strips_illegal_characters(run: RunResult, tmp_path: Path) -> None:
    """Characters XML 1.0 forbids are removed everywhere; markup in user text stays text."""
    from lxml import etree

    run.suites[0].testcases[1].attempts[0].steps[0].failures[0].message = f"{XSS} {CONTROL}"
    out = tmp_path / "junit.xml"
    write_junit(run, out)
    raw = out.read_bytes()
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", raw)
    (failure,) = etree.parse(str(out)).xpath("//failure[@type='expect']")
    assert failure.get("message") == f"{XSS} bell esc[31m nul end"


# JSON


def test_json_round_trips_with_schema_and_counts(run: RunResult, tmp_path: Path) -> None:
    """The JSON report loads back with schema, counts and the run's full structure."""
    out = tmp_path / "run.json"
    write_json(run, out)
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text.startswith('{\n  "schema": "splice-run/1",')
    assert doc["counts"] == run.counts()
    assert doc["counts"]["flaky"] == 1
    assert {k: doc[k] for k in ("id", "status", "host")} == {
        "id": "run-1",
        "status": "failed",
        "host": "ci-7",
    }
    tc = doc["suites"][0]["testcases"][1]
    assert tc["id"] == "orders::creates an order"
    step = tc["attempts"][0]["steps"][0]
    assert step["failures"][0]["expected"] == 201 and step["failures"][0]["actual"] == 500
    assert step["location"]["line"] == 12
    assert step["response"]["body"] == f"oops {XSS} {CONTROL} see {EVIL_URL}"
    assert doc == json.loads(
        json.dumps(run.to_dict() | {"schema": "splice-run/1", "counts": run.counts()})
    )


def test_json_writes_odd_values(run: RunResult, tmp_path: Path) -> None:
    """Values JSON cannot hold become their repr, and lone surrogates do not break the file."""
    step = run.suites[0].testcases[0].attempts[0].steps[0]
    step.captures = {"ids": {3}, "raw": b"\xff".decode("utf-8", "surrogateescape")}
    out = tmp_path / "deep" / "run.json"
    write_json(run, out)
    captures = json.loads(out.read_text(encoding="utf-8"))["suites"][0]["testcases"][0]
    assert captures["attempts"][0]["steps"][0]["captures"] == {"ids": "{3}", "raw": "?"}


def test_to_dict_turns_every_kind_of_value_into_json(run: RunResult) -> None:
    """The plain form of a result: enums by value, paths and other keys as text, tuples as
    lists, bytes decoded, dict and int subclasses kept as values, nested dataclasses as
    objects (a testcase with its id), anything else by its repr."""
    import collections
    import enum

    class Level(enum.IntEnum):
        HIGH = 2

    step = run.suites[0].testcases[0].attempts[0].steps[0]
    step.captures = {
        "path": Path("a/b"),
        "pair": (1, "x"),
        "raw": b"ok\xff",
        "counts": collections.Counter(a=2),
        "level": Level.HIGH,
        "status": Status.FAILED,
        "span": SourceSpan(Path("s.yaml"), 3, 4),
        "odd": {3},
        7: None,
    }
    plain = run.to_dict()
    testcase = plain["suites"][0]["testcases"][0]
    assert testcase["id"] == run.suites[0].testcases[0].id
    captures = testcase["attempts"][0]["steps"][0]["captures"]
    assert captures == {
        "path": "a/b",
        "pair": [1, "x"],
        "raw": "ok\ufffd",
        "counts": {"a": 2},
        "level": 2,
        "status": "failed",
        "span": {"path": "s.yaml", "line": 3, "column": 4, "end_column": None},
        "odd": "{3}",
        "7": None,
    }
    assert json.loads(json.dumps(plain)) == plain


# HTML


class _Page(HTMLParser):
    """Collects what a browser could load or run: attributes, scripts, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.code: list[str] = []
        self.text: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [value or "" for _, value in attrs]
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False

    def handle_data(self, data: str) -> None:
        (self.code if self._in_code else self.text).append(data)


def _page(run: RunResult) -> tuple[str, _Page]:
    html = render_html(run)
    page = _Page()
    page.feed(html)
    return html, page


def test_html_escapes_user_markup(run: RunResult) -> None:
    """A captured body with a script tag is shown as text and is never a script."""
    html, page = _page(run)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert page.tags.count("script") == 1
    assert any(XSS in t for t in page.text)


def test_html_has_no_external_reference(run: RunResult) -> None:
    """No URL in any attribute, script or style; URLs from the run appear only as text."""
    html, page = _page(run)
    assert not [a for a in page.attrs if re.search(r"https?:|//", a)]
    assert not [c for c in page.code if re.search(r"https?:|@import|url\(", c)]
    assert "<link" not in html and "<img" not in html and "<iframe" not in html
    assert any(EVIL_URL in t for t in page.text)  # the check above had something to find
    assert "default-src 'none'" in html


def test_html_shows_header_and_counts(run: RunResult) -> None:
    """The header shows status, each count, duration, start time, command and host."""
    html, _ = _page(run)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    assert counts == {"passed": "1", "failed": "2", "error": "2", "skipped": "2", "flaky": "1"}
    for text in ("10.25 s", "2024-04-24 23:06:40 UTC", "splice run --tag smoke", "ci-7"):
        assert text in html
    assert re.search(r'data-filter="failed"[^>]*>failed<span class="n">4<', html)


def test_html_shows_failures_requests_and_captures(run: RunResult) -> None:
    """A failing step shows its message, path, expected and actual, request and response."""
    html, _ = _page(run)
    assert "status: expected 201, got 500" in html
    assert '<pre class="exp">201</pre>' in html and '<pre class="act">500</pre>' in html
    assert "&#34;status&#34;: &#34;pending&#34;" in html
    assert "suites/orders.splice.yaml:12:9" in html
    assert "http://localhost:8080/orders" in html and "first_id" in html
    assert "could not connect to db" in html


def test_html_shortens_large_bodies(run: RunResult) -> None:
    """A body past 4 KB is cut, with a note of how many bytes were left out."""
    html, _ = _page(run)
    assert "… (5904 more bytes)" in html
    assert "x" * 4096 in html and "x" * 4097 not in html


def test_html_shows_control_characters_visibly(run: RunResult) -> None:
    """Control characters from captured output are written as escapes, never raw."""
    html, _ = _page(run)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", html)
    assert r"bell\x07 esc\x1b[31m nul\x00 end" in html


def test_html_script_is_allowed_by_its_csp_hash(run: RunResult) -> None:
    """The page's Content-Security-Policy names the hash of its one inline script."""
    html, _ = _page(run)
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_html_uses_render_diff_when_available(
    run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When splice._internal.expect.render_diff exists, its diff lines appear, coloured by sign."""
    fake = types.ModuleType("splice._internal.expect")
    fake.render_diff = lambda expected, actual: ["differing:", f"  - {expected}", f"  + {actual}"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "splice._internal.expect", fake)
    html, _ = _page(run)
    assert '<span class="d-head">differing:</span>' in html
    assert '<span class="d-del">  - 201</span>' in html
    assert '<span class="d-add">  + 500</span>' in html


def test_html_leaves_out_one_line_diffs(run: RunResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-line diff (two scalars) only repeats the message, so the page leaves it out."""
    fake = types.ModuleType("splice._internal.expect")
    fake.render_diff = lambda expected, actual: [f"expected {expected}, got {actual}"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "splice._internal.expect", fake)
    html, _ = _page(run)
    assert "<h5>diff</h5>" not in html


def test_writers_create_missing_folders(run: RunResult, tmp_path: Path) -> None:
    """Each writer creates the report's folder and leaves no partial file behind."""
    folder = tmp_path / "reports" / "nested"
    write_junit(run, folder / "junit.xml")
    write_json(run, folder / "run.json")
    write_html(run, folder / "report.html")
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "report.html", "run.json"]
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_html_labels_steps_by_executor_and_names_other_phases(run: RunResult) -> None:
    """A step's label is its executor (`http`), not its phase; setup/teardown steps say so."""
    html, _ = _page(run)
    labels = re.findall(r'<span class="phase">([^<]*)</span>', html)
    assert labels and "test" not in labels
    executors = {s.executor for tc in run.testcases() for a in tc.attempts for s in a.steps}
    executors |= {s.executor for suite in run.suites for s in [*suite.setup, *suite.teardown]}
    assert set(labels) <= {*executors, *(f"{e} · setup" for e in executors),
                           *(f"{e} · teardown" for e in executors)}  # fmt: skip


def test_html_interrupted_run_has_one_outcome_badge(run: RunResult) -> None:
    """An interrupted run's header shows one `interrupted` badge, not two."""
    run.status, run.interrupted = Status.INTERRUPTED, True
    html, _ = _page(run)
    head = html.split('<div class="head">', 1)[1].split("</div>", 1)[0]
    assert head.count(">interrupted<") == 1


def test_a_failure_in_a_long_source_line_shows_a_window_of_it(tmp_path: Path) -> None:
    """A pact written one interaction to a line: the failure report shows the part of the
    line around the column, with the caret under the description, not the whole line."""
    from splice._internal.reporting.failures import source_lines

    before = '{"type": "Asynchronous/Messages", ' + '"x": 1, ' * 100
    line = before + '"description": "an order created event", ' + '"y": 2, ' * 100
    path = tmp_path / "pact.json"
    path.write_text(f"{{\n{line}\n}}\n")
    column = len(before) + len('"description": ') + 1
    arrow, _gutter, source, caret = source_lines(
        SourceSpan(path, 2, column, end_column=column + 24)
    )
    assert arrow == f"--> {path}:2:{column}"
    assert max(len(source), len(caret)) < 200
    assert source.startswith("2 | …") and source.endswith("…")
    assert source[caret.index("^") :].startswith('"an order created event"')
    assert caret.count("^") == 24
