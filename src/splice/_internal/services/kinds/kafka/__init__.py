"""The `kafka` kind: a private Kafka-protocol broker per run, without Docker or a JVM.

    bus:
      kind: kafka
      topics:                  # created once the broker is ready
        orders: {partitions: 3}
        shipments: 1           # a number is the partition count
      isolation: prefix        # or recreate; none by default

The local provider runs Tansu (memory-only, ready in about 20 ms; the `splice[kafka]`
extra brings it), or with `broker: kafka` Apache Kafka in KRaft mode ($KAFKA_HOME or
`binary:`), or with `broker: redpanda` the `redpanda` program. Ready when the broker
answers a Kafka Metadata request naming itself. Exported: `services.bus.url`
(`kafka://127.0.0.1:PORT`), `services.bus.bootstrap` (`127.0.0.1:PORT`, what clients
take as bootstrap.servers), `services.bus.prefix` (empty, or the testcase's topic
prefix under isolation `prefix`) and `services.bus.group_session_timeout_ms` (the
session timeout that makes a consumer group join fast on this broker).

`schema_registry: true` starts splice's own schema registry beside the broker (see
`registry`; Redpanda brings its own, which is used instead), a URL names an existing
one; either is exported as `services.bus.schema_registry_url`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from splice._internal.model.durations import parse_duration
from splice._internal.services.kind_api import (
    Endpoint,
    RunningService,
    ServiceError,
    ServiceSpec,
    Settings,
    StartContext,
    tail,
)
from splice._internal.services.kinds import _binary_server as server
from splice._internal.services.kinds.kafka import brokers as brokers
from splice._internal.services.kinds.kafka import protocol as protocol
from splice._internal.services.kinds.kafka.registry import LocalRegistry
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import http_url
from splice._internal.source.validation import HintedValueError

# how long a consumer group's session lasts, per broker: Tansu answers a JoinGroup after
# half the session timeout (in whole seconds), so 1 s makes the first join take ~1 s;
# Kafka and Redpanda answer at once (initial rebalance delay 0), and 6 s is the lowest
# session timeout a default Kafka broker accepts
_SESSION_MS = {"tansu": 1000, "kafka": 6000, "redpanda": 6000}
_LOCK_WAIT = 600.0  # seconds a testcase waits for another under isolation `recreate`


class TopicSpec(Settings):
    partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=-1, ge=-1)  # -1: the broker's default
    config: dict[str, str | int | float | bool] = {}


class KafkaSettings(Settings):
    broker: Literal["tansu", "kafka", "redpanda"] = "tansu"
    binary: str | None = None  # the broker program (local), instead of the default
    version: str | None = None  # the docker image tag
    topics: list[str] | dict[str, TopicSpec | int | None] = {}
    group_session_timeout: str | float | None = None  # default: what suits the broker
    # true: splice's own registry beside the broker; a URL: an existing registry
    schema_registry: bool | str | None = None
    ready_timeout: str | float = "30s"

    @field_validator("ready_timeout", "group_session_timeout")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("schema_registry")
    @classmethod
    def _registry_url(cls, value: Any) -> Any:
        return http_url(value) if isinstance(value, str) else value

    @field_validator("version", mode="before", json_schema_input_type=str | int | float | None)
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _topic_names(self) -> KafkaSettings:
        for name in self.declared():
            if not name or len(name) > 249 or not all(c.isalnum() or c in "._-" for c in name):
                raise HintedValueError(
                    f"{name!r} is not a valid Kafka topic name",
                    "use letters, digits, '.', '_' and '-' (at most 249 characters)",
                )
        return self

    def declared(self) -> dict[str, TopicSpec]:
        if isinstance(self.topics, list):
            return {name: TopicSpec() for name in self.topics}
        out = {}
        for name, spec in self.topics.items():
            if isinstance(spec, int):
                out[name] = TopicSpec(partitions=spec)
            else:
                out[name] = spec or TopicSpec()
        return out


class KafkaKind:
    """Kafka through the local (Tansu, Apache Kafka or Redpanda), docker (Testcontainers'
    Kafka or Redpanda module) or external provider."""

    name: ClassVar[str] = "kafka"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset(
        {"bootstrap", "tls", "prefix", "group_session_timeout_ms", "broker", "schema_registry_url"}
    )
    settings_model: ClassVar[type[Settings]] = KafkaSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = {"pip": brokers.INSTALL}
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"prefix", "recreate"})

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: KafkaSettings = ctx.spec.settings
        name = ctx.spec.name
        port = ctx.resources.port()
        held = [port]
        data_dir = ctx.resources.tempdir("kafka", fast=True)
        # spawned first, so that it starts while the broker does
        registry = _own_registry(ctx, settings.broker)
        try:
            command = self._command(ctx, settings, port, data_dir, held)
            env = {**os.environ, **command.env} if command.env else None
            for setup in command.setup:
                _run_setup(name, setup, env, ctx)
        except BaseException:
            for extra in held:
                ctx.resources.release_port(extra)
            ctx.resources.remove_dir(data_dir)
            if registry is not None:
                registry.stop()
            raise
        endpoint = _endpoint("127.0.0.1", port, settings, settings.broker)
        for key, value in command.extra.items():  # a `schema_registry:` URL comes first
            endpoint.extra.setdefault(key, value)
        try:
            proc, stop = server.start_server(
                ctx,
                command.args,
                port=port,
                data_dir=data_dir,
                probe=lambda: protocol.check("127.0.0.1", port),
                awaited=f"a Kafka Metadata answer from 127.0.0.1:{port}",
                timeout=parse_duration(settings.ready_timeout),
                # Tansu keeps everything in memory; Kafka and Redpanda write to a folder
                # that is deleted next: nothing is worth a clean shutdown
                stop_signal=signal.SIGKILL,
                env=env,
            )
        except BaseException:
            if registry is not None:
                registry.stop()
            raise

        def stop_all() -> None:
            stop()
            for extra in held[1:]:
                ctx.resources.release_port(extra)
            if registry is not None:
                registry.stop()

        service = RunningService(
            ctx.spec, endpoint, stop=stop_all, log_path=ctx.log_path, pid=proc.pid
        )
        try:
            if registry is not None:
                registry.wait(parse_duration(settings.ready_timeout))
                endpoint.extra["schema_registry_url"] = registry.url
            create_declared(service, "")
        except BaseException:
            service.stop()
            raise
        return service

    def _command(
        self,
        ctx: StartContext,
        settings: KafkaSettings,
        port: int,
        data_dir: Any,
        held: list[int],
    ) -> brokers.Command:
        name = ctx.spec.name
        if settings.broker == "tansu":
            return brokers.tansu(brokers.tansu_binary(name, settings.binary, ctx.cache_dir), port)
        if settings.broker == "kafka":
            home = brokers.kafka_home(name, settings.binary)
            controller = ctx.resources.port()
            held.append(controller)
            return brokers.kafka(home, port, controller, data_dir)
        binary = brokers.redpanda_binary(name, settings.binary)
        ports = {"kafka": port}
        for role in ("rpc", "admin", "registry", "proxy"):
            ports[role] = ctx.resources.port()
            held.append(ports[role])
        return brokers.redpanda(binary, ports, data_dir)

    def external(self, spec: ServiceSpec) -> Endpoint:
        settings: KafkaSettings = spec.settings
        if settings.schema_registry is True:
            raise ServiceError(
                spec.name,
                "`schema_registry: true` starts splice's own registry beside a broker splice "
                "starts; an external cluster's registry is its own",
                hint="give the registry's URL: `schema_registry: http://HOST:8081`",
            )
        url = spec.url or ""
        scheme, sep, rest = url.partition("://")
        hosts = [h for h in rest.rstrip("/").split(",") if h] if sep else []
        if scheme not in ("kafka", "kafkas") or not hosts or "@" in rest:
            raise ServiceError(
                spec.name,
                f"{url!r} is not a Kafka URL",
                hint="write kafka://HOST:PORT (several brokers: kafka://h1:9092,h2:9092; "
                "kafkas:// for TLS); SASL logins are not supported yet",
            )
        first = _host_port(spec.name, hosts[0])
        for other in hosts[1:]:
            _host_port(spec.name, other)
        endpoint = _endpoint(first[0], first[1], settings, "kafka")
        endpoint.url = url
        endpoint.extra["bootstrap"] = ",".join(hosts)
        endpoint.extra["tls"] = scheme == "kafkas"
        return endpoint

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        tls = bool(endpoint.extra.get("tls"))
        wait_ready(
            "kafka",
            lambda: protocol.check(endpoint.host, endpoint.port or 9092, tls=tls),
            awaited=f"a Kafka Metadata answer from {endpoint.host}:{endpoint.port}",
            timeout=timeout,
            hint="check the bootstrap address in the URL, and that the broker runs",
        )

    def start_container(self, ctx: StartContext) -> RunningService:
        """The docker provider: Testcontainers' Kafka (KRaft) or Redpanda module."""
        from splice._internal.services.kinds.kafka.docker import start

        broker = "kafka" if ctx.spec.settings.broker == "tansu" else ctx.spec.settings.broker
        registry = _own_registry(ctx, broker)
        try:
            service = start(ctx, _endpoint)
        except BaseException:
            if registry is not None:
                registry.stop()
            raise
        if registry is not None:
            service = _with_registry(service, registry, ctx.spec.settings)
        try:
            create_declared(service, "")
        except BaseException:
            service.stop()
            raise
        return service

    # isolation ------------------------------------------------------------------------
    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        # a broker splice started is new and empty; an external cluster keeps its
        # topics, so a testcase's prefix there carries a token of this run too
        token = f"splice-{secrets.token_hex(3)}-" if service.spec.provider == "external" else ""
        service.state.setdefault("kafka.token", token)
        service.state.setdefault("kafka.lock", threading.Lock())

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        if mode == "recreate":
            # one testcase at a time uses the declared topics (see docs: --jobs)
            lock: threading.Lock = service.state["kafka.lock"]
            if not lock.acquire(timeout=_LOCK_WAIT):
                raise ServiceError(
                    service.name,
                    f"waited {_LOCK_WAIT:g}s for another testcase to finish with the topics "
                    "(isolation `recreate` runs one testcase at a time)",
                    hint="use isolation `prefix` to run testcases in parallel",
                )
            return None
        prefix = f"{service.state.get('kafka.token', '')}{key}."
        create_declared(service, prefix)
        endpoint = service.endpoint
        return dataclasses.replace(endpoint, extra={**endpoint.extra, "prefix": prefix})

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        if mode == "recreate":
            try:
                _recreate(service)
            finally:
                service.state["kafka.lock"].release()
            return
        prefix = f"{service.state.get('kafka.token', '')}{key}."
        found = _metadata(service)
        doomed = [name for name in found.topics if name.startswith(prefix)]
        _delete(service, doomed)


