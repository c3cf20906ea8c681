"""Service kinds through the `splice.services` entry-point group, loaded lazily."""

from __future__ import annotations

import functools
from typing import Any

from splice._internal.errors import SpliceError
from splice._internal.plugin_targets import PluginTargets, load
from splice._internal.services.kind_api import ServiceKind

GROUP = "splice.services"

_BUILTIN = {
    "postgres": "splice._internal.services.kinds.postgres:PostgresKind",
    "mysql": "splice._internal.services.kinds.mysql:MysqlKind",
    "mariadb": "splice._internal.services.kinds.mysql:MariadbKind",
    "redis": "splice._internal.services.kinds.redis:RedisKind",
    "rabbitmq": "splice._internal.services.kinds.rabbitmq:RabbitmqKind",
    "nats": "splice._internal.services.kinds.nats:NatsKind",
    "mqtt": "splice._internal.services.kinds.mqtt:MqttKind",
    "kafka": "splice._internal.services.kinds.kafka:KafkaKind",
    "grpc-mock": "splice._internal.services.kinds.grpc_mock:GrpcMockKind",
    "process": "splice._internal.services.kinds.process:ProcessKind",
    "mock": "splice._internal.services.kinds.mock:MockKind",
}


class KindError(SpliceError):
    """A service-kind plugin could not be loaded or does not implement the API."""


_TARGETS = PluginTargets(GROUP, _BUILTIN)


def known(name: str) -> bool:
    """Whether `name` is registered (a built-in is, without reading entry points)."""
    return _TARGETS.known(name)


def register(name: str, target: str | type) -> None:
    """Make `target` (a class, or "module:Class") the one registered under `name`, as an
    entry point of the group would (for a program that embeds splice)."""
    _TARGETS.register(name, target)
    reset()


def names() -> list[str]:
    return sorted(_TARGETS.all())


@functools.cache
def get(name: str) -> ServiceKind:
    """The kind registered under `name` (one shared instance); KeyError when none is."""
    target = _TARGETS.target(name)
    try:
        cls: Any = load(target)
    except Exception as exc:
        raise KindError(f"service kind {name!r} ({target}) failed to load: {exc}") from exc
    missing = [a for a in ("settings_model", "providers", "start_local") if not hasattr(cls, a)]
    if missing:
        raise KindError(
            f"service kind {name!r} ({target}) does not implement the kind API: "
            f"missing {', '.join(missing)}"
        )
    return cls()  # type: ignore[no-any-return]


def reset() -> None:
    _TARGETS.forget()
    get.cache_clear()
