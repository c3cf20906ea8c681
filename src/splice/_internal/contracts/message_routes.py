"""Message interactions verified on the real broker: a trigger, then the message consumed.

A states file's `messages:` maps a message interaction's description (or a glob of
descriptions, as `order *`) to what makes the provider publish it and where it arrives:

    messages:
      an order created event:
        trigger:                       # steps: the provider publishes the message
          - http: {post: "{{ services.orders.url }}/orders", json: {sku: A-1}}
        receive:                       # where it arrives: one nats, mqtt, amqp or kafka block
          nats: {service: bus, subscribe: orders.created, timeout: 5s}

Each such interaction is a testcase whose steps subscribe first (nats and mqtt
`subscribe:`, amqp `subscribe: EXCHANGE`), then run the trigger; its `pact` step
(`contracts.executor`, with `via:` and `receive:`) takes the first message that arrived,
waiting up to the block's `timeout` (5 s by default), and holds its contents and metadata
to the pact. A message that never arrives is a failure of that step, not an error. An
amqp `consume: QUEUE` and a kafka `consume:` read after the trigger: a queue, or a
topic, keeps the message until then. A kafka consume reads from where each partition
ended before the trigger (a `pact` step with `mark:` notes it), so a message an earlier
testcase published on the same topic is not taken for this one's; a topic the trigger
creates is read from its beginning. `from:` or `group:` in the block say where to read
instead; `from: end` would miss the message, and is an error.

The received message's metadata, for the pact's `metadata`: its headers, `contentType`
(an amqp `content_type` property, a `content-type` header, else `application/json` for
a JSON payload), and where it came: `subject` and `topic` (nats), `topic` (mqtt),
`exchange` and `routingKey` (amqp), `topic`, `key` and `partition` (kafka).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from splice._internal.errors import SourceSpan
from splice._internal.model.suite import Step
from splice._internal.source.validation import describe, did_you_mean
from splice._internal.source.yaml_source import Document

KINDS = ("nats", "mqtt", "amqp", "kafka")
_KEYS = ("trigger", "receive")
_SUBSCRIPTION = "pact-message"  # the name the subscribe step keeps its subscription by


@dataclass
class MessageRoute:
    """How one message interaction (or a glob of them) is made and received."""

    pattern: str
    trigger: list[Step]
    via: str  # nats | mqtt | amqp | kafka
    receive: dict[str, Any]  # the block as written
    span: SourceSpan | None = None  # the entry's key
    receive_span: SourceSpan | None = None
    matched: list[str] = field(default_factory=list)  # descriptions it routes

    def steps(self) -> list[Step]:
        """Subscribe (when the bus keeps nothing), then the trigger."""
        out: list[Step] = []
        if "subscribe" in self.receive:
            out.append(
                Step(
                    index=0,
                    name=f"{self.via} subscribe {_shown(self.receive['subscribe'])}",
                    span=self.receive_span,
                    executor=self.via,
                    block={**self.receive, "as": _SUBSCRIPTION},
                )
            )
        return [*out, *self.trigger]

    def take(self) -> dict[str, Any]:
        """The block that takes the message, after the trigger (the `pact` step runs it)."""
        if "subscribe" not in self.receive:
            return dict(self.receive)
        later: dict[str, Any] = {("consume" if self.via == "amqp" else "receive"): _SUBSCRIPTION}
        if self.receive.get("timeout") is not None:
            later["timeout"] = self.receive["timeout"]
        return later

    @property
    def marks_the_end(self) -> bool:
        """A kafka consume that reads what the trigger published: it starts where the
        topic ended before the trigger (noted by a step before it), not at offset 0,
        where an earlier testcase's message may wait. `from:` or `group:` say otherwise."""
        consume = self.receive.get("consume")
        return (
            self.via == "kafka"
            and isinstance(consume, Mapping)
            and "from" not in consume
            and "group" not in consume
        )

    @property
    def source(self) -> str:
        """Where the message is taken from, for the step's name."""
        found = self.receive.get("subscribe", self.receive.get("consume"))
        return f"{self.via} {_shown(found)}"


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("exchange") or value.get("topic") or value.get("queue") or "")
    return str(value)


def read_routes(doc: Document, out: Any, services: Iterable[str] | None) -> list[MessageRoute]:
    """The `messages:` of a states file, every mistake added to `out` (a Collector) with
    its place; `services` (None: not known) are the project's, for `service:`."""
    from splice._internal.loader.steps import StepSource, parse_step, parse_steps

    pos = doc.positions
    raw = doc.data.get("messages") if isinstance(doc.data, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, dict):
        out.add(
            f"`messages:` must map descriptions to a trigger and a receive, found {describe(raw)}",
            pos.value(("messages",)),
            "write messages: {an order created event: {trigger: [...], receive: {nats: ...}}}",
        )
        return []
    known = sorted(services) if services is not None else None
    routes: list[MessageRoute] = []
    for pattern, entry in raw.items():
        loc: tuple[Any, ...] = ("messages", pattern)
        if not isinstance(entry, dict):
            out.add(
                f"message {pattern!r} must be a mapping with `trigger:` and `receive:`, "
                f"found {describe(entry)}",
                pos.value(loc),
                "trigger: the steps that make the provider publish it; receive: where it arrives",
            )
            continue
        ok = True
        for key in entry:
            if key not in _KEYS:
                out.add(
                    f"unknown key {key!r} in message {pattern!r}",
                    pos.key((*loc, key)),
                    did_you_mean(str(key), _KEYS),
                )
                ok = False
        for key, hint in (
            ("trigger", "give the steps that make the provider publish it, as `- http: ...`"),
            ("receive", "say where it arrives, as `nats: {service: bus, subscribe: SUBJECT}`"),
        ):
            if key not in entry:
                out.add(f"message {pattern!r} has no `{key}:`", pos.key(loc), hint)
                ok = False
        if not ok:
            continue
        trigger = parse_steps(entry["trigger"], StepSource(doc, (*loc, "trigger")), out, "trigger")
        if not trigger and isinstance(entry["trigger"], list):
            out.add(
                f"the trigger of message {pattern!r} has no steps",
                pos.value((*loc, "trigger")),
                "give the steps that make the provider publish it",
            )
        route = _receive(entry["receive"], (*loc, "receive"), doc, out, known)
        if route is None:
            continue
        via, block = route
        if parse_step({via: block}, (*loc, "receive"), doc, out) is None:
            continue
        where = pos.value((*loc, "receive", via))
        routes.append(MessageRoute(str(pattern), trigger, via, dict(block), pos.key(loc), where))
    return routes