def _own_registry(ctx: StartContext, broker: str) -> LocalRegistry | None:
    """splice's registry for `schema_registry: true`, unless the broker has one."""
    if ctx.spec.settings.schema_registry is not True or broker == "redpanda":
        return None
    return LocalRegistry(ctx)


def _with_registry(
    service: RunningService, registry: LocalRegistry, settings: KafkaSettings
) -> RunningService:
    """`service`, exporting `registry` once it answers, and stopping it with itself."""
    stop_broker = service.stop

    def stop_all() -> None:
        stop_broker()
        registry.stop()

    wrapped = RunningService(
        service.spec,
        service.endpoint,
        stop=stop_all,
        log_path=service.log_path,
        pid=service.pid,
        started_in=service.started_in,
        state=service.state,
    )
    try:
        registry.wait(parse_duration(settings.ready_timeout))
    except BaseException:
        wrapped.stop()
        raise
    wrapped.endpoint.extra["schema_registry_url"] = registry.url
    return wrapped


def _run_setup(
    name: str, args: list[str], env: Mapping[str, str] | None, ctx: StartContext
) -> None:
    with ctx.log_path.open("ab") as log:
        done = subprocess.run(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False
        )
    if done.returncode != 0:
        raise ServiceError(
            name,
            f"`{' '.join(args[:2])}` failed with exit code {done.returncode}",
            hint="read the log lines above",
            log_tail=tail(ctx.log_path),
            log_path=ctx.log_path,
        )


