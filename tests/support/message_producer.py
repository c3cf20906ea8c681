"""A tiny provider that publishes order events, with a message producer for pact verification.

    python message_producer.py --port 8000 [--drifted]

POST /_pact/message with {"description", "providerStates"} answers the message the provider
would publish for it: the body is the message's contents, the `Pact-Message-Metadata`
header its metadata (base64 JSON). `--drifted` sends the order's id as a string and drops
the metadata's topic. GET /health answers 200.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SETTINGS = {"drifted": False}


def _order_event(states: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    params = {k: v for s in states for k, v in (s.get("params") or {}).items()}
    oid = int(params.get("id", 7))
    event: dict[str, Any] = {"id": oid, "sku": "A-1", "status": "created", "total": 12.5}
    metadata: dict[str, Any] = {"topic": "orders.created"}
    if SETTINGS["drifted"]:
        event["id"] = str(oid)
        metadata = {}
    return event, metadata


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, metadata: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if metadata:
            encoded = base64.b64encode(json.dumps(metadata).encode()).decode()
            self.send_header("Pact-Message-Metadata", encoded)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        asked = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/_pact/message":
            self._send(404, {"error": "not found"})
            return
        if asked.get("description") == "an order created event":
            event, metadata = _order_event(asked.get("providerStates") or [])
            self._send(200, event, metadata)
            return
        self._send(404, {"error": f"no message for {asked.get('description')!r}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--drifted", action="store_true")
    args = parser.parse_args()
    SETTINGS["drifted"] = args.drifted
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"orders listening on {args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
