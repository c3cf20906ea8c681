"""The shop's HTTP API (standard library server; one thread per request).

    DATABASE_URL=... REDIS_URL=... AMQP_URL=... PORT=8000 python -m shop.app

Endpoints (all JSON):

    GET  /health          200 {"status": "ok"} when PostgreSQL, Redis and RabbitMQ answer;
                          503 with the failing ones otherwise
    POST /orders          {"sku", "qty"}: 201 the order (status "pending"), stored,
                          cached as `order:<id>` and announced as `order.created`;
                          422 {"error", "details": [{"field", "message"}]} when invalid
    GET  /orders/{id}     the order, from the cache when it is there (header X-Cache:
                          hit or miss); 404 when there is none
"""

from __future__ import annotations

import json
import logging
import re
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shop.bus import Publisher
from shop.cache import Cache
from shop.config import Config, configure_logging
from shop.store import Store

log = logging.getLogger("shop.app")
MAX_QTY = 100
_ORDER_PATH = re.compile(r"^/orders/(\d+)$")


class HttpError(Exception):
    """Ends a request with this status and a JSON error body."""

    def __init__(self, status: int, error: str, details: list[dict[str, str]] | None = None):
        super().__init__(error)
        self.status, self.error, self.details = status, error, details


class Shop:
    """What the API does, apart from HTTP."""

    def __init__(self, config: Config) -> None:
        self.store = Store(config.database_url)
        self.cache = Cache(config.redis_url)
        self.bus = Publisher(config.amqp_url)

    def health(self) -> tuple[int, dict[str, Any]]:
        checks: dict[str, str] = {}
        for name, ping in (
            ("db", self.store.ping),
            ("cache", self.cache.ping),
            ("bus", self.bus.ping),
        ):
            try:
                ping()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure makes the service unhealthy
                checks[name] = f"{type(exc).__name__}: {exc}".strip()
        ok = all(v == "ok" for v in checks.values())
        return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": checks}

    def place_order(self, body: Any) -> dict[str, Any]:
        sku, qty = self._validate(body)
        order = self.store.create_order(sku, qty)
        self.cache.put(order)
        # `created_at` lets the worker tell this order from a later one with the same id
        self.bus.publish(
            {
                "type": "order.created",
                "id": order["id"],
                "sku": sku,
                "qty": qty,
                "created_at": order["created_at"],
            }
        )
        log.info("order %s placed: %s x %s", order["id"], qty, sku)
        return order

    def order(self, order_id: int) -> tuple[dict[str, Any], bool]:
        """The order and whether it came from the cache."""
        cached = self.cache.get(order_id)
        if cached is not None:
            return cached, True
        order = self.store.get_order(order_id)
        if order is None:
            raise HttpError(404, f"order {order_id} not found")
        self.cache.put(order)
        return order, False

    def _validate(self, body: Any) -> tuple[str, int]:
        """Every problem at once, so a client can fix them in one go."""
        if not isinstance(body, dict):
            raise HttpError(
                422, "validation failed", [{"field": "body", "message": "must be a JSON object"}]
            )
        details = [
            {"field": k, "message": "unknown field"} for k in body if k not in ("sku", "qty")
        ]
        sku, qty = body.get("sku"), body.get("qty")
        if sku is None:
            details.append({"field": "sku", "message": "is required"})
        elif not isinstance(sku, str) or not sku.strip():
            details.append({"field": "sku", "message": "must be a non-empty string"})
        elif not self.store.product_exists(sku):
            details.append({"field": "sku", "message": f"unknown product {sku!r}"})
        if qty is None:
            details.append({"field": "qty", "message": "is required"})
        elif isinstance(qty, bool) or not isinstance(qty, int):
            details.append({"field": "qty", "message": "must be an integer"})
        elif not 1 <= qty <= MAX_QTY:
            details.append({"field": "qty", "message": f"must be between 1 and {MAX_QTY}"})
        if details:
            raise HttpError(422, "validation failed", sorted(details, key=lambda d: d["field"]))
        assert isinstance(sku, str) and isinstance(qty, int)
        return sku, qty

    def close(self) -> None:
        self.bus.close()
        self.cache.close()
        self.store.close()


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the `Shop` of the server."""

    server: Server
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse the connection
    # headers and body go out in two writes; with Nagle's algorithm the second waits
    # for the client's delayed ACK, 40 ms per response
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        try:
            status, body, headers = self._route(method, self.path.split("?", 1)[0])
        except HttpError as exc:
            status, headers = exc.status, {}
            body = {"error": exc.error}
            if exc.details is not None:
                body["details"] = exc.details
        except Exception:
            log.exception("%s %s failed", method, self.path)
            status, body, headers = 500, {"error": "internal error; see the service log"}, {}
        self._send(status, body, headers)

    def _route(self, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        shop = self.server.shop
        if path == "/health" and method == "GET":
            status, body = shop.health()
            return status, body, {}
        if path == "/orders":
            if method != "POST":
                raise HttpError(405, f"{method} is not allowed on /orders; use POST")
            order = shop.place_order(self._json_body())
            return 201, order, {"Location": f"/orders/{order['id']}"}
        match = _ORDER_PATH.match(path)
        if match and method == "GET":
            order, hit = shop.order(int(match[1]))
            return 200, order, {"X-Cache": "hit" if hit else "miss"}
        raise HttpError(404, f"no route for {method} {path}")

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from exc

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class Server(ThreadingHTTPServer):
    """An HTTP server that holds the shop."""

    daemon_threads = True  # a slow client must not keep the process alive at shutdown

    def __init__(self, config: Config) -> None:
        self.shop = Shop(config)
        super().__init__((config.host, config.port), Handler)


def main() -> None:
    configure_logging()
    config = Config.from_env()
    server = Server(config)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # leaves serve_forever; the finally below cleans up

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    log.info("shop api listening on http://%s:%s", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.shop.close()


if __name__ == "__main__":
    main()
