"""Isolation under `--jobs`: parallel testcases each get their own copy of what their
isolation resets (a database per parallel slot, a Redis database per slot), or run one at
a time when the system under test holds the one connection the copies cannot follow.
Real servers started by splice's local providers, through `splice run`."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

APP = Path(__file__).parent.parent / "support" / "metadata_app.py"


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body).lstrip())


def _report(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return data


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{tc['name']}: {tc['status']}"
        for suite in report["suites"]
        for tc in suite["testcases"]
        if tc["status"] != "passed"
    ]


def _sql_case(name: str, kind: str) -> str:
    """Insert my own row, wait while the other job does the same, see only mine."""
    sleep = "pg_sleep(0.4)" if kind == "postgres" else "sleep(0.4)"
    service = "db"
    return f"""
      - name: {name}
        steps:
          - sql: {{service: {service}, query: "insert into notes (who) values ('{name}')"}}
          - sql: {{service: {service}, query: "select {sleep}"}}
          - sql: {{service: {service}, query: "select who from notes order by id"}}
            expect: {{rows: [{{who: seed}}, {{who: {name}}}]}}
    """


@pytest.mark.parametrize("mode", ["truncate", "snapshot"])
@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_jobs_2_truncate_gives_each_parallel_testcase_its_own_rows(
    tmp_path: Path, splice_cli: Any, mode: str, kind: str
) -> None:
    """Under --jobs 2, six testcases of two suites that insert a row, sleep, and expect to
    see only the fixture and their own row all pass with truncate (and snapshot), on
    PostgreSQL and MariaDB: no job empties or sees another job's rows."""
    _write(
        tmp_path,
        {
            "splice.yaml": f"""
                services:
                  db: {{kind: {kind}, init: [schema.sql]}}
                data:
                  isolation: {mode}
                  fixtures: {{db: [seed.yaml]}}
            """,
            "schema.sql": "create table notes (id serial primary key, who varchar(9) not null);",
            "seed.yaml": "notes:\n  - {who: seed}\n",
            "a.splice.yaml": "name: a\ntestcases:"
            + "".join(_sql_case(f"a{n}", kind) for n in range(4)),
            "b.splice.yaml": "name: b\nserial: true\ntestcases:"
            + "".join(_sql_case(f"b{n}", kind) for n in range(2)),
        },
    )
    result = splice_cli("run", "--jobs", "2", "--no-store", "--json", "report.json")
    assert _failures(_report(tmp_path)) == [], result.output
    assert result.exit_code == 0


def test_jobs_4_redis_flush_keeps_every_testcases_keys(tmp_path: Path, splice_cli: Any) -> None:
    """Under --jobs 4, twenty testcases that each set a key, wait, and read it back (and
    count the keys) all pass with `flush`: each parallel slot has its own Redis database."""
    case = """
      - name: k{n}
        steps:
          - redis: {{service: cache, command: SET k{n} v{n}}}
          - exec: sleep 0.15
          - redis: {{service: cache, command: GET k{n}}}
            expect: {{value: v{n}}}
          - redis: {{service: cache, command: DBSIZE}}
            expect: {{value: 2}}
          - redis: {{service: cache, command: GET seed}}
            expect: {{value: planted}}
    """
    _write(
        tmp_path,
        {
            "splice.yaml": """
                services:
                  cache: {kind: redis, isolation: flush}
                data:
                  fixtures: {cache: [keys.yaml]}
            """,
            "keys.yaml": "seed: planted\n",
            "k.splice.yaml": "name: k\ntestcases:" + "".join(case.format(n=n) for n in range(20)),
        },
    )
    result = splice_cli("run", "--jobs", "4", "--no-store", "--json", "report.json")
    assert _failures(_report(tmp_path)) == [], result.output
    assert result.exit_code == 0


APP_SERVICES = f"""
    services:
      db: {{kind: postgres}}
      app:
        kind: process
        command: [{sys.executable!r}, {str(APP)!r}]
        env: {{PORT: "{{{{ port }}}}", DATABASE_URL: "{{{{ services.db.url }}}}"}}
        ready: {{http: /health}}
        depends_on: [db]
    data:
      isolation: truncate
      keep: ["app_*"]            # the app's users, roles and boots
"""


def test_jobs_2_with_an_app_on_the_database_runs_testcases_one_at_a_time(
    tmp_path: Path, splice_cli: Any
) -> None:
    """The system under test keeps its one DATABASE_URL, so a per-job copy cannot follow
    it: under --jobs 2 testcases that write through the app and count what it stored run
    one at a time, and the run says why (service, mode, the app, where it is set)."""
    case = """
      - name: c{n}
        steps:
          - http: {{post: "{{{{ services.app.url }}}}/items", json: {{title: t{n}}}}}
            expect: {{status: 201}}
          - exec: sleep 0.3
          - http: {{get: "{{{{ services.app.url }}}}/items"}}
            expect: {{json: {{items: [{{title: t{n}}}]}}}}
    """
    _write(
        tmp_path,
        {
            "splice.yaml": APP_SERVICES,
            "c.splice.yaml": "name: c\ntestcases:" + "".join(case.format(n=n) for n in range(4)),
        },
    )
    result = splice_cli("run", "--jobs", "2", "--no-store", "--json", "report.json")
    assert _failures(_report(tmp_path)) == [], result.output
    assert "testcases run one at a time" in result.stderr
    assert "service 'db' (isolation truncate, splice.yaml:10:14)" in result.stderr
    assert "'app' connects to it" in result.stderr
    # the note as the docs show it
    note = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(("note: testcases run one at a time", "  = hint: see docs/"))
    ]
    check_output("isolation-one-at-a-time", "\n".join(note))
