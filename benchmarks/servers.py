"""HTTP servers the benchmarks call, each in its own process on 127.0.0.1.

    python -m benchmarks.servers fast --port 0   # raw asyncio, fixed JSON body, no work
    python -m benchmarks.servers slow --port 0   # threaded http.server, 20 ms per request

Each prints `listening on http://127.0.0.1:PORT` first. Started by `running()`, a server
also exits when its stdin closes, so it never outlives a benchmark that was killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"id": 1, "name": "widget", "price": 9.5, "tags": ["red", "blue"], "stock": 12}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
SLOW_DELAY = 0.020
_START_TIMEOUT = 10.0


class _FastProtocol(asyncio.Protocol):
    """Answers every request on a keep-alive connection with RESPONSE; bodies are skipped."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = self.buffer[:end].lower(), self.buffer[end + 4 :]
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def _serve_fast(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FastProtocol, "127.0.0.1", port, backlog=1024)
    print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        time.sleep(SLOW_DELAY)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (benchmark interrupted) is not news


def _serve_slow(port: int) -> None:
    with _SlowServer(("127.0.0.1", port), _SlowHandler) as server:
        print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


def _exit_when_parent_goes() -> None:
    def watch() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


@contextlib.contextmanager
def running(kind: str) -> Iterator[str]:
    """Start the `kind` server in a subprocess; yield its base URL; always stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.servers", kind, "--port", "0", "--stdin-lifeline"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = _await_url(proc)
        yield url
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _await_url(proc: subprocess.Popen[str]) -> str:
    found: list[str] = []
    reader = threading.Thread(
        target=lambda: found.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(_START_TIMEOUT)
    line = found[0] if found else ""
    if not line.startswith("listening on "):
        raise RuntimeError(f"benchmark server did not start within {_START_TIMEOUT:g}s: {line!r}")
    return line.removeprefix("listening on ").strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["fast", "slow"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stdin-lifeline", action="store_true", help="exit when stdin closes")
    args = parser.parse_args()
    if args.stdin_lifeline:
        _exit_when_parent_goes()
    with contextlib.suppress(KeyboardInterrupt):
        if args.kind == "fast":
            asyncio.run(_serve_fast(args.port))
        else:
            _serve_slow(args.port)


if __name__ == "__main__":
    main()
