"""The `mqtt` executor: publish and subscribe (wildcards, QoS, retained messages).

- mqtt: {service: broker, publish: sensors/1/temp, json: {c: 21.5}, qos: 1, retain: true}
- mqtt: {service: broker, subscribe: sensors/+/temp, count: 1, timeout: 2s}   # waits here

A message the system under test publishes after some trigger: subscribe first, trigger,
then receive what came:

- mqtt: {service: broker, subscribe: "alerts/#", as: alerts}      # returns at once
- http: {post: "{{ services.app.url }}/readings", json: {c: 99}}
- mqtt: {receive: alerts, timeout: 2s}
  expect: {json: {level: high}}
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from splice._internal.errors import StepError
from splice._internal.executors import _messages as m
from splice._internal.executors._mqtt_client import connection_for
from splice._internal.executors.executor_api import StepContext, StepOutput
from splice._internal.source.validation import HintedValueError

_OPERATIONS = ("publish", "subscribe", "receive")


class MqttBlock(m.TargetBlock):
    publish: str | None = None
    subscribe: str | None = None  # a topic filter: + matches one level, # the rest
    receive: str | None = None  # the name of a subscription an earlier step started
    data: str | None = None
    json_: Any = Field(default=None, alias="json")
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> MqttBlock:
        given = [op for op in _OPERATIONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise HintedValueError(
                "an mqtt step does one thing" + (f", found {' and '.join(given)}" if given else ""),
                "give one of: " + ", ".join(_OPERATIONS),
            )
        op = given[0]
        if "json_" in self.model_fields_set and self.data is not None:
            raise HintedValueError("give `data` or `json`, not both")
        if op != "publish":
            for key in ("data", "json_", "retain"):
                if key in self.model_fields_set:
                    name = key.rstrip("_")
                    raise HintedValueError(
                        f"`{name}` belongs to publish", f"remove `{name}` from this {op} step"
                    )
        if op == "publish" and "count" in self.model_fields_set:
            raise HintedValueError("`count` belongs to subscribe and receive")
        for key in ("wait", "as_"):
            if op != "subscribe" and key in self.model_fields_set:
                name = key.rstrip("_")
                raise HintedValueError(
                    f"`{name}` belongs to subscribe", f"remove `{name}` from this {op} step"
                )
        if op == "receive" and "qos" in self.model_fields_set:
            raise HintedValueError("`qos` is set when subscribing", "remove it from receive")
        if self.as_ is not None and self.wait:
            raise HintedValueError(
                "`as` names a subscription that runs on after this step; `wait: true` "
                "collects its messages here",
                "remove `wait: true`, then `receive:` later",
            )
        return self


class MqttExecutor:
    """Publishes and subscribes on an MQTT broker; messages are the result."""

    name: ClassVar[str] = "mqtt"
    block_model: ClassVar[type[MqttBlock]] = MqttBlock
    result_fields: ClassVar[dict[str, str]] = {
        "messages": "messages received: each {topic, payload, json, qos, retain}",
        "message": "the first message received (null when none)",
        "json": "the first message's payload parsed as JSON (null when it is not JSON)",
        "payload": "the first message's payload as text",
        "topic": "the first message's topic",
        "count": "how many messages were received",
        "subscription": "the name of a subscription started to receive later",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        for op in _OPERATIONS:
            if op in block:
                return f"mqtt {op} {block[op]}"
        return "mqtt"

    def execute(self, block: MqttBlock, ctx: StepContext) -> StepOutput:
        timeout = m.wait_timeout(block, ctx)
        result: dict[str, Any] = {
            "messages": [],
            "message": None,
            "json": None,
            "payload": None,
            "topic": None,
            "count": 0,
            "subscription": None,
        }
        if block.receive is not None:
            handle = m.lookup(ctx.session, "mqtt", block.receive)
            result.update(
                _collect(
                    handle.inbox,
                    handle.what,
                    count=block.count,
                    timeout=timeout,
                    ctx=ctx,
                    prefix=handle.prefix,
                )
            )
            request = {"receive": block.receive, "topic": handle.what, "count": block.count}
            return StepOutput(result, request, _response(result))
        where = m.target(
            ctx,
            block.service,
            block.url,
            ("mqtt", "mqtts", "tcp", "ssl"),
            "MQTT",
            use_prefix=block.prefix,
        )
        conn = connection_for(ctx, where.url, timeout)
        request = {
            "url": m.redact(where.url),
            "prefix": where.prefix or None,
            **block.model_dump(by_alias=True, exclude_defaults=True, exclude={"service", "url"}),
        }
        if block.publish is not None:
            data = m.payload(block.data, block.json_, "json_" in block.model_fields_set)
            conn.publish(
                _prefixed(where.prefix, block.publish),
                data,
                qos=block.qos,
                retain=block.retain,
                timeout=timeout,
                ctx=ctx,
            )
            return StepOutput(result, request, _response(result))
        assert block.subscribe is not None
        topic_filter = _prefixed(where.prefix, block.subscribe)
        inbox = conn.subscribe(topic_filter, where.prefix, block.qos, timeout, ctx)
        if m.background(block):
            name = block.as_ or block.subscribe
            m.keep(
                ctx.session,
                "mqtt",
                m.Handle(
                    name,
                    block.subscribe,
                    inbox,
                    lambda: conn.unsubscribe(topic_filter, inbox),
                    where.prefix,
                ),
            )
            result["subscription"] = name
        else:
            try:
                result.update(
                    _collect(
                        inbox,
                        block.subscribe,
                        count=block.count,
                        timeout=timeout,
                        ctx=ctx,
                        prefix=where.prefix,
                    )
                )
            finally:
                conn.unsubscribe(topic_filter, inbox)
        return StepOutput(result, request, _response(result))


def _collect(
    inbox: m.Inbox, what: str, *, count: int, timeout: float, ctx: StepContext, prefix: str
) -> dict[str, Any]:
    got = inbox.take(count, timeout, ctx.cancelled)
    if count and len(got) < count:
        raise m.missing(what, len(got), count, timeout, prefix)
    out = m.messages_result(got, "payload")
    out["topic"] = got[0]["topic"] if got else None
    return out


def _prefixed(prefix: str, topic: str) -> str:
    # `$SYS/...` and other `$` topics belong to the broker, outside any testcase prefix
    if not prefix or topic.startswith("$"):
        return topic
    if not topic:
        raise StepError("the topic is empty", "give a topic such as sensors/1/temp")
    return prefix + topic


def _response(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if v not in (None, [])}
