"""A small payments provider for the contract-testing guide: payments in memory.

    python server.py --port 8000            # honours the shop's pact
    python server.py --port 8000 --drifted  # answers amounts as strings: breaks the pact

GET /payments/{id}, POST /payments, GET /health; POST /_pact/state sets a provider state
the way Pact verifiers ask for it, and POST /_admin/payments adds a payment directly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAYMENTS: dict[int, dict[str, Any]] = {}
SETTINGS = {"drifted": False}


def _payment(pid: int, amount: float, status: str = "captured") -> dict[str, Any]:
    return {"id": pid, "amount": amount, "currency": "EUR", "status": status}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _shown(self, payment: dict[str, Any]) -> dict[str, Any]:
        if SETTINGS["drifted"]:
            return {**payment, "amount": f"{payment['amount']:.2f}"}
        return payment

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"ok": True})
            return
        m = re.fullmatch(r"/payments/(\d+)", self.path)
        if m and int(m.group(1)) in PAYMENTS:
            self._send(200, self._shown(PAYMENTS[int(m.group(1))]))
        elif m:
            self._send(404, {"error": "no such payment"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._json()
        if self.path == "/payments":
            if not isinstance(body, dict) or not isinstance(body.get("amount"), int | float):
                self._send(400, {"error": "amount must be a number"})
                return
            pid = max(PAYMENTS, default=100) + 1
            PAYMENTS[pid] = _payment(pid, float(body["amount"]), "pending")
            self._send(201, self._shown(PAYMENTS[pid]))
        elif self.path == "/_pact/state":
            if body.get("action") == "teardown":
                PAYMENTS.clear()
            elif body.get("state") == "a payment exists":
                pid = int((body.get("params") or {}).get("id", 7))
                PAYMENTS[pid] = _payment(pid, 12.5)
            self._send(200, {})
        elif self.path == "/_admin/payments":
            PAYMENTS[int(body["id"])] = _payment(int(body["id"]), float(body["amount"]))
            self._send(201, PAYMENTS[int(body["id"])])
        else:
            self._send(404, {"error": "not found"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--drifted", action="store_true")
    args = parser.parse_args()
    SETTINGS["drifted"] = args.drifted
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"payments listening on {args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
