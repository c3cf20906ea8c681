"""AMQP messages as the amqp executor shows them, and the connection a testcase keeps.

A message in a result is plain data: `{body, json, headers, routing_key, exchange,
properties, redelivered}`, with the testcase's prefix taken off the exchange (and off the
routing key of messages sent straight to a queue), so expectations read as the suite wrote
the names.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from splice._internal.services.kinds.rabbitmq import topology
from splice._internal.services.kinds.rabbitmq.client import connect

PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)


def text(value: Any) -> Any:
    """Header values as JSON-like data (pika gives bytes for non-UTF-8 strings)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {str(k): text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [text(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def decode(raw: bytes) -> tuple[str, Any]:
    """The body as text (bytes that are not UTF-8 shown as \\xNN) and as JSON, or None."""
    body = raw.decode("utf-8", "backslashreplace")
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        parsed = None
    return body, parsed


def message(method: Any, props: Any, raw: bytes, prefix: str) -> dict[str, Any]:
    body, parsed = decode(raw)
    exchange = topology.unscoped(prefix, method.exchange or "")
    key = method.routing_key or ""
    if not method.exchange:  # the default exchange: the routing key is a queue's name
        key = topology.unscoped(prefix, key)
    props_out = {}
    for name in PROPERTY_NAMES:
        value = getattr(props, name, None)
        if value is not None:
            props_out[name] = text(value)
    return {
        "body": body,
        "json": parsed,
        "headers": text(props.headers or {}),
        "routing_key": key,
        "exchange": exchange,
        "properties": props_out,
        "redelivered": bool(getattr(method, "redelivered", False)),
    }


def result(messages: list[dict[str, Any]], queue: str | None) -> dict[str, Any]:
    """`messages`, `message`, `count`, `queue` and the first message's fields."""
    first = messages[0] if messages else None
    return {
        "messages": messages,
        "message": first,
        "count": len(messages),
        "queue": queue,
        **{
            key: (first[key] if first else None)
            for key in ("body", "json", "headers", "routing_key", "exchange", "properties")
        },
    }


@dataclass
class Link:
    """One connection of a testcase attempt to one broker URL, with a channel in confirm
    mode (a publish returns once the broker has routed the message), reopened after the
    broker closes it over an error."""

    url: str
    connection: Any
    _channel: Any = None
    declared: list[tuple[str, str]] = field(default_factory=list)  # under a prefix

    @property
    def channel(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self._channel = self.connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def close(self) -> None:
        """Delete what the testcase declared under its prefix, then disconnect."""
        with contextlib.suppress(Exception):
            if self.declared and self.connection.is_open:
                topology.delete(self.channel, self.declared)
        with contextlib.suppress(Exception):
            if self.connection.is_open:
                self.connection.close()


def link(state: dict[str, Any], url: str, timeout: float, on_close: Any) -> Link:
    """The attempt's connection to `url`, made on first use."""
    links: dict[str, Link] | None = state.get("amqp.links")
    if links is None:
        links = {}
        state["amqp.links"] = links

        def close_all() -> None:
            for one in list(links.values()):
                one.close()
            links.clear()

        on_close(close_all)
    found = links.get(url)
    if found is None or not found.connection.is_open:
        found = Link(url, connect(url, timeout))
        links[url] = found
    return found
