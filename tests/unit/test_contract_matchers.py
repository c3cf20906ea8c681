"""The V4 matchers beyond the spec corpus (which only uses type and regex), rule reading and
the errors a malformed rule gives."""

from __future__ import annotations

from typing import Any

import pytest

from splice._internal.contracts.compare_json import JsonComparison
from splice._internal.contracts.problems import PactProblem
from splice._internal.contracts.rules import Rules


def _diff(rules: dict[str, Any], expected: Any, actual: Any) -> list[str]:
    found = JsonComparison(Rules.read({"body": rules}), allow_extra=True).run(expected, actual)
    return [str(m) for m in found]


def _one(matcher: dict[str, Any]) -> dict[str, Any]:
    return {"$.v": {"matchers": [matcher]}}


@pytest.mark.parametrize(
    ("matcher", "good", "bad", "message"),
    [
        ({"match": "integer"}, 3, 3.5, "body.v: expected an integer, got number 3.5"),
        ({"match": "decimal"}, 12.5, "12.50", "body.v: expected a decimal, got string '12.50'"),
        ({"match": "number"}, 1, "1", "body.v: expected a number, got string '1'"),
        ({"match": "boolean"}, True, 1, "body.v: expected a boolean, got integer 1"),
        ({"match": "null"}, None, 0, "body.v: expected null, got integer 0"),
        (
            {"match": "include", "value": "ell"},
            "hello",
            "help",
            "body.v: expected a value including 'ell', got 'help'",
        ),
        (
            {"match": "date", "format": "yyyy-MM-dd"},
            "2024-05-01",
            "01/05/2024",
            "body.v: expected a date in format 'yyyy-MM-dd', got '01/05/2024'",
        ),
        (
            {"match": "time", "format": "HH:mm:ss"},
            "23:59:01",
            "24:00:00",
            "body.v: expected a time in format 'HH:mm:ss', got '24:00:00'",
        ),
        (
            {"match": "timestamp"},
            "2024-05-01T10:00:00Z",
            "yesterday",
            "body.v: expected a timestamp in format 'ISO 8601', got 'yesterday'",
        ),
        ({"match": "notEmpty"}, "x", "", "body.v: expected a value that is not empty, got ''"),
        (
            {"match": "semver"},
            "1.2.3-rc.1",
            "1.2",
            "body.v: expected a semantic version, got '1.2'",
        ),
        (
            {"match": "regex", "regex": "\\d+"},
            "123",
            "12a",
            "body.v: expected a match of /\\d+/, got '12a'",
        ),
        (
            {"match": "type", "min": 2},
            [1, 2, 3],
            [1],
            "body.v: expected an array of at least 2 element(s), got 1",
        ),
        (
            {"match": "type", "max": 1},
            [1],
            [1, 2],
            "body.v: expected an array of at most 1 element(s), got 2",
        ),
    ],
)
def test_matcher(matcher: dict[str, Any], good: Any, bad: Any, message: str) -> None:
    """Each matcher passes a good value and names the path and reason for a bad one."""
    example = good
    assert _diff(_one(matcher), {"v": example}, {"v": good}) == []
    assert _diff(_one(matcher), {"v": example}, {"v": bad}) == [message]


def test_each_like_holds_every_element_to_the_first() -> None:
    """A type rule on an array lets it grow and holds each element to the example."""
    rules = {"$.items": {"matchers": [{"match": "type", "min": 1}]}}
    expected = {"items": [{"id": 1, "price": 1.5}]}
    assert (
        _diff(rules, expected, {"items": [{"id": 2, "price": 3.5}, {"id": 3, "price": 2.0}]}) == []
    )
    assert _diff(
        rules, expected, {"items": [{"id": 2, "price": 3.5}, {"id": "x", "price": 1.0}]}
    ) == ["body.items[1].id: expected a value of type number, got string 'x'"]


