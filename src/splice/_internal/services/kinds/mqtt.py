"""The `mqtt` kind: a private Mosquitto broker per run, without persistence.

    broker:
      kind: mqtt
      password: s3cret          # optional: then only `user` (default splice) may connect
      config: {max_packet_size: 65536}   # optional: more mosquitto.conf directives

Ready when the broker answers an MQTT CONNECT with a CONNACK that accepts it. Exported:
`services.broker.url` = `mqtt://127.0.0.1:PORT` and `services.broker.prefix` (empty, or
the testcase's topic prefix under isolation `prefix`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import secrets
import signal
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from pydantic import field_validator

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
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import Duration, LoginSettings, Version, config_directives

_MANAGED = {
    "listener": "splice assigns a free port on 127.0.0.1",
    "port": "splice assigns a free port on 127.0.0.1",
    "bind_address": "the broker listens on 127.0.0.1 only",
    "allow_anonymous": "anonymous clients are allowed exactly when no `password` is set",
    "password_file": "use the `user` and `password` settings",
    "persistence": "a test broker keeps nothing between runs",
    "persistence_location": "a test broker keeps nothing between runs",
    "user": "splice chooses the account the broker runs as",
    "pid_file": "splice supervises the broker itself",
}
_CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MqttSettings(LoginSettings):
    version: Version = None  # checked against the local binary; the docker image tag
    config: dict[str, str | int | float | bool] = {}
    ready_timeout: Duration = "10s"

    @field_validator("config")
    @classmethod
    def _directives(cls, value: dict[str, Any]) -> dict[str, Any]:
        example = "max_packet_size: 65536"
        return config_directives(value, _MANAGED, r"[a-z][a-z0-9_]*", "mosquitto.conf", example)


class MqttKind:
    """MQTT through the local (`mosquitto`), docker (`eclipse-mosquitto:2`) or external
    provider."""

    name: ClassVar[str] = "mqtt"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"prefix"})
    settings_model: ClassVar[type[Settings]] = MqttSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = {"debian": "mosquitto", "macos": "mosquitto"}
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"prefix"})

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: MqttSettings = ctx.spec.settings
        name = ctx.spec.name
        binary = server.find_binary(name, "mosquitto", self.packages, "eclipse-mosquitto:2")
        if settings.version is not None:
            found = server.version_of(binary, ["-h"], _parse_version)
            server.check_version(name, "mosquitto", settings.version, found)
        user = settings.user or ("splice" if settings.password else None)
        port = ctx.resources.port()
        data_dir = ctx.resources.tempdir("mqtt", fast=True)
        conf = data_dir / "mosquitto.conf"
        conf.write_text(_config(settings, user, port, data_dir))
        endpoint = _endpoint("127.0.0.1", port, user, settings.password)
        proc, stop = server.start_server(
            ctx,
            [binary, "-c", str(conf)],
            port=port,
            data_dir=data_dir,
            probe=lambda: connack("127.0.0.1", port, user=user, password=settings.password),
            awaited=f"an MQTT CONNACK on 127.0.0.1:{port}",
            timeout=parse_duration(settings.ready_timeout),
            # nothing is persisted and the data folder is deleted next, so there is
            # nothing to shut down cleanly; mosquitto acts on SIGTERM only when its
            # loop wakes (up to ~100 ms)
            stop_signal=signal.SIGKILL,
        )
        return RunningService(ctx.spec, endpoint, stop=stop, log_path=ctx.log_path, pid=proc.pid)

    def external(self, spec: ServiceSpec) -> Endpoint:
        url = spec.url or ""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ServiceError(
                spec.name,
                f"{url!r} is not an MQTT URL",
                hint="write mqtt://[user:password@]host:port",
            )
        tls = parts.scheme in ("mqtts", "ssl")
        return Endpoint(
            url=url,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            extra={"prefix": ""},
        )

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        tls = endpoint.url.startswith(("mqtts:", "ssl:"))
        wait_ready(
            "mqtt",
            lambda: connack(
                endpoint.host,
                endpoint.port or 1883,
                user=endpoint.user,
                password=endpoint.password,
                tls=tls,
            ),
            awaited=f"an MQTT CONNACK on {endpoint.host}:{endpoint.port}",
            timeout=timeout,
            hint="check the URL and credentials, and that the broker runs",
        )

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: MqttSettings = spec.settings
        if settings.password:
            raise ServiceError(
                spec.name,
                "a `password` needs the local provider",
                hint="remove `password`, or use `provider: local`",
            )
        return DockerPlan(
            # the image's own config listens on localhost only; this one listens on 1883
            image=f"eclipse-mosquitto:{settings.version or '2'}",
            port=1883,
            command="mosquitto -c /mosquitto-no-auth.conf",
            endpoint=lambda host, port: _endpoint(host, port, None, None),
        )

    # isolation: a topic prefix per testcase attempt ------------------------------------
    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        return None

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        endpoint = service.endpoint
        return dataclasses.replace(endpoint, extra={**endpoint.extra, "prefix": f"{key}/"})

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        return None  # nothing persists, and no later testcase uses this prefix


def _config(settings: MqttSettings, user: str | None, port: int, data_dir: Path) -> str:
    lines = [
        f"listener {port} 127.0.0.1",
        f"allow_anonymous {'false' if user else 'true'}",
        "persistence false",
        # acknowledgements at once, not after the peer's delayed ACK (~40 ms each)
        "set_tcp_nodelay true",
    ]
    if os.geteuid() == 0:
        # as root, mosquitto switches to the `mosquitto` account, which cannot read
        # this private folder; staying root is what splice's other servers do too
        lines.append("user root")
    if user is not None:
        password_file = data_dir / "passwords"
        password_file.write_text(f"{user}:{_hash(settings.password or '')}\n")
        password_file.chmod(0o600)
        lines.append(f"password_file {password_file}")
    lines += [f"{k} {server.config_value(v, 'true', 'false')}" for k, v in settings.config.items()]
    return "\n".join(lines) + "\n"


def _hash(password: str) -> str:
    """A password-file entry as `mosquitto_passwd` writes it ($7$: PBKDF2-SHA512), made
    here so that no second program has to run before the broker."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _parse_version(text: str) -> str | None:
    match = re.search(r"mosquitto version (\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def _endpoint(host: str, port: int, user: str | None, password: str | None) -> Endpoint:
    auth = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user else ""
    return Endpoint(
        url=f"mqtt://{auth}{host}:{port}",
        host=host,
        port=port,
        user=user,
        password=password,
        extra={"prefix": ""},
    )


def connack(
    host: str,
    port: int,
    *,
    user: str | None = None,
    password: str | None = None,
    tls: bool = False,
    timeout: float = 1.0,
) -> None:
    """MQTT 3.1.1 CONNECT; raise unless the CONNACK accepts it; then DISCONNECT."""
    client_id = f"splice-ready-{secrets.token_hex(4)}".encode()
    flags = 0x02  # clean session
    payload = _field(client_id)
    if user is not None:
        flags |= 0x80
        payload += _field(user.encode())
        if password is not None:
            flags |= 0x40
            payload += _field(password.encode())
    body = _field(b"MQTT") + bytes([4, flags]) + (10).to_bytes(2, "big") + payload
    deadline = time.monotonic() + timeout
    with server.connect(host, port, tls=tls, timeout=timeout) as sock:
        sock.sendall(bytes([0x10]) + _length(len(body)) + body)
        answer = server.read_exact(sock, bytearray(), 4, deadline)
        if answer[0] != 0x20:
            raise ConnectionError(f"expected CONNACK, got packet type {answer[0] >> 4}")
        if answer[3] != 0:
            reason = _CONNACK_REASONS.get(answer[3], f"code {answer[3]}")
            raise ConnectionError(f"the broker refused the connection: {reason}")
        sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs a clean goodbye


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _length(size: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)
