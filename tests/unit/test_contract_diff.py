"""diff_pacts: interactions known by description and states; changes by JSON path."""

from __future__ import annotations

from typing import Any

from splice._internal.contracts.diff import diff_pacts


def _pact(*items: dict[str, Any], consumer: str = "shop") -> dict[str, Any]:
    return {
        "consumer": {"name": consumer},
        "provider": {"name": "payments"},
        "interactions": list(items),
    }


def _item(description: str, status: int = 200, **more: Any) -> dict[str, Any]:
    return {
        "description": description,
        "request": {"path": "/"},
        "response": {"status": status},
        **more,
    }


def test_states_tell_interactions_apart() -> None:
    old = _pact(_item("a payment", providerStates=[{"name": "a payment exists"}]))
    new = _pact(_item("a payment"))
    found = diff_pacts(old, new)
    assert found.added == ["a payment"]
    assert found.removed == ["a payment (given a payment exists)"]
    assert not found.changed


def test_changes_are_paths_with_old_and_new_values() -> None:
    old = _pact(_item("a", 200, key="abc", pending=False))
    new = _pact(_item("a", 201, key="def", comments={"text": ["new"]}))
    [changed] = diff_pacts(old, new).changed
    assert [str(c) for c in changed.changes] == [
        "response.status: 200 → 201",
        "pending: removed (was false)",
        'comments: added {"text": ["new"]}',
    ]  # the V4 `key` (a hash of the interaction) is not a change of its own


def test_a_renamed_party_and_a_type_change_are_changes() -> None:
    found = diff_pacts(_pact(_item("a", status=1)), _pact(_item("a", status=True), consumer="web"))
    assert [str(c) for c in found.parties] == ["consumer: 'shop' → 'web'"]
    assert [str(c) for c in found.changed[0].changes] == ["response.status: 1 → true"]
    assert not found.same


def test_v3_message_pacts_compare_their_messages() -> None:
    old = {
        "consumer": {"name": "a"},
        "provider": {"name": "b"},
        "messages": [{"description": "m", "contents": {"id": 1}}],
    }
    new = {
        "consumer": {"name": "a"},
        "provider": {"name": "b"},
        "messages": [{"description": "m", "contents": {"id": 2}}],
    }
    assert [str(c) for c in diff_pacts(old, new).changed[0].changes] == ["contents.id: 1 → 2"]
    assert diff_pacts(old, old).same
