"""The `redis` kind: a private `redis-server` per run, on tmpfs, without persistence.

    cache:
      kind: redis
      password: s3cret                # optional: requirepass
      config: {maxmemory: 64mb}       # optional: more redis.conf directives

Ready when it answers PING (after AUTH when a password is set). Exported:
`services.cache.url` = `redis://[:password@]127.0.0.1:PORT/0`. Fixtures are YAML/JSON
files of keys (see `redis_fixtures`); isolation `flush` empties it after each testcase and
loads the fixtures again, `snapshot` puts back every key it held once all services had
started (DUMP/RESTORE). Under `--jobs` each parallel slot uses a Redis database of its
own (`/1`, `/2`... in its URL), emptied and refilled the same way.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import threading
import time
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, field_validator

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
from splice._internal.services.kinds.redis_fixtures import FixtureCommand, apply, parse_files
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import Duration, Version, config_directives

# directives splice writes itself; a setting of its own covers the ones users may change
_MANAGED = {
    "port": "splice assigns a free port",
    "bind": "the server listens on 127.0.0.1 only",
    "dir": "the data folder is a private temporary folder",
    "daemonize": "splice runs the server in the foreground to supervise it",
    "logfile": "the log is kept with the run",
    "requirepass": "use the `password` setting",
    "databases": "use the `databases` setting",
}


class RedisSettings(Settings):
    version: Version = None  # checked against the local binary; the docker image tag
    password: str | None = None
    databases: int = Field(default=16, ge=1, le=10_000)
    config: dict[str, str | int | float | bool] = {}
    ready_timeout: Duration = "10s"

    @field_validator("config")
    @classmethod
    def _directives(cls, value: dict[str, Any]) -> dict[str, Any]:
        name = r"[A-Za-z][A-Za-z0-9_-]*"
        return config_directives(value, _MANAGED, name, "redis.conf", "maxmemory: 64mb")


class RedisKind:
    """Redis through the local (`redis-server`), docker (`redis:7`) or external provider."""

    name: ClassVar[str] = "redis"
    exports: ClassVar[frozenset[str]] = frozenset()  # only the common attributes
    settings_model: ClassVar[type[Settings]] = RedisSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = {"debian": "redis-server", "macos": "redis"}
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"flush", "snapshot"})
    # both reset the one database every testcase sees: a database per parallel slot
    shared_modes: ClassVar[frozenset[str]] = frozenset({"flush", "snapshot"})

    # providers -------------------------------------------------------------------------
    def start_local(self, ctx: StartContext) -> RunningService:
        settings: RedisSettings = ctx.spec.settings
        name = ctx.spec.name
        binary = server.find_binary(name, "redis-server", self.packages, "redis:7")
        if settings.version is not None:
            found = server.version_of(binary, ["--version"], _parse_version)
            server.check_version(name, "redis-server", settings.version, found)
        port = ctx.resources.port()
        data_dir = ctx.resources.tempdir("redis", fast=True)
        conf = data_dir / "redis.conf"
        conf.write_text(_config(settings, port, data_dir, ctx))
        endpoint = _endpoint("127.0.0.1", port, settings.password)
        proc, stop = server.start_server(
            ctx,
            [binary, str(conf)],
            port=port,
            data_dir=data_dir,
            probe=lambda: ping("127.0.0.1", port, password=settings.password),
            awaited=f"PING on 127.0.0.1:{port} to answer PONG",
            timeout=parse_duration(settings.ready_timeout),
            # nothing is persisted and the data folder is deleted next, so there is
            # nothing to shut down cleanly; redis acts on SIGTERM in its next cron tick (~100 ms)
            stop_signal=signal.SIGKILL,
        )
        state: dict[str, Any] = {}

        def close() -> None:
            _close_client(state)
            stop()

        return RunningService(
            ctx.spec, endpoint, stop=close, log_path=ctx.log_path, pid=proc.pid, state=state
        )

    def external(self, spec: ServiceSpec) -> Endpoint:
        url = spec.url or ""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ServiceError(
                spec.name,
                f"{url!r} is not a Redis URL",
                hint="write redis://[:password@]host:port/db",
            )
        database = parts.path.lstrip("/") or "0"
        return Endpoint(
            url=url,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database,
        )

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        tls = endpoint.url.startswith("rediss:")
        wait_ready(
            "redis",
            lambda: ping(
                endpoint.host,
                endpoint.port or 6379,
                user=endpoint.user,
                password=endpoint.password,
                tls=tls,
            ),
            awaited=f"PING on {endpoint.host}:{endpoint.port} to answer PONG",
            timeout=timeout,
            hint="check the URL, the password, and that the server runs",
        )

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: RedisSettings = spec.settings
        command = [
            "redis-server",
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            str(settings.databases),
        ]
        if settings.password:
            command += ["--requirepass", settings.password]
        for key, value in settings.config.items():
            command += [f"--{key}", server.config_value(value)]
        return DockerPlan(
            image=f"redis:{settings.version or '7'}",
            port=6379,
            command=command,
            endpoint=lambda host, port: _endpoint(host, port, settings.password),
        )

    # data ------------------------------------------------------------------------------
    def load_fixtures(self, service: RunningService, files: list[Any]) -> None:
        commands = parse_files(files)
        service.state["redis.fixtures"] = commands
        self._apply(service, commands)

    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        # An external server may be someone's real data: flush it only when the service
        # asks for `isolation: flush` itself, never because of the project-wide mode.
        external = service.spec.provider == "external"
        service.state["redis.flush"] = not external or service.spec.isolation == mode
        if mode == "snapshot":
            service.state["redis.snapshot"] = _dump(
                service, _client(service, _own_database(service))
            )

    def slot_copies(self, service: RunningService, mode: str) -> bool:
        """A server splice started has databases to spare; an external one may hold
        someone's data in them."""
        return service.spec.provider != "external"

    def acquire(
        self, service: RunningService, mode: str, key: str, *, slot: int = 0
    ) -> Endpoint | None:
        if slot == 0:
            return None  # slot 0 is the service's own database; release cleans up after it
        databases = int(getattr(service.spec.settings, "databases", 16))
        if slot >= databases:
            raise ServiceError(
                service.name,
                f"a testcase running in parallel slot {slot} needs Redis database {slot}, "
                f"but the server has {databases} (`databases: {databases}`)",
                hint=f"raise `databases:` above {slot} for this service, or lower --jobs",
            )
        primed: set[int] = service.state.setdefault("redis.primed", set())
        if slot not in primed:
            self._reset(service, mode, slot)
            primed.add(slot)
        url = _in_database(service.endpoint.url, slot)
        return dataclasses.replace(service.endpoint, url=url, database=str(slot))

    def release(
        self,
        service: RunningService,
        mode: str,
        key: str,
        endpoint: Endpoint | None,
        *,
        slot: int = 0,
    ) -> None:
        if service.state.get("redis.flush", service.spec.provider != "external"):
            self._reset(service, mode, slot)

    def _reset(self, service: RunningService, mode: str, slot: int) -> None:
        """Empty one database (never the whole server: other slots use theirs) and put
        back the fixtures, or the snapshot's keys."""
        # slot 0 is the service's own database: 0, or the one a warm run was given
        client = _client(service, slot or _own_database(service))
        try:
            client.execute_command("FLUSHDB")
            if mode == "snapshot":
                pipe = client.pipeline(transaction=False)
                for name, ttl, value in service.state.get("redis.snapshot") or []:
                    pipe.execute_command("RESTORE", name, ttl, value, "REPLACE")
                pipe.execute()
        except Exception as exc:
            raise ServiceError(service.name, f"could not flush after a testcase: {exc}") from exc
        if mode != "snapshot":
            commands = service.state.get("redis.fixtures") or []
            if commands:
                apply(service.name, client, commands)

    def _apply(self, service: RunningService, commands: list[FixtureCommand]) -> None:
        if commands:
            apply(service.name, _client(service, 0), commands)


