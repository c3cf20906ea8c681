"""Suite setup and teardown under `--jobs` when an isolation makes testcases run one at a
time: they do not overlap a testcase they must not (one that runs alone, or any while a
suite whose isolation resets shared state sets up), and suites that may run at once
still do. A real Redis and a process on it, started by splice's local providers, through
`splice run`.

The races are set up by steps that sleep while they hold state (a key in Redis): without
the lock, the other suite's setup or teardown looks at Redis in the middle of that sleep.
No assertion is on time: with the lock, the check passes whichever side goes first."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# The project's `truncate` flushes the cache after each testcase, and `app` connects to it
# with its one URL, so a copy per parallel testcase cannot follow: one at a time.
PROJECT = f"""
    services:
      cache: {{kind: redis}}
      app:
        kind: process
        command: [{sys.executable!r}, -c, "print('up', flush=True); import time; time.sleep(600)"]
        env: {{REDIS_URL: "{{{{ services.cache.url }}}}"}}
        ready: {{log: up}}
        depends_on: [cache]
    data:
      isolation: truncate
"""

# a testcase that holds a key for a second (flushed after it by the project's isolation)
HOLDER = """
    name: holder
    testcases:
      - name: holds a key
        steps:
          - redis: {service: cache, command: SET held yes}
          - exec: sleep 1
"""

# the same under `isolation: none`: nothing flushes after it, so it cleans up itself
STRAY = """
    name: stray
    isolation: none
    testcases:
      - name: holds a key of its own
        steps:
          - redis: {service: cache, command: SET stray yes}
          - exec: sleep 1
          - redis: {service: cache, command: DEL stray}
"""

EMPTY = "redis: {service: cache, command: DBSIZE}\n        expect: {value: 0}"

# a suite whose setup checks, a moment after it starts, that the cache starts empty
CHECKS_IN_SETUP = f"""
    name: checker
    setup:
      - exec: sleep 0.3
      - name: the cache starts empty
        {EMPTY}
    testcases:
      - name: sees an empty cache
        steps:
          - {EMPTY.replace(chr(10) + "        ", chr(10) + "            ")}
"""

# a suite of `isolation: none` whose teardown checks that the cache is empty again
CHECKS_IN_TEARDOWN = f"""
    name: late
    isolation: none
    testcases:
      - name: quick
        steps:
          - redis: {{service: cache, command: PING}}
    teardown:
      - exec: sleep 0.3
      - name: the cache is empty at the end
        {EMPTY}
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (folder / name).write_text(textwrap.dedent(body).lstrip())


def _report(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return data


def _problems(report: dict[str, Any]) -> list[str]:
    """Every testcase, setup step and teardown step that did not pass, and why."""
    found = []
    for suite in report["suites"]:
        for step in [*suite.get("setup", []), *suite.get("teardown", [])]:
            if step["status"] != "passed":
                found.append(f"{suite['name']} › {step['name']}: {step['status']}")
        found += [
            f"{suite['name']} › {tc['name']}: {tc['status']}"
            for tc in suite["testcases"]
            if tc["status"] != "passed"
        ]
    return found


@pytest.mark.parametrize(
    ("other", "checker"),
    [
        pytest.param(HOLDER, CHECKS_IN_SETUP, id="setup-vs-testcase-running-alone"),
        pytest.param(STRAY, CHECKS_IN_SETUP, id="setup-vs-testcase-of-isolation-none"),
        pytest.param(HOLDER, CHECKS_IN_TEARDOWN, id="teardown-vs-testcase-running-alone"),
    ],
)
def test_jobs_2_suite_setup_and_teardown_wait_for_the_testcase_they_must_not_overlap(
    tmp_path: Path, splice_cli: Any, other: str, checker: str
) -> None:
    """Under --jobs 2, with testcases that run one at a time, a suite setup (or teardown)
    that checks the cache is empty does not run while another suite's testcase holds a
    key: not while one that runs alone does, nor while one of an `isolation: none` suite
    does (that one may reach the same services through the system under test)."""
    _write(
        tmp_path,
        {"splice.yaml": PROJECT, "a.splice.yaml": other, "b.splice.yaml": checker},
    )
    result = splice_cli("run", "--jobs", "2", "--no-store", "--json", "report.json")
    assert _problems(_report(tmp_path)) == [], result.output
    assert result.exit_code == 0
    assert "testcases run one at a time" in result.stderr


def _meeting(me: str, other: str, where: str) -> str:
    """Steps that pass only while the other suite's steps at `where` run at the same time:
    each sets its own key, then waits for the other's."""
    return f"""
          - redis: {{service: cache, command: SET {me}-{where} here}}
          - redis: {{service: cache, command: GET {other}-{where}}}
            retry: {{timeout: 20s, interval: 50ms}}
            expect: {{value: here}}"""


def _meeting_suite(me: str, other: str) -> str:
    return (
        f"name: {me}\nisolation: none\nsetup:"
        + _meeting(me, other, "setup")
        + "\ntestcases:\n  - name: meets\n    steps:"
        + textwrap.indent(_meeting(me, other, "testcase"), "    ")
        + "\n"
    )


def test_jobs_2_suites_of_isolation_none_still_overlap(tmp_path: Path, splice_cli: Any) -> None:
    """In the same project, two suites of `isolation: none` still run at once under
    --jobs 2: their setups meet (each waits for a key the other sets), and so do their
    testcases; the recorded times of the two setups overlap, and so do the testcases'."""
    _write(tmp_path, {"splice.yaml": PROJECT})
    (tmp_path / "x.splice.yaml").write_text(_meeting_suite("x", "y"))
    (tmp_path / "y.splice.yaml").write_text(_meeting_suite("y", "x"))
    result = splice_cli("run", "--jobs", "2", "--no-store", "--json", "report.json")
    report = _report(tmp_path)
    assert _problems(report) == [], result.output
    assert result.exit_code == 0

    def span(steps: list[dict[str, Any]]) -> tuple[float, float]:
        """From the start of the first step to the end of the last."""
        return steps[0]["started_at"], steps[-1]["started_at"] + steps[-1]["duration"]

    x, y = report["suites"]
    for phase in (
        lambda suite: suite["setup"],
        lambda suite: suite["testcases"][0]["attempts"][0]["steps"],
    ):
        (x0, x1), (y0, y1) = span(phase(x)), span(phase(y))
        assert x0 < y1 and y0 < x1  # the two intervals overlap
