"""A `message_pact` step's `contents`: splice matchers become Pact matching rules, with the
received message's values as the pact's examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splice._internal.contracts.message_step import example
from splice._internal.errors import StepError


def _rule(*matchers: dict[str, Any]) -> dict[str, Any]:
    return {"combine": "AND", "matchers": list(matchers)}


def test_matchers_become_rules_and_received_values_examples() -> None:
    received = {
        "id": 42,
        "total": 12.5,
        "note": "gift wrap",
        "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
        "extra": True,
    }
    shape = {
        "id": {"$type": "integer"},
        "total": {"$type": "number"},
        "note": {"$contains": "gift"},
        "lines": {"$each": {"sku": {"$regex": "^[A-Z]-[0-9]+$"}, "qty": {"$any": True}}},
    }
    rules: dict[str, Any] = {}
    content = example(shape, received, (), rules)
    assert content == {
        "id": 42,
        "total": 12.5,
        "note": "gift wrap",
        "lines": [{"sku": "A-1", "qty": 2}],
    }  # keys the consumer does not name are left out
    assert rules == {
        "$.id": _rule({"match": "integer"}),
        "$.total": _rule({"match": "number"}),
        "$.note": _rule({"match": "include", "value": "gift"}),
        "$.lines": _rule({"match": "type", "min": 1}),
        "$.lines[*].sku": _rule({"match": "regex", "regex": "^[A-Z]-[0-9]+$"}),
        "$.lines[*].qty": _rule({"match": "type"}),
    }


def test_plain_values_are_examples_without_rules() -> None:
    rules: dict[str, Any] = {}
    assert example({"status": "created", "tags": ["a"]}, {"status": "x"}, (), rules) == {
        "status": "created",
        "tags": ["a"],
    }
    assert rules == {}


def test_a_matcher_with_no_pact_rule_is_an_error_with_a_hint() -> None:
    with pytest.raises(StepError) as raised:
        example({"total": {"$gt": 0}}, {"total": 3}, (), {})
    assert "contents.total: $gt cannot be written as a Pact matching rule" in raised.value.message
    assert raised.value.hint is not None and "$type" in raised.value.hint


def test_the_producers_metadata_header_is_base64_or_plain_json() -> None:
    import base64
    import json

    from splice._internal.contracts.executor import _metadata

    encoded = base64.b64encode(json.dumps({"topic": "orders"}).encode()).decode()
    assert _metadata(encoded, "http://p") == {"topic": "orders"}
    assert _metadata('{"topic": "orders"}', "http://p") == {"topic": "orders"}
    assert _metadata(None, "http://p") == {}
    with pytest.raises(StepError) as raised:
        _metadata("not-json", "http://p")
    assert "Pact-Message-Metadata header that is not a JSON object" in raised.value.message
    assert raised.value.hint


@pytest.mark.parametrize(
    ("contents", "path", "message", "hint"),
    [
        ({"id": {"$typ": "integer"}}, ("contents", "id", "$typ"), "$typ cannot be", "'$type'"),
        (
            {"id": {"$type": "integr"}},
            ("contents", "id", "$type"),
            "type name 'integr'",
            "'integer'",
        ),
        ({"sku": {"$regex": "[A-"}}, ("contents", "sku", "$regex"), "does not compile", "syntax"),
        (
            {"ids": {"$each": {"$typ": "integer"}}},
            ("contents", "ids", "$each", "$typ"),
            "$typ",
            "$type",
        ),
        ([{"id": {"$type": 1, "$any": 1}}], ("contents", 0, "id"), "one matcher", "$type, $any"),
    ],
    ids=["unknown-matcher", "unknown-type", "bad-regex", "inside-each", "two-matchers"],
)
def test_contents_are_checked_at_load_time(
    contents: Any, path: tuple[Any, ...], message: str, hint: str
) -> None:
    """`splice check` finds what the step would fail on (or, for a type name, silently
    write as a plain `type` rule), at the matcher's place, with the way out."""
    from splice._internal.contracts.message_step import MessagePactExecutor

    (problem,) = MessagePactExecutor.check({"contents": contents}, Path())
    assert problem.path == path
    assert message in problem.message
    assert problem.hint is not None and hint in problem.hint


def test_good_and_templated_contents_pass_the_load_time_check() -> None:
    from splice._internal.contracts.message_step import MessagePactExecutor

    good = {"id": {"$type": "integer"}, "tags": {"$each": {"$regex": "^[a-z]+$"}}, "x": [1, {}]}
    assert MessagePactExecutor.check({"contents": good}, Path()) == []
    assert MessagePactExecutor.check({"contents": {"id": {"$type": "{{ kind }}"}}}, Path()) == []
    assert MessagePactExecutor.check({}, Path()) == []
