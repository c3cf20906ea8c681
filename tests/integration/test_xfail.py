"""`xfail:` testcases: a failure that was expected is `xfailed` and does not fail the run;
a strict one that passes is `xpassed` and does; the outcome reaches the console, the JSON,
JUnit and HTML reports, the store (both writers) and pytest's own xfail."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from splice._internal.errors import SuiteError
from splice._internal.loader.suite_loader import load_suite
from splice._internal.model.results import RunResult, Status
from splice._internal.reporting.console import summary_line
from splice._internal.reporting.html import render_html
from splice._internal.reporting.json_report import report_dict
from splice._internal.reporting.junit import write_junit
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.store import Store
from splice._internal.store import schema as t
from splice._internal.store.attach import StoreOptions, attach

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

SUITE = """
name: known bugs
testcases:
  - name: fails as expected
    xfail: "ticket 42: totals are rounded down"
    steps:
      - exec: "echo 9"
        expect: {stdout: "10\\n"}
  - name: passes although expected to fail
    xfail: {reason: "ticket 7"}
    steps:
      - exec: "echo ok"
  - name: may pass
    xfail: {reason: "ticket 8: only on some days", strict: false}
    steps:
      - exec: "echo ok"
  - name: broken step
    xfail: "ticket 9"
    steps:
      - exec: {command: "echo {{ 1 / 0 }}"}
"""


def _run(folder: Path, text: str = SUITE, store_url: str | None = None) -> RunResult:
    (folder / "bugs.splice.yaml").write_text(textwrap.dedent(text).lstrip())
    suites, problems = load_all([folder / "bugs.splice.yaml"])
    assert not problems
    bus = EventBus()
    recording = None
    if store_url is not None:
        options = StoreOptions(store=store_url)
        recording = attach(bus, folder, "bugs", options, warn=pytest.fail)
    result = Runner(suites, RunOptions(), bus).run()
    if recording is not None:
        recording.finish(result)
    return result


def _statuses(run: RunResult) -> dict[str, Status]:
    return {tc.name: tc.status for tc in run.testcases()}


def test_expected_failures_and_unexpected_passes(tmp_path: Path) -> None:
    """A failure is xfailed; a strict pass is xpassed (the run fails); a non-strict pass
    passes; an error (the step could not run) stays an error."""
    run = _run(tmp_path)
    assert _statuses(run) == {
        "fails as expected": Status.XFAILED,
        "passes although expected to fail": Status.XPASSED,
        "may pass": Status.PASSED,
        "broken step": Status.ERROR,
    }
    assert run.status == Status.ERROR
    assert run.testcases()[0].xfail_reason == "ticket 42: totals are rounded down"
    only_expected = SUITE.split("  - name: passes although", maxsplit=1)[0]
    assert _run(tmp_path, only_expected).status == Status.PASSED
    strict_pass = SUITE.split("  - name: may pass", maxsplit=1)[0]
    assert _run(tmp_path, strict_pass).status == Status.FAILED


def test_reports_carry_the_outcome(tmp_path: Path) -> None:
    """Console summary, JSON counts, JUnit (skipped / failure) and HTML show it."""
    run = _run(tmp_path)
    line = summary_line(run)
    assert "1 xfailed" in line and "1 xpassed" in line
    doc = report_dict(run)
    assert doc["counts"]["xfailed"] == 1 and doc["counts"]["xpassed"] == 1
    first = doc["suites"][0]["testcases"][0]
    assert (first["status"], first["xfail_reason"]) == (
        "xfailed",
        "ticket 42: totals are rounded down",
    )
    write_junit(run, tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("1", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    skipped = cases["fails as expected"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "xfail: ticket 42: totals are rounded down"
    failure = cases["passes although expected to fail"].find("failure")
    assert failure is not None and failure.get("type") == "xpassed"
    assert "ticket 7" in (failure.get("message") or "")
    assert cases["may pass"].find("failure") is None
    html = render_html(run)
    assert "expected to fail: ticket 42: totals are rounded down" in html
    assert "s-xpassed" in html


def test_the_store_counts_them(tmp_path: Path) -> None:
    """The run row counts xfailed and xpassed; each result keeps its status."""
    url = f"sqlite:///{tmp_path / 'results.db'}"
    _run(tmp_path, store_url=url)
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            row = conn.execute(select(t.runs)).one()
            statuses = set(conn.execute(select(t.results.c.status)).scalars())
    finally:
        store.close()
    assert (row.xfailed, row.xpassed, row.passed, row.errors) == (1, 1, 1, 1)
    assert statuses == {"xfailed", "xpassed", "passed", "error"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('""', "at least 1 character"),
        ("{strict: true}", "missing required key 'reason'"),
        ("{reason: x, strict: maybe}", "expected true or false"),
    ],
)
def test_a_bad_xfail_is_located(write, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    """`xfail:` is a reason or `{reason, strict}`; anything else is a located error."""
    path = write(
        "x.splice.yaml",
        f"name: x\ntestcases:\n  - name: t\n    xfail: {value}\n    steps: [{{exec: 'true'}}]\n",
    )
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    diag = caught.value.diagnostics[0]
    assert message in diag.message
    assert diag.span is not None and diag.span.line == 4


def test_pytest_items_use_pytests_xfail(pytester: pytest.Pytester) -> None:
    """Suites run as pytest items: xfailed is pytest's `x`; a strict xpass fails the item."""
    text = textwrap.dedent(SUITE).lstrip().split("  - name: broken step")[0]
    (pytester.path / "bugs.splice.yaml").write_text(text)
    (pytester.path / "splice.yaml").write_text("name: p\nsuites: [bugs.splice.yaml]\n")
    outcome = pytester.runpytest("-q", "-p", "no:cacheprovider")
    found: dict[str, Any] = outcome.parseoutcomes()
    assert found.get("xfailed") == 1, outcome.stdout.str()
    assert found.get("failed") == 1 and found.get("passed") == 1, outcome.stdout.str()
