"""The shop's background worker: ships the orders the API announces.

    DATABASE_URL=... REDIS_URL=... AMQP_URL=... python -m shop.worker

It consumes from its own durable queue `shop.worker`, bound to the exchange `shop` with
`order.*`. For each `order.created` of an order still pending (an event of an order that
is gone or shipped is skipped at once) it works for SHIP_DELAY seconds (0.2 by default;
this stands for a call to a warehouse; an order that goes meanwhile is dropped), marks the
order `shipped` in PostgreSQL, drops its Redis cache entry and publishes `order.shipped`;
with KAFKA_BOOTSTRAP set it also writes a shipment event to the Kafka topic `shipments`
(see shop/events.py). Other events are acknowledged and skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import time
from typing import Any

import pika
import pika.exceptions

from shop.bus import EXCHANGE, declare_exchange, publish
from shop.cache import Cache
from shop.config import Config, configure_logging
from shop.store import Store

log = logging.getLogger("shop.worker")
QUEUE = "shop.worker"
READY_LINE = "worker ready: consuming from queue shop.worker"  # splice.yaml waits for it


class Stop(Exception):
    """Raised by the SIGTERM handler to leave the consuming loop."""


class Worker:
    """Handles one message at a time (prefetch 1), acknowledging it when done."""

    def __init__(self, config: Config, connection: Any) -> None:
        self.config = config
        self.store = Store(config.database_url, size=1)
        self.cache = Cache(config.redis_url)
        self.events = None
        if config.kafka_bootstrap:
            from shop.events import ShipmentEvents

            self.events = ShipmentEvents(config.kafka_bootstrap)
        self.connection = connection
        self.channel = connection.channel()
        declare_exchange(self.channel)
        self.channel.queue_declare(queue=QUEUE, durable=True)
        self.channel.queue_bind(queue=QUEUE, exchange=EXCHANGE, routing_key="order.*")
        self.channel.basic_qos(prefetch_count=1)
        self.channel.basic_consume(queue=QUEUE, on_message_callback=self.on_message)

    def on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        try:
            event = json.loads(body)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            log.warning("dropping a message that is not a JSON object (%s): %r", exc, body)
            channel.basic_ack(method.delivery_tag)
            return
        if event.get("type") != "order.created":
            channel.basic_ack(method.delivery_tag)  # e.g. our own order.shipped
            return
        try:
            self.ship(event)
        except Exception:
            log.exception("could not ship order %s; it goes back to the queue", event.get("id"))
            self.connection.sleep(1.0)  # do not spin on a database that is down
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)

    def ship(self, event: dict[str, Any]) -> None:
        order_id = event.get("id")
        if not isinstance(order_id, int):
            log.warning("order.created without an integer id: %r", event)
            return
        # an order that is gone (or shipped) before the work starts is not worked on: a
        # backlog of stale events then costs no time
        if not self.store.is_pending(order_id, event.get("created_at")):
            log.info("order %s is not pending (gone, already shipped, or older); skipped", order_id)
            return
        if not self.work_on(order_id, event.get("created_at")):
            log.info("order %s went while it was worked on; dropped", order_id)
            return
        # checked again on write: the order may have gone since the last look
        order = self.store.ship_order(order_id, event.get("created_at"))
        if order is None:
            log.info("order %s is not pending (gone, already shipped, or older); skipped", order_id)
            return
        # after the database: a read in between re-caches the new status, not the old one
        self.cache.drop(order_id)
        publish(
            self.channel,
            {"type": "order.shipped", "id": order_id, "sku": order["sku"], "qty": order["qty"]},
        )
        if self.events is not None:
            self.events.shipped({"id": order_id, "sku": order["sku"], "qty": order["qty"]})
        log.info("order %s shipped", order_id)

    def work_on(self, order_id: int, created_at: str | None) -> bool:
        """Work on an order for SHIP_DELAY seconds, looking every 50 ms whether it is still
        pending; False as soon as it is not (deleted, or its table emptied by a test)."""
        deadline = time.monotonic() + self.config.ship_delay
        while (left := deadline - time.monotonic()) > 0:
            # connection.sleep keeps answering heartbeats, unlike time.sleep
            self.connection.sleep(min(left, 0.05))
            if not self.store.is_pending(order_id, created_at):
                return False
        return True

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        self.cache.close()
        self.store.close()


def connect(url: str, timeout: float = 10.0) -> Any:
    """A connection to the broker, retried for a while: it may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return pika.BlockingConnection(pika.URLParameters(url))
        except pika.exceptions.AMQPConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    configure_logging()
    config = Config.from_env()

    def stop(signum: int, frame: Any) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, stop)
    connection = None
    worker = None
    try:
        connection = connect(config.amqp_url)
        worker = Worker(config, connection)
        log.info(READY_LINE)
        worker.channel.start_consuming()
    except (Stop, KeyboardInterrupt):
        log.info("worker stopping")
    finally:
        if worker is not None:
            worker.close()
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()


if __name__ == "__main__":
    main()
