"""Results as table rows: JSON excerpts of steps, and the integration point a step touched."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

EXCERPT_LIMIT = 8192  # characters of one string in a stored request, response or capture
_JSON_LIMIT = 65536  # documents longer than this are cut down to excerpts
_LIST_LIMIT = 200  # items of one list kept in an excerpt
_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,}|[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{7,})$"
)
_SQL_TABLE = re.compile(r"\b(?:from|into|update|table|join)\s+([\w.\"`]+)", re.IGNORECASE)
_SQL_SERVICE = re.compile(r"^service '([^']+)'")
_TOPIC_KEYS = ("subject", "topic", "queue", "exchange", "routing_key", "channel", "stream")
# one encoder for every value: json.dumps with options builds a new encoder per call, and
# even JSONEncoder.encode builds its C encoder anew on each call; the C encoder is made once
# here (no circular check: events are decoded JSON or built from the runner's results)
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=repr, separators=(",", ":"))
_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Any = (
    _C_ENCODER(None, repr, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if _C_ENCODER is not None
    else None
)


def _encode(value: Any) -> str:
    if _ENCODE is None or isinstance(value, str):  # the C encoder wants a container or scalar
        return _ENCODER.encode(value)
    return "".join(_ENCODE(value, 0))


def dumps(value: Any) -> str | None:
    """Compact JSON of `value` with long strings and lists cut; None for nothing."""
    if not value and (value is None or isinstance(value, dict | list)):
        return None
    # `_encode` inlined: four calls per stored step
    if _ENCODE is None or isinstance(value, str):
        text = _ENCODER.encode(value)
    else:
        text = "".join(_ENCODE(value, 0))
    if len(text) <= _JSON_LIMIT:
        return text
    return _encode(_excerpt(value))


def scrub(value: Any) -> Any:
    """`value` with NUL characters replaced: PostgreSQL text cannot hold them.

    Nearly no event holds one, and rebuilding every dict and list of an event costs more
    than all the rest of its ingest; so the event is first encoded by the C encoder, which
    writes a NUL as `\\u0000`, and returned as it is when that text has none.
    """
    if isinstance(value, dict | list):
        try:
            if "\\u0000" not in _encode(value):
                return value
        except (TypeError, ValueError, RecursionError):  # not JSON: checked value by value
            pass
    return _scrubbed(value)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _excerpt(value: Any) -> Any:
    if isinstance(value, str) and len(value) > EXCERPT_LIMIT:
        return f"{value[:EXCERPT_LIMIT]}… ({len(value) - EXCERPT_LIMIT} more characters)"
    if isinstance(value, dict):
        return {str(k): _excerpt(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        kept = [_excerpt(v) for v in value[:_LIST_LIMIT]]
        if len(value) > _LIST_LIMIT:
            kept.append(f"… ({len(value) - _LIST_LIMIT} more items)")
        return kept
    return value


def service_addresses(services: list[dict[str, Any]]) -> dict[str, str]:
    """host:port of each service's URL to its name, to name the service a step called."""
    out: dict[str, str] = {}
    for entry in services:
        url, name = entry.get("url"), entry.get("name")
        if isinstance(url, str) and isinstance(name, str):
            address = _address(url)
            if address:
                out[address] = name
    return out


def integration_point(
    executor: str, request: dict[str, Any] | None, addresses: dict[str, str]
) -> tuple[str, str]:
    """(service, target) a step talked to: ("app", "POST /orders/:id"), ("db", "SELECT orders").

    Path segments that look like ids are replaced by `:id`, so every order's URL counts as
    one endpoint. Unknown shapes give the executor's name, never an error.
    """
    if not request:
        return "", executor
    url = request.get("url")
    service = ""
    if isinstance(url, str):
        address = _address(url)
        service = addresses.get(address, address)
    label = request.get("target")
    if isinstance(label, str) and not service:
        service = _label_service(label)
    method = request.get("method")
    if isinstance(method, str) and isinstance(url, str):
        return service, f"{method.upper()} {_endpoint(url)}"[:400]
    query = request.get("query")
    if isinstance(query, str) and query.strip():
        return service, _statement(query)
    command = request.get("command", request.get("commands"))
    if isinstance(command, list) and command and isinstance(command[0], list):
        command = command[0]  # a pipeline: named by its first command
    if isinstance(command, list) and command:
        head = str(command[0])
        return service, (head.upper() if executor == "redis" else head.rsplit("/", 1)[-1])[:400]
    if isinstance(command, str) and command.strip():
        return service, command.split()[0].rsplit("/", 1)[-1][:400]
    for key in _TOPIC_KEYS:
        value = request.get(key)
        if isinstance(value, str) and value:
            return service, f"{key} {value}"[:400]
    return service, executor


@functools.lru_cache(maxsize=4096)
def _label_service(label: str) -> str:
    """The service named by a step's target label (labels repeat: cached)."""
    match = _SQL_SERVICE.match(label)
    return match.group(1) if match else _address(label) or label[:200]


@functools.lru_cache(maxsize=4096)
def _statement(query: str) -> str:
    """ "SELECT orders" for a query: its verb and first table (queries repeat: cached)."""
    verb = query.split(None, 1)[0].upper()
    table = _SQL_TABLE.search(query)
    return f"{verb} {table.group(1)}"[:400] if table else verb[:400]


def _address(url: str) -> str:
    """host:port of a URL (without user and password), "" when it has none."""
    rest = url.partition("://")[2]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    return netloc.lower()


def _endpoint(url: str) -> str:
    rest = url.partition("://")[2] or url
    _, slash, tail = rest.partition("/")
    path = "/" + tail.split("?", 1)[0].split("#", 1)[0] if slash else "/"
    return _normalised(path)


def _normalised(path: str) -> str:
    # not cached: paths hold ids, so nearly every one is new; most segments are short words
    # ("orders", "v1"), which only the digits alternative of `_ID_SEGMENT` can match
    return "/".join(
        [
            ":id" if s.isdecimal() or (len(s) >= 8 and _ID_SEGMENT.match(s)) else s
            for s in path.split("/")
        ]
    )
