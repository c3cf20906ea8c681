"""A `message_pact` step's `contents`: splice matchers become Pact matching rules, with the
received message's values as the pact's examples."""

from __future__ import annotations

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
