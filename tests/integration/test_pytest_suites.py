"""`*.splice.yaml` suites as pytest items: which files are collected, one item per
testcase, splice's failure report, selection with -k and -m, suite setup and teardown,
and splice's reports of a pytest run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.test_pytest_plugin import app_project, started

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
name: app checks
tags: [smoke]
testcases:
  - name: health answers
    steps:
      - http: {get: "{{ services.app.url }}/health"}
        expect: {status: 200, json: {path: /health}}
  - name: the path comes back
    tags: [echo]
    steps:
      - http: {get: "{{ services.app.url }}/hello"}
        expect: {json: {path: /hello}}
"""

FAILING = """
name: wrong
testcases:
  - name: expects another path
    steps:
      - http: {get: "{{ services.app.url }}/actual"}
        expect: {status: 200, json: {path: /expected}}
"""


def write(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_suites_under_the_project_globs_are_collected_one_item_per_testcase(
    pytester: pytest.Pytester,
) -> None:
    """Each testcase of a suite under `suites:` is an item; other suite files are not."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    write(pytester, "suites/app.splice.yaml", SUITE)
    write(pytester, "elsewhere/ignored.splice.yaml", FAILING)
    result = pytester.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(
        [
            "suites/app.splice.yaml::health answers",
            "suites/app.splice.yaml::the path comes back",
            "2 tests collected*",
        ]
    )
    assert "ignored" not in result.stdout.str()
    assert started(pytester) == 0  # collecting starts nothing


def test_suites_run_with_the_projects_services(pytester: pytest.Pytester) -> None:
    """Suite items reach the project's services, started once for suites and Python tests."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    write(pytester, "suites/app.splice.yaml", SUITE)
    pytester.makepyfile(test_py="def test_py(splice_app):\n    assert splice_app.port\n")
    pytester.runpytest().assert_outcomes(passed=3)
    assert started(pytester) == 1


def test_the_ini_option_and_a_named_file_collect_suites_without_a_project(
    pytester: pytest.Pytester,
) -> None:
    """Without splice.yaml, `splice_suites` in the ini file or a suite named on the
    command line is collected, and --splice-var gives it its variables."""
    pytester.makeini("[pytest]\nsplice_suites = checks/*.splice.yaml\n")
    suite = """
    name: vars
    testcases:
      - name: sees the variable
        steps:
          - exec: echo {{ greeting }}
            expect: {stdout: "hello\\n"}
    """
    write(pytester, "checks/one.splice.yaml", suite)
    named = write(pytester, "other/two.splice.yaml", suite)
    pytester.runpytest("--splice-var", "greeting=hello").assert_outcomes(passed=1)
    pytester.runpytest("--splice-var", "greeting=hello", str(named)).assert_outcomes(passed=1)


def test_a_failing_testcase_shows_splices_report(pytester: pytest.Pytester) -> None:
    """The failure shows the step, its location, the diff, the request and the response;
    the short summary names the reason."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    write(pytester, "suites/wrong.splice.yaml", FAILING)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ wrong › expects another path _*",
            "failed: GET http://127.0.0.1:*/actual: json.path: *",
            "  step 1: GET http://127.0.0.1:*/actual ?failed?",
            "    --> suites/wrong.splice.yaml:5:9",
            "*request:",
            "*method: GET",
            "*response:",
            "*status: 200",
            '*body: {"time": *, "path": "/actual", *}',
            "FAILED suites/wrong.splice.yaml::expects another path*",  # pytest 9 adds the reason
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_k_and_m_select_testcases_by_name_suite_and_tag(pytester: pytest.Pytester) -> None:
    """-k matches testcase and suite names; suite and testcase tags are markers that
    --strict-markers accepts."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    write(pytester, "suites/app.splice.yaml", SUITE)
    write(pytester, "suites/wrong.splice.yaml", FAILING)

    def collected(*args: str) -> list[str]:
        out = pytester.runpytest("--strict-markers", "--co", "-q", *args).stdout.lines
        return sorted(line.split("::")[1] for line in out if "::" in line)

    assert collected("-k", "health") == ["health answers"]
    assert collected("-k", "checks") == ["health answers", "the path comes back"]
    assert collected("-m", "echo") == ["the path comes back"]
    assert collected("-m", "smoke and not echo") == ["health answers"]
    assert collected("-m", "not integration") == []


def test_a_broken_suite_is_a_collection_error_with_its_location(
    pytester: pytest.Pytester,
) -> None:
    """A mistake in a suite is reported as splice reports it: message, place, caret, hint."""
    pytester.makeini("[pytest]\nsplice_suites = *.splice.yaml\n")
    write(
        pytester,
        "bad.splice.yaml",
        """
        name: bad
        testcases:
          - name: typo
            steps:
              - htp: {get: "http://127.0.0.1:1/"}
        """,
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run
    result.stdout.fnmatch_lines(
        [
            "error: unknown executor or step key 'htp'",
            "*--> bad.splice.yaml:5:9",
            "*^^^",
            "*hint: *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_suite_setup_runs_once_and_teardown_after_the_last_selected(
    pytester: pytest.Pytester,
) -> None:
    """The suite's setup runs before its first item, its captures reach the testcases,
    and its teardown runs after the last selected item."""
    pytester.makeini("[pytest]\nsplice_suites = *.splice.yaml\n")
    write(
        pytester,
        "life.splice.yaml",
        """
        name: life
        setup:
          - exec: "echo setup >> events.log; echo token-1"
            capture: {token: stdout}
        teardown:
          - exec: "echo teardown >> events.log"
        testcases:
          - name: first
            steps:
              - exec: "echo first {{ token | trim }} >> events.log"
          - name: second
            steps:
              - exec: "echo second {{ token | trim }} >> events.log"
          - name: third
            steps:
              - exec: "echo third >> events.log"
        """,
    )
    pytester.runpytest("-k", "not third").assert_outcomes(passed=2, deselected=1)
    events = (pytester.path / "events.log").read_text().split("\n")
    assert events == ["setup", "first token-1", "second token-1", "teardown", ""]


def test_failing_suite_setup_and_teardown_are_errors_with_the_step(
    pytester: pytest.Pytester,
) -> None:
    """A failing suite setup errors every item with the failed step; a failing teardown
    errors the last item."""
    pytester.makeini("[pytest]\nsplice_suites = *.splice.yaml\n")
    case = "  - name: {0}\n    steps:\n      - exec: 'true'\n"
    write(
        pytester,
        "setup_fails.splice.yaml",
        "name: s\nsetup:\n  - exec: 'exit 4'\n    expect: {exit_code: 0}\ntestcases:\n"
        + case.format("a")
        + case.format("b"),
    )
    write(
        pytester,
        "teardown_fails.splice.yaml",
        "name: t\nteardown:\n  - exec: 'exit 5'\n    expect: {exit_code: 0}\ntestcases:\n"
        + case.format("c"),
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*suite setup of 's' failed*",
            "*exit_code: expected 0, got 4*",
            "*suite teardown of 't' failed*",
            "*exit_code: expected 0, got 5*",
        ]
    )


def test_a_skipped_testcase_is_skipped_in_pytest(pytester: pytest.Pytester) -> None:
    """`skip:` in a testcase shows as a pytest skip with its reason."""
    pytester.makeini("[pytest]\nsplice_suites = *.splice.yaml\n")
    write(
        pytester,
        "s.splice.yaml",
        "name: s\ntestcases:\n  - name: later\n    skip: true\n    steps:\n      - exec: 'true'\n",
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *skip: true*"])


def test_reports_hold_suites_and_python_tests(pytester: pytest.Pytester) -> None:
    """--splice-json, --splice-junit and --splice-html write splice's reports of the
    pytest run: suite testcases with their steps, Python tests with their failures."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    write(pytester, "suites/wrong.splice.yaml", FAILING)
    pytester.makepyfile(
        test_py="""
        def test_ok(splice_app): pass
        def test_bad(): assert 1 == 2, "one is not two"
        """
    )
    out = pytester.path / "out"
    result = pytester.runpytest(
        f"--splice-json={out / 'run.json'}",
        f"--splice-junit={out / 'run.xml'}",
        f"--splice-html={out / 'run.html'}",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["splice: wrote JSON *run.json"])
    run = json.loads((out / "run.json").read_text())
    assert run["schema"] == "splice-run/1"
    assert run["status"] == "failed"
    assert run["counts"]["passed"] == 1 and run["counts"]["failed"] == 2
    assert [s["name"] for s in run["services"]] == ["app"]
    suites = {s["name"]: s for s in run["suites"]}
    wrong = suites["wrong"]["testcases"][0]
    step = wrong["attempts"][0]["steps"][0]
    assert step["executor"] == "http" and step["response"]["status"] == 200
    assert step["failures"][0]["path"] == "json.path"
    py = {t["name"]: t for t in suites["test_py.py"]["testcases"]}
    assert py["test_ok"]["status"] == "passed"
    assert "one is not two" in py["test_bad"]["attempts"][0]["steps"][0]["failures"][0]["message"]
    xml = (out / "run.xml").read_text()
    assert 'classname="wrong"' in xml and 'name="test_bad"' in xml
    assert "expects another path" in (out / "run.html").read_text()


def test_this_repositorys_deliberately_broken_suites_are_not_collected() -> None:
    """`pytest tests/` in this repository collects no item from its failing suites and
    error corpus: they are under no project's `suites:`."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
         "tests/errors", "tests/suites"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ".splice.yaml::" not in done.stdout
    assert "error" not in done.stdout.lower(), done.stdout
