"""Every case of the Pact specification's matching corpus (v3 and v4, vendored in
tests/data/pact-spec) against splice's matching engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from splice._internal.contracts.compare import compare_message, compare_request, compare_response
from splice._internal.contracts.model import Message, Request, Response
from splice._internal.contracts.problems import Mismatch

CORPUS = Path(__file__).parent.parent / "data" / "pact-spec"
CASES = sorted(CORPUS.glob("v*/testcases/*/*/*.json"))

# Cases splice's engine answers differently from the specification, each with the reason.
# Empty: every case passes. The test below checks that this list is exact.
EXPECTED_FAILURES: dict[str, str] = {}


def _case_id(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _mismatches(path: Path) -> tuple[bool, list[Mismatch]]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    v4 = path.relative_to(CORPUS).parts[0] == "v4"
    kind = path.relative_to(CORPUS).parts[2]
    if kind == "request":
        found = compare_request(
            Request.read(case["expected"], ("expected",), v4=v4),
            Request.read(case["actual"], ("actual",), v4=v4),
        )
    elif kind == "response":
        found = compare_response(
            Response.read(case["expected"], ("expected",), v4=v4),
            Response.read(case["actual"], ("actual",), v4=v4),
        )
    else:
        found = compare_message(
            Message.read(case["expected"], ("expected",), v4=v4),
            Message.read(case["actual"], ("actual",), v4=v4),
        )
    return bool(case["match"]), found


def test_the_corpus_is_whole() -> None:
    """The vendored corpus holds all 452 cases (226 for each of v3 and v4)."""
    assert len(CASES) == 452
    assert len([c for c in CASES if c.parts[-5] == "v3"]) == 226


@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_spec_case(path: Path) -> None:
    """A `match: true` case gives no mismatch; a `match: false` case gives at least one."""
    if _case_id(path) in EXPECTED_FAILURES:
        pytest.skip(EXPECTED_FAILURES[_case_id(path)])
    should_match, found = _mismatches(path)
    if should_match:
        assert found == [], [str(m) for m in found]
    else:
        assert found, "expected a mismatch, found none"


def test_expected_failures_are_exact() -> None:
    """The cases the engine gets wrong are exactly those listed in EXPECTED_FAILURES."""
    wrong = set()
    for path in CASES:
        should_match, found = _mismatches(path)
        if should_match != (not found):
            wrong.add(_case_id(path))
    assert wrong == set(EXPECTED_FAILURES)
