"""The `kafka` executor: produce, consume (from offsets or as a group) and a group's lag,
with confluent-kafka (librdkafka).

- kafka: {service: bus, produce: {topic: orders, key: "7", json: {id: 7}}}
- kafka: {service: bus, consume: {topic: orders, from: beginning, timeout: 5s}}
  expect: {key: "7", json: {id: 7}}
- kafka: {service: bus, group: {name: shop-worker, topic: orders}}
  expect: {lag: 0}

A consume waits until a message matching the step's `expect` (its message fields: key,
json, headers, ...) arrives, skipping the others, and lists what came instead when time
runs out. Under isolation `prefix`, topic and group names get the testcase's prefix
(`prefix: false` keeps them as written).

With a schema registry (the service's `schema_registry_url`, or the step's
`schema_registry:`), a produce takes `avro:` / `json_schema:` values, and a consume decodes
registry-framed values to `json` (see `_kafka_values`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from splice._internal.errors import StepError
from splice._internal.executors import _kafka_clients as kc
from splice._internal.executors import _messages as m
from splice._internal.executors._kafka_avro import ValuePath
from splice._internal.executors._kafka_consume import (
    Outcome,
    Wanted,
    consume,
    decode,
    ends_now,
)
from splice._internal.executors._kafka_groups import describe as describe_group
from splice._internal.executors._kafka_values import Decoder, Encoding, encode, no_registry
from splice._internal.executors._kafka_values import check as check_value
from splice._internal.executors.executor_api import Block, BlockProblem, StepContext, StepOutput
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError
from splice._internal.templating import is_template

_OPERATIONS = ("produce", "consume", "group")
_SCALAR = str | int | float | bool
_VALUES = ("value", "json_", "base64_", "avro", "json_schema")
# where a registry value's schema comes from; on `produce` with `messages`, for every message
_SCHEMA_KEYS = ("schema_", "subject", "schema_id", "version", "register_")


def _key(name: str) -> str:
    return name.rstrip("_")


class Message(Block):
    """One message to produce."""

    key: str | int | None = None
    value: str | None = None
    json_: Any = Field(default=None, alias="json")
    base64_: str | None = Field(default=None, alias="base64")  # raw bytes, base64-encoded
    avro: Any = None  # encoded with an Avro schema of the registry
    json_schema: Any = None  # checked against a JSON Schema of the registry
    schema_: Any = Field(default=None, alias="schema")  # inline, or a file
    subject: str | None = None  # default: TOPIC-value
    schema_id: int | None = Field(default=None, ge=1)
    version: int | Literal["latest"] | None = None
    register_: bool = Field(default=True, alias="register")
    headers: dict[str, _SCALAR | None] = {}
    partition: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_value(self) -> Message:
        given = [k for k in _VALUES if k in self.model_fields_set]
        if len(given) > 1:
            names = " and ".join(f"`{_key(k)}`" for k in given)
            raise HintedValueError(
                f"a message has one value, found {names}",
                "give one of value, json, base64, avro, json_schema",
            )
        if not isinstance(self, Produce) or self.messages is None:
            _schema_keys(self, given)
        if self.base64_ is not None:
            try:
                base64.b64decode(self.base64_, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise HintedValueError(
                    "`base64` is not valid base64", "write the bytes base64-encoded, e.g. AAEC"
                ) from exc
        return self

    def encoding(self, path: ValuePath, defaults: Message | None = None) -> Encoding | None:
        """How an `avro`/`json_schema` value is written (None for the other values);
        `defaults` gives the schema keys this message does not set itself."""
        key = next((k for k in ("avro", "json_schema") if k in self.model_fields_set), None)
        if key is None:
            return None
        own = {k for k in _SCHEMA_KEYS if k in self.model_fields_set}
        source = self if own or defaults is None else defaults
        return Encoding(
            key=key,
            value=getattr(self, key),
            path=(*path, key),
            schema=source.schema_,
            subject=source.subject,
            schema_id=source.schema_id,
            version=source.version,
            register=source.register_,
        )

    def payload(self) -> bytes | None:
        if "json_" in self.model_fields_set:
            return json.dumps(self.json_, ensure_ascii=False).encode()
        if self.base64_ is not None:
            return base64.b64decode(self.base64_)
        return None if self.value is None else self.value.encode()


class Produce(Message):
    topic: str
    messages: list[Message] | None = None  # several, in order (each may set its partition)

    @model_validator(mode="after")
    def _messages_alone(self) -> Produce:
        own = self.model_fields_set - {"topic", "messages", *_SCHEMA_KEYS}
        if self.messages is not None and own:
            raise HintedValueError(
                "`messages` lists every message; the keys of one message go inside it",
                f"move {', '.join(sorted(_key(k) for k in own))} into the items",
            )
        if self.messages is not None:
            given = {k for k in _SCHEMA_KEYS if k in self.model_fields_set}
            if given:
                _schema_source(self)
                if not any(m.encoding(()) for m in self.messages):
                    raise HintedValueError(
                        f"{', '.join(f'`{_key(k)}`' for k in sorted(given))} describe the schema "
                        "of `avro` or `json_schema` values, and no message has one"
                    )
        return self


def _schema_keys(message: Message, values: list[str]) -> None:
    """The schema keys of one message make sense with its value."""
    given = sorted(k for k in _SCHEMA_KEYS if k in message.model_fields_set)
    if given and not any(v in ("avro", "json_schema") for v in values):
        raise HintedValueError(
            f"{', '.join(f'`{_key(k)}`' for k in given)} describe the schema of an `avro` or "
            "`json_schema` value",
            "give the value under `avro:` or `json_schema:`, or drop "
            + ", ".join(f"`{_key(k)}`" for k in given),
        )
    _schema_source(message)


def _schema_source(message: Message) -> None:
    """At most one of schema, schema_id, version; subject and register where they apply."""
    sources = [k for k in ("schema_", "schema_id", "version") if k in message.model_fields_set]
    if len(sources) > 1:
        raise HintedValueError(
            f"a value has one schema, found {' and '.join(f'`{_key(k)}`' for k in sources)}",
            "give `schema` (registered under the subject), `schema_id` (an existing schema) "
            "or `version` (of the subject)",
        )
    fields = message.model_fields_set
    if "subject" in fields and "schema_id" in fields:
        raise HintedValueError(
            "`schema_id` names a schema without a subject", "drop `subject`, or give `version`"
        )
    if "register_" in fields and "schema_" not in fields:
        raise HintedValueError(
            "`register` says whether the step's own `schema` is registered",
            "give `schema`, or drop `register`",
        )


class Consume(Block):
    topic: str | list[str]
    from_: Literal["beginning", "end"] | int = Field(default="beginning", alias="from")
    partition: int | None = Field(default=None, ge=0)
    group: str | None = None  # read as a member of this consumer group
    commit: bool = True  # as a group: commit the offsets of what was read
    count: int = Field(default=1, ge=0)  # 0: every message up to the end, no waiting
    timeout: str | float | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Consume:
        if self.group is not None:
            if isinstance(self.from_, int):
                raise HintedValueError(
                    "a group reads from its committed offsets; `from` can only say where a "
                    "new group starts",
                    "write `from: beginning` or `from: end`; drop `group` to read from an offset",
                )
            if self.partition is not None:
                raise HintedValueError(
                    "a group member reads the partitions the group gives it",
                    "drop `partition`, or drop `group` to read one partition",
                )
            if self.count == 0:
                raise HintedValueError(
                    "`count: 0` reads up to the end of each partition, which a group "
                    "member does not know before it is assigned its partitions",
                    "give a count, or drop `group`",
                )
        elif "commit" in self.model_fields_set:
            raise HintedValueError("`commit` belongs to a consume with `group`")
        return self


class Group(Block):
    name: str
    topic: str | list[str] | None = None  # default: every topic the group committed to


class KafkaBlock(Block):
    service: str | None = None
    url: str | None = None
    prefix: bool = True
    # a registry's URL instead of the service's `schema_registry_url`; false: none
    schema_registry: bool | str | None = None
    produce: Produce | None = None
    consume: Consume | None = None
    group: Group | None = None

    @field_validator("schema_registry")
    @classmethod
    def _registry(cls, value: Any) -> Any:
        if value is True:
            raise HintedValueError(
                "a step's `schema_registry` is a registry's URL, or false for none",
                "`schema_registry: true` belongs to the kafka service, which then runs one",
            )
        if isinstance(value, str) and not is_template(value):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise HintedValueError(
                    f"{value!r} is not an http:// or https:// URL",
                    "write the registry's URL, e.g. http://127.0.0.1:8081",
                )
        return value

    @model_validator(mode="after")
    def _one_operation(self) -> KafkaBlock:
        given = [op for op in _OPERATIONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise HintedValueError(
                "a kafka step does one thing" + (f", found {' and '.join(given)}" if given else ""),
                "give one of: " + ", ".join(_OPERATIONS),
            )
        return self


class KafkaExecutor:
    """Produces and consumes Kafka messages and reads consumer groups' offsets."""

    name: ClassVar[str] = "kafka"
    # its driver, imported while a run's services start (executors.warming)
    warm_modules: ClassVar[tuple[str, ...]] = ("confluent_kafka",)
    block_model: ClassVar[type[KafkaBlock]] = KafkaBlock
    result_fields: ClassVar[dict[str, str]] = {
        "messages": "messages consumed (produce: sent): each {topic, partition, offset, key, "
        "value, json, base64, headers, timestamp, schema_id}",
        "message": "the first of them (null when none)",
        "key": "the first message's key as text (null: no key)",
        "value": "the first message's value as text",
        "json": "the first message's value parsed as JSON (null when it is not JSON)",
        "headers": "the first message's headers {name: text}",
        "topic": "the first message's topic (without the testcase's prefix)",
        "partition": "the first message's partition",
        "offset": "the first message's offset",
        "timestamp": "the first message's timestamp (milliseconds since the epoch)",
        "schema_id": "the first message's schema id (a registry-framed value; null otherwise)",
        "count": "messages consumed or produced",
        "skipped": "messages a consume read that did not match `expect`",
        "group": "group: the group's name",
        "state": "group: its state (stable, empty, ...; null when the broker does not say)",
        "members": "group: how many members it has",
        "committed": "group: committed offsets {topic: {partition: offset}}",
        "end": "group: end offsets of its partitions {topic: {partition: offset}}",
        "lag": "group: messages not yet committed, over all its partitions",
        "lag_by_partition": "group: {topic: {partition: lag}}",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        for op in _OPERATIONS:
            value = block.get(op)
            if isinstance(value, dict):
                target = value.get("topic") if op != "group" else value.get("name")
                if isinstance(target, list):
                    target = ",".join(map(str, target))
                return f"kafka {op} {target or ''}".strip()
        return "kafka"

    @staticmethod
    def check(block: dict[str, Any], base_dir: Path) -> list[BlockProblem]:
        """At load time, for `avro`/`json_schema` values whose schema the step gives
        (inline or a file): the schema is valid and the value fits it. Values and
        schemas with templates are left to the run."""
        if not isinstance(block.get("produce"), dict):
            return []
        try:
            spec = KafkaBlock.model_validate(block).produce
        except ValueError:
            return []
        assert spec is not None
        if spec.messages is None:
            items: list[tuple[ValuePath, Message]] = [(("produce",), spec)]
        else:
            items = [(("produce", "messages", i), m) for i, m in enumerate(spec.messages)]
        found = []
        for path, item in items:
            wanted = item.encoding(path, spec if spec.messages is not None else None)
            if wanted is None or wanted.schema is None:
                continue
            if _templated(wanted.value) or _templated(wanted.schema):
                continue
            problem = check_value(base_dir, wanted)
            if problem is not None:
                found.append(problem)
        return found

    def ends(self, block: KafkaBlock, ctx: StepContext) -> dict[tuple[str, int], int]:
        """Where each partition of a consume block's topics ends now: given back to
        `execute` as `starts`, the consume reads only the messages written in between
        (what a trigger published, not what an earlier testcase left on the topic)."""
        assert block.consume is not None
        where = m.target(
            ctx, block.service, block.url, ("kafka", "kafkas"), "Kafka", use_prefix=block.prefix
        )
        found = (ctx.vars.get("services") or {}).get(where.service or "", {})
        bootstrap = str(found.get("bootstrap") or _bootstrap(where.url))
        topic = block.consume.topic
        topics = [where.prefix + t for t in ([topic] if isinstance(topic, str) else topic)]
        return ends_now(ctx, bootstrap, topics, ctx.timeout or m.DEFAULT_WAIT)

    def execute(
        self,
        block: KafkaBlock,
        ctx: StepContext,
        *,
        starts: Mapping[tuple[str, int], int] | None = None,
    ) -> StepOutput:
        """Run the step; `starts` (from `ends`) makes a consume read from those offsets."""
        where = m.target(
            ctx, block.service, block.url, ("kafka", "kafkas"), "Kafka", use_prefix=block.prefix
        )
        found = (ctx.vars.get("services") or {}).get(where.service or "", {})
        bootstrap = str(found.get("bootstrap") or _bootstrap(where.url))
        session_ms = int(found.get("group_session_timeout_ms") or 6000)
        registry = _registry_url(block, found)
        request: dict[str, Any] = {
            "bootstrap": bootstrap,
            "prefix": where.prefix or None,
            **block.model_dump(by_alias=True, exclude_defaults=True, exclude={"service", "url"}),
        }
        kc.driver()
        if block.produce is not None:
            result = _produce(ctx, bootstrap, block.produce, where.prefix, registry, where.service)
        elif block.consume is not None:
            spec = block.consume
            timeout = (
                parse_duration(spec.timeout)
                if spec.timeout is not None
                else (ctx.timeout if ctx.timeout is not None else m.DEFAULT_WAIT)
            )
            wanted = Wanted(
                topics=[spec.topic] if isinstance(spec.topic, str) else list(spec.topic),
                prefix=where.prefix,
                start=spec.from_,
                partition=spec.partition,
                group=spec.group,
                commit=spec.commit,
                count=spec.count,
                timeout=timeout,
                session_ms=session_ms,
                values=Decoder(ctx, registry) if registry else None,
                starts=starts,
            )
            result = _consumed(consume(ctx, bootstrap, wanted))
        else:
            assert block.group is not None
            topics = block.group.topic
            names = [] if topics is None else [topics] if isinstance(topics, str) else topics
            result = {
                **_empty(),
                **describe_group(
                    ctx,
                    bootstrap,
                    where.prefix + block.group.name,
                    [where.prefix + t for t in names],
                    prefix=where.prefix,
                    timeout=ctx.timeout or m.DEFAULT_WAIT,
                ),
            }
        response = {k: v for k, v in result.items() if v not in (None, [], {}) and k != "messages"}
        if result.get("messages"):
            response["messages"] = [_brief(x) for x in result["messages"][:3]]
        return StepOutput(result, request, response)


def _templated(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_templated(k) or _templated(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return isinstance(value, str) and is_template(value)


def _registry_url(block: KafkaBlock, service: Any) -> str | None:
    """The registry a step uses: its own `schema_registry`, else the service's."""
    if block.schema_registry is False:
        return None
    if isinstance(block.schema_registry, str):
        return block.schema_registry.rstrip("/")
    found = service.get("schema_registry_url") if isinstance(service, Mapping) else None
    return str(found) if found else None


def _bootstrap(url: str) -> str:
    return url.partition("://")[2].rstrip("/")


def _empty() -> dict[str, Any]:
    return dict.fromkeys(KafkaExecutor.result_fields) | {
        "messages": [],
        "count": 0,
        "skipped": 0,
    }


def _first(messages: list[dict[str, Any]]) -> dict[str, Any]:
    first = messages[0] if messages else {}
    out = {name: first.get(name) for name in ("key", "value", "json", "headers", "topic")}
    out.update(
        {name: first.get(name) for name in ("partition", "offset", "timestamp", "schema_id")}
    )
    return {
        **_empty(),
        **out,
        "messages": messages,
        "message": first or None,
        "count": len(messages),
    }


def _consumed(outcome: Outcome) -> dict[str, Any]:
    return {**_first(outcome.matched), "skipped": outcome.skipped_count}


def _brief(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("base64", "json") and v not in (None, {})}


def _produce(  # noqa: PLR0917 - private; each argument is one part of the step
    ctx: StepContext,
    bootstrap: str,
    spec: Produce,
    prefix: str,
    registry: str | None,
    service: str | None,
) -> dict[str, Any]:
    topic = prefix + spec.topic
    items = spec.messages if spec.messages is not None else [spec]
    # values are encoded before anything is sent: a value that does not fit its schema
    # fails the step with nothing written
    payloads = []
    encoded = []
    for index, item in enumerate(items):
        path: ValuePath = ("messages", index) if spec.messages is not None else ()
        wanted = item.encoding(path, spec if spec.messages is not None else None)
        encoded.append(wanted is not None)
        if wanted is None:
            payloads.append(item.payload())
        elif registry is None:
            raise no_registry(service, wanted.key)
        else:
            payloads.append(encode(ctx, registry, wanted, topic)[0])
    producer, problems = kc.producer(ctx, bootstrap)
    delivered: list[tuple[int, Any, Any]] = []
    for index, item in enumerate(items):
        headers = [(k, None if v is None else _text(v).encode()) for k, v in item.headers.items()]
        key = None if item.key is None else str(item.key).encode()
        extra = {"partition": item.partition} if item.partition is not None else {}
        try:
            producer.produce(
                topic,
                value=payloads[index],
                key=key,
                headers=headers or None,
                on_delivery=lambda error, message, i=index: delivered.append((i, error, message)),
                **extra,
            )
        except BufferError as exc:  # pragma: no cover - a full local queue
            raise StepError(f"the producer's queue is full: {exc}") from exc
        except kc.driver().KafkaException as exc:
            raise StepError(f"could not produce to {spec.topic!r}: {exc.args[0].str()}") from exc
    timeout = ctx.timeout if ctx.timeout is not None else m.DEFAULT_WAIT

    def step(slice_: float) -> None:
        producer.poll(slice_)

    if not kc.wait(ctx, timeout, lambda: len(delivered) == len(items), step, problems, "producing"):
        reason = problems.last()
        raise StepError(
            f"the broker did not acknowledge the message(s) to {spec.topic!r} within {timeout:g}s"
            + (f": {reason}" if reason else ""),
            "check that the broker runs; raise the step's `timeout:` if it is slow",
        )
    delivered.sort(key=lambda found: found[0])
    for _, error, _message in delivered:
        if error is not None:
            raise StepError(
                f"could not produce to {spec.topic!r}: {error.str()}",
                _produce_hint(error, spec),
            )
    # the values this step encoded are shown decoded; other bytes as they are
    values = Decoder(ctx, registry) if registry else None
    return _first(
        [
            decode(message, topic, prefix, values if encoded[i] else None)
            for i, _, message in delivered
        ]
    )


def _produce_hint(error: Any, spec: Produce) -> str | None:
    name = error.name()
    if name in ("_UNKNOWN_PARTITION", "UNKNOWN_TOPIC_OR_PART"):
        return (
            f"topic {spec.topic!r} has no such partition, or does not exist; declare it "
            "under the service's `topics:` with enough partitions"
        )
    if name == "MSG_SIZE_TOO_LARGE":
        return "the message is larger than the broker's message.max.bytes"
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