def _receive(
    raw: Any, loc: tuple[Any, ...], doc: Document, out: Any, services: list[str] | None
) -> tuple[str, dict[str, Any]] | None:
    pos = doc.positions
    if not isinstance(raw, dict) or len(raw) != 1:
        out.add(
            "`receive:` names one broker: " + ", ".join(KINDS),
            pos.value(loc),
            "for example `receive: {nats: {service: bus, subscribe: orders.created}}`",
        )
        return None
    via, block = next(iter(raw.items()))
    if via not in KINDS:
        out.add(
            f"a message cannot be received with {via!r}",
            pos.key((*loc, via)),
            did_you_mean(str(via), KINDS),
        )
        return None
    if not isinstance(block, dict):
        out.add(f"`{via}:` must be a mapping, found {describe(block)}", pos.value((*loc, via)))
        return None
    allowed = {"nats": ("subscribe",), "mqtt": ("subscribe",), "amqp": ("subscribe", "consume")}
    wanted = allowed.get(via, ("consume",))
    ops = ("publish", "subscribe", "receive", "request", "consume", "get", "produce", "group")
    given = [op for op in ops if op in block]
    misspelt = [k for k in block if difflib.get_close_matches(str(k), wanted, n=1, cutoff=0.75)]
    if not given and misspelt:
        key = misspelt[0]
        out.add(
            f"unknown key {key!r} in the {via} block of `receive:`",
            pos.key((*loc, via, key)),
            did_you_mean(str(key), wanted),
        )
        return None
    if len(given) != 1 or given[0] not in wanted:
        out.add(
            f"the {via} block of `receive:` must "
            + " or ".join(f"`{op}:`" for op in wanted)
            + (f", found {', '.join(f'`{op}:`' for op in given)}" if given else ""),
            pos.value((*loc, via)),
            "the message is taken from a subscription made before the trigger"
            if "subscribe" in wanted
            else "the message is consumed after the trigger",
        )
        return None
    consume = block.get("consume")
    if via == "kafka" and isinstance(consume, dict) and consume.get("from") == "end":
        out.add(
            "a kafka consume in `receive:` runs after the trigger; with `from: end` it "
            "misses the message the trigger published",
            pos.value((*loc, via, "consume", "from")),
            "drop `from:`: the consume reads what was published since the trigger started",
        )
        return None
    for key in ("as", "wait"):
        if key in block:
            out.add(
                f"`{key}:` is set by splice in a message's `receive:`",
                pos.key((*loc, via, key)),
                f"remove `{key}:`",
            )
            return None
    name = block.get("service")
    if services is not None and isinstance(name, str) and name not in services:
        out.add(
            f"unknown service {name!r} in `receive:`",
            pos.value((*loc, via, "service")),
            did_you_mean(name, services) or "services are declared in splice.yaml",
        )
        return None
    return str(via), block


def route_for(routes: list[MessageRoute], description: str) -> MessageRoute | None:
    """The route of a description: the one named by it, else the first glob matching it."""
    for route in routes:
        if route.pattern == description:
            return route
    for route in routes:
        if fnmatch.fnmatchcase(description, route.pattern):
            return route
    return None


def received_message(via: str, message: Any) -> tuple[Any, dict[str, Any], str | None]:
    """A message a consume step received: its contents, metadata and content type."""
    if not isinstance(message, Mapping):
        return message, {}, None
    text_key = {"nats": "data", "mqtt": "payload", "amqp": "body", "kafka": "value"}[via]
    parsed = message.get("json")
    contents = parsed if parsed is not None else message.get(text_key)
    headers = message.get("headers")
    metadata: dict[str, Any] = dict(headers) if isinstance(headers, Mapping) else {}
    if via == "nats":
        metadata.update(subject=message.get("subject"), topic=message.get("subject"))
    elif via == "mqtt":
        metadata["topic"] = message.get("topic")
    elif via == "amqp":
        metadata.update(exchange=message.get("exchange"), routingKey=message.get("routing_key"))
    else:
        metadata.update(
            topic=message.get("topic"), key=message.get("key"), partition=message.get("partition")
        )
    props = message.get("properties")
    ctype = props.get("content_type") if isinstance(props, Mapping) else None
    ctype = ctype or next(
        (str(v) for k, v in metadata.items() if k.lower() in ("content-type", "contenttype")),
        None,
    )
    if ctype is None and parsed is not None:
        ctype = "application/json"
    if ctype is not None:
        metadata.setdefault("contentType", ctype)
    return contents, metadata, ctype
