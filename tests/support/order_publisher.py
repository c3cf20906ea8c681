"""A provider that publishes its order events on a real broker, for message verification.

    NATS_URL=nats://... python order_publisher.py --port 8000 [--drifted | --silent]
    MQTT_URL=mqtt://... python order_publisher.py --port 8000
    AMQP_URL=amqp://... python order_publisher.py --port 8000
    KAFKA_BOOTSTRAP=127.0.0.1:9092 python order_publisher.py --port 8000

PUT /orders/{id} stores an order (a provider state); POST /orders/{id}/announce publishes
its "order created" event on `orders.created` (NATS), `orders/created` (MQTT) or the
topic exchange `orders` with routing key `order.created` (AMQP, declared at start) or
the topic `orders.created` keyed by the order's id (Kafka; the broker creates the topic
on first use), each with the header `source: orders`, and answers 202, or 404 for an order it does not hold. `--drifted` sends the id as a string;
`--silent` publishes on another subject, so the event never arrives. GET /health: 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SETTINGS = {"drifted": False, "silent": False}
ORDERS: dict[int, dict[str, Any]] = {}


def _publish(event: dict[str, Any]) -> None:
    payload = json.dumps(event).encode()
    if os.environ.get("AMQP_URL"):
        key = "order.elsewhere" if SETTINGS["silent"] else "order.created"
        with _amqp() as channel:
            props = pika_properties()
            channel.basic_publish("orders", key, payload, properties=props)
        return
    if os.environ.get("KAFKA_BOOTSTRAP"):
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"], "linger.ms": 0})
        topic = "orders.elsewhere" if SETTINGS["silent"] else "orders.created"
        key = str(event["id"]).encode()
        producer.produce(topic, payload, key=key, headers={"source": "orders"})
        if producer.flush(10) != 0:
            raise RuntimeError("the event was not delivered within 10 s")
        return
    if os.environ.get("MQTT_URL"):
        import paho.mqtt.publish as mqtt

        url = urlsplit(os.environ["MQTT_URL"])
        topic = "orders/elsewhere" if SETTINGS["silent"] else "orders/created"
        mqtt.single(topic, payload, qos=1, hostname=url.hostname or "", port=url.port or 1883)
        return

    import nats

    async def send() -> None:
        client = await nats.connect(os.environ["NATS_URL"])
        subject = "orders.elsewhere" if SETTINGS["silent"] else "orders.created"
        await client.publish(subject, payload, headers={"source": "orders"})
        await client.flush()
        await client.close()

    asyncio.run(send())


def _amqp() -> Any:
    import contextlib

    import pika

    @contextlib.contextmanager
    def channel() -> Any:
        connection = pika.BlockingConnection(pika.URLParameters(os.environ["AMQP_URL"]))
        try:
            yield connection.channel()
        finally:
            connection.close()

    return channel()


def pika_properties() -> Any:
    import pika

    return pika.BasicProperties(content_type="application/json", headers={"source": "orders"})


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/health" else 404)

    def do_PUT(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "orders" or not parts[1].isdigit():
            self._answer(404)
            return
        ORDERS[int(parts[1])] = {"id": int(parts[1]), "sku": "A-1", "status": "created"}
        self._answer(204)

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] != "announce" or not parts[1].isdigit():
            self._answer(404)
            return
        order = ORDERS.get(int(parts[1]))
        if order is None:
            self._answer(404)
            return
        event = {**order, "total": 12.5}
        if SETTINGS["drifted"]:
            event["id"] = str(order["id"])
        _publish(event)
        self._answer(202)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--drifted", action="store_true")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args()
    SETTINGS.update(drifted=args.drifted, silent=args.silent)
    if os.environ.get("AMQP_URL"):
        with _amqp() as channel:
            channel.exchange_declare("orders", exchange_type="topic")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"orders listening on {args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
