"""Just enough of the Kafka wire protocol, over a plain socket, for readiness and topics.

A broker is ready when it answers a Metadata request (API key 3, version 1) with at
least one broker in the cluster: the same exchange every client makes first. The kind
also creates the declared topics (CreateTopics v4) and deletes a testcase's topics
(DeleteTopics v1) this way, so starting and isolating a broker imports no driver
(confluent-kafka alone costs more to import than Tansu takes to start).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

from splice._internal.services.kinds._binary_server import connect, read_exact

_METADATA = 3
_CREATE_TOPICS = 19
_DELETE_TOPICS = 20
_CLIENT_ID = b"splice"
# error codes a caller tells apart (the rest are reported by number and name)
TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC = 3
_ERRORS = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    7: "REQUEST_TIMED_OUT",
    17: "INVALID_TOPIC_EXCEPTION",
    36: "TOPIC_ALREADY_EXISTS",
    37: "INVALID_PARTITIONS",
    38: "INVALID_REPLICATION_FACTOR",
    40: "INVALID_CONFIG",
    41: "NOT_CONTROLLER",
    29: "TOPIC_AUTHORIZATION_FAILED",
}


class KafkaProtocolError(ConnectionError):
    """The broker answered something that is not a usable Metadata response."""


@dataclass
class Metadata:
    """What a Metadata response says: the brokers and each topic's partition count."""

    brokers: list[tuple[int, str, int]] = field(default_factory=list)  # (id, host, port)
    controller: int = -1
    topics: dict[str, int] = field(default_factory=dict)  # name -> partitions
    errors: dict[str, int] = field(default_factory=dict)  # name -> error code


def error_name(code: int) -> str:
    return _ERRORS.get(code, f"error {code}")


def _call(
    host: str, port: int, api: int, version: int, body: bytes, *, tls: bool, timeout: float
) -> _Reader:
    """One request and its response, past the correlation id."""
    deadline = time.monotonic() + timeout
    header = struct.pack(">hhih", api, version, 1, len(_CLIENT_ID)) + _CLIENT_ID
    request = header + body
    with connect(host, port, tls=tls, timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        buffer = bytearray()
        (size,) = struct.unpack(">i", read_exact(sock, buffer, 4, deadline))
        if not 4 <= size <= 64 * 1024 * 1024:
            raise KafkaProtocolError(f"not a Kafka response (length {size})")
        reader = _Reader(read_exact(sock, buffer, size, deadline))
    if reader.take(">i") != 1:
        raise KafkaProtocolError("the answer is not for this request (correlation id)")
    return reader


def metadata(
    host: str, port: int, *, topics: list[str] | None = None, tls: bool = False, timeout: float = 1
) -> Metadata:
    """One Metadata request (all topics when `topics` is None); raise unless answered.

    Naming topics may create them on brokers that create topics on first use (Tansu,
    Kafka's default): ask for all of them to only look.
    """
    reader = _call(host, port, _METADATA, 1, _strings(topics), tls=tls, timeout=timeout)
    return _parse_metadata(reader)


def create_topics(
    host: str,
    port: int,
    topics: dict[str, tuple[int, int, dict[str, str]]],
    *,
    tls: bool = False,
    timeout: float = 10.0,
) -> dict[str, tuple[int, str | None]]:
    """Create topics {name: (partitions, replication factor, configs)}; -1 takes the
    broker's default. Returns {name: (error code, message)} for those that failed."""
    body = struct.pack(">i", len(topics))
    for name, (partitions, replicas, configs) in topics.items():
        body += _string(name) + struct.pack(">ihi", partitions, replicas, 0)
        body += struct.pack(">i", len(configs))
        for key, value in configs.items():
            body += _string(key) + _string(value)
    body += struct.pack(">i?", int(timeout * 1000), False)
    reader = _call(host, port, _CREATE_TOPICS, 4, body, tls=tls, timeout=timeout + 1)
    reader.take(">i")  # throttle time
    failed: dict[str, tuple[int, str | None]] = {}
    for _ in range(reader.take(">i")):
        name = reader.string() or ""
        code = reader.take(">h")
        message = reader.string()
        if code:
            failed[name] = (code, message)
    return failed


def delete_topics(
    host: str, port: int, names: list[str], *, tls: bool = False, timeout: float = 10.0
) -> dict[str, int]:
    """Delete topics by name; returns {name: error code} for those that failed."""
    body = _strings(names) + struct.pack(">i", int(timeout * 1000))
    reader = _call(host, port, _DELETE_TOPICS, 1, body, tls=tls, timeout=timeout + 1)
    reader.take(">i")  # throttle time
    failed: dict[str, int] = {}
    for _ in range(reader.take(">i")):
        name = reader.string() or ""
        code = reader.take(">h")
        if code:
            failed[name] = code
    return failed


def check(host: str, port: int, *, tls: bool = False, timeout: float = 1.0) -> Metadata:
    """Ready: a Metadata answer that names at least one broker."""
    found = metadata(host, port, tls=tls, timeout=timeout)
    if not found.brokers:
        raise KafkaProtocolError("the metadata answer names no broker yet")
    return found


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _strings(items: list[str] | None) -> bytes:
    if items is None:
        return struct.pack(">i", -1)  # null: every topic
    return struct.pack(">i", len(items)) + b"".join(_string(item) for item in items)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise KafkaProtocolError("the metadata answer is cut short")
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return int(value)

    def string(self) -> str | None:
        size = self.take(">h")
        if size < 0:
            return None
        raw = self.data[self.at : self.at + size]
        self.at += size
        return raw.decode("utf-8", "replace")


def _parse_metadata(reader: _Reader) -> Metadata:
    out = Metadata()
    for _ in range(reader.take(">i")):
        node = reader.take(">i")
        host = reader.string() or ""
        port = reader.take(">i")
        reader.string()  # rack
        out.brokers.append((node, host, port))
    out.controller = reader.take(">i")
    for _ in range(reader.take(">i")):
        error = reader.take(">h")
        name = reader.string() or ""
        reader.take(">b")  # is_internal
        partitions = reader.take(">i")
        for _ in range(partitions):
            reader.take(">h")  # error code
            reader.take(">i")  # partition index
            reader.take(">i")  # leader
            for _ in range(2):  # replicas, in-sync replicas
                count = reader.take(">i")
                reader.at += 4 * max(0, count)
        if error:
            out.errors[name] = error
        else:
            out.topics[name] = partitions
    return out
