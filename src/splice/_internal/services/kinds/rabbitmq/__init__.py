"""The `rabbitmq` kind: a private RabbitMQ node per run, isolated per testcase by vhost or
by a name prefix.

    bus:
      kind: rabbitmq
      user: shop                      # default splice / splice
      password: s3cret
      config: {consumer_timeout: 60000}   # extra rabbitmq.conf lines
      plugins: [rabbitmq_consistent_hash_exchange]
      isolation: vhost                # or prefix (cheaper), or none

Ready when an AMQP handshake (login, vhost open) succeeds. Exported:
`services.bus.url` = `amqp://user:password@127.0.0.1:PORT/%2F`, `.vhost`, `.prefix`.
How the node is started and why it is fast: local.py and node_cache.py; how vhosts are made
without AMQP: rabbitmq_admin.py; declaring topology: rabbitmq_topology.py.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator

from splice._internal.model.durations import parse_duration
from splice._internal.services.credentials import service_password
from splice._internal.services.kind_api import (
    DockerPlan,
    Endpoint,
    RunningService,
    ServiceError,
    ServiceSpec,
    Settings,
    StartContext,
)
from splice._internal.services.kinds.rabbitmq import admin as rabbitmq_admin
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install
from splice._internal.services.kinds.rabbitmq import local as rabbitmq_local
from splice._internal.services.kinds.rabbitmq import topology as topology
from splice._internal.services.kinds.rabbitmq.client import (
    AmqpProblem,
    connect,
    endpoint_for,
    make_url,
    redact,
    wait_for_handshake,
    with_vhost,
)
from splice._internal.services.settings import Duration, Version

# Per process: two `splice run`s sharing one `splice up` environment (or one external
# broker) count their testcases t1, t2... alike, so names carry this too.
_RUN = secrets.token_hex(3)
_CONFIG_KEY = re.compile(r"^[A-Za-z0-9_.$-]+$")


class RabbitmqSettings(Settings):
    version: Version = None  # checked against the local broker; the docker image tag
    user: str = "splice"
    password: str | None = None  # None: generated once per machine (masked in all output)
    vhost: str = "/"
    config: dict[str, str | int | float | bool] = {}
    plugins: list[str] = []
    ready_timeout: Duration = "60s"

    @field_validator("user", "password", "vhost")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is None:  # only `password` may be None (the default): the generated one
            return None
        if not value or any(c in value for c in "\r\n#"):
            raise ValueError("must be a non-empty line without `#`")
        if value != value.strip():
            raise ValueError("must not start or end with spaces")
        return value

    @field_validator("config")
    @classmethod
    def _config(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not _CONFIG_KEY.match(key):
                raise ValueError(f"{key!r} is not a rabbitmq.conf key (like `consumer_timeout`)")
            if "\n" in str(item):
                raise ValueError(f"the value of {key!r} must be one line")
        return value


class RabbitmqKind:
    """RabbitMQ through the local (`rabbitmq-server`), docker or external provider."""

    name: ClassVar[str] = "rabbitmq"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"vhost", "prefix", "node"})
    settings_model: ClassVar[type[Settings]] = RabbitmqSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = rabbitmq_install.PACKAGES
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"vhost", "prefix"})

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: RabbitmqSettings = ctx.spec.settings
        install = rabbitmq_install.find(ctx.spec.name)
        wanted = settings.version
        if wanted is not None and not (
            install.version == wanted or install.version.startswith(f"{wanted}.")
        ):
            raise ServiceError(
                ctx.spec.name,
                f"version {wanted!r} was asked for, but the local RabbitMQ is {install.version}",
                hint="install that version, remove `version:`, or use `provider: docker`, "
                "which runs the image of that version",
            )
        return rabbitmq_local.start(ctx, install)

    def external(self, spec: ServiceSpec) -> Endpoint:
        try:
            return endpoint_for(spec.url or "")
        except AmqpProblem as problem:
            raise ServiceError(spec.name, problem.message, hint=problem.hint) from problem

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        try:
            wait_for_handshake(endpoint.url, timeout)
        except AmqpProblem as problem:
            raise ServiceError(
                "rabbitmq",
                f"no AMQP handshake with {redact(endpoint.url)} within {timeout:g}s: "
                f"{problem.message}",
                hint=problem.hint,
            ) from problem

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: RabbitmqSettings = spec.settings
        password = service_password(settings.password)
        return DockerPlan(
            image=f"rabbitmq:{settings.version or '3'}",
            port=5672,
            env={
                "RABBITMQ_DEFAULT_USER": settings.user,
                "RABBITMQ_DEFAULT_PASS": password,
                "RABBITMQ_DEFAULT_VHOST": settings.vhost,
            },
            endpoint=lambda host, port: endpoint_for(
                make_url(host, port, settings.user, password, settings.vhost)
            ),
            ready_timeout=parse_duration(settings.ready_timeout),
        )

    # data: fixtures and isolation --------------------------------------------------------
    def load_fixtures(self, service: RunningService, files: list[Path]) -> None:
        """Declare the exchanges, queues and bindings of the fixture files; under
        isolation each testcase gets them again in its vhost or under its prefix."""
        loaded = topology.Topology()
        for path in files:
            try:
                one = topology.load_file(path)
            except AmqpProblem as problem:
                raise ServiceError(service.name, problem.message, hint=problem.hint) from problem
            loaded.exchanges += one.exchanges
            loaded.queues += one.queues
            loaded.bindings += one.bindings
        _apply(service, service.endpoint.url, loaded, "")
        service.state["rabbitmq.fixtures"] = loaded.model_dump()

    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        if mode == "vhost" and "rabbitmq.admin" not in service.state:
            raise ServiceError(
                service.name,
                "isolation `vhost` needs a broker splice started itself (provider local)",
                hint="use `isolation: prefix` with the docker and external providers: "
                "creating vhosts there would need the broker's admin access",
            )

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        endpoint = service.endpoint
        fixtures = _fixtures(service)
        if mode == "vhost":
            vhost = f"{key}-{_RUN}"
            try:
                rabbitmq_admin.add_vhost(
                    service.state["rabbitmq.admin"], vhost, endpoint.user or ""
                )
            except rabbitmq_admin.AdminError as exc:
                raise ServiceError(
                    service.name,
                    f"could not create vhost {vhost!r}: {exc}",
                    hint="is the broker still running? read its log",
                ) from exc
            url = with_vhost(endpoint.url, vhost)
            if fixtures is not None:
                _apply(service, url, fixtures, "")
            return dataclasses.replace(
                endpoint, url=url, extra={**endpoint.extra, "vhost": vhost, "prefix": ""}
            )
        prefix = f"{key}-{_RUN}."
        if fixtures is not None:
            _apply(service, endpoint.url, fixtures, prefix)
        return dataclasses.replace(endpoint, extra={**endpoint.extra, "prefix": prefix})

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        if endpoint is None:
            return
        if mode == "vhost":
            vhost = str(endpoint.extra["vhost"])
            try:
                rabbitmq_admin.delete_vhost(
                    service.state["rabbitmq.admin"], vhost, endpoint.user or ""
                )
            except rabbitmq_admin.AdminError as exc:
                raise ServiceError(
                    service.name, f"could not delete vhost {vhost!r}: {exc}"
                ) from exc
            return
        fixtures = _fixtures(service)
        prefix = str(endpoint.extra.get("prefix") or "")
        if fixtures is not None and prefix:
            _remove(service, endpoint.url, topology.created(fixtures, prefix))


def _fixtures(service: RunningService) -> topology.Topology | None:
    saved = service.state.get("rabbitmq.fixtures")
    if not saved:
        return None
    loaded = topology.Topology.model_validate(saved)
    return None if loaded.empty() else loaded


def _apply(service: RunningService, url: str, wanted: topology.Topology, prefix: str) -> None:
    try:
        connection = connect(url)
        try:
            topology.declare(connection.channel(), wanted, prefix)
        finally:
            if connection.is_open:
                connection.close()
    except AmqpProblem as problem:
        raise ServiceError(
            service.name, f"fixtures: {problem.message}", hint=problem.hint
        ) from problem


def _remove(service: RunningService, url: str, names: list[tuple[str, str]]) -> None:
    try:
        connection = connect(url)
        try:
            topology.delete(connection.channel(), names)
        finally:
            if connection.is_open:
                connection.close()
    except AmqpProblem as problem:
        raise ServiceError(service.name, f"clean-up: {problem.message}") from problem
