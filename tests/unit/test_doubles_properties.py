"""Properties of the mock's parser and matchers for any input (Hypothesis): no crash,
and a request parses the same however the network splits it."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splice._internal.doubles.http11 import Connection, Request
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.model import StubSpec
from splice._internal.doubles.nearmiss import nearest_stubs, report
from splice._internal.doubles.stubs import StubStore

_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Wire(asyncio.Transport):
    """Collects what a connection writes (a transport, not a server)."""

    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += bytes(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _connection(seen: list[Request]) -> tuple[Connection, _Wire]:
    def handler(request: Request, conn: Connection) -> bytes:
        seen.append(request)
        return b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    conn = Connection(handler)
    wire = _Wire()
    conn.connection_made(wire)
    return conn, wire


@_settings
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_parser_never_crashes_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    """Any bytes produce either nothing yet, or replies that are HTTP responses."""
    seen: list[Request] = []
    conn, wire = _connection(seen)
    for chunk in chunks:
        if wire.closed:
            break
        conn.data_received(chunk)
    assert wire.out == b"" or wire.out.startswith(b"HTTP/1.1 ")


requests = st.builds(
    lambda method, path, body, chunked: (method, path, body, chunked),
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.text("abc/123-_", min_size=0, max_size=12).map(lambda p: "/" + p),
    st.binary(max_size=64),
    st.booleans(),
)


def _raw(method: str, path: str, body: bytes, chunked: bool) -> bytes:
    if chunked:
        encoded = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head.encode() + encoded
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


@_settings
@given(st.lists(requests, min_size=1, max_size=4), st.lists(st.integers(1, 40), max_size=20))
def test_pipelined_requests_parse_the_same_however_split(
    sent: list[tuple[str, str, bytes, bool]], cuts: list[int]
) -> None:
    """Requests sent back to back parse into the same requests for any chunking."""
    stream = b"".join(_raw(*r) for r in sent)
    seen: list[Request] = []
    conn, wire = _connection(seen)
    pos = 0
    for cut in cuts:
        conn.data_received(stream[pos : pos + cut])
        pos += cut
    conn.data_received(stream[pos:])
    assert [(r.method, r.path, r.body) for r in seen] == [(m, p, b) for m, p, b, _ in sent]
    assert wire.out.count(b"HTTP/1.1 204") == len(sent)


_STUBS = [
    {"request": {"method": "POST", "path": "/v1/charges", "body": {"json_partial": {"a": 1}}}},
    {"request": {"path_template": "/users/{id}", "query": {"q": {"regex": "^x"}}}},
    {"request": {"path_regex": "/items/[0-9]+", "headers": {"x-k": {"absent": False}}}},
    {"request": {"body": {"json_path": {"$.items[?(@.qty > 1)]": None}}}},
    {"request": {"body": {"json_path": {"$.n": {"regex": "^4"}, "$.m": 3}}}},
    {"request": {"body": {"form": {"name": {"contains": "a"}}}}},
    {"request": {"body": {"json": [1, 2], "ignore_array_order": True}}},
    {"request": {"cookies": {"s": "1"}, "url_regex": ".*\\?.*"}},
]


@_settings
@given(
    st.sampled_from(["GET", "POST", "HEAD"]),
    st.text(max_size=30).map(lambda p: "/" + p.replace(" ", "")),
    st.dictionaries(st.sampled_from(["x-k", "cookie", "content-type"]), st.text(max_size=20)),
    st.binary(max_size=80) | st.sampled_from([b'{"a": 1}', b'{"items": [{"qty": 2}]}', b"[2,1]"]),
)
def test_matching_and_near_misses_never_crash(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> None:
    """Any request is matched or explained, never an exception."""
    store = StubStore()
    for raw in _STUBS:
        store.add(StubSpec.model_validate(raw))
    request = Incoming(Request(method, target, headers, body, False))
    store.find(request)
    near = nearest_stubs(store.all(), request, store.scenarios)
    assert report(request, near, len(store)).startswith("splice mock: no stub matched")


def test_negative_lengths_are_refused() -> None:
    """A negative Content-Length or chunk size is a 400 and a closed connection."""
    for raw in (
        b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
    ):
        seen: list[Request] = []
        conn, wire = _connection(seen)
        conn.data_received(raw)
        assert wire.out.startswith(b"HTTP/1.1 400 ") and wire.closed and not seen
