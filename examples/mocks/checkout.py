"""A tiny checkout service that depends on a third-party payments API.

    PAYMENTS_URL=http://127.0.0.1:8080 python checkout.py --port 8000

    GET  /health          {"status": "ok"}
    POST /orders          {"amount": 4200, "currency": "eur", "card": "tok_visa"}
                          201 paid, 402 declined, 503 when payments is unavailable
    GET  /orders/{id}     the order

What splice's suites test is how it treats the payments API: every charge carries the
order's id as `Idempotency-Key`, so retrying is safe; a 5xx, a broken connection or no
answer within PAYMENTS_TIMEOUT seconds is retried up to PAYMENTS_RETRIES times; a 4xx is
final. Standard library only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAYMENTS_URL = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8080").rstrip("/")
PAYMENTS_KEY = os.environ.get("PAYMENTS_KEY", "sk_test_local")
TIMEOUT = float(os.environ.get("PAYMENTS_TIMEOUT", "2"))
RETRIES = int(os.environ.get("PAYMENTS_RETRIES", "2"))
BACKOFF = 0.05  # seconds before the first retry; doubles each time

ORDERS: dict[str, dict[str, Any]] = {}
_ids = itertools.count(1)
_lock = threading.Lock()
_ORDER_PATH = re.compile(r"^/orders/(ord_\d+)$")


class Unavailable(Exception):
    """The payments API failed in a way worth retrying (5xx, timeout, broken connection)."""


def charge(order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/charges, with retries; (status, body) of the last answer."""
    payload = json.dumps(
        {"amount": order["amount"], "currency": order["currency"], "source": order["card"]}
    ).encode()
    delay = BACKOFF
    for attempt in range(RETRIES + 1):
        request = urllib.request.Request(
            f"{PAYMENTS_URL}/v1/charges",
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {PAYMENTS_KEY}",
                "Idempotency-Key": order["id"],
            },
        )
        try:
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    return response.status, json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return exc.code, json.loads(exc.read() or b"{}")
                raise Unavailable(f"HTTP {exc.code}") from exc
            except (OSError, HTTPException, ValueError) as exc:  # timeouts, resets, garbage
                raise Unavailable(repr(exc)) from exc
        except Unavailable as exc:
            print(f"charge {order['id']} attempt {attempt + 1} failed: {exc}", flush=True)
            if attempt < RETRIES:
                time.sleep(delay)
                delay *= 2
    return 503, {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok"})
            return
        found = _ORDER_PATH.match(self.path)
        order = ORDERS.get(found.group(1)) if found else None
        if order is None:
            self._send(404, {"error": "no such order"})
        else:
            self._send(200, order)

    def do_POST(self) -> None:
        if self.path != "/orders":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            amount = int(data["amount"])
        except (ValueError, KeyError, TypeError):
            self._send(422, {"error": "give amount (cents), currency and card"})
            return
        with _lock:
            order_id = f"ord_{next(_ids)}"
        order = {
            "id": order_id,
            "amount": amount,
            "currency": data.get("currency", "eur"),
            "card": data.get("card", "tok_visa"),
            "status": "pending",
        }
        ORDERS[order_id] = order
        status, body = charge(order)
        if status in (200, 201):
            order.update(status="paid", charge=body.get("id"))
            self._send(201, order)
        elif 400 <= status < 500:
            reason = (body.get("error") or {}).get("code", "refused")
            order.update(status="declined", reason=reason)
            self._send(402, order)
        else:
            order.update(status="payment_unavailable")
            self._send(503, order)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"checkout listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    print(f"payments at {PAYMENTS_URL}", flush=True)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
