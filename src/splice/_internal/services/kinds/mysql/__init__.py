"""The `mysql` and `mariadb` kinds: a private server per run, from a cached data folder.

    db:
      kind: mariadb                # or mysql (served by MariaDB when that is installed)
      database: shop               # default splice
      user: shop                   # default splice (all privileges on the private server)
      password: s3cret             # default: generated once per machine
      init: [db/schema.sql]
      config: {max_connections: 200, sql_mode: STRICT_ALL_TABLES}

Exported: `services.db.url` (`mysql://user:password@127.0.0.1:PORT/database`), `host`,
`port`, `user`, `password`, `database`, `sqlalchemy_url` (`mysql+pymysql://...`),
`socket` and `flavor` (mariadb or mysql).
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
from splice._internal.services.kinds.mysql import binaries as mysql_binaries
from splice._internal.services.kinds.mysql import server as mysql_server
from splice._internal.services.kinds.mysql.isolation import Template, Truncate
from splice._internal.services.kinds.mysql.server import connect, make_endpoint
from splice._internal.services.kinds.mysql.snapshot import Snapshot
from splice._internal.services.kinds.postgres import cache as postgres_cache
from splice._internal.services.kinds.postgres.data import SqlData, attach, run_closers
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import Duration, ProjectFile, Version

_MANAGED = {
    "port": "splice assigns a free port",
    "bind_address": "the server listens on 127.0.0.1 only",
    "socket": "the socket is in the server's temporary folder",
    "datadir": "the data folder is a private temporary copy",
    "pid_file": "the pid file is in the server's temporary folder",
    "user": "splice chooses the user the server runs as",
    "skip_networking": "splice connects over TCP",
}


class MysqlSettings(Settings):
    database: str = "splice"
    user: str = "splice"
    password: str | None = None  # None: generated once per machine (see default_password)
    version: Version = None
    init: list[ProjectFile] = []
    config: dict[str, str | int | float | bool] = {}
    ready_timeout: Duration = "60s"

    @field_validator("database", "user")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[^`'\"\\\x00/]{1,64}", value):
            raise ValueError(f"{value!r} is not a usable name: 1 to 64 characters, no quotes")
        return value

    @field_validator("config")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            normal = key.replace("-", "_").lower()
            if normal in _MANAGED:
                raise ValueError(f"server option {key!r} is set by splice: {_MANAGED[normal]}")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
                raise ValueError(f"{key!r} is not a server option name")
        return value


def _option(key: str, value: Any) -> str:
    if isinstance(value, bool):
        value = "ON" if value else "OFF"
    return f"--{key.replace('_', '-')}={value}"


class MysqlKind(SqlData):
    """MySQL through the local (cached data folder), docker or external provider."""

    name: ClassVar[str] = "mysql"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"sqlalchemy_url", "socket", "flavor"})
    flavor: ClassVar[str] = "mysql"
    image: ClassVar[str] = "mysql"
    default_image_version: ClassVar[str] = "8"
    settings_model: ClassVar[type[Settings]] = MysqlSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "docker", "external"})
    packages: ClassVar[dict[str, str]] = {"debian": "default-mysql-server", "macos": "mysql"}
    dialect = sql_fixtures.MYSQL
    template_class = Template
    truncate_class = Truncate
    snapshot_class = Snapshot

    # providers -------------------------------------------------------------------------
    def start_local(self, ctx: StartContext) -> RunningService:
        settings: MysqlSettings = ctx.spec.settings
        name = ctx.spec.name
        mysql_server.driver(name)
        image = f"{self.image}:{settings.version or self.default_image_version}"
        server = mysql_binaries.find(name, self.flavor, settings.version, self.packages, image)
        data = mysql_server.DataDir(
            server,
            settings.user,
            service_password(settings.password, ctx.cache_dir),
            settings.database,
            postgres_cache.server_user(mysql_server.RUN_AS),
        )
        config = [_option(k, v) for k, v in settings.config.items()]
        endpoint, stop, pid = mysql_server.start(
            ctx, data, config, parse_duration(settings.ready_timeout)
        )
        objects: dict[str, Any] = {"owned": True}

        def close() -> None:
            run_closers(objects)  # pools and connections first, then the server
            stop()

        service = RunningService(ctx.spec, endpoint, stop=close, log_path=ctx.log_path, pid=pid)
        attach(service, objects)
        try:
            self._init(service, [ctx.project_dir / f for f in settings.init])
        except BaseException:
            close()
            raise
        return service

    def _init(self, service: RunningService, paths: list[Path]) -> None:
        for path in paths:
            if not path.is_file():
                raise ServiceError(
                    service.name,
                    f"init script not found: {path}",
                    hint="`init:` paths are relative to the project folder",
                )
        if paths:
            conn = connect(service.name, service.endpoint)
            try:
                with conn.cursor() as cur:
                    for path in paths:
                        sql_fixtures.run_script(cur, path, sql_fixtures.MYSQL)
            finally:
                conn.close()

    def external(self, spec: ServiceSpec) -> Endpoint:
        url = spec.url or ""
        parts = urlsplit(url)
        if parts.scheme.split("+")[0] not in ("mysql", "mariadb"):
            raise ServiceError(
                spec.name,
                f"{url!r} is not a MySQL URL",
                hint="write mysql://user:password@host:port/database",
            )
        return make_endpoint(
            parts.hostname or "127.0.0.1",
            parts.port or 3306,
            unquote(parts.username) if parts.username else "root",
            unquote(parts.password) if parts.password else "",
            unquote(parts.path.lstrip("/")) or None,
        )

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        wait_ready(
            self.name,
            mysql_server.probe(self.name, endpoint),
            timeout=timeout,
            awaited=f"a login and `SELECT 1` on {endpoint.host}:{endpoint.port}",
            hint="check the URL (user, password, database) and that the server runs",
        )

    def docker_plan(self, spec: ServiceSpec) -> DockerPlan:
        settings: MysqlSettings = spec.settings
        prefix = "MARIADB" if self.flavor == "mariadb" else "MYSQL"
        env = {f"{prefix}_DATABASE": settings.database}
        password = service_password(settings.password)
        if password:
            env[f"{prefix}_ROOT_PASSWORD"] = password
        else:
            env[f"{prefix}_ALLOW_EMPTY_{'ROOT_' if prefix == 'MARIADB' else ''}PASSWORD"] = "yes"
        if settings.user != "root":
            env[f"{prefix}_USER"] = settings.user
            env[f"{prefix}_PASSWORD"] = password
        command = [o for o in mysql_server.SERVER_ARGS if "log-file-size" not in o]
        command += [_option(k, v) for k, v in settings.config.items()]
        version = settings.version or self.default_image_version
        return DockerPlan(
            image=f"{self.image}:{version}",
            port=3306,
            env=env,
            command=command,
            endpoint=lambda host, port: make_endpoint(
                host, port, settings.user, password, settings.database, flavor=self.flavor
            ),
        )

    # data ------------------------------------------------------------------------------
    def data_connection(self, service: RunningService) -> Any:
        return connect(service.name, service.endpoint, autocommit=False)


class MariadbKind(MysqlKind):
    """MariaDB: the same kind, with MariaDB's binaries and Docker image."""

    name: ClassVar[str] = "mariadb"
    flavor: ClassVar[str] = "mariadb"
    image: ClassVar[str] = "mariadb"
    default_image_version: ClassVar[str] = "11"
    packages: ClassVar[dict[str, str]] = {"debian": "mariadb-server", "macos": "mariadb"}
