"""pytest sessions recorded in the results store, as `splice run` records its runs: live,
with every test, suite items included, and the quarantine honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.store import Store
from splice._internal.store import quarantine as quarantines
from splice._internal.store.query_runs import get_run, list_runs

pytest_plugins = ["pytester"]

TESTS = """
import pytest

def test_passes(): pass
def test_fails(): assert 1 == 2, "one is not two"
@pytest.mark.skip(reason="not today")
def test_skipped(): pass
"""

SUITE = """
name: checks
testcases:
  - name: echo works
    steps:
      - exec: {command: [echo, hi]}
        expect: {stdout: {$regex: hi}}
"""


def _store(folder: Path) -> Store:
    return Store.open(f"sqlite:///{folder / '.splice' / 'results.db'}")


def _results(store: Store, run_id: str) -> dict[str, str]:
    run = get_run(store, run_id)
    assert run is not None
    return {tc["key"]: tc["status"] for tc in _testcases(run)}


def _testcases(run: dict[str, object]) -> list[dict[str, str]]:
    suites = run["suites"]
    assert isinstance(suites, list)
    return [tc for suite in suites for tc in suite["testcases"]]


def test_a_session_in_a_project_is_recorded_with_every_test(pytester: pytest.Pytester) -> None:
    """With a splice.yaml, the session is a run of source 'pytest' in the project's store:
    Python tests and suite items, each with its status and the failure's message."""
    pytester.makefile(".yaml", splice="name: shop\nsuites: ['*.splice.yaml']\n")
    pytester.makepyfile(test_mixed=TESTS)
    pytester.makefile(".splice.yaml", checks=SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["splice: recorded run * in sqlite:///*results.db"])
    store = _store(pytester.path)
    try:
        [run] = list_runs(store)
        assert (run["source"], run["status"], run["project"]) == ("pytest", "failed", "shop")
        assert _results(store, run["id"]) == {
            "test_mixed.py::test_passes": "passed",
            "test_mixed.py::test_fails": "failed",
            "test_mixed.py::test_skipped": "skipped",
            "checks::echo works": "passed",
        }
        detail = get_run(store, run["id"])
        assert detail is not None
        failed = next(tc for tc in _testcases(detail) if tc["name"] == "test_fails")
        assert "one is not two" in str(failed["message"])
    finally:
        store.close()


def test_a_quarantined_failure_does_not_fail_the_session(pytester: pytest.Pytester) -> None:
    """Failures only of quarantined tests: reported, stored as quarantined, exit 0; another
    failure still fails the session."""
    pytester.makefile(".yaml", splice="name: shop\n")
    pytester.makepyfile(test_q="def test_fails(): assert False\ndef test_ok(): pass\n")
    store = _store(pytester.path)
    try:
        quarantines.add(store, "test_q.py::test_fails", reason="known flaky")
    finally:
        store.close()
    result = pytester.runpytest()
    assert result.ret == 0
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["splice: 1 quarantined failure reported but not failing*"])

    pytester.makepyfile(test_other="def test_breaks(): assert False\n")
    assert pytester.runpytest().ret == pytest.ExitCode.TESTS_FAILED


def test_no_store_and_no_project_record_nothing(pytester: pytest.Pytester) -> None:
    """--splice-no-store leaves the project without a store; without a splice.yaml (and no
    store named) nothing is recorded either."""
    pytester.makepyfile(test_a="def test_a(): pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / ".splice").exists()
    pytester.makefile(".yaml", splice="name: shop\n")
    pytester.runpytest("--splice-no-store").assert_outcomes(passed=1)
    assert not (pytester.path / ".splice").exists()


def test_a_named_store_that_cannot_open_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """--splice-store naming a store that cannot be opened stops the session with the reason."""
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest("--splice-store", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*splice: cannot open the results store*"])


INTERRUPTED = """
def test_before(): pass
def test_cut(): raise KeyboardInterrupt  # what Ctrl-C does while this test runs
def test_after(): pass
"""


def test_an_interrupted_session_counts_every_test_alike(pytester: pytest.Pytester) -> None:
    """Ctrl-C in a test: that test is `interrupted`, the one never started is skipped
    ("run interrupted"), and splice's JSON and JUnit and the store agree on every count."""
    import json
    import xml.etree.ElementTree as ET

    pytester.makefile(".yaml", splice="name: shop\nsuites: ['*.splice.yaml']\n")
    pytester.makepyfile(test_cut=INTERRUPTED)
    result = pytester.runpytest(
        "--splice-json=r.json", "--splice-junit=r.xml", no_reraise_ctrlc=True
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["status"] == "interrupted"
    statuses = {tc["name"]: tc["status"] for s in report["suites"] for tc in s["testcases"]}
    assert statuses == {"test_before": "passed", "test_cut": "interrupted", "test_after": "skipped"}
    after = next(
        tc for s in report["suites"] for tc in s["testcases"] if tc["name"] == "test_after"
    )
    assert after["skip_reason"] == "run interrupted"
    root = ET.parse(pytester.path / "r.xml").getroot()
    assert [root.get(k) for k in ("tests", "failures", "errors")] == ["3", "0", "1"]
    # the Jenkins schema has no `skipped` on <testsuites>: each <testsuite> counts its own
    assert sum(int(suite.get("skipped", "0")) for suite in root) == 1
    store = _store(pytester.path)
    try:
        [run] = list_runs(store)
        assert run["status"] == "interrupted"
        assert _results(store, run["id"]) == {
            "test_cut.py::test_before": "passed",
            "test_cut.py::test_cut": "interrupted",
            "test_cut.py::test_after": "skipped",
        }
    finally:
        store.close()


def test_a_session_whose_services_fail_to_start_keeps_the_log_and_the_reason(
    pytester: pytest.Pytester,
) -> None:
    """Services that do not start: the failure names a log kept under
    .splice/logs/<run id>/, and the stored run holds the reason and that log."""
    pytester.makefile(
        ".yaml",
        splice="""
name: shop
services:
  broken:
    kind: process
    command: "echo 'fatal: missing config' >&2; exit 7"
    ready: {http: /health}
""",
    )
    pytester.makepyfile(test_env="def test_needs_services(splice_env): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    line = next(ln for ln in output.splitlines() if "log lines of" in ln)
    log = Path(line.split(" of ", 1)[1].rstrip(":").strip())
    assert log.is_file() and "fatal: missing config" in log.read_text()
    assert log.parent.parent == pytester.path / ".splice" / "logs"
    store = _store(pytester.path)
    try:
        run = get_run(store, log.parent.name)
        assert run is not None
        texts = {entry["kind"]: entry["content"] for entry in run["logs"]}
        assert "exited with code 7 before it was ready" in texts["error"]
        assert "fatal: missing config" in texts["service-log"]
    finally:
        store.close()
