"""The `postgres` kind: a private PostgreSQL server per run, ready in ~0.15 s.

    db:
      kind: postgres
      database: shop               # default splice
      user: shop                   # default splice (a superuser of the private server)
      password: s3cret             # default: generated once per machine; "" = trust
      version: 16                  # default: the newest installed
      init: [db/schema.sql]        # run once after the server starts
      config: {max_connections: 200}

Exported: `services.db.url` (`postgresql://user:password@127.0.0.1:PORT/database`),
`host`, `port`, `user`, `password`, `database`, `sqlalchemy_url`
(`postgresql+psycopg://...`) and `socket_dir`. How the server is made fast is told in
`postgres_cluster`; per-testcase isolation in `postgres_isolation` and `postgres_snapshot`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import field_validator

from splice._internal.data import sql_fixtures
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
from splice._internal.services.kinds.postgres import binaries as postgres_binaries
from splice._internal.services.kinds.postgres import cache as postgres_cache
from splice._internal.services.kinds.postgres import cluster as postgres_cluster
from splice._internal.services.kinds.postgres.cluster import connect, make_endpoint
from splice._internal.services.kinds.postgres.data import SqlData, attach, run_closers
from splice._internal.services.kinds.postgres.isolation import Template, Truncate
from splice._internal.services.kinds.postgres.snapshot import Snapshot
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import Duration, ProjectFile, Version

# server settings splice sets itself, with the setting that covers each
_MANAGED = {
    "port": "splice assigns a free port",
    "listen_addresses": "the server listens on 127.0.0.1 only",
    "unix_socket_directories": "the socket is in the server's temporary folder",
    "data_directory": "the data folder is a private temporary copy",
}
_NAME = re.compile(r'[^"\x00]{1,63}')


class PostgresSettings(Settings):
    database: str = "splice"
    user: str = "splice"
    password: str | None = None  # None: generated once per machine (see default_password)
    version: Version = None
    init: list[ProjectFile] = []
    config: dict[str, str | int | float | bool] = {}
    locale: str = "C"
    ready_timeout: Duration = "30s"

    @field_validator("database", "user")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a usable name: 1 to 63 characters, no quotes")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", value):
            raise ValueError(f"{value!r} is not a locale name; for example C or en_US.UTF-8")
        return value

    @field_validator("config")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key.lower() in _MANAGED:
                raise ValueError(f"server setting {key!r} is set by splice: {_MANAGED[key]}")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
                raise ValueError(f"{key!r} is not a PostgreSQL setting name")
        return value


def _setting(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


class PostgresKind(SqlData):
    """PostgreSQL through the local (cached cluster), docker or external provider."""

    name: ClassVar[str] = "postgres"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"sqlalchemy_url", "socket_dir"})
    settings_model: ClassVar[type[Settings]] = PostgresSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = postgres_binaries.PACKAGES
    dialect = sql_fixtures.POSTGRES
    template_class = Template
    truncate_class = Truncate
    snapshot_class = Snapshot

    # providers -------------------------------------------------------------------------
    def start_local(self, ctx: StartContext) -> RunningService:
        settings: PostgresSettings = ctx.spec.settings
        name = ctx.spec.name
        postgres_cluster.driver(name)  # fail before starting anything when it is missing
        binaries = postgres_binaries.find(name, settings.version)
        cluster = postgres_cluster.Cluster(
            binaries,
            settings.user,
            service_password(settings.password, ctx.cache_dir),
            settings.database,
            settings.locale,
            postgres_cache.server_user(postgres_cluster.RUN_AS),
        )
        config = {k: _setting(v) for k, v in settings.config.items()}
        endpoint, _, stop, pid = postgres_cluster.start(
            ctx, cluster, config, parse_duration(settings.ready_timeout)
        )
        objects: dict[str, Any] = {"owned": True, "binaries": binaries}

        def close() -> None:
            run_closers(objects)  # pools and connections first, then the server
            stop()

        service = RunningService(ctx.spec, endpoint, stop=close, log_path=ctx.log_path, pid=pid)
        attach(service, objects)
        try:
            self._init(service, ctx.project_dir, settings.init)
        except BaseException:
            close()
            raise
        return service

    def _init(self, service: RunningService, project_dir: Path, files: list[str]) -> None:
        paths = [project_dir / f for f in files]
        for path in paths:
            if not path.is_file():
                raise ServiceError(
                    service.name,
                    f"init script not found: {path}",
                    hint="`init:` paths are relative to the project folder",
                )
        if paths:
            with connect(service.name, service.endpoint) as conn, conn.cursor() as cur:
                for path in paths:
                    sql_fixtures.run_script(cur, path, sql_fixtures.POSTGRES)

    def external(self, spec: ServiceSpec) -> Endpoint:
        url = spec.url or ""
        parts = urlsplit(url)
        if parts.scheme.split("+")[0] not in ("postgres", "postgresql"):
            raise ServiceError(
                spec.name,
                f"{url!r} is not a PostgreSQL URL",
                hint="write postgresql://user:password@host:port/database",
            )
        user = unquote(parts.username) if parts.username else None
        # libpq reads the URL itself (sslmode and other parameters included)
        libpq = url.replace(parts.scheme + "://", "postgresql://", 1)
        sqlalchemy = url.replace(parts.scheme + "://", "postgresql+psycopg://", 1)
        return Endpoint(
            url=libpq,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=user,
            password=unquote(parts.password) if parts.password else None,
            database=unquote(parts.path.lstrip("/")) or user,
            extra={"sqlalchemy_url": sqlalchemy},
        )

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        wait_ready(
            "postgres",
            postgres_cluster.probe("postgres", endpoint),
            timeout=timeout,
            awaited=f"a login and `SELECT 1` on {endpoint.host}:{endpoint.port}",
            hint="check the URL (user, password, database) and that the server runs",
        )

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: PostgresSettings = spec.settings
        env = {"POSTGRES_USER": settings.user, "POSTGRES_DB": settings.database}
        password = service_password(settings.password)
        if password:
            env["POSTGRES_PASSWORD"] = password
        else:
            env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
        command = ["postgres"]
        for key, value in {**postgres_cluster.SERVER_SETTINGS, **settings.config}.items():
            command += ["-c", f"{key}={_setting(value)}"]
        version = settings.version or postgres_binaries.DEFAULT_IMAGE_VERSION
        return DockerPlan(
            image=f"postgres:{version}",
            port=5432,
            env=env,
            command=command,
            endpoint=lambda host, port: make_endpoint(
                host, port, settings.user, password, settings.database
            ),
        )

    # data ------------------------------------------------------------------------------
    def data_connection(self, service: RunningService) -> Any:
        return connect(service.name, service.endpoint, autocommit=False)
