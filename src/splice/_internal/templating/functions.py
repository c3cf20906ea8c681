"""Filters and functions available in every template and expression."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import random
import secrets
import string
import uuid as uuid_mod
from typing import Any

import jinja2

_MISSING = object()


def to_json(value: Any) -> str:
    """`{{ body | json }}`: compact JSON text of a value."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def from_json(value: str) -> Any:
    """`{{ text | fromjson }}`: parse JSON text."""
    return json.loads(value)


def b64encode(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def b64decode(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


def sha256(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(raw).hexdigest()


def uuid() -> str:
    """`{{ uuid() }}`: a random UUID4 string."""
    return str(uuid_mod.uuid4())


def now(fmt: str | None = None, offset: float = 0, tz: str = "utc") -> str | float:
    """`{{ now() }}`: ISO-8601 UTC time; `now('%Y-%m-%d')`, `now(offset=-3600)`,
    `now('epoch')` for seconds since the epoch, `tz='local'` for local time."""
    moment = dt.datetime.now(dt.UTC if tz == "utc" else None) + dt.timedelta(seconds=offset)
    if fmt == "epoch":
        return moment.timestamp()
    if fmt:
        return moment.strftime(fmt)
    return moment.isoformat()


def random_int(low: int = 0, high: int = 2**31 - 1) -> int:
    """`{{ random_int(1, 6) }}`: a random integer, bounds included."""
    return random.randint(low, high)  # test data, not cryptography


def random_string(length: int = 12, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    """`{{ random_string(8) }}`: random characters, for unique names in test data."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def env(name: str, default: Any = _MISSING) -> Any:
    """`{{ env('HOME') }}`: an environment variable; an error if unset and no default."""
    value = os.environ.get(name)
    if value is not None:
        return value
    if default is _MISSING:
        raise KeyError(f"environment variable {name!r} is not set")
    return default


@jinja2.pass_context
def topic(context: Any, name: str, service: str | None = None) -> str:
    """`{{ topic('orders') }}`: the testcase's own name for a Kafka topic (the topic with
    its prefix under isolation `prefix`, else the name itself); `topic('orders', 'bus')`
    when the project has several Kafka services."""
    services = context.get("services") or {}
    kafka = sorted(
        n
        for n, s in services.items()
        if isinstance(s, dict) and str(s.get("url", "")).startswith(("kafka://", "kafkas://"))
    )
    if service is None:
        if len(kafka) != 1:
            found = f"the project has {len(kafka)}: {', '.join(kafka)}" if kafka else "none"
            raise ValueError(f"topic({name!r}) needs the Kafka service named ({found})")
        service = kafka[0]
    if service not in kafka:
        raise ValueError(f"topic({name!r}, {service!r}): {service!r} is not a Kafka service")
    return f"{services[service].get('prefix') or ''}{name}"


FILTERS = {
    "json": to_json,
    "fromjson": from_json,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "sha256": sha256,
    "env": env,
}

GLOBALS = {
    "topic": topic,
    "uuid": uuid,
    "now": now,
    "random_int": random_int,
    "random_string": random_string,
    "env": env,
}
