"""What the message executors (nats, mqtt) share: finding the service, subject prefixes,
payloads, waiting for messages, and the "subscribe now, receive later" handles.

Waiting for a message that a background job publishes is the common case, and with a
bus that keeps nothing (core NATS, MQTT without retain) a subscription must exist before
the message is sent. So a step can start a subscription and return at once
(`subscribe: SUBJECT` with `as: NAME`, or `wait: false`); later steps trigger the job and
`receive: NAME` collects what arrived in between, waiting for the rest.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors.executor_api import Block, StepContext, TestcaseSession
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import did_you_mean

DEFAULT_WAIT = 5.0  # seconds a subscribe/receive/request waits without a timeout
_SLICE = 0.05  # how often a wait looks at Ctrl-C


class TargetBlock(Block):
    """Keys every message step has: where to connect and how long to wait."""

    service: str | None = None
    url: str | None = None
    timeout: str | float | None = None
    # apply the testcase's subject/topic prefix (isolation `prefix`); false: as written
    prefix: bool = True
    count: int = Field(default=1, ge=0)
    wait: bool | None = None
    as_: str | None = Field(default=None, alias="as")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value


@dataclass
class Target:
    url: str
    prefix: str
    service: str | None


def target(
    ctx: StepContext,
    service: str | None,
    url: str | None,
    schemes: Iterable[str],
    kind: str,
    *,
    use_prefix: bool = True,
) -> Target:
    """The URL to use and the prefix to apply, from `service:`, `url:` or the only
    service of this kind (found by its URL's scheme)."""
    if service is not None and url is not None:
        raise StepError("give either `service` or `url`, not both")
    if url is not None:
        return Target(url, "", None)
    services = dict(ctx.vars.get("services") or {})
    name = service
    if name is None:
        schemes = tuple(schemes)
        mine = sorted(
            n
            for n, s in services.items()
            if isinstance(s, Mapping) and urlsplit(str(s.get("url"))).scheme in schemes
        )
        if len(mine) != 1:
            raise StepError(
                f"which {kind} server? "
                + (
                    f"the project has {len(mine)}: {', '.join(mine)}"
                    if mine
                    else "the project has none"
                ),
                "name one with `service: NAME`, or give `url:`",
            )
        name = mine[0]
    found = services.get(name)
    if not isinstance(found, Mapping) or not found.get("url"):
        raise StepError(
            f"unknown service {name!r}",
            did_you_mean(name, services) or "services are declared in splice.yaml",
        )
    prefix = str(found.get("prefix") or "") if use_prefix else ""
    return Target(str(found["url"]), prefix, name)


def wait_timeout(block: TargetBlock, ctx: StepContext) -> float:
    if block.timeout is not None:
        return parse_duration(block.timeout)
    return ctx.timeout if ctx.timeout is not None else DEFAULT_WAIT


def payload(data: str | None, json_value: Any, json_given: bool) -> bytes:
    if json_given:
        return json.dumps(json_value, ensure_ascii=False).encode()
    return (data or "").encode()


def decode(raw: bytes) -> tuple[str, Any]:
    """A payload as text (bytes that are not UTF-8 shown as \\xNN) and as JSON, or None."""
    text = raw.decode("utf-8", "backslashreplace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return text, parsed


def strip(prefix: str, name: str) -> str:
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


class Inbox:
    """Messages a subscription received, for a step thread to wait on (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._ready = threading.Condition()

    def put(self, message: dict[str, Any]) -> None:
        with self._ready:
            self._items.append(message)
            self._ready.notify_all()

    def take(self, count: int, timeout: float, cancelled: threading.Event) -> list[dict[str, Any]]:
        """The oldest `count` messages, waiting up to `timeout`; fewer if time ran out
        (those stay in the inbox, so a retried step sees them again).

        `count` 0 waits the whole timeout and takes everything that came.
        """
        deadline = time.monotonic() + timeout
        with self._ready:
            while count == 0 or len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if cancelled.is_set():
                    raise StepInterrupted("interrupted while waiting for messages")
                self._ready.wait(min(left, _SLICE))
            if count and len(self._items) < count:
                return list(self._items)
            taken = self._items if count == 0 else self._items[:count]
            self._items = [] if count == 0 else self._items[count:]
            return list(taken)


def missing(what: str, got: int, count: int, timeout: float, prefix: str = "") -> StepError:
    """ "no message on orders.created within 2s" / "only 1 of 3 messages on ..."."""
    if got == 0:
        text = f"no message on {what} within {timeout:g}s"
    else:
        text = f"only {got} of {count} messages on {what} within {timeout:g}s"
    hint = (
        "check that the publisher runs and uses this subject/topic; subscribe before the "
        "step that triggers it (`as: NAME`, then `receive: NAME`), or raise `timeout:`"
    )
    if prefix:
        # the easy mistake under isolation `prefix`: the system publishes on its own,
        # unprefixed subjects while the step listens under the testcase's prefix
        hint = (
            f"this step listened on {prefix}{what} (the testcase's prefix, isolation "
            f"`prefix`); if the system under test publishes on {what} itself, add "
            "`prefix: false` to the step, or set `isolation: none` on the service"
        )
    return StepError(text, hint)


@dataclass
class Handle:
    """A running subscription that a later `receive:` step collects from."""

    name: str
    what: str  # the subject or topic as the step wrote it, for messages
    inbox: Inbox
    stop: Callable[[], None]
    prefix: str = ""  # the testcase's prefix it listens under, for hints


def handles(session: TestcaseSession, executor: str) -> dict[str, Handle]:
    found: dict[str, Handle] | None = session.state.get(f"{executor}.handles")
    if found is None:
        found = {}
        session.state[f"{executor}.handles"] = found
    return found


def keep(session: TestcaseSession, executor: str, handle: Handle) -> None:
    """Remember a background subscription; one of the same name is replaced."""
    table = handles(session, executor)
    old = table.pop(handle.name, None)
    if old is not None:
        old.stop()
    table[handle.name] = handle


def lookup(session: TestcaseSession, executor: str, name: str) -> Handle:
    table = handles(session, executor)
    if name not in table:
        hint = (
            did_you_mean(name, table)
            if table
            else (
                f"start it in an earlier step of this testcase: `subscribe: SUBJECT` with "
                f"`as: {name}`"
            )
        )
        raise StepError(f"no subscription named {name!r} in this testcase", hint)
    return table[name]


def messages_result(messages: list[dict[str, Any]], text_key: str) -> dict[str, Any]:
    """`messages`, `message`, `json`, `count` and the first message's text under
    `text_key` (nats: data, mqtt: payload)."""
    first = messages[0] if messages else None
    return {
        "messages": messages,
        "message": first,
        "json": first["json"] if first else None,
        text_key: first[text_key] if first else None,
        "count": len(messages),
    }


def background(block: TargetBlock) -> bool:
    """Whether a subscribe step returns at once (keeping the subscription for receive)."""
    if block.wait is None:
        return block.as_ is not None
    return not block.wait


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
