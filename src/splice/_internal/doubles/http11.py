"""A small HTTP/1.1 server on asyncio protocols: the mock's front door.

Why not a framework: the mock answers trivial stubs, so per-request overhead is the whole
cost. A protocol that parses the head with `bytes.split`, hands a plain request object to
one handler and writes pre-built response bytes does ~2x what aiohttp does here, and adds
no dependency. What it supports is what clients of a third-party API send: keep-alive,
pipelining, `Content-Length` and chunked request bodies, `Expect: 100-continue`.

A handler returns the response as `bytes` (the fast path) or a coroutine (delays, faults,
proxying); while a coroutine runs, the connection reads no further so replies stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

Reply = bytes | Coroutine[Any, Any, bytes | None]


class Request:
    """One parsed request. Names of headers are lower case; a repeated header's values
    are joined with ", " (cookies with "; ")."""

    __slots__ = ("body", "close", "headers", "method", "path", "query_string", "target")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, close: bool
    ) -> None:
        self.method = method
        self.target = target
        path, _, self.query_string = target.partition("?")
        self.path = unquote(path)
        self.headers = headers
        self.body = body
        self.close = close


def reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def response_bytes(
    status: int, headers: list[tuple[str, str]], body: bytes, *, head_only: bool = False
) -> bytes:
    """A complete HTTP/1.1 response; Content-Length is added unless a header sets it."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    has_length = False
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            has_length = True
        elif lower == "transfer-encoding":
            continue  # the body is sent whole: a chunked header would lie
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if head_only else head + body


Handler = Callable[[Request, "Connection"], Reply]


class Connection(asyncio.Protocol):
    """One client connection: parses requests and writes replies in order."""

    __slots__ = ("_buf", "_busy", "_continued", "_handler", "_task", "closed", "transport")

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._buf = b""
        self._busy = False
        self._continued = False
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.transport: asyncio.Transport | None = None

    # asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()  # a never-ending reply ends with its client

    def data_received(self, data: bytes) -> None:
        self._buf = self._buf + data if self._buf else data
        if not self._busy:
            self._process()

    # parsing -------------------------------------------------------------------------
    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        buf = self._buf
        while buf and not self._busy and not self.closed:
            parsed = self._parse(buf)
            if parsed is None:
                break
            request, used = parsed
            buf = buf[used:]
            self._continued = False
            reply = self._handler(request, self)
            if type(reply) is bytes:
                transport.write(reply)
                if request.close:
                    self._finish()
            else:
                self._busy = True
                transport.pause_reading()
                self._task = asyncio.get_running_loop().create_task(
                    self._slow(reply, request)  # type: ignore[arg-type]
                )
        self._buf = buf

    def _parse(self, buf: bytes) -> tuple[Request, int] | None:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self.fail(431, "request head too large")
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.fail(400, "malformed request line")
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            if name in headers:
                value = headers[name] + ("; " if name == "cookie" else ", ") + value
            headers[name] = value
        start = end + 4
        if "transfer-encoding" in headers and "chunked" in headers["transfer-encoding"].lower():
            chunked = _dechunk(buf, start)
            if chunked is None:
                self._maybe_continue(headers)
                return None
            if chunked is False or chunked is True:
                self.fail(400, "malformed chunked body")
                return None
            body, used = chunked
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self.fail(400, "bad Content-Length")
                return None
            if length < 0:
                self.fail(400, "bad Content-Length")
                return None
            if length > MAX_BODY:
                self.fail(413, "request body too large")
                return None
            if len(buf) - start < length:
                self._maybe_continue(headers)
                return None
            body, used = buf[start : start + length], start + length
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        return Request(method.upper(), target, headers, body, close), used

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        if not self._continued and headers.get("expect", "").lower() == "100-continue":
            self._continued = True
            assert self.transport is not None
            self.transport.write(_CONTINUE)

    # replies that take time ----------------------------------------------------------
    async def _slow(self, reply: Coroutine[Any, Any, bytes | None], request: Request) -> None:
        try:
            data = await reply
        except asyncio.CancelledError:
            return
        except Exception as exc:  # noqa: BLE001 - a broken handler answers 500, never dies
            data = response_bytes(500, [("Content-Type", "text/plain")], f"{exc}\n".encode())
        finally:
            self._task = None
        if self.closed:
            return
        assert self.transport is not None
        if data is not None:
            self.transport.write(data)
        if request.close or data is None:
            self._finish()
            return
        self._busy = False
        self.transport.resume_reading()
        self._process()

    # ways to end a connection --------------------------------------------------------
    def fail(self, status: int, message: str) -> None:
        """Answer a request that cannot be parsed, then close."""
        if self.transport is not None and not self.closed:
            body = f"{message}\n".encode()
            self.transport.write(response_bytes(status, [("Content-Type", "text/plain")], body))
        self._finish()

    def _finish(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.closed = True
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def hang_up(self, data: bytes = b"") -> None:
        """Write `data` (maybe nothing) and close normally (FIN)."""
        self.closed = True
        if self.transport is not None:
            if data:
                self.transport.write(data)
            self.transport.close()


def _dechunk(buf: bytes, start: int) -> tuple[bytes, int] | bool | None:
    """A chunked body at `start`: (body, end) when complete, None if incomplete, False if
    malformed. Trailers are skipped."""
    pieces: list[bytes] = []
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = buf[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return False
        if size < 0:
            return False
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if buf[pos : pos + 2] == b"\r\n":
                return b"".join(pieces), pos + 2
            if trailer_end < 0:
                return None
            return b"".join(pieces), trailer_end + 4
        if len(buf) < pos + size + 2:
            return None
        pieces.append(buf[pos : pos + size])
        pos += size + 2
        if pos > start + MAX_BODY:
            return False


async def serve(handler: Handler, host: str, port: int) -> asyncio.Server:
    """Listen on host:port; each connection gets its own `Connection`."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Connection(handler), host, port, backlog=1024)
