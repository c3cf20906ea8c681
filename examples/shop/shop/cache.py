"""Orders cached in Redis as JSON under `order:<id>`, for five minutes."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

TTL_SECONDS = 300
log = logging.getLogger("shop.cache")


def key(order_id: int) -> str:
    return f"order:{order_id}"


class Cache:
    """Read-through cache of orders; the worker drops an entry when the order changes.

    The database is the truth: when Redis fails, reads go to the database and writes
    are skipped with a warning, rather than failing an order that is already stored.
    """

    def __init__(self, url: str) -> None:
        # redis-py's client is thread-safe: it keeps its own pool of connections
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)

    def ping(self) -> None:
        self.client.ping()

    def get(self, order_id: int) -> dict[str, Any] | None:
        try:
            text = self.client.get(key(order_id))
        except redis.RedisError as exc:
            log.warning("cache read of order %s failed: %s", order_id, exc)
            return None
        return json.loads(text) if isinstance(text, str) else None

    def put(self, order: dict[str, Any]) -> None:
        try:
            self.client.set(key(order["id"]), json.dumps(order), ex=TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("caching order %s failed: %s", order["id"], exc)

    def drop(self, order_id: int) -> None:
        try:
            self.client.delete(key(order_id))
        except redis.RedisError as exc:
            # the entry expires on its own after TTL_SECONDS
            log.warning("dropping order %s from the cache failed: %s", order_id, exc)

    def close(self) -> None:
        self.client.close()
