"""The `nats` kind: a private `nats-server` per run, JetStream optional (stored on tmpfs).

    bus:
      kind: nats
      jetstream: true        # -js with its store in a private temporary folder
      monitoring: true       # the HTTP monitoring port, exported as monitoring_url

Ready when the server answers CONNECT + PING with PONG (and, with JetStream, a JetStream
account-info request). Exported: `services.bus.url` = `nats://127.0.0.1:PORT` and
`services.bus.prefix` (empty, or the testcase's subject prefix under isolation `prefix`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from splice._internal.model.durations import parse_duration
from splice._internal.services.kind_api import (
    DockerPlan,
    Endpoint,
    RunningService,
    ServiceError,
    ServiceSpec,
    Settings,
    StartContext,
)
from splice._internal.services.kinds import _binary_server as server
from splice._internal.services.kinds import nats_protocol
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import Duration, LoginSettings, Version


class NatsSettings(LoginSettings):
    version: Version = None  # checked against the local binary; the docker image tag
    jetstream: bool = False
    monitoring: bool = False
    ready_timeout: Duration = "10s"


class NatsKind:
    """NATS through the local (`nats-server`), docker (`nats:2`) or external provider."""

    name: ClassVar[str] = "nats"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"prefix", "monitoring_url"})
    settings_model: ClassVar[type[Settings]] = NatsSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = {"debian": "nats-server", "macos": "nats-server"}
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"prefix"})

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: NatsSettings = ctx.spec.settings
        name = ctx.spec.name
        binary = server.find_binary(name, "nats-server", self.packages, "nats:2")
        if settings.version is not None:
            found = server.version_of(binary, ["--version"], _parse_version)
            server.check_version(name, "nats-server", settings.version, found)
        user = settings.user or ("splice" if settings.password else None)
        port = ctx.resources.port()
        monitor = ctx.resources.port() if settings.monitoring else None
        data_dir = ctx.resources.tempdir("nats", fast=True)
        conf = data_dir / "nats.conf"
        conf.write_text(_config(settings, user, port, monitor, data_dir))
        conf.chmod(0o600)  # it may hold the password
        endpoint = _endpoint("127.0.0.1", port, user, settings.password)
        if monitor is not None:
            endpoint.extra["monitoring_url"] = f"http://127.0.0.1:{monitor}"
        awaited = f"CONNECT + PING on 127.0.0.1:{port} to answer PONG"
        proc, stop = server.start_server(
            ctx,
            [binary, "-c", str(conf)],
            port=port,
            data_dir=data_dir,
            probe=lambda: nats_protocol.check(
                "127.0.0.1",
                port,
                user=user,
                password=settings.password,
                tls=False,
                jetstream=settings.jetstream,
            ),
            awaited=awaited + (" and JetStream to answer" if settings.jetstream else ""),
            timeout=parse_duration(settings.ready_timeout),
        )

        def stop_all() -> None:
            stop()
            if monitor is not None:
                ctx.resources.release_port(monitor)

        return RunningService(
            ctx.spec,
            endpoint,
            stop=stop_all,
            log_path=ctx.log_path,
            pid=proc.pid,
            state={"nats.jetstream": settings.jetstream},
        )

    def external(self, spec: ServiceSpec) -> Endpoint:
        url = spec.url or ""
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls"):
            raise ServiceError(
                spec.name,
                f"{url!r} is not a NATS URL",
                hint="write nats://[user:password@]host:port",
            )
        endpoint = Endpoint(
            url=url,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 4222,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )
        endpoint.extra["prefix"] = ""
        return endpoint

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        wait_ready(
            "nats",
            lambda: nats_protocol.check(
                endpoint.host,
                endpoint.port or 4222,
                user=endpoint.user,
                password=endpoint.password,
                tls=endpoint.url.startswith("tls:"),
                jetstream=False,
            ),
            awaited=f"CONNECT + PING on {endpoint.host}:{endpoint.port} to answer PONG",
            timeout=timeout,
            hint="check the URL and credentials, and that the server runs",
        )

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: NatsSettings = spec.settings
        user = settings.user or ("splice" if settings.password else None)
        command = ["-js"] if settings.jetstream else []
        if user:
            command += ["--user", user, "--pass", settings.password or ""]
        return DockerPlan(
            image=f"nats:{settings.version or '2'}",
            port=4222,
            command=command or None,
            endpoint=lambda host, port: _endpoint(host, port, user, settings.password),
        )

    # isolation: a subject prefix per testcase attempt ----------------------------------
    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        return None

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        endpoint = service.endpoint
        return dataclasses.replace(endpoint, extra={**endpoint.extra, "prefix": f"{key}."})

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        """Delete the JetStream streams the testcase made (named `<key>_...`)."""
        if service.state.get("nats.jetstream") is False:
            return
        found = service.endpoint
        try:
            nats_protocol.delete_streams(
                found.host,
                found.port or 4222,
                user=found.user,
                password=found.password,
                tls=found.url.startswith("tls:"),
                name_prefix=f"{key}_",
            )
        except nats_protocol.NatsProtocolError as exc:
            if "not enabled" not in str(exc):
                raise ServiceError(
                    service.name, f"could not delete the streams of a testcase: {exc}"
                ) from exc
            service.state["nats.jetstream"] = False
        except OSError as exc:
            raise ServiceError(
                service.name,
                f"could not clean up after a testcase: {exc}",
                hint="is the server still running? read its log",
            ) from exc


def _config(
    settings: NatsSettings, user: str | None, port: int, monitor: int | None, data_dir: Any
) -> str:
    lines = [f"listen: {json.dumps(f'127.0.0.1:{port}')}"]
    if monitor is not None:
        lines.append(f"http: {json.dumps(f'127.0.0.1:{monitor}')}")
    if settings.jetstream:
        lines.append(f"jetstream {{ store_dir: {json.dumps(str(data_dir / 'js'))} }}")
    if user is not None:
        # credentials live in the config file, not on the command line where `ps` shows them
        lines.append(
            f"authorization {{ user: {json.dumps(user)}, "
            f"password: {json.dumps(settings.password or '')} }}"
        )
    return "\n".join(lines) + "\n"


def _parse_version(text: str) -> str | None:
    match = re.search(r"v(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def _endpoint(host: str, port: int, user: str | None, password: str | None) -> Endpoint:
    auth = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user else ""
    return Endpoint(
        url=f"nats://{auth}{host}:{port}",
        host=host,
        port=port,
        user=user,
        password=password,
        extra={"prefix": ""},
    )
