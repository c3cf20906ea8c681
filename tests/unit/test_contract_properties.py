"""Property tests of the contract engine: the rules a stub implies match the values the stub
itself produced; no value or rule crashes the comparison; a written pact reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splice._internal.contracts.compare_json import JsonComparison
from splice._internal.contracts.consumer import pact_document, pact_text, schema_rules
from splice._internal.contracts.pact import parse_pact
from splice._internal.contracts.rules import Rules

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def _schema(value: Any) -> dict[str, Any]:
    """A JSON schema that `value` satisfies, as a stub's json_schema would say it."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        out: dict[str, Any] = {"type": "array", "minItems": len(value)}
        if value:
            out["items"] = (
                _schema(value[0])
                if all(type(v) is type(value[0]) and not isinstance(v, list | dict) for v in value)
                else {}
            )
        return out
    return {"type": "object", "properties": {k: _schema(v) for k, v in value.items()}}


@given(values)
@settings(max_examples=200, deadline=None)
def test_rules_from_a_schema_match_the_value_itself(value: Any) -> None:
    """The rules a json_schema body implies accept the body the consumer sent."""
    rules: dict[str, Any] = {}
    schema_rules(_schema(value), (), rules)
    found = JsonComparison(Rules.read({"body": rules}), allow_extra=False).run(value, value)
    assert found == [], (rules, [str(m) for m in found])


@given(
    values,
    values,
    st.sampled_from(
        [
            "type",
            "regex",
            "integer",
            "decimal",
            "number",
            "boolean",
            "null",
            "notEmpty",
            "semver",
            "values",
            "eachValue",
            "eachKey",
            "arrayContains",
            "date",
            "include",
            "equality",
        ]
    ),
    st.sampled_from(["$", "$.a", "$[*]", "$.*", "$.a[0].b", "$['x y']"]),
)
@settings(max_examples=300, deadline=None)
def test_no_value_or_rule_crashes_the_comparison(
    expected: Any, actual: Any, matcher: str, path: str
) -> None:
    """Any pair of values under any matcher at any path gives a list of mismatches."""
    raw: dict[str, Any] = {"match": matcher}
    if matcher == "regex":
        raw["regex"] = "a+"
    if matcher in ("eachValue", "eachKey"):
        raw["rules"] = [{"match": "type"}]
    if matcher == "arrayContains":
        raw["variants"] = [{"index": 0, "rules": {}}]
    rules = Rules.read({"body": {path: {"matchers": [raw]}}})
    found = JsonComparison(rules, allow_extra=True).run(expected, actual)
    assert isinstance(found, list)
    assert JsonComparison(Rules(), allow_extra=False).run(expected, expected) == []


@given(st.lists(values, min_size=1, max_size=5))
@settings(max_examples=50, deadline=None)
def test_a_written_pact_reads_back(bodies: list[Any]) -> None:
    """pact_text writes JSON that splice reads back with the same interactions."""
    exercised = [
        {
            "stub": {"name": f"stub {i}", "request": {"method": "POST", "path": "/x"}},
            "request": {
                "method": "POST",
                "path": "/x",
                "query": "",
                "headers": {"content-type": "application/json"},
                "body": json.dumps(body),
            },
            "response": {
                "status": 200,
                "headers": [["Content-Type", "application/json"]],
                "body": json.dumps(body),
            },
        }
        for i, body in enumerate(bodies)
    ]
    document = pact_document("a", "b", exercised)
    text = pact_text(document)
    assert json.loads(text) == json.loads(json.dumps(document))
    pact = parse_pact(text, Path("p.json"))
    assert [i.description for i in pact.interactions] == sorted(
        f"stub {i}" for i in range(len(bodies))
    )


@pytest.mark.parametrize(
    ("schema", "rule", "good", "bad"),
    [
        ({"type": "string", "minLength": 1}, {"match": "notEmpty"}, "x", ""),
        (
            {"type": "string", "format": "time"},
            {"match": "time", "format": "HH:mm:ss"},
            "09:30:00",
            "9h30",
        ),
        ({"type": "string", "format": "semver"}, {"match": "semver"}, "1.2.3", "v1"),
        (
            {"type": "string", "format": "date"},
            {"match": "date", "format": "yyyy-MM-dd"},
            "2026-12-08",
            "8/12",
        ),
        (
            {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
            {"match": "eachKey", "rules": [{"match": "regex", "regex": "^[a-z]+$"}]},
            {"ab": 1},
            {"A1": 1},
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"match": "eachValue", "rules": [{"match": "integer"}]},
            {"a": 1, "b": 2},
            {"a": "1"},
        ),
    ],
    ids=["notEmpty", "time", "semver", "date", "eachKey", "eachValue"],
)
def test_a_schema_keyword_becomes_its_pact_matcher(
    schema: dict[str, Any], rule: dict[str, Any], good: Any, bad: Any
) -> None:
    """Each keyword's rule is the matcher Pact has for it, and the verifier holds a value to
    it: the example passes, a value the schema forbids fails."""
    rules: dict[str, Any] = {}
    schema_rules({"type": "object", "properties": {"v": schema}}, (), rules)
    assert rules == {"$.v": {"combine": "AND", "matchers": [rule]}}
    comparison = JsonComparison(Rules.read({"body": rules}), allow_extra=False)
    assert comparison.run({"v": good}, {"v": good}) == []
    assert comparison.run({"v": good}, {"v": bad}) != []
