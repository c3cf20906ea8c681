"""splice runs its own YAML suites: some must pass, some must fail with an exact message."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from splice._internal.model.results import RunResult, Status
from splice._internal.reporting.failures import failure_report

SUITES = Path(__file__).resolve().parents[1] / "suites"
FAILING = sorted((SUITES / "failing").glob("*.splice.yaml"))


def _normalise(text: str, base: str) -> str:
    text = text.replace(base, "http://127.0.0.1:PORT")
    text = re.sub(r"\d+(\.\d+)?(ms|s)\b", "N", text)
    return re.sub(r"elapsed_ms: [0-9.]+", "elapsed_ms: N", text)


def test_passing_suites_pass(server, run_suite) -> None:
    """Every suite in tests/suites/passing passes against the echo server."""
    run: RunResult = run_suite(*sorted((SUITES / "passing").glob("*.splice.yaml")), base=server.url)
    bad = [failure_report(tc) for tc in run.testcases() if not tc.status.ok]
    assert not bad, "\n\n".join(bad)
    assert run.status == Status.PASSED


@pytest.mark.parametrize("path", FAILING, ids=[p.stem for p in FAILING])
def test_failing_suites_fail_with_the_expected_message(server, run_suite, path: Path) -> None:
    """Each suite in tests/suites/failing fails, and its report matches the golden text."""
    run: RunResult = run_suite(path, base=server.url)
    assert run.status == Status.FAILED
    report = "\n\n".join(
        _normalise(failure_report(tc), server.url) for tc in run.testcases() if not tc.status.ok
    )
    golden = path.with_suffix("").with_suffix(".expected")
    if os.environ.get("SPLICE_UPDATE_GOLDEN"):
        golden.write_text(report + "\n")
    assert report + "\n" == golden.read_text()
