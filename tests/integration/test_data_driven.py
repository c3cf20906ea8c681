"""Data-driven testcases against a real HTTP server: every row is its own testcase in the
console, JSON and JUnit reports and the store, named the same on every run, isolated
(its own variables and session) and scheduled on its own under `--jobs`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from splice._internal.store import schema as t
from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TODO = ROOT / "examples" / "todo"
HOW_TO = ROOT / "docs" / "how-to" / "data-driven.md"

SUITE = """
name: shop
foreach:
  - {region: eu}
  - {region: us}
testcases:
  - name: "{{ region }}: order {{ sku }} x{{ qty }}"
    foreach: {file: rows/orders.csv}
    steps:
      - http:
          post: "{{ base }}/echo"
          json: {sku: "{{ sku }}", qty: "{{ qty | int }}", region: "{{ region }}"}
        expect:
          status: 200
          json: {json: {sku: "{{ sku }}", qty: "{{ qty | int }}"}}
        capture: {seen: json.json.sku}
      - http: {post: "{{ base }}/echo", json: {seen: "{{ seen }}"}}
        expect: {json: {json: {seen: "{{ sku }}"}}}
  - name: sizes
    matrix: {size: [s, m], colour: [red]}
    steps:
      - http: {get: "{{ base }}/echo?size={{ size }}&colour={{ colour }}&region={{ region }}"}
        expect: {json: {query: {size: "{{ size }}", region: "{{ region }}"}}}
  - name: wrong row
    foreach: {file: rows/expect.json}
    steps:
      - http: {get: "{{ base }}/echo?n={{ n }}"}
        expect: {json: {query: {n: "{{ want }}"}}}
"""

NAMES = [
    "eu: order A-1 x2",
    "eu: order B-2 x1",
    "eu: order C-3 x5",
    "sizes [region=eu, size=s, colour=red]",
    "sizes [region=eu, size=m, colour=red]",
    "wrong row [region=eu, n=1, want=1]",
    "wrong row [region=eu, n=2, want=3]",
    "us: order A-1 x2",
    "us: order B-2 x1",
    "us: order C-3 x5",
    "sizes [region=us, size=s, colour=red]",
    "sizes [region=us, size=m, colour=red]",
    "wrong row [region=us, n=1, want=1]",
    "wrong row [region=us, n=2, want=3]",
]


@pytest.fixture
def project(write, server) -> Path:  # type: ignore[no-untyped-def]
    write("rows/orders.csv", "sku,qty\nA-1,2\nB-2,1\nC-3,5\n")
    write("rows/expect.json", '[{"n": 1, "want": "1"}, {"n": 2, "want": "3"}]')
    return write("shop.splice.yaml", SUITE)  # type: ignore[no-any-return]


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_every_row_is_a_testcase_in_every_report_and_the_store(
    splice_cli, server, project: Path, tmp_path: Path, jobs: str
) -> None:
    """Rows run row by row (suite rows outermost), pass or fail on their own, and appear
    with the same names in the JSON and JUnit reports and the store, with or without jobs."""
    store = tmp_path / "results.db"
    args = [
        "run",
        str(project),
        "--var",
        f"base={server.url}",
        "--jobs",
        jobs,
        "--json",
        "run.json",
        "--junit",
        "junit.xml",
        "--store",
        str(store),
    ]
    result = splice_cli(*args)
    assert result.exit_code == 1, result.output + result.stderr
    assert "12 passed, 2 failed" in result.output

    report = json.loads((tmp_path / "run.json").read_text())
    testcases = [tc for suite in report["suites"] for tc in suite["testcases"]]
    assert [tc["name"] for tc in testcases] == NAMES
    failed = [tc["name"] for tc in testcases if tc["status"] != "passed"]
    assert failed == ["wrong row [region=eu, n=2, want=3]", "wrong row [region=us, n=2, want=3]"]

    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert [case.get("name") for case in junit.iter("testcase")] == NAMES

    engine = create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        stored = sorted(conn.execute(select(t.tests.c.name)).scalars())
    assert stored == sorted(NAMES)

    # a second run keeps every row's identity: history and flaky detection per row
    result = splice_cli(*args)
    with engine.connect() as conn:
        keys = conn.execute(select(t.tests.c.key, t.tests.c.window_runs)).all()
    engine.dispose()
    assert len(keys) == len(NAMES)
    assert {runs for _, runs in keys} == {2}


def test_a_selection_by_name_picks_single_rows(splice_cli, server, project: Path) -> None:
    """`-k` selects rows by their generated names, like any testcase."""
    result = splice_cli(
        "run", str(project), "--var", f"base={server.url}", "--no-store", "-k", "us: order B"
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "1 passed" in result.output
    assert "us: order B-2 x1" in result.output


@pytest.fixture
def todo() -> Iterator[str]:
    """The example todo service on a free port."""
    proc = subprocess.Popen(
        [sys.executable, str(TODO / "server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield line.split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_how_to_example_prints_what_the_docs_show(splice_cli, todo: str) -> None:
    """The console block of docs/how-to/data-driven.md is what the example suite prints,
    and the YAML shown there is the example's."""
    path = TODO / "suites" / "04-data-driven.splice.yaml"
    result = splice_cli("run", str(path), "--var", f"base_url={todo}")  # the how-to's command
    assert result.exit_code == 0, result.output + result.stderr
    check_output("data-driven-run", result.output)
    doc = HOW_TO.read_text()
    yaml_block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml_block in path.read_text()
    csv_block = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    assert csv_block == (path.parent / "data" / "titles.csv").read_text()


def test_pytest_collects_one_item_per_row(project: Path, server, tmp_path: Path) -> None:
    """The pytest plugin sees the rows too: one item per row, each passing or failing on
    its own, selectable by its generated name."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", project.name],
        cwd=tmp_path,
        env={**os.environ, "SPLICE_VAR_base": server.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed, 12 passed" in done.stdout, done.stdout
    assert "PASSED shop.splice.yaml::us: order B-2 x1" in done.stdout
    assert "FAILED shop.splice.yaml::wrong row [region=eu, n=2, want=3]" in done.stdout