def test_each_key_and_each_value() -> None:
    """eachKey checks every key, eachValue every value, whatever the keys are."""
    keys = {
        "$.m": {
            "matchers": [{"match": "eachKey", "rules": [{"match": "regex", "regex": "[a-z]+"}]}]
        }
    }
    assert _diff(keys, {"m": {"a": 1}}, {"m": {"abc": 1, "Bad": 2}}) == [
        "body.m.Bad: key 'Bad': expected a match of /[a-z]+/, got 'Bad'"
    ]
    values = {"$.m": {"matchers": [{"match": "eachValue", "rules": [{"match": "type"}]}]}}
    assert _diff(values, {"m": {"a": 1}}, {"m": {"x": 2, "y": "no"}}) == [
        "body.m.y: expected a value of type number, got string 'no'"
    ]


def test_values_ignores_keys() -> None:
    """A values rule holds every value of an object to the example, whatever its key."""
    rules = {"$.m": {"matchers": [{"match": "values"}, {"match": "type"}]}}
    assert _diff(rules, {"m": {"a": 1}}, {"m": {"x": 2, "y": 3}}) == []


def test_array_contains_finds_each_variant_anywhere() -> None:
    """arrayContains passes when each variant matches some element, in any order."""
    rules = {
        "$.a": {
            "matchers": [
                {
                    "match": "arrayContains",
                    "variants": [
                        {"index": 0, "rules": {"$.id": {"matchers": [{"match": "type"}]}}},
                        {"index": 1, "rules": {}},
                    ],
                }
            ]
        }
    }
    expected = {"a": [{"id": 1}, {"kind": "x"}]}
    assert _diff(rules, expected, {"a": [{"kind": "x"}, {"other": 1}, {"id": 9}]}) == []
    assert _diff(rules, expected, {"a": [{"id": 9}]}) == [
        "body.a: no element matches variant 1 ({'kind': 'x'})"
    ]


def test_or_combination_needs_one_matcher() -> None:
    """combine: OR passes when one of the matchers passes."""
    rules = {"$.v": {"combine": "OR", "matchers": [{"match": "null"}, {"match": "integer"}]}}
    assert _diff(rules, {"v": 1}, {"v": None}) == []
    assert _diff(rules, {"v": 1}, {"v": 2}) == []
    assert len(_diff(rules, {"v": 1}, {"v": "x"})) == 2


def test_the_most_specific_rule_wins() -> None:
    """An exact path outweighs a wildcard above it."""
    rules = {
        "$.a.*": {"matchers": [{"match": "type"}]},
        "$.a.b": {"matchers": [{"match": "equality"}]},
    }
    assert _diff(rules, {"a": {"b": 1, "c": 1}}, {"a": {"b": 2, "c": 5}}) == [
        "body.a.b: expected 1, got 2"
    ]


@pytest.mark.parametrize(
    ("raw", "message", "where"),
    [
        (
            {"body": {"$.a": {"matchers": [{"match": "tipe"}]}}},
            "unknown matcher 'tipe'",
            ("matchingRules", "body", "$.a", "matchers", 0, "match"),
        ),
        (
            {"body": {"$.a[": {"matchers": [{"match": "type"}]}}},
            "matching rule path '$.a[' is malformed",
            ("matchingRules", "body", "$.a["),
        ),
        ({"bodies": {}}, "unknown matching rule category 'bodies'", ("matchingRules", "bodies")),
        (
            {"body": {"$.a": {"matchers": [{"match": "type", "min": -1}]}}},
            "'min' must be a whole number >= 0",
            ("matchingRules", "body", "$.a", "matchers", 0, "min"),
        ),
    ],
)
def test_bad_rules_are_named(raw: dict[str, Any], message: str, where: tuple[Any, ...]) -> None:
    """A malformed rule raises a PactProblem naming its JSON path."""
    with pytest.raises(PactProblem) as caught:
        Rules.read(raw)
    assert caught.value.message.startswith(message)
    assert caught.value.where == where
