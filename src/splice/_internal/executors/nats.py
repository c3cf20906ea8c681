"""The `nats` executor: publish, subscribe, request and JetStream, with nats-py.

- nats: {service: bus, publish: orders.created, json: {id: 7}}
- nats: {service: bus, subscribe: orders.>, count: 2, timeout: 2s}   # waits here
- nats: {service: bus, request: prices.get, json: {sku: A}, timeout: 1s}

A message published by the system under test after some trigger: subscribe first,
trigger, then receive what came (up to `count`, waiting up to `timeout`):

- nats: {service: bus, subscribe: orders.created, as: created}      # returns at once
- http: {post: "{{ services.app.url }}/orders", json: {sku: A}}
- nats: {receive: created, timeout: 2s}
  expect: {json: {sku: A}}
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from splice._internal.errors import StepError
from splice._internal.executors import _messages as m
from splice._internal.executors._nats_jetstream import JetStreamBlock
from splice._internal.executors._nats_jetstream import explain as explain_jetstream
from splice._internal.executors._nats_jetstream import run as run_jetstream
from splice._internal.executors._nats_session import NatsSession, session_for
from splice._internal.executors.executor_api import StepContext, StepOutput
from splice._internal.source.validation import HintedValueError

_OPERATIONS = ("publish", "subscribe", "request", "receive", "jetstream")


class NatsBlock(m.TargetBlock):
    publish: str | None = None
    subscribe: str | None = None
    request: str | None = None
    receive: str | None = None  # the name of a subscription an earlier step started
    jetstream: JetStreamBlock | None = None
    data: str | None = None
    json_: Any = Field(default=None, alias="json")
    headers: dict[str, str | int | float | bool] = {}
    queue: str | None = None  # subscribe as a member of this queue group

    @model_validator(mode="after")
    def _consistent(self) -> NatsBlock:
        given = [op for op in _OPERATIONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise HintedValueError(
                "a nats step does one thing" + (f", found {' and '.join(given)}" if given else ""),
                "give one of: " + ", ".join(_OPERATIONS),
            )
        op = given[0]
        sends = op in ("publish", "request") or (
            op == "jetstream" and self.jetstream is not None and self.jetstream.publish
        )
        waits = op in ("subscribe", "receive") or (
            op == "jetstream" and self.jetstream is not None and self.jetstream.consume
        )
        if "json_" in self.model_fields_set and self.data is not None:
            raise HintedValueError("give `data` or `json`, not both")
        for key in ("data", "json", "headers"):
            if not sends and (key if key != "json" else "json_") in self.model_fields_set:
                raise HintedValueError(
                    f"`{key}` is what a publish or request sends",
                    f"remove `{key}` from this {op} step",
                )
        if not waits and "count" in self.model_fields_set:
            raise HintedValueError("`count` belongs to subscribe, receive and jetstream consume")
        for key in ("wait", "as_", "queue"):
            if op != "subscribe" and key in self.model_fields_set:
                name = key.rstrip("_")
                raise HintedValueError(
                    f"`{name}` belongs to subscribe", f"remove `{name}` from this {op} step"
                )
        if self.as_ is not None and self.wait:
            raise HintedValueError(
                "`as` names a subscription that runs on after this step; `wait: true` "
                "collects its messages here",
                "remove `wait: true`, then `receive:` later",
            )
        return self


class NatsExecutor:
    """Publishes, subscribes, requests and uses JetStream; messages are the result."""

    name: ClassVar[str] = "nats"
    block_model: ClassVar[type[NatsBlock]] = NatsBlock
    result_fields: ClassVar[dict[str, str]] = {
        "messages": "messages received: each {subject, data, json, headers}",
        "message": "the first message received (null when none)",
        "json": "the first message's data parsed as JSON (null when it is not JSON)",
        "data": "the first message's data as text",
        "headers": "the first message's headers",
        "count": "how many messages were received",
        "reply": "the answer to a request: {subject, data, json, headers}",
        "subscription": "the name of a subscription started to receive later",
        "ack": "a JetStream publish's acknowledgement: {stream, seq, duplicate}",
        "stream": "a stream after create_stream or purge_stream: {name, subjects, messages}",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        for op in _OPERATIONS:
            if op in block:
                value = block[op]
                if isinstance(value, dict):
                    verb = next(iter(value), "")
                    return f"nats jetstream {verb} {value.get(verb, '')}".strip()
                return f"nats {op} {value}"
        return "nats"

    def execute(self, block: NatsBlock, ctx: StepContext) -> StepOutput:
        timeout = m.wait_timeout(block, ctx)
        if block.receive is not None:
            return self._receive(block, ctx, timeout)
        where = m.target(
            ctx, block.service, block.url, ("nats", "tls"), "NATS", use_prefix=block.prefix
        )
        session = session_for(ctx)
        client = session.connection(where.url, ctx)
        data = m.payload(block.data, block.json_, "json_" in block.model_fields_set)
        headers = {k: _text(v) for k, v in block.headers.items()} or None
        request = {
            "url": m.redact(where.url),
            "prefix": where.prefix or None,
            **block.model_dump(by_alias=True, exclude_defaults=True, exclude={"service", "url"}),
        }
        result = _empty()
        try:
            if block.publish is not None:
                subject = where.prefix + block.publish

                async def publish() -> None:
                    await client.publish(subject, data, headers=headers)
                    await client.flush(timeout)  # sent before the next step starts

                session.run(publish, timeout, ctx)
            elif block.subscribe is not None:
                result.update(
                    self._subscribe(
                        block, ctx, session, client, prefix=where.prefix, timeout=timeout
                    )
                )
            elif block.request is not None:
                subject = where.prefix + block.request
                answer = session.run(
                    lambda: client.request(subject, data, timeout=timeout, headers=headers),
                    timeout + 1.0,
                    ctx,
                )
                reply = _message(answer, where.prefix)
                result.update(
                    m.messages_result([reply], "data"), reply=reply, headers=reply["headers"]
                )
            else:
                assert block.jetstream is not None
                js = block.jetstream
                out = session.run(
                    lambda: run_jetstream(
                        client,
                        js,
                        prefix=where.prefix,
                        data=data,
                        headers=headers,
                        count=block.count,
                        timeout=timeout,
                    ),
                    timeout + 2.0,
                    ctx,
                )
                if "messages" in out:
                    got = out.pop("messages")
                    if block.count and len(got) < block.count:
                        raise m.missing(f"stream {js.consume}", len(got), block.count, timeout)
                    result.update(_with_headers(m.messages_result(got, "data")))
                result.update(out)
        except StepError:
            raise
        except Exception as exc:
            raise _explain(exc, block, timeout) from exc
        return StepOutput(result, request, _response(result))

    def _subscribe(
        self,
        block: NatsBlock,
        ctx: StepContext,
        session: NatsSession,
        client: Any,
        *,
        prefix: str,
        timeout: float,
    ) -> dict[str, Any]:
        assert block.subscribe is not None
        inbox = m.Inbox()
        subject = prefix + block.subscribe

        async def on_message(msg: Any) -> None:
            inbox.put(_message(msg, prefix))

        async def start() -> Any:
            sub = await client.subscribe(subject, queue=block.queue or "", cb=on_message)
            await client.flush(timeout)  # the server knows the subscription from now on
            return sub

        sub = session.run(start, timeout, ctx)

        def stop() -> None:
            if not session.loop.is_closed():
                session.run(sub.unsubscribe, 2.0, ctx)

        if m.background(block):
            name = block.as_ or block.subscribe
            m.keep(ctx.session, "nats", m.Handle(name, block.subscribe, inbox, stop, prefix))
            return {"subscription": name}
        try:
            got = inbox.take(block.count, timeout, ctx.cancelled)
        finally:
            stop()
        if block.count and len(got) < block.count:
            raise m.missing(block.subscribe, len(got), block.count, timeout, prefix)
        return _with_headers(m.messages_result(got, "data"))

    def _receive(self, block: NatsBlock, ctx: StepContext, timeout: float) -> StepOutput:
        assert block.receive is not None
        handle = m.lookup(ctx.session, "nats", block.receive)
        got = handle.inbox.take(block.count, timeout, ctx.cancelled)
        if block.count and len(got) < block.count:
            raise m.missing(handle.what, len(got), block.count, timeout, handle.prefix)
        result = {**_empty(), **_with_headers(m.messages_result(got, "data"))}
        request = {"receive": block.receive, "subject": handle.what, "count": block.count}
        return StepOutput(result, request, _response(result))


def _empty() -> dict[str, Any]:
    return {
        "messages": [],
        "message": None,
        "json": None,
        "data": None,
        "headers": None,
        "count": 0,
        "reply": None,
        "subscription": None,
        "ack": None,
        "stream": None,
    }


def _with_headers(result: dict[str, Any]) -> dict[str, Any]:
    first = result.get("message")
    return {**result, "headers": first["headers"] if first else None}


def _message(msg: Any, prefix: str) -> dict[str, Any]:
    text, parsed = m.decode(msg.data)
    return {
        "subject": m.strip(prefix, msg.subject),
        "data": text,
        "json": parsed,
        "headers": dict(msg.headers or {}),
    }


def _response(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if v not in (None, [])}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _explain(exc: Exception, block: NatsBlock, timeout: float) -> StepError:
    import nats.errors

    if block.jetstream is not None:
        found = explain_jetstream(exc, block.jetstream)
        if found is not None:
            return found
    if isinstance(exc, nats.errors.NoRespondersError):
        return StepError(
            f"no one answers requests on {block.request}",
            "start the service that handles this subject before the request",
        )
    if isinstance(exc, TimeoutError):
        what = (
            f"no reply to the request on {block.request}"
            if block.request
            else "NATS did not answer"
        )
        return StepError(f"{what} within {timeout:g}s", "raise `timeout:` if it is slow")
    if isinstance(exc, nats.errors.BadSubjectError):
        return StepError(
            "invalid subject: subjects are dot-separated tokens without spaces",
            "e.g. orders.created, orders.*, orders.>",
        )
    if isinstance(exc, nats.errors.MaxPayloadError):
        return StepError("the message is larger than the server's max_payload")
    reason = str(exc) or type(exc).__name__
    return StepError(f"nats step failed: {reason}")
