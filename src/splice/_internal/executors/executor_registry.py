"""Find executors through the `splice.executors` entry-point group, lazily."""

from __future__ import annotations

import functools
from typing import Any

from splice._internal.errors import SpliceError
from splice._internal.executors.executor_api import Executor
from splice._internal.plugin_targets import PluginTargets, load

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
    """Names of every executor available, for `did you mean` hints and docs."""
    return sorted(_TARGETS.all())


@functools.cache
def get(name: str) -> type[Executor]:
    """The executor class registered under `name`; KeyError when none is."""
    target = _TARGETS.target(name)
    try:
        cls: Any = load(target)
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
    _TARGETS.forget()
    get.cache_clear()
    instance.cache_clear()
