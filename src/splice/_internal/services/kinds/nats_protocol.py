"""Just enough of the NATS client protocol, over a plain socket, for readiness and clean-up.

The kind uses it to check a server (INFO, CONNECT, PING -> PONG), to ask JetStream
whether it runs, and to delete the streams a testcase made under its prefix. The
executors use nats-py; the kind does not, so starting a server costs no driver import
and no event loop.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from types import TracebackType
from typing import Any

from splice._internal.services.kinds._binary_server import read_exact, read_line


class NatsProtocolError(ConnectionError):
    """The server said -ERR, or a request had no responder or no answer in time."""


class RawNats:
    """A synchronous NATS connection for a few requests; use as a context manager."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str | None = None,
        password: str | None = None,
        tls: bool = False,
        timeout: float = 2.0,
    ) -> None:
        self.deadline = time.monotonic() + timeout
        self.buffer = bytearray()
        self.sid = 0
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
        try:
            info_line = read_line(self.sock, self.buffer, self.deadline)
            if not info_line.startswith(b"INFO "):
                raise NatsProtocolError(f"expected INFO, got {info_line[:60]!r}")
            self.info: dict[str, Any] = json.loads(info_line[5:])
            if tls or self.info.get("tls_required"):
                # NATS sends INFO in the clear, then the client upgrades the connection
                context = ssl.create_default_context()
                self.sock = context.wrap_socket(self.sock, server_hostname=host)
            connect: dict[str, Any] = {
                "verbose": False,
                "pedantic": False,
                "lang": "python",
                "name": "splice",
                "protocol": 1,
                "headers": True,
                "no_responders": True,
            }
            if user is not None:
                connect.update(user=user, **{"pass": password or ""})
            self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
            self._expect_pong()
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> RawNats:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        line = read_line(self.sock, self.buffer, self.deadline)
        if line.startswith(b"-ERR"):
            raise NatsProtocolError(line[5:].decode("utf-8", "replace").strip(" '"))
        if line == b"PING":
            self.sock.sendall(b"PONG\r\n")
            return self._line()
        return line

    def _expect_pong(self) -> None:
        line = self._line()
        if line != b"PONG":
            raise NatsProtocolError(f"expected PONG, got {line[:60]!r}")

    def request(self, subject: str, payload: bytes = b"") -> bytes:
        """Publish with a reply inbox and return the first answer's payload."""
        self.sid += 1
        sid = str(self.sid).encode()
        inbox = f"_INBOX.splice.{time.monotonic_ns()}.{self.sid}"
        # UNSUB <sid> 1: the server drops the subscription after the one answer
        self.sock.sendall(
            f"SUB {inbox} {self.sid}\r\nUNSUB {self.sid} 1\r\n"
            f"PUB {subject} {inbox} {len(payload)}\r\n".encode()
            + payload
            + b"\r\n"
        )
        while True:
            parts = self._line().split()
            if parts[:1] not in ([b"MSG"], [b"HMSG"]):
                continue
            raw = read_exact(self.sock, self.buffer, int(parts[-1]) + 2, self.deadline)[:-2]
            if parts[2] != sid:
                continue  # a late answer to an earlier request
            if parts[0] == b"MSG":
                return raw
            head_size = int(parts[-2])
            if b" 503" in raw[:head_size].split(b"\r\n", 1)[0]:
                raise NatsProtocolError(f"no responders on {subject}")
            return raw[head_size:]

    def jetstream(self, api: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JetStream API call (`$JS.API.<api>`); raise on an error answer."""
        try:
            raw = self.request(f"$JS.API.{api}", json.dumps(body).encode() if body else b"")
        except NatsProtocolError as exc:
            if "no responders" in str(exc):
                raise NatsProtocolError("JetStream is not enabled on this server") from exc
            raise
        answer: dict[str, Any] = json.loads(raw or b"{}")
        if "error" in answer:
            raise NatsProtocolError(f"JetStream {api}: {answer['error'].get('description')}")
        return answer


def check(
    host: str,
    port: int,
    *,
    user: str | None,
    password: str | None,
    tls: bool,
    jetstream: bool,
    timeout: float = 1.0,
) -> None:
    """CONNECT and PING -> PONG; with `jetstream`, also a JetStream account info answer."""
    with RawNats(host, port, user=user, password=password, tls=tls, timeout=timeout) as conn:
        if jetstream:
            conn.jetstream("INFO")


def delete_streams(
    host: str, port: int, *, user: str | None, password: str | None, tls: bool, name_prefix: str
) -> list[str]:
    """Delete every stream whose name starts with `name_prefix`; return their names."""
    with RawNats(host, port, user=user, password=password, tls=tls, timeout=5.0) as conn:
        names: list[str] = []
        while True:  # list every page first: deleting shifts the pages that follow
            page = conn.jetstream("STREAM.NAMES", {"offset": len(names)})
            found = page.get("streams") or []
            names += found
            if not found or len(names) >= int(page.get("total", 0)):
                break
        doomed = [name for name in names if name.startswith(name_prefix)]
        for name in doomed:
            conn.jetstream(f"STREAM.DELETE.{name}")
    return doomed
