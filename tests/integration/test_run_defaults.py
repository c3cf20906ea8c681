"""splice.yaml's `run:` sets what `splice run -j` and `--retries` do when the command line
does not say, and the command line still wins; `splice.run` reads it the same way."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import splice
from tests.support.cli import splice_cli

pytestmark = pytest.mark.integration

SUITE = """\
name: slow
testcases:
{cases}
"""
CASE = """\
  - name: case {i}
    steps:
      - exec: "sleep 0.4"
"""
FLAKY = """\
name: flaky
testcases:
  - name: passes the second time
    steps:
      - exec: "if test -f tried; then true; else touch tried; false; fi"
"""


def _project(root: Path, run: str, suite: str) -> None:
    (root / "splice.yaml").write_text(f"name: defaults\nsuites: ['*.splice.yaml']\n{run}")
    (root / "s.splice.yaml").write_text(suite)


def _splice(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = splice_cli(root, "run", "--no-store", "--json", "r.json", *args)
    report = root / "r.json"
    return done, json.loads(report.read_text()) if report.exists() else {}


def _spans(report: dict[str, Any]) -> list[tuple[float, float]]:
    cases = [tc for s in report["suites"] for tc in s["testcases"]]
    return sorted((tc["started_at"], tc["started_at"] + tc["duration"]) for tc in cases)


def _all_overlap(spans: list[tuple[float, float]]) -> bool:
    return max(start for start, _ in spans) < min(end for _, end in spans)


def _one_at_a_time(spans: list[tuple[float, float]]) -> bool:
    return all(later[0] >= earlier[1] - 0.001 for earlier, later in itertools.pairwise(spans))


def test_run_jobs_in_splice_yaml_runs_testcases_at_once_unless_j_says_otherwise(
    tmp_path: Path,
) -> None:
    _project(
        tmp_path,
        "run: {jobs: 3}\n",
        SUITE.format(cases="".join(CASE.format(i=i) for i in range(3))),
    )
    done, report = _splice(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _all_overlap(_spans(report)), _spans(report)
    done, report = _splice(tmp_path, "-j", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _one_at_a_time(_spans(report)), _spans(report)


def test_run_retries_in_splice_yaml_retries_unless_the_command_line_says_0(
    tmp_path: Path,
) -> None:
    _project(tmp_path, "run: {retries: 1}\n", FLAKY)
    done, report = _splice(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [case] = report["suites"][0]["testcases"]
    assert case["status"] == "flaky" and len(case["attempts"]) == 2
    (tmp_path / "tried").unlink()
    done, report = _splice(tmp_path, "--retries", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["suites"][0]["testcases"][0]["status"] == "failed"


def test_splice_run_takes_the_projects_defaults_too(tmp_path: Path) -> None:
    """The library's `jobs` and `retries` default to `run:`; given, they win."""
    _project(
        tmp_path,
        "run: {jobs: 3, retries: 1}\n",
        SUITE.format(cases="".join(CASE.format(i=i) for i in range(3))),
    )
    result = splice.run(project=tmp_path / "splice.yaml")
    assert _all_overlap(_spans(result.to_dict()))
    result = splice.run(project=tmp_path / "splice.yaml", jobs=1)
    assert _one_at_a_time(_spans(result.to_dict()))
