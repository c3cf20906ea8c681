"""The `amqp` executor: declare, publish, consume, get, purge and subscribe, with pika.

- amqp: {service: bus, declare: {exchanges: [{name: orders, type: topic}],
                                  queues: [order-events],
                                  bindings: [{exchange: orders, queue: order-events,
                                              routing_key: "order.*"}]}}
- amqp: {service: bus, publish: orders, routing_key: order.created, json: {id: 7}}
- amqp: {service: bus, consume: order-events, timeout: 2s}
  expect: {json: {id: 7}, routing_key: order.created}

A message that the system under test publishes after a trigger lands in any queue bound
to its exchange, so it waits there: declare and bind the queue first (setup or fixtures),
trigger, then `consume` with a timeout. With no queue of its own, a step can `subscribe`
(a private queue bound now, `as: NAME`) and a later step `consume: NAME`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, ClassVar

from pydantic import Field, model_validator

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors import _messages as m
from splice._internal.executors.executor_api import Block, StepContext, StepOutput
from splice._internal.services.kinds.rabbitmq import messages as msgs
from splice._internal.services.kinds.rabbitmq import topology
from splice._internal.services.kinds.rabbitmq.client import (
    AmqpProblem,
    channel_problem,
    pika_module,
)
from splice._internal.source.validation import HintedValueError

_OPERATIONS = ("declare", "publish", "consume", "get", "purge", "subscribe")
_SENDS = ("body", "json_", "headers", "properties", "mandatory")


class PublishTarget(Block):
    exchange: str = ""
    routing_key: str = ""
    queue: str | None = None  # straight to this queue, through the default exchange

    @model_validator(mode="after")
    def _queue_alone(self) -> PublishTarget:
        if self.queue is not None and (self.exchange or self.routing_key):
            raise HintedValueError(
                "`queue` sends through the default exchange, with the queue as routing key",
                "give `queue`, or `exchange` with `routing_key`",
            )
        return self


class SubscribeTarget(Block):
    exchange: str
    routing_key: str | list[str] = "#"


class Properties(Block):
    content_type: str | None = None
    content_encoding: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration: str | int | None = None  # milliseconds
    message_id: str | None = None
    timestamp: int | None = None  # seconds since the epoch
    type: str | None = None
    user_id: str | None = None
    app_id: str | None = None
    priority: int | None = Field(default=None, ge=0, le=255)
    delivery_mode: int | None = Field(default=None, ge=1, le=2)  # 2: persistent


class AmqpBlock(m.TargetBlock):
    declare: topology.Topology | None = None
    publish: str | PublishTarget | None = None
    consume: str | None = None  # a queue, or the name of a subscription (`as`)
    get: str | None = None
    purge: str | None = None
    subscribe: str | SubscribeTarget | None = None
    routing_key: str | list[str] | None = None  # with `publish: EXCHANGE` / `subscribe:`
    body: str | None = None
    json_: Any = Field(default=None, alias="json")
    headers: dict[str, Any] = {}
    properties: Properties | None = None
    mandatory: bool = False  # publish: fail when no queue receives the message
    ack: bool = True  # consume/get: remove what was received (false: put it back)

    @model_validator(mode="after")
    def _consistent(self) -> AmqpBlock:
        given = [op for op in _OPERATIONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise HintedValueError(
                "an amqp step does one thing" + (f", found {' and '.join(given)}" if given else ""),
                "give one of: " + ", ".join(_OPERATIONS),
            )
        op, fields = given[0], self.model_fields_set
        rules = (
            (_SENDS, op == "publish", "is what a publish sends"),
            (("count",), op in ("consume", "subscribe"), "belongs to consume and subscribe"),
            (("ack",), op in ("consume", "get", "subscribe"), "belongs to consume and get"),
            (("wait", "as_"), op == "subscribe", "belongs to subscribe"),
        )
        for keys, allowed, why in rules:
            for key in keys:
                if key in fields and not allowed:
                    name = key.rstrip("_")
                    hint = f"remove `{name}` from this {op} step"
                    raise HintedValueError(f"`{name}` {why}", hint)
        if self.body is not None and "json_" in fields:
            raise HintedValueError("give `body` or `json`, not both")
        if self.routing_key is not None and not isinstance(getattr(self, op), str):
            raise HintedValueError(
                "`routing_key` goes with `publish: EXCHANGE` or `subscribe: EXCHANGE`",
                "write it inside the mapping instead",
            )
        if isinstance(self.routing_key, list) and op == "publish":
            raise HintedValueError("a message has one routing key")
        return self


class AmqpExecutor:
    """Talks AMQP 0-9-1 to a broker; messages received are the result."""

    name: ClassVar[str] = "amqp"
    # its driver, imported while a run's services start (executors.warming)
    warm_modules: ClassVar[tuple[str, ...]] = ("pika",)
    block_model: ClassVar[type[AmqpBlock]] = AmqpBlock
    result_fields: ClassVar[dict[str, str]] = {
        "messages": "messages received: each {body, json, headers, routing_key, exchange, "
        "properties, redelivered}",
        "message": "the first message received (publish: the message sent); null when none",
        "body": "the first message's body as text",
        "json": "the first message's body parsed as JSON (null when it is not JSON)",
        "headers": "the first message's headers",
        "routing_key": "the first message's routing key",
        "exchange": "the exchange the first message was published to",
        "properties": "the first message's properties that are set (content_type, ...)",
        "count": "messages received; purge: messages removed; publish: 1",
        "queue": "the queue the step used (subscribe: the private queue it bound)",
        "declared": "what a declare made: {exchanges, queues: {NAME: {messages, "
        "consumers}}, bindings}",
        "subscription": "the name of a subscription kept for a later consume",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        for op in _OPERATIONS:
            if op in block:
                value = block[op]
                if isinstance(value, dict):
                    value = value.get("exchange") or value.get("queue") or ""
                    value = value if op != "declare" else ""
                return f"amqp {op} {value}".strip()
        return "amqp"

    def execute(self, block: AmqpBlock, ctx: StepContext) -> StepOutput:
        timeout = m.wait_timeout(block, ctx)
        subs: dict[str, dict[str, str]] = ctx.session.state.setdefault("amqp.subscriptions", {})
        handle = subs.get(block.consume) if block.consume is not None else None
        if handle is not None:
            url, prefix = handle["url"], handle["prefix"]
        else:
            where = m.target(
                ctx, block.service, block.url, ("amqp", "amqps"), "AMQP", use_prefix=block.prefix
            )
            url, prefix = where.url, where.prefix
        request = {
            "url": m.redact(url),
            "prefix": prefix or None,
            **block.model_dump(by_alias=True, exclude_defaults=True, exclude={"service", "url"}),
        }
        try:
            link = msgs.link(ctx.session.state, url, timeout, ctx.session.on_close)
            result = self._perform(
                block, ctx=ctx, link=link, prefix=prefix, timeout=timeout, handle=handle, subs=subs
            )
        except AmqpProblem as problem:
            raise StepError(problem.message, problem.hint) from problem
        except StepError:
            raise
        except Exception as exc:  # the broker went away mid-step, or pika failed
            raise StepError(
                f"AMQP failed: {exc or type(exc).__name__}", "is the broker still running?"
            ) from exc
        response = {
            "count": result.get("count"),
            "bodies": [x["body"] for x in (result.get("messages") or [])[:3]] or None,
        }
        return StepOutput(result, request, response)

    def _perform(
        self,
        block: AmqpBlock,
        *,
        ctx: StepContext,
        link: msgs.Link,
        prefix: str,
        timeout: float,
        handle: dict[str, str] | None,
        subs: dict[str, dict[str, str]],
    ) -> dict[str, Any]:
        from pika import exceptions as errors

        base = msgs.result([], None)
        if block.declare is not None:
            made = topology.declare(link.channel, block.declare, prefix)
            if prefix:
                link.declared += topology.created(block.declare, prefix)
            last = list(made["queues"])[-1] if made["queues"] else None
            return {**base, "declared": made, "queue": last}
        if block.publish is not None:
            return {**base, **_publish(block, link, prefix)}
        if block.subscribe is not None:
            target = block.subscribe
            if isinstance(target, str):
                target = SubscribeTarget(exchange=target, routing_key=block.routing_key or "#")
            queue = _subscribe(link, target, prefix)
            if m.background(block):
                name = block.as_ or target.exchange
                subs[name] = {"url": link.url, "queue": queue, "prefix": prefix}
                return {**base, "queue": queue, "subscription": name}
            got = _consume(link, queue, block, timeout=timeout, ctx=ctx, prefix=prefix, shown=queue)
            return {**base, **msgs.result(got, queue)}
        name = block.consume or block.get or block.purge or ""
        queue = handle["queue"] if handle is not None else topology.scoped(prefix, name)
        try:
            if block.consume is not None:
                got = _consume(
                    link, queue, block, timeout=timeout, ctx=ctx, prefix=prefix, shown=name
                )
                return {**base, **msgs.result(got, name)}
            if block.get is not None:
                method, props, raw = link.channel.basic_get(queue, auto_ack=False)
                if method is None:
                    return {**base, "queue": name}
                _settle(link.channel, [method.delivery_tag], block.ack)
                return {**base, **msgs.result([msgs.message(method, props, raw, prefix)], name)}
            ok = link.channel.queue_purge(queue)
            return {**base, "count": ok.method.message_count, "queue": name}
        except errors.ChannelClosedByBroker as exc:
            raise _no_queue(exc, name, queue, prefix) from exc


def _publish(block: AmqpBlock, link: msgs.Link, prefix: str) -> dict[str, Any]:
    from pika import exceptions as errors

    target = block.publish
    if isinstance(target, str):
        target = PublishTarget(exchange=target, routing_key=str(block.routing_key or ""))
    assert target is not None
    if target.queue is not None:
        exchange, key = "", topology.scoped(prefix, target.queue)
    else:
        exchange, key = topology.scoped(prefix, target.exchange), target.routing_key
    json_given = "json_" in block.model_fields_set
    props = block.properties.model_dump(exclude_none=True) if block.properties else {}
    if json_given:
        props.setdefault("content_type", "application/json")
    raw = m.payload(block.body, block.json_, json_given)
    properties = pika_module().BasicProperties(headers=block.headers or None, **props)
    shown = target.exchange or "(the default exchange)"
    try:
        link.channel.basic_publish(exchange, key, raw, properties, mandatory=block.mandatory)
    except errors.UnroutableError as exc:
        raise StepError(
            f"the message to exchange {shown!r} with routing key {target.routing_key!r} "
            "reached no queue (mandatory)",
            "bind a queue to the exchange for that key first, or drop `mandatory: true`",
        ) from exc
    except errors.ChannelClosedByBroker as exc:
        raise channel_problem(
            exc,
            f"exchange {shown!r}",
            hint="declare it first, or send straight to a queue: `publish: {queue: NAME}`",
        ) from exc
    sent = msgs.message(_Sent(exchange, key), properties, raw, prefix)
    return {**msgs.result([sent], target.queue), "count": 1}


class _Sent:
    """What basic.deliver would say about a message this step published."""

    def __init__(self, exchange: str, routing_key: str) -> None:
        self.exchange, self.routing_key, self.redelivered = exchange, routing_key, False


def _subscribe(link: msgs.Link, target: SubscribeTarget, prefix: str) -> str:
    from pika import exceptions as errors

    channel = link.channel
    # exclusive: the connection owns it, so it goes when the testcase ends; not
    # auto_delete, which would drop it when the first consume step cancels its consumer
    ok = channel.queue_declare("", exclusive=True)
    keys = [target.routing_key] if isinstance(target.routing_key, str) else target.routing_key
    try:
        for key in keys:
            channel.queue_bind(ok.method.queue, topology.scoped(prefix, target.exchange), key)
    except errors.ChannelClosedByBroker as exc:
        raise channel_problem(exc, f"exchange {target.exchange!r}") from exc
    return str(ok.method.queue)


def _consume(
    link: msgs.Link,
    queue: str,
    block: AmqpBlock,
    *,
    timeout: float,
    ctx: StepContext,
    prefix: str,
    shown: str,
) -> list[dict[str, Any]]:
    """Wait until `count` messages came (all that come within `timeout` for 0)."""
    count = block.count
    channel = link.channel
    got: list[tuple[Any, Any, bytes]] = []
    # the broker sends at most `count` unacknowledged messages: none is taken from the
    # queue that this step will not report
    channel.basic_qos(prefetch_count=count)
    tag = channel.basic_consume(queue, lambda _ch, *message: got.append(message))
    deadline = time.monotonic() + timeout
    try:
        while count == 0 or len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if ctx.cancelled.is_set():
                raise StepInterrupted("interrupted while waiting for messages")
            link.connection.process_data_events(time_limit=min(left, 0.05))
    finally:
        with contextlib.suppress(Exception):
            channel.basic_cancel(tag)
    tags = [method.delivery_tag for method, _, _ in got]
    if count and len(got) < count:
        _settle(channel, tags, ack=False)  # back to the queue, for a retried step
        raise _missing(shown, len(got), count, timeout, prefix)
    _settle(channel, tags, block.ack)
    return [msgs.message(method, props, raw, prefix) for method, props, raw in got]


def _settle(channel: Any, tags: list[int], ack: bool) -> None:
    for tag in tags:
        if ack:
            channel.basic_ack(tag)
        else:
            channel.basic_nack(tag, requeue=True)


def _missing(name: str, got: int, count: int, timeout: float, prefix: str) -> StepError:
    if got == 0:
        text = f"no message on queue {name!r} within {timeout:g}s"
    else:
        text = f"only {got} of {count} messages on queue {name!r} within {timeout:g}s"
    hint = (
        "check that the publisher runs and that this queue is bound to its exchange with a "
        "matching routing key (it must be before the message is published); or raise `timeout:`"
    )
    if prefix:
        hint = (
            f"this step read queue {prefix + name!r} (the testcase's prefix, isolation "
            f"`prefix`); if the system under test uses {name!r} itself, add `prefix: false` "
            "to the steps, or set `isolation: none` (or vhost) on the service"
        )
    return StepError(text, hint)


def _no_queue(exc: Exception, name: str, queue: str, prefix: str) -> AmqpProblem:
    hint = (
        f"declare it first, e.g. `- amqp: {{declare: {{queues: [{name}]}}}}` in the testcase's "
        "setup or as a fixture, and bind it to the exchange the messages go to"
    )
    if prefix:
        hint += f" (under isolation `prefix` its name is {queue!r})"
    return channel_problem(exc, f"queue {name!r}", hint=hint)
