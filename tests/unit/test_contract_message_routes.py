"""The messages a broker step received, as a pact's message (contents, metadata, content
type) for each broker, and the union of sharded runs' OpenAPI coverage."""

from __future__ import annotations

from typing import Any

import pytest

from splice._internal.contracts.message_routes import MessageRoute, received_message, route_for
from splice._internal.model.openapi_coverage import merge, merge_all


@pytest.mark.parametrize(
    ("via", "message", "contents", "metadata"),
    [
        (
            "nats",
            {
                "subject": "orders.created",
                "data": '{"id": 1}',
                "json": {"id": 1},
                "headers": {"source": "orders"},
            },
            {"id": 1},
            {
                "source": "orders",
                "subject": "orders.created",
                "topic": "orders.created",
                "contentType": "application/json",
            },
        ),
        (
            "mqtt",
            {
                "topic": "orders/created",
                "payload": "hello",
                "json": None,
                "qos": 1,
                "retain": False,
            },
            "hello",
            {"topic": "orders/created"},
        ),
        (
            "amqp",
            {
                "body": '{"id": 1}',
                "json": {"id": 1},
                "headers": {},
                "routing_key": "order.created",
                "exchange": "orders",
                "properties": {"content_type": "application/vnd.orders+json"},
            },
            {"id": 1},
            {
                "exchange": "orders",
                "routingKey": "order.created",
                "contentType": "application/vnd.orders+json",
            },
        ),
        (
            "kafka",
            {
                "topic": "orders",
                "partition": 0,
                "offset": 3,
                "key": "7",
                "value": "7",
                "json": 7,
                "headers": {"content-type": "text/plain"},
            },
            7,
            {
                "content-type": "text/plain",
                "topic": "orders",
                "key": "7",
                "partition": 0,
                "contentType": "text/plain",
            },
        ),
    ],
)
def test_a_received_message_becomes_contents_and_metadata(
    via: str, message: dict[str, Any], contents: Any, metadata: dict[str, Any]
) -> None:
    """Contents are the parsed JSON (else the text); metadata are the headers, where the
    message came from, and its content type."""
    got_contents, got_metadata, _ctype = received_message(via, message)
    assert got_contents == contents
    assert got_metadata == metadata


def test_the_exact_description_wins_over_a_glob() -> None:
    """An entry named by the description is taken before any glob that matches it."""
    glob = MessageRoute("order *", [], "nats", {"subscribe": "orders.>"})
    exact = MessageRoute("order shipped", [], "nats", {"subscribe": "orders.shipped"})
    assert route_for([glob, exact], "order shipped") is exact
    assert route_for([glob, exact], "order created") is glob
    assert route_for([glob, exact], "a refund") is None


@pytest.mark.parametrize(
    ("via", "receive", "marks"),
    [
        ("kafka", {"consume": {"topic": "orders"}}, True),
        ("kafka", {"consume": {"topic": "orders", "from": "beginning"}}, False),
        ("kafka", {"consume": {"topic": "orders", "from": 3}}, False),
        ("kafka", {"consume": {"topic": "orders", "group": "verifier"}}, False),
        ("nats", {"subscribe": "orders.created"}, False),
        ("amqp", {"consume": {"queue": "orders"}}, False),
    ],
    ids=["kafka", "kafka-from-beginning", "kafka-from-offset", "kafka-group", "nats", "amqp"],
)
def test_a_kafka_consume_reads_from_where_the_topic_ended_before_the_trigger(
    via: str, receive: dict[str, Any], marks: bool
) -> None:
    """Only a kafka consume that says neither `from:` nor `group:` has its topic's ends
    noted before the trigger; the others read where they say."""
    route = MessageRoute("order *", [], via, receive)
    assert route.marks_the_end is marks


def _coverage(hits: dict[str, list[int]]) -> list[dict[str, Any]]:
    ops = [
        {"operation": name, "statuses": ["200", "404"], "hit": hit} for name, hit in hits.items()
    ]
    return [
        {
            "service": "payments",
            "document": "openapi.yaml",
            "documented": len(ops),
            "exercised": sum(1 for o in ops if o["hit"]),
            "missing": [o["operation"] for o in ops if not o["hit"]],
            "operations": ops,
        }
    ]


def test_shards_coverage_is_the_union_of_operations_and_statuses() -> None:
    """An operation is exercised when any shard hit it, with every status any shard hit;
    one shard's coverage merged alone is unchanged."""
    first = _coverage({"GET /payments/{id}": [200], "POST /payments": []})
    second = _coverage({"GET /payments/{id}": [404], "POST /payments": [201]})
    assert merge([], first) == first
    [merged] = merge_all([first, second])
    assert (merged["exercised"], merged["missing"]) == (2, [])
    assert {o["operation"]: o["hit"] for o in merged["operations"]} == {
        "GET /payments/{id}": [200, 404],
        "POST /payments": [201],
    }
