"""Exchanges, queues and bindings: declared by the amqp executor's `declare` step and by
fixture files of the rabbitmq kind (splice's own shape, or a RabbitMQ definitions export).

Under isolation `prefix`, every name gets the testcase's prefix except the default
exchange (""), server-named queues ("") and the reserved `amq.*` names; routing keys are
patterns, not names, so they are left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from splice._internal.services.kinds.rabbitmq.client import AmqpProblem, channel_problem

EXCHANGE_TYPES = ("direct", "topic", "fanout", "headers")
# keys of a `rabbitmqctl export_definitions` file that AMQP cannot apply; they are skipped
_DEFINITION_EXTRAS = {
    "rabbit_version",
    "rabbitmq_version",
    "product_name",
    "product_version",
    "users",
    "vhosts",
    "permissions",
    "topic_permissions",
    "parameters",
    "global_parameters",
    "policies",
}


class _Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def _named(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class ExchangeSpec(_Strict):
    """One exchange to declare."""

    name: str
    type: str = "direct"
    durable: bool = True
    auto_delete: bool = False
    internal: bool = False
    passive: bool = False  # only check that it exists
    arguments: dict[str, Any] = {}

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        # plugins add types (x-delayed-message, x-consistent-hash), so any x-* is allowed
        if value not in EXCHANGE_TYPES and not value.startswith("x-"):
            raise ValueError(
                f"unknown exchange type {value!r}: expected one of "
                f"{', '.join(EXCHANGE_TYPES)} or a plugin's x-... type"
            )
        return value


class QueueSpec(_Strict):
    """One queue to declare; an empty name asks the broker for a generated one."""

    name: str = ""
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    passive: bool = False
    arguments: dict[str, Any] = {}


class BindingSpec(_Strict):
    """Messages published to `exchange` with a matching key go to a queue or exchange."""

    exchange: str
    queue: str | None = None
    to_exchange: str | None = None
    routing_key: str | list[str] = ""
    arguments: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_destination(self) -> BindingSpec:
        if (self.queue is None) == (self.to_exchange is None):
            raise ValueError("a binding goes to either `queue` or `to_exchange`")
        return self

    def routing_keys(self) -> list[str]:
        return [self.routing_key] if isinstance(self.routing_key, str) else self.routing_key


class Topology(_Strict):
    """What one `declare` step or fixture file declares, in this order."""

    exchanges: list[ExchangeSpec] = Field(default_factory=list)
    queues: list[QueueSpec] = Field(default_factory=list)
    bindings: list[BindingSpec] = Field(default_factory=list)

    # a name alone stands for `{name: ...}`; the input types tell `splice schema` so
    @field_validator("exchanges", mode="before", json_schema_input_type=list[str | ExchangeSpec])
    @classmethod
    def _exchange_names(cls, value: Any) -> Any:
        return [_named(v) for v in value] if isinstance(value, list) else value

    @field_validator("queues", mode="before", json_schema_input_type=list[str | QueueSpec])
    @classmethod
    def _queue_names(cls, value: Any) -> Any:
        return [_named(v) for v in value] if isinstance(value, list) else value

    def empty(self) -> bool:
        return not (self.exchanges or self.queues or self.bindings)


def scoped(prefix: str, name: str) -> str:
    """`name` under the testcase's prefix; the default exchange, generated and `amq.*`
    names are the broker's and stay as they are."""
    if not prefix or not name or name.startswith("amq."):
        return name
    return prefix + name


