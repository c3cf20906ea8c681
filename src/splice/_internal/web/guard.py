"""What every request passes before the app sees it: the `Host` it names, and its body's size.

**Host.** A web page on another site can make a browser send requests to `localhost:8470`
once its own name resolves there (DNS rebinding); the browser then treats the answers as
its own and lets the page read them. Such a request names the attacker's host in its `Host`
header, so the server answers only requests that name it: IP addresses (a page can only be
served from an address by the address itself), `localhost`, and the names given with
`--allowed-host`. Ports are not compared: a rebinding page cannot choose the name, whatever
the port, and SSH tunnels and proxies legitimately change the port.

**Body.** A body larger than `max_body` bytes is refused with 413: at once when its
`Content-Length` says so, else as soon as the bytes received pass the limit (chunked bodies).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
DEFAULT_MAX_BODY = 64 * MIB
_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)
_LOCAL = ("localhost",)


class BodyTooLarge(HTTPException):
    """A request body past the server's limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return (
        f"the request body is larger than this server takes ({size_text(limit)}): "
        "start `splice serve` with a larger --max-body to accept it"
    )


def size_text(size: int) -> str:
    """Bytes as '64 MiB', '512 KiB' or '100 bytes'."""
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def parse_size(text: str) -> int:
    """'64MiB', '64M', '500k', '1g', '1048576' as bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(i?b)?\s*", text.lower())
    if not match or (match.group(3) and not match.group(2) and match.group(3) != "b"):
        raise ValueError(text)
    factor = {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2)]
    return int(match.group(1)) * factor


def host_name(header: str) -> str | None:
    """The name in a `Host` header, lower case, without port or brackets; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not re.fullmatch(r":\d{1,5}", value[end + 1 :])):
            return None
        return value[1:end]
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".")


def check_pattern(pattern: str) -> str:
    """An `--allowed-host` value, normalised; ValueError with the reason otherwise."""
    value = pattern.strip().lower().rstrip(".")
    if value == "*":
        return value
    name = host_name(value)
    if name and _is_ip(name):
        return name
    if name is None or not _NAME.match(name):
        raise ValueError(
            f"{pattern!r} is not a host name: give a name such as dash.example.com, "
            "a wildcard such as *.example.com, or * for any name"
        )
    return name


@dataclass(frozen=True)
class HostPolicy:
    """Names this server answers for, besides IP addresses and localhost."""

    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, patterns: Iterable[str]) -> HostPolicy:
        return cls(frozenset(check_pattern(p) for p in patterns))

    def allows(self, name: str) -> bool:
        if "*" in self.names or name in _LOCAL or name in self.names or _is_ip(name):
            return True
        return any(p.startswith("*.") and name.endswith(p[1:]) for p in self.names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """ASGI middleware: refuses a foreign `Host` (400) and a body past `max_body` (413)."""

    def __init__(self, app: ASGIApp, hosts: HostPolicy, max_body: int) -> None:
        self.app, self.hosts, self.max_body = app, hosts, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host")
        if host is not None:
            raw = host.decode("latin-1")
            name = host_name(raw)
            if name is None or not self.hosts.allows(name):
                await _answer(send, scope, 400, _foreign(raw, name))
                return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _answer(send, scope, 400, "the Content-Length header is not a number")
                return
            if declared > self.max_body:
                await _answer(send, scope, 413, too_large(self.max_body))
                return
        received = 0
        limit = self.max_body

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _foreign(raw: str, name: str | None) -> str:
    if name is None:
        return f"the Host header {raw!r} is malformed"
    return (
        f"splice serve does not answer for the host {name!r} (a page of another site could "
        f"read the store through a browser otherwise): if {name!r} is a name of this "
        f"server, start it with --allowed-host {name}"
    )


async def _answer(send: Send, scope: Scope, status: int, message: str) -> None:
    """A JSON problem for the API, plain text for pages."""
    if str(scope.get("path", "")).startswith("/api/"):
        body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, kind = (message + "\n").encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def is_loopback(address: str) -> bool:
    """Whether listening on `address` serves this machine only."""
    if address.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False