def _in_database(url: str, db: int) -> str:
    """The same server, database `db` (the URL's path)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def _dump(service: RunningService, client: Any) -> list[tuple[bytes, int, bytes]]:
    """Every key of the client's database as (name, milliseconds to live or 0, DUMP)."""
    try:
        names = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.execute_command("PTTL", name)
            pipe.execute_command("DUMP", name)
        replies = pipe.execute()
    except Exception as exc:
        raise ServiceError(service.name, f"could not take a snapshot of the keys: {exc}") from exc
    out = []
    for name, ttl, value in zip(names, replies[::2], replies[1::2], strict=True):
        if value is not None and ttl != -2:  # -2: expired in between
            out.append((name, max(int(ttl), 0), value))
    return out


def _config(settings: RedisSettings, port: int, data_dir: Any, ctx: StartContext) -> str:
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        'save ""',  # no snapshots and no append-only file: tests need no durability
        "appendonly no",
        "daemonize no",
        f"dir {_quoted(str(data_dir))}",
        f"logfile {_quoted(str(ctx.log_path))}",
        f"databases {settings.databases}",
    ]
    if settings.password:
        lines.append(f"requirepass {_quoted(settings.password)}")
    lines += [f"{k} {_quoted(server.config_value(v))}" for k, v in settings.config.items()]
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    """A redis.conf argument: double-quoted with escapes when it has spaces or quotes."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _parse_version(text: str) -> str | None:
    match = re.search(r"v=(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def _endpoint(host: str, port: int, password: str | None) -> Endpoint:
    auth = f":{quote(password, safe='')}@" if password else ""
    return Endpoint(
        url=f"redis://{auth}{host}:{port}/0", host=host, port=port, password=password, database="0"
    )


def ping(
    host: str,
    port: int,
    *,
    user: str | None = None,
    password: str | None = None,
    tls: bool = False,
    timeout: float = 1.0,
) -> None:
    """AUTH (when a password is given) and PING in RESP; raise unless both succeed."""
    deadline = time.monotonic() + timeout
    commands: list[list[str]] = []
    if password:
        commands.append(["AUTH", *([user] if user else []), password])
    commands.append(["PING"])
    payload = b"".join(_resp(c) for c in commands)
    with server.connect(host, port, tls=tls, timeout=timeout) as sock:
        sock.sendall(payload)
        buffer = bytearray()
        for command in commands:
            line = server.read_line(sock, buffer, deadline)
            if line.startswith(b"-"):
                reason = line[1:].decode("utf-8", "replace")
                raise ConnectionError(f"{command[0]} failed: {reason}")
        if line != b"+PONG":
            raise ConnectionError(f"PING answered {line[:60]!r}")


def _resp(args: list[str]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


_client_lock = threading.Lock()


def _own_database(service: RunningService) -> int:
    """The database the service's endpoint names (a warm run's own; else 0)."""
    try:
        return int(service.endpoint.database or 0)
    except ValueError:
        return 0


def _client(service: RunningService, db: int) -> Any:
    """One redis-py client per service and database, for fixtures and flushing (made on
    first use)."""
    with _client_lock:
        clients: dict[int, Any] = service.state.setdefault("redis.clients", {})
        client = clients.get(db)
        if client is None:
            try:
                import redis
            except ImportError as exc:
                raise ServiceError(
                    service.name,
                    "loading fixtures and flushing need the Redis driver",
                    hint="pip install 'splice[redis]'",
                ) from exc
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # the URL's own database (its path) wins over a `db=` argument in redis-py
            url = _in_database(service.endpoint.url, db) if db else service.endpoint.url
            client = redis.Redis.from_url(url, socket_timeout=30, retry=Retry(NoBackoff(), 0))
            clients[db] = client
        return client


def _close_client(state: dict[str, Any]) -> None:
    for client in (state.pop("redis.clients", None) or {}).values():
        client.close()