def unscoped(prefix: str, name: str) -> str:
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def declare(channel: Any, topology: Topology, prefix: str = "") -> dict[str, Any]:
    """Declare everything on `channel`; the result of a `declare` step.

    Raises AmqpProblem naming the object the broker refused (the channel is then closed).
    """
    from pika import exceptions as errors

    made: dict[str, Any] = {"exchanges": [], "queues": {}, "bindings": 0}
    current = ""
    try:
        for ex in topology.exchanges:
            current = f"exchange {ex.name!r}"
            channel.exchange_declare(
                exchange=scoped(prefix, ex.name),
                exchange_type=ex.type,
                passive=ex.passive,
                durable=ex.durable,
                auto_delete=ex.auto_delete,
                internal=ex.internal,
                arguments=ex.arguments or None,
            )
            made["exchanges"].append(ex.name)
        for q in topology.queues:
            current = f"queue {q.name!r}"
            ok = channel.queue_declare(
                queue=scoped(prefix, q.name),
                passive=q.passive,
                durable=q.durable,
                exclusive=q.exclusive,
                auto_delete=q.auto_delete,
                arguments=q.arguments or None,
            )
            name = q.name or ok.method.queue
            made["queues"][name] = {
                "messages": ok.method.message_count,
                "consumers": ok.method.consumer_count,
            }
        for b in topology.bindings:
            target = b.queue if b.queue is not None else b.to_exchange
            current = f"the binding of exchange {b.exchange!r} to {target!r}"
            for key in b.routing_keys():
                if b.queue is not None:
                    channel.queue_bind(
                        queue=scoped(prefix, b.queue),
                        exchange=scoped(prefix, b.exchange),
                        routing_key=key,
                        arguments=b.arguments or None,
                    )
                else:
                    channel.exchange_bind(
                        destination=scoped(prefix, b.to_exchange or ""),
                        source=scoped(prefix, b.exchange),
                        routing_key=key,
                        arguments=b.arguments or None,
                    )
                made["bindings"] += 1
    except errors.ChannelClosedByBroker as exc:
        raise channel_problem(
            exc,
            current,
            hint="declare exchanges and queues before binding them (one `declare` step "
            "declares exchanges, then queues, then bindings)",
        ) from exc
    return made


def delete(channel: Any, names: list[tuple[str, str]]) -> None:
    """Delete (kind, full name) pairs, newest first; ones already gone are fine."""
    from pika import exceptions as errors

    for kind, name in reversed(list(dict.fromkeys(names))):
        try:
            if kind == "queue":
                channel.queue_delete(queue=name)
            else:
                channel.exchange_delete(exchange=name)
        except errors.ChannelClosedByBroker:
            channel = channel.connection.channel()


def created(topology: Topology, prefix: str) -> list[tuple[str, str]]:
    """The (kind, full name) pairs a declare under `prefix` made, for clean-up."""
    out = [("exchange", scoped(prefix, e.name)) for e in topology.exchanges if not e.passive]
    out += [("queue", scoped(prefix, q.name)) for q in topology.queues if q.name and not q.passive]
    return [(kind, name) for kind, name in out if name.startswith(prefix)]


# fixture files -------------------------------------------------------------------------
def load_file(path: Path) -> Topology:
    """A fixture file (YAML or JSON): splice's shape (`exchanges`, `queues`, `bindings`
    as in a `declare` step) or a RabbitMQ definitions export (`rabbitmqctl
    export_definitions`); users, vhosts, permissions and policies of an export are
    skipped, since they are not AMQP's to apply."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise AmqpProblem(f"cannot read fixture file {str(path)!r}: {exc}") from exc
    if data is None:
        return Topology()
    if not isinstance(data, dict):
        raise AmqpProblem(
            f"fixture file {str(path)!r} must be a mapping",
            "write `exchanges:`, `queues:` and `bindings:` lists",
        )
    data = {k: v for k, v in data.items() if k not in _DEFINITION_EXTRAS}
    if _is_export(data):
        data = _from_export(data)
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AmqpProblem(
            f"fixture file {str(path)!r}: {where}: {first['msg']}",
            "see docs/reference/services/rabbitmq.md for the fixture format",
        ) from exc


def _is_export(data: dict[str, Any]) -> bool:
    bindings = data.get("bindings")
    return isinstance(bindings, list) and any(
        isinstance(b, dict) and "source" in b for b in bindings
    )


def _from_export(data: dict[str, Any]) -> dict[str, Any]:
    def strip(item: Any) -> Any:
        return {k: v for k, v in item.items() if k != "vhost"} if isinstance(item, dict) else item

    bindings = []
    for b in data.get("bindings") or []:
        key = "queue" if b.get("destination_type", "queue") == "queue" else "to_exchange"
        bindings.append(
            {
                "exchange": b.get("source", ""),
                key: b.get("destination", ""),
                "routing_key": b.get("routing_key", ""),
                "arguments": b.get("arguments") or {},
            }
        )
    return {
        "exchanges": [strip(e) for e in data.get("exchanges") or []],
        "queues": [
            {k: v for k, v in strip(q).items() if k not in ("type", "node")}
            for q in data.get("queues") or []
        ],
        "bindings": bindings,
    }
