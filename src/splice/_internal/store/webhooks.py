"""Webhooks: who is told what, and the signed, queued messages (`deliveries`).

Events: `run.finished` (every run that ends, with its status), `run.failed` (failed, error
or killed) and `test.flaky` (a test of the run just became flaky). Deliveries are rows, so
a message queued by `splice run` is sent by `splice serve` (see `splice._internal.store.delivery`),
and none is lost when the server restarts.

Each request carries `X-Splice-Signature: t=TIMESTAMP,v1=HEX`, where HEX is the
HMAC-SHA256 of `TIMESTAMP.BODY` under the webhook's secret: a receiver recomputes it and
rejects old timestamps, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.errors import StoreError

EVENTS = ("run.finished", "run.failed", "test.flaky")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the X-Splice-Signature header for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """True when `header` signs `body` with `secret` and is at most `tolerance` s old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def add(store: Store, url: str, events: list[str], secret: str | None = None) -> tuple[int, str]:
    """Register a webhook; returns its id and secret (generated when not given)."""
    check_url(url)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise StoreError(
            f"unknown webhook event {unknown[0]!r}" if unknown else "a webhook needs an event",
            f"choose from {', '.join(EVENTS)}",
        )
    secret = secret or secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        new_id = conn.execute(
            t.webhooks.insert()
            .values(
                url=url,
                secret=secret,
                events=json.dumps(sorted(set(events))),
                created_at=time.time(),
            )
            .returning(t.webhooks.c.id)
        ).scalar_one()
    return int(new_id), secret


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced [ of an IPv6 address, say
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise StoreError(
            f"a webhook URL must be http(s)://host/..., got {url!r}",
            "for example https://hooks.example.com/splice",
        )


def listing(store: Store) -> list[dict[str, Any]]:
    """Registered webhooks, without their secrets, with their latest delivery."""
    with store.engine.connect() as conn:
        hooks = conn.execute(select(t.webhooks).order_by(t.webhooks.c.id)).all()
        out = []
        for hook in hooks:
            last = conn.execute(
                select(t.deliveries)
                .where(t.deliveries.c.webhook_id == hook.id)
                .order_by(t.deliveries.c.id.desc())
                .limit(1)
            ).first()
            out.append(
                {
                    "id": hook.id,
                    "url": hook.url,
                    "events": json.loads(hook.events),
                    "created_at": hook.created_at,
                    "last_delivery": None
                    if last is None
                    else {
                        "event": last.event,
                        "status": last.status,
                        "attempts": last.attempts,
                        "last_code": last.last_code,
                        "last_error": last.last_error,
                    },
                }
            )
    return out


def remove(store: Store, hook_id: int) -> bool:
    with store.engine.begin() as conn:
        conn.execute(delete(t.deliveries).where(t.deliveries.c.webhook_id == hook_id))
        return bool(conn.execute(delete(t.webhooks).where(t.webhooks.c.id == hook_id)).rowcount)
