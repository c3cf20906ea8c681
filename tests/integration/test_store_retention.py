"""Retention that frees space, imports of JUnit XML and splice JSON reports, and the
store's commands (`splice import`, `splice quarantine`, `splice store ...`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from splice._internal.cli.main import SpliceGroup
from splice._internal.cli.serve_command import serve
from splice._internal.cli.store_commands import import_, quarantine, store
from splice._internal.store import Store, StoreError
from splice._internal.store import schema as t
from splice._internal.store.importing import junit_run
from splice._internal.store.retention import prune, size_on_disk
from splice._internal.store.synthetic import generate

pytestmark = pytest.mark.integration

CLI = SpliceGroup(
    commands={"import": import_, "quarantine": quarantine, "serve": serve, "store": store}
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites time="3.5">
  <testsuite name="pytest" timestamp="2025-03-01T10:00:00" hostname="ci-7" tests="5">
    <testcase classname="tests.test_api" name="test_ok" time="0.5"/>
    <testcase classname="tests.test_api" name="test_bad" time="1.0">
      <failure message="assert 1 == 2" type="AssertionError">E assert 1 == 2</failure>
      <system-out>&lt;script&gt;alert(1)&lt;/script&gt;</system-out>
    </testcase>
    <testcase classname="tests.test_api" name="test_crash" time="0.1">
      <error message="ConnectionRefusedError">Traceback ...</error>
    </testcase>
    <testcase classname="tests.test_api" name="test_skip" time="0"><skipped message="no db"/></testcase>
    <testcase classname="tests.test_api" name="test_wobbly" time="1.9">
      <flakyFailure message="timeout" type="TimeoutError">first try timed out</flakyFailure>
    </testcase>
    <testcase classname="tests.test_api" name="test_reruns" time="0.2">
      <failure message="still wrong">again</failure>
      <rerunFailure message="wrong">once</rerunFailure>
    </testcase>
  </testsuite>
</testsuites>
"""


def _cli(*args: str) -> Any:
    return CliRunner().invoke(CLI, list(args), catch_exceptions=False)


def test_prune_by_count_and_age_frees_space_on_disk(tmp_path: Path) -> None:
    """Pruning deletes the oldest finished runs with every row that hangs off them, keeps
    running runs and quarantined tests, and the SQLite file shrinks."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    db = Store.open(url)
    generate(db, runs=40, tests=20, steps=5, days=40)
    from splice._internal.store import quarantine as q

    q.add(db, "orders::kept in quarantine", "", "test")
    with db.engine.begin() as conn:
        conn.execute(
            t.runs.update()
            .where(
                t.runs.c.id
                == select(t.runs.c.id).order_by(t.runs.c.started_at).limit(1).scalar_subquery()
            )
            .values(status="running")
        )
    before = size_on_disk(db)
    report = prune(db, max_runs=10)
    assert report.runs == 29  # 40 runs, the oldest one running: 10 newest + it remain
    assert before is not None and report.bytes_after is not None
    assert report.bytes_after < before * 0.5
    with db.engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.runs, t.results, t.attempts, t.steps)
        }
        orphans = conn.execute(
            select(func.count())
            .select_from(t.steps)
            .where(~t.steps.c.run_id.in_(select(t.runs.c.id)))
        ).scalar_one()
    assert counts["runs"] == 11 and counts["results"] == 11 * 20 and orphans == 0
    cutoff = time.time() - 5 * 86400
    by_age = prune(db, max_age_days=5)
    assert by_age.runs > 0
    with db.engine.connect() as conn:
        oldest = conn.execute(
            select(func.min(t.runs.c.started_at)).where(t.runs.c.status != "running")
        ).scalar()
    assert oldest is not None and oldest >= cutoff
    db.close()


def test_junit_from_any_tool_becomes_a_run(tmp_path: Path) -> None:
    """JUnit XML: failures, errors, skips, Surefire flaky and rerun elements become
    statuses and attempts; `classname::name` is the test's identity."""
    run = junit_run(JUNIT.encode())
    cases = {tc.name: tc for tc in run.testcases()}
    assert {n: tc.status.value for n, tc in cases.items()} == {
        "test_ok": "passed",
        "test_bad": "failed",
        "test_crash": "error",
        "test_skip": "skipped",
        "test_wobbly": "flaky",
        "test_reruns": "failed",
    }
    assert cases["test_bad"].id == "tests.test_api::test_bad"
    assert [a.status.value for a in cases["test_wobbly"].attempts] == ["failed", "passed"]
    assert len(cases["test_reruns"].attempts) == 2
    failure = cases["test_bad"].attempts[0].steps[0]
    assert failure.failures[0].message == "assert 1 == 2"
    assert failure.response == {"system-out": "<script>alert(1)</script>"}
    assert run.host == "ci-7" and run.started_at > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [("<testsuites><testcase", "not well-formed"), ("<html><body/></html>", "not JUnit")],
)
def test_bad_junit_is_a_store_error_with_a_hint(data: str, message: str) -> None:
    """Malformed XML, or XML that is not JUnit, is refused with a message and a hint."""
    with pytest.raises(StoreError) as caught:
        junit_run(data.encode())
    assert message in caught.value.message and caught.value.hint


