"""Events on RabbitMQ: JSON messages on the topic exchange `shop`."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import pika
import pika.exceptions

EXCHANGE = "shop"


def declare_exchange(channel: Any) -> None:
    """Both the API and the worker declare the exchange, so either may start first."""
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="topic", durable=True)


def publish(channel: Any, event: dict[str, Any]) -> None:
    """Publish `event` with its `type` as routing key, persistent, as JSON."""
    channel.basic_publish(
        exchange=EXCHANGE,
        routing_key=event["type"],
        body=json.dumps(event).encode(),
        properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
    )


class Publisher:
    """One connection shared by the API's request threads.

    pika's BlockingConnection is not thread-safe, so a lock serialises its use. It only
    answers heartbeats when called, so an idle connection may have been closed by the
    broker: a failed publish reconnects once and tries again. Publisher confirms make a
    201 mean the broker has the message.
    """

    def __init__(self, url: str) -> None:
        self.parameters = pika.URLParameters(url)
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self._close()
            self._connection = pika.BlockingConnection(self.parameters)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            declare_exchange(self._channel)
        return self._channel

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            try:
                publish(self._open(), event)
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
                self._close()
                publish(self._open(), event)

    def ping(self) -> None:
        with self._lock:
            try:
                self._open()
                # lets pika answer heartbeats and notice a connection the broker closed
                self._connection.process_data_events(time_limit=0)
            except pika.exceptions.AMQPError:
                self._close()
                self._open()

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._close()
