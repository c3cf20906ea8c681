"""Find executors through the `splice.executors` entry-point group, lazily."""

from __future__ import annotations

import functools
from typing import Any

from splice._internal.errors import SpliceError
from splice._internal.executors.executor_api import Executor

GROUP = "splice.executors"

# Built-ins are known even when splice runs from a source tree without installed metadata.
_BUILTIN = {
    "http": "splice._internal.executors.http:HttpExecutor",
    "exec": "splice._internal.executors.exec:ExecExecutor",
    "sql": "splice._internal.executors.sql:SqlExecutor",
    "redis": "splice._internal.executors.redis:RedisExecutor",
    "amqp": "splice._internal.executors.amqp:AmqpExecutor",
    "nats": "splice._internal.executors.nats:NatsExecutor",
    "mqtt": "splice._internal.executors.mqtt:MqttExecutor",
    "kafka": "splice._internal.executors.kafka:KafkaExecutor",
    "grpc": "splice._internal.executors.grpc:GrpcExecutor",
    "graphql": "splice._internal.executors.graphql:GraphqlExecutor",
    "mock": "splice._internal.executors.mock:MockExecutor",
}


class PluginError(SpliceError):
    """A plugin could not be loaded or does not implement the executor API."""


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
    """Make the executor `target` (a class, or "module:Class") the step kind `name`, as an
    entry point of the group `executors` would (for a program that embeds splice)."""
    _REGISTERED[name] = target
    reset()


def names() -> list[str]:
    """Names of every executor available, for `did you mean` hints and docs."""
    return sorted(_targets())


@functools.cache
def get(name: str) -> type[Executor]:
    """The executor class registered under `name`; KeyError when none is."""
    target = _target(name)
    try:
        cls: Any = target if not isinstance(target, str) else _load(target)
    except Exception as exc:
        raise PluginError(f"executor {name!r} ({target}) failed to load: {exc}") from exc
    missing = [a for a in ("block_model", "result_fields", "execute") if not hasattr(cls, a)]
    if missing:
        raise PluginError(
            f"executor {name!r} ({target}) does not implement the executor API: "
            f"missing {', '.join(missing)}"
        )
    if not getattr(cls, "name", None):
        cls.name = name
    if not hasattr(cls, "case_insensitive_fields"):
        cls.case_insensitive_fields = frozenset()
    return cls  # type: ignore[no-any-return]


@functools.cache
def instance(name: str) -> Executor:
    """One shared instance per executor; executors keep per-testcase state in sessions."""
    return get(name)()


def reset() -> None:
    """Forget discovered plugins (tests that install a plugin at run time call this)."""
    _targets.cache_clear()
    get.cache_clear()
    instance.cache_clear()


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr or "_"])
    return getattr(module, attr) if attr else module