def test_splice_import_stores_junit_and_json_reports(
    tmp_path: Path, run_suite: Any, write: Any
) -> None:
    """`splice import` takes JUnit XML and splice's own JSON report; a JUnit run of a splice
    suite and a recorded run of it share the test's history."""
    from splice._internal.reporting.json_report import write_json
    from splice._internal.reporting.junit import write_junit

    suite = write(
        "one.splice.yaml",
        """
        name: imported
        testcases:
          - name: works
            steps: [{exec: "echo hi", expect: {stdout: "hi\\n"}}]
    """,
    )
    result = run_suite(suite)
    write_json(result, tmp_path / "run.json")
    write_junit(result, tmp_path / "run.xml")
    (tmp_path / "pytest.xml").write_text(JUNIT)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    out = _cli(
        "import",
        str(tmp_path / "run.json"),
        str(tmp_path / "run.xml"),
        str(tmp_path / "pytest.xml"),
        "--store",
        url,
        "--branch",
        "main",
        "--commit",
        "abc",
    )
    assert out.exit_code == 0, out.output
    assert out.output.count("imported ") == 3 and "(error, 6 testcases)" in out.output
    db = Store.open(url)
    with db.engine.connect() as conn:
        sources = sorted(conn.execute(select(t.runs.c.source)).scalars())
        branches = set(conn.execute(select(t.runs.c.branch)).scalars())
        history = conn.execute(
            select(func.count())
            .select_from(t.results)
            .join(t.tests, t.tests.c.id == t.results.c.test_id)
            .where(t.tests.c.key == "imported::works")
        ).scalar_one()
    db.close()
    assert sources == ["junit", "junit", "upload"] and branches == {"main"} and history == 2
    again = _cli("import", str(tmp_path / "run.json"), "--store", url)
    assert again.exit_code == 2 and "already stored" in again.output


def test_store_commands_manage_tokens_quarantine_webhooks_and_pruning(tmp_path: Path) -> None:
    """`splice store token|webhook|prune|info` and `splice quarantine` work on a store and
    report user mistakes with exit code 2 and a hint."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    made = _cli("store", "token", "add", "ci", "--store", url)
    assert made.exit_code == 0 and made.stdout.startswith("spl_")
    listed = _cli("store", "token", "list", "--store", url)
    assert (
        "ci" in listed.output
        and "write" in listed.output
        and made.stdout.strip() not in listed.output
    )
    assert _cli("store", "token", "add", "ci", "--store", url).exit_code == 2
    assert _cli("store", "token", "revoke", "ci", "--store", url).exit_code == 0
    assert _cli("store", "token", "revoke", "ci", "--store", url).exit_code == 2

    assert _cli("quarantine", "add", "s::t", "--reason", "bug 12", "--store", url).exit_code == 0
    assert "bug 12" in _cli("quarantine", "list", "--store", url).output
    bad = _cli("quarantine", "add", "no-separator", "--store", url)
    assert bad.exit_code == 2 and "suite::testcase" in bad.output
    assert _cli("quarantine", "remove", "s::t", "--store", url).exit_code == 0
    assert _cli("quarantine", "remove", "s::t", "--store", url).exit_code == 2

    hook = _cli(
        "store", "webhook", "add", "https://example.test/h", "--event", "run.failed", "--store", url
    )
    assert hook.exit_code == 0 and "signing secret" in hook.output
    assert "https://example.test/h" in _cli("store", "webhook", "list", "--store", url).output
    assert (
        _cli(
            "store", "webhook", "add", "ftp://x", "--event", "run.failed", "--store", url
        ).exit_code
        == 2
    )
    assert _cli("store", "webhook", "remove", "1", "--store", url).exit_code == 0

    demo = _cli("store", "demo", "--runs", "12", "--tests", "5", "--store", url)
    assert demo.exit_code == 0 and "generated 12 runs" in demo.output
    assert _cli("store", "demo").exit_code == 2  # never into the project's own store
    pruned = _cli("store", "prune", "--max-runs", "2", "--store", url)
    assert (
        pruned.exit_code == 0 and "deleted 10 runs" in pruned.output and "MB freed" in pruned.output
    )
    assert _cli("store", "prune", "--store", url).exit_code == 2
    assert _cli("store", "prune", "--max-age", "ninety", "--store", url).exit_code == 2
    info = _cli("store", "info", "--store", url)
    assert "runs:     2" in info.output and "schema:   0005" in info.output
