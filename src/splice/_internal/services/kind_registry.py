"""Service kinds through the `splice.services` entry-point group, loaded lazily."""

from __future__ import annotations

import functools
from typing import Any

from splice._internal.errors import SpliceError
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


_REGISTERED: dict[str, Any] = {}  # by `register`: these win over entry points


@functools.cache
def _targets() -> dict[str, Any]:
    """Every registered name: the plugins' entry points, then the built-ins (which win over
    a plugin of the same name), then what a program registered (`register`). A built-in is
    found without reading entry points (`_target`): importing importlib.metadata and
    scanning them costs a short run ~20 ms."""
    from importlib.metadata import entry_points

    targets: dict[str, Any] = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    targets.update(_BUILTIN)
    targets.update(_REGISTERED)
    return targets


def _target(name: str) -> Any:
    if name in _REGISTERED:
        return _REGISTERED[name]
    return _BUILTIN.get(name) or _targets()[name]


def known(name: str) -> bool:
    """Whether `name` is registered (a built-in is, without reading entry points)."""
    return name in _REGISTERED or name in _BUILTIN or name in _targets()


def register(name: str, target: str | type) -> None:
    """Make the service kind `target` (a class, or "module:Class") the kind `name`, as an
    entry point of the group `services` would (for a program that embeds splice)."""
    _REGISTERED[name] = target
    reset()


def names() -> list[str]:
    return sorted(_targets())


@functools.cache
def get(name: str) -> ServiceKind:
    """The kind registered under `name` (one shared instance); KeyError when none is."""
    target = _target(name)
    try:
        cls: Any = target if not isinstance(target, str) else _load(target)
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
    _targets.cache_clear()
    get.cache_clear()


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr or "_"])
    return getattr(module, attr) if attr else module
