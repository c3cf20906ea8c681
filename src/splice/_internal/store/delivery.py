"""Sending queued webhook messages: a background thread, retries with exponential backoff.

A delivery is claimed (pending → sending) before it is sent, so two servers on one store
never send it twice; a server that dies mid-send leaves it 'sending', and the next start
puts it back to 'pending'. A 2xx answer delivers it; anything else, or no answer, retries
after BASE_DELAY · 2^(attempt − 1) seconds (capped at an hour) until MAX_ATTEMPTS.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import httpx
from sqlalchemy import select, update

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.webhooks import sign

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0
MAX_DELAY = 3600.0


class Dispatcher:
    """Delivers due webhook messages every `interval` seconds in a daemon thread."""

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 1.0,
        base_delay: float = BASE_DELAY,
        max_attempts: int = MAX_ATTEMPTS,
        timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.interval = interval
        self.base_delay = base_delay
        self.max_attempts = max_attempts
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(t.deliveries)
                .where(t.deliveries.c.status == "sending")
                .values(status="pending")
            )
        self._thread = threading.Thread(target=self._loop, name="splice-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            # a broken store or network must not kill the thread: it tries again next round
            with contextlib.suppress(Exception):
                self.run_once()
            self._stop.wait(self.interval)

    def run_once(self, now: float | None = None) -> int:
        """Send every due message once; return how many were attempted."""
        now = time.time() if now is None else now
        with self.store.engine.connect() as conn:
            due = conn.execute(
                select(t.deliveries, t.webhooks.c.url, t.webhooks.c.secret)
                .join(t.webhooks, t.webhooks.c.id == t.deliveries.c.webhook_id)
                .where(t.deliveries.c.status == "pending", t.deliveries.c.next_at <= now)
                .order_by(t.deliveries.c.next_at)
                .limit(50)
            ).all()
        sent = 0
        for row in due:
            if self._stop.is_set():
                break
            if not self._claim(row.id):
                continue
            sent += 1
            self._send(row)
        return sent

    def _claim(self, delivery_id: int) -> bool:
        with self.store.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t.deliveries)
                    .where(t.deliveries.c.id == delivery_id, t.deliveries.c.status == "pending")
                    .values(status="sending")
                ).rowcount
            )

    def _send(self, row: Any) -> None:
        body = row.payload.encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "splice-webhooks",
            "X-Splice-Event": row.event,
            "X-Splice-Delivery": str(json.loads(row.payload).get("id", row.id)),
            "X-Splice-Signature": sign(row.secret, stamp, body),
        }
        code: int | None = None
        error: str | None = None
        try:
            response = self._client.post(row.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row.attempts + 1
        now = time.time()
        values: dict[str, Any] = {"attempts": attempts, "last_code": code, "last_error": error}
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= self.max_attempts:
            values.update(status="failed")
        else:
            delay = min(MAX_DELAY, self.base_delay * 2 ** (attempts - 1))
            values.update(status="pending", next_at=now + delay)
        with self.store.engine.begin() as conn:
            conn.execute(update(t.deliveries).where(t.deliveries.c.id == row.id).values(**values))
