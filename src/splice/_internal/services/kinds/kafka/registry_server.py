"""splice's local schema registry in its own process:
`python -m splice._internal.services.kinds.kafka.registry_server --port PORT`.

Started by the `kafka` kind when a service says `schema_registry: true`, in its own
process group (tracked by the reaper like every server splice starts), like the mock.
Memory only: it forgets everything when it stops. Prints one line when it listens;
SIGTERM stops it.

Why not the mock's asyncio server: importing asyncio (with ssl) takes ~50 ms, more than
the Tansu broker needs to start, and the registry starts beside it on every run. A
registry answers a handful of small requests, so a thread per connection over
`socketserver` (HTTP/1.1 with keep-alive, Content-Length and chunked bodies) is enough;
the process is ready about 40 ms after it is spawned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import socketserver
import sys
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote

from splice._internal.services.kinds.kafka.registry_store import SchemaStore

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_BODY = 16 * 1024 * 1024  # schemas are small; a larger body is refused
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {409: "Conflict", 411: "Length Required", 413: "Content Too Large"}
_REASONS |= {422: "Unprocessable Content", 500: "Internal Server Error"}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def answer(store: SchemaStore, method: str, target: str, body: bytes) -> tuple[int, bytes]:
    """The status and body answering one request."""
    raw_path, _, query_string = target.partition("?")
    # split before unquoting: a subject may hold an encoded '/'
    segments = [unquote(s) for s in raw_path.split("/") if s]
    query = dict(parse_qsl(query_string))
    status, value = store.handle("GET" if method == "HEAD" else method, segments, query, body)
    if isinstance(value, str) and status == 200:
        return status, value.encode()  # the /schema endpoints answer with the schema itself
    return status, json.dumps(value, ensure_ascii=False).encode()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            while self._one():
                pass

    def _one(self) -> bool:
        """Answer one request; False when the connection should close."""
        line = self.rfile.readline(65537)
        if not line.strip():
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            self._send(400, _error(400, "malformed request line"), close=True)
            return False
        headers = self._headers()
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        try:
            body = self._body(headers)
        except BadRequest as exc:
            self._send(exc.status, _error(exc.status, str(exc)), close=True)
            return False
        with self.server.lock:
            status, data = answer(self.server.store, method.upper(), target, body)
        self._send(status, data, close=close, head=method.upper() == "HEAD")
        return not close

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()

    def _body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                length = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY:
                    raise BadRequest(413, "the request body is too large")
                chunks.append(self.rfile.read(length))
                self.rfile.readline(3)
        text = headers.get("content-length", "0")
        if not text.isdigit():
            raise BadRequest(400, "invalid Content-Length")
        if int(text) > MAX_BODY:
            raise BadRequest(413, "the request body is too large")
        return self.rfile.read(int(text))

    def _send(self, status: int, body: bytes, *, close: bool, head: bool = False) -> None:
        head_lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Content-Type: {CONTENT_TYPE}",
            f"Content-Length: {len(body)}",
        ]
        if close:
            head_lines.append("Connection: close")
        data = ("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data if head else data + body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.store = SchemaStore()
        self.lock = threading.Lock()  # one request at a time changes the store


def _error(code: int, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m splice._internal.services.kinds.kafka.registry_server"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        server = _Server((args.host, args.port))
    except OSError as exc:
        print(f"splice schema registry: cannot listen on {args.host}:{args.port}: {exc}")
        return 1

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"splice schema registry listening on http://{args.host}:{args.port}", flush=True)
    with server:
        server.serve_forever(poll_interval=0.2)
    print("splice schema registry stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
