"""The `jetstream:` part of the nats executor: streams, acknowledged publishing, pull
consuming. Coroutines that run on the attempt's event loop (see `_nats_session`).

Under isolation `prefix` (subject prefix `t3.`), subjects get the prefix and stream
names get `t3_`, so parallel testcases have their own streams; the kind deletes a
testcase's streams when it ends. Results show names as the step wrote them.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Literal

from pydantic import model_validator

from splice._internal.errors import StepError
from splice._internal.executors._messages import decode, strip
from splice._internal.executors.executor_api import Block
from splice._internal.source.validation import HintedValueError

_VERBS = ("create_stream", "delete_stream", "purge_stream", "publish", "consume")


class JetStreamBlock(Block):
    """One JetStream operation."""

    create_stream: str | None = None
    delete_stream: str | None = None
    purge_stream: str | None = None
    publish: str | None = None
    consume: str | None = None  # the stream to pull from
    subjects: list[str] | None = None  # create_stream; default: the stream's name
    storage: Literal["file", "memory"] = "file"
    durable: str | None = None  # consume: a durable consumer that remembers its place
    filter: str | None = None  # consume: only messages on this subject
    deliver: Literal["all", "new", "last"] = "all"  # consume: where a new consumer starts
    ack: bool = True  # consume: acknowledge what was received

    @model_validator(mode="after")
    def _one_verb(self) -> JetStreamBlock:
        given = [v for v in _VERBS if getattr(self, v) is not None]
        if len(given) != 1:
            raise HintedValueError(
                "a jetstream step does one thing"
                + (f", found {' and '.join(given)}" if given else ""),
                "give one of: " + ", ".join(_VERBS),
            )
        extra = {"subjects": "create_stream", "durable": "consume", "filter": "consume"}
        for key, verb in extra.items():
            if getattr(self, key) is not None and getattr(self, verb) is None:
                raise HintedValueError(f"`{key}` belongs to `{verb}`", f"remove `{key}`")
        return self

    def verb(self) -> str:
        return next(v for v in _VERBS if getattr(self, v) is not None)


def stream_name(prefix: str, name: str) -> str:
    """Stream names cannot hold dots: prefix `t3.` becomes `t3_`."""
    return f"{prefix.rstrip('.').replace('.', '_')}_{name}" if prefix else name


def _stream_prefix(prefix: str) -> str:
    return stream_name(prefix, "")


def _stream_info(info: Any, prefix: str) -> dict[str, Any]:
    config = info.config
    return {
        "name": strip(_stream_prefix(prefix), config.name),
        "subjects": [strip(prefix, s) for s in (config.subjects or [])],
        "messages": info.state.messages,
    }


async def run(
    nc: Any,
    block: JetStreamBlock,
    *,
    prefix: str,
    data: bytes,
    headers: dict[str, str] | None,
    count: int,
    timeout: float,
) -> dict[str, Any]:
    """Perform the operation; the result fields it sets (stream, ack, messages)."""
    from nats.js import api
    from nats.js.errors import BadRequestError, NotFoundError

    js = nc.jetstream(timeout=timeout)
    verb = block.verb()
    if verb == "create_stream":
        assert block.create_stream is not None
        name = stream_name(prefix, block.create_stream)
        config = api.StreamConfig(
            name=name,
            subjects=[prefix + s for s in (block.subjects or [block.create_stream])],
            storage=api.StorageType.MEMORY if block.storage == "memory" else api.StorageType.FILE,
        )
        try:
            info = await js.add_stream(config)
        except BadRequestError:  # it exists with another configuration: change it
            info = await js.update_stream(config)
        return {"stream": _stream_info(info, prefix)}
    if verb == "delete_stream":
        assert block.delete_stream is not None
        # already gone is fine: deleting is idempotent, so clean-up steps can repeat
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream_name(prefix, block.delete_stream))
        return {"stream": None}
    if verb == "purge_stream":
        assert block.purge_stream is not None
        name = stream_name(prefix, block.purge_stream)
        await js.purge_stream(name)
        return {"stream": _stream_info(await js.stream_info(name), prefix)}
    if verb == "publish":
        assert block.publish is not None
        ack = await js.publish(prefix + block.publish, data, timeout=timeout, headers=headers)
        return {
            "ack": {
                "stream": strip(_stream_prefix(prefix), ack.stream),
                "seq": ack.seq,
                "duplicate": bool(ack.duplicate),
            }
        }
    return {"messages": await _consume(js, block, prefix, count, timeout)}


async def _consume(
    js: Any, block: JetStreamBlock, prefix: str, count: int, timeout: float
) -> list[dict[str, Any]]:
    import nats.errors
    from nats.js import api

    assert block.consume is not None
    stream = stream_name(prefix, block.consume)
    policy = {
        "all": api.DeliverPolicy.ALL,
        "new": api.DeliverPolicy.NEW,
        "last": api.DeliverPolicy.LAST,
    }[block.deliver]
    config = api.ConsumerConfig(deliver_policy=policy, ack_policy=api.AckPolicy.EXPLICIT)
    subject = prefix + block.filter if block.filter else ""
    sub = await js.pull_subscribe(subject, durable=block.durable, stream=stream, config=config)
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while count == 0 or len(messages) < count:
            left = deadline - time.monotonic()
            if left < 0.01:
                break
            want = count - len(messages) if count else 256
            try:
                batch = await sub.fetch(want, timeout=left)
            except nats.errors.TimeoutError:
                break
            for msg in batch:
                if block.ack:
                    await msg.ack()
                text, parsed = decode(msg.data)
                messages.append(
                    {
                        "subject": strip(prefix, msg.subject),
                        "data": text,
                        "json": parsed,
                        "headers": dict(msg.headers or {}),
                        "seq": msg.metadata.sequence.stream,
                    }
                )
    finally:
        if block.durable is None:  # an ephemeral consumer would linger for a while
            info = await sub.consumer_info()
            await sub.unsubscribe()
            await js.delete_consumer(stream, info.name)
        else:
            await sub.unsubscribe()
    return messages


def explain(exc: Exception, block: JetStreamBlock) -> StepError | None:
    """A StepError for the JetStream errors a user causes, or None."""
    from nats.errors import NoRespondersError
    from nats.js.errors import NoStreamResponseError, NotFoundError, ServiceUnavailableError

    verb = block.verb()
    if isinstance(exc, NotFoundError) and verb in ("consume", "purge_stream"):
        name = block.consume or block.purge_stream
        return StepError(
            f"there is no stream {name!r}",
            "create it first: `jetstream: {create_stream: NAME, subjects: [...]}`",
        )
    if isinstance(exc, NoRespondersError | NoStreamResponseError | ServiceUnavailableError):
        if verb == "publish":
            return StepError(
                f"no stream stores subject {block.publish!r} (or JetStream is off)",
                "create a stream whose subjects include it, and run the server with "
                "`jetstream: true`",
            )
        return StepError(
            "JetStream does not answer: is it enabled on this server?",
            "set `jetstream: true` on the nats service",
        )
    if "jetstream" in type(exc).__module__ or type(exc).__name__ == "APIError":
        description = getattr(exc, "description", None) or str(exc)
        return StepError(f"JetStream {verb.replace('_', ' ')} failed: {description}")
    return None