def _host_port(service: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ServiceError(
            service,
            f"{text!r} is not HOST:PORT",
            hint="write kafka://HOST:PORT, e.g. kafka://127.0.0.1:9092",
        )
    return host.strip("[]"), int(port)


def _endpoint(host: str, port: int, settings: KafkaSettings, broker: str) -> Endpoint:
    session = (
        int(parse_duration(settings.group_session_timeout) * 1000)
        if settings.group_session_timeout is not None
        else _SESSION_MS.get(broker, 6000)
    )
    extra: dict[str, Any] = {
        "bootstrap": f"{host}:{port}",
        "prefix": "",
        "group_session_timeout_ms": session,
        "broker": broker,
    }
    if isinstance(settings.schema_registry, str):
        extra["schema_registry_url"] = settings.schema_registry.rstrip("/")
    return Endpoint(url=f"kafka://{host}:{port}", host=host, port=port, extra=extra)


def _metadata(service: RunningService) -> protocol.Metadata:
    found = service.endpoint
    try:
        return protocol.metadata(
            found.host, found.port or 9092, tls=bool(found.extra.get("tls")), timeout=5
        )
    except OSError as exc:
        raise _unreachable(service, exc) from exc


def _controller(service: RunningService) -> tuple[str, int]:
    """Where topic requests go: the controller (any broker of a one-broker cluster)."""
    found = _metadata(service)
    for node, host, port in found.brokers:
        if node == found.controller:
            return host, port
    return service.endpoint.host, service.endpoint.port or 9092


def create_declared(service: RunningService, prefix: str) -> None:
    """Create the service's declared topics, under `prefix`; existing ones are kept."""
    declared = service.spec.settings.declared()
    if not declared:
        return
    wanted = {
        prefix + name: (
            spec.partitions,
            spec.replication_factor,
            {k: server.config_value(v, "true", "false") for k, v in spec.config.items()},
        )
        for name, spec in declared.items()
    }
    host, port = _controller(service)
    tls = bool(service.endpoint.extra.get("tls"))
    deadline = time.monotonic() + 10
    while True:
        try:
            failed = protocol.create_topics(host, port, wanted, tls=tls)
        except OSError as exc:
            raise _unreachable(service, exc) from exc
        failed = {n: e for n, e in failed.items() if e[0] != protocol.TOPIC_ALREADY_EXISTS}
        if not failed:
            return
        # a topic deleted a moment ago may still be on its way out
        if time.monotonic() > deadline:
            name, (code, message) = next(iter(failed.items()))
            raise ServiceError(
                service.name,
                f"could not create topic {name!r}: {protocol.error_name(code)}"
                + (f" ({message})" if message else ""),
                hint="check the topic's partitions, replication_factor and config",
            )
        wanted = {n: wanted[n] for n in failed}
        time.sleep(0.05)


def _delete(service: RunningService, names: list[str]) -> None:
    if not names:
        return
    host, port = _controller(service)
    try:
        failed = protocol.delete_topics(
            host, port, names, tls=bool(service.endpoint.extra.get("tls"))
        )
    except OSError as exc:
        raise _unreachable(service, exc) from exc
    failed = {n: c for n, c in failed.items() if c != protocol.UNKNOWN_TOPIC}
    if failed:
        name, code = next(iter(failed.items()))
        raise ServiceError(
            service.name, f"could not delete topic {name!r}: {protocol.error_name(code)}"
        )


def _recreate(service: RunningService) -> None:
    """Empty the declared topics by deleting and creating them again; on a broker splice
    started, the topics a testcase made (auto-created on first use) go too."""
    declared = set(service.spec.settings.declared())
    found = _metadata(service)
    if service.spec.provider == "external":
        doomed = [name for name in found.topics if name in declared]
    else:
        doomed = [name for name in found.topics if not name.startswith("_")]
    _delete(service, doomed)
    create_declared(service, "")


def _unreachable(service: RunningService, exc: OSError) -> ServiceError:
    return ServiceError(
        service.name,
        f"the Kafka broker at {service.endpoint.extra.get('bootstrap')} did not answer: {exc}",
        hint="is it still running? read its log",
        log_tail=service.log_tail(),
        log_path=service.log_path,
    )
