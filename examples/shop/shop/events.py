"""Shipment events on Kafka: one JSON message per shipped order on the topic `shipments`.

The key is the order id, so all events of one order land on the same partition, in
order; the header `event-type` says what happened without parsing the value.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

TOPIC = "shipments"


class ShipmentEvents:
    """A producer that waits for the broker's acknowledgement of each event."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})

    def shipped(self, order: dict[str, Any]) -> None:
        event = {
            "order_id": order["id"],
            "sku": order["sku"],
            "qty": order["qty"],
            "status": "shipped",
        }
        self.producer.produce(
            TOPIC,
            key=str(order["id"]).encode(),
            value=json.dumps(event).encode(),
            headers=[("event-type", b"shipment.sent")],
        )
        if self.producer.flush(10) != 0:
            raise RuntimeError(f"Kafka did not acknowledge the shipment of order {order['id']}")

    def close(self) -> None:
        self.producer.flush(5)
