"""A private MySQL or MariaDB server: a cached initialised data folder, copied and started.

The data folder is made once per server version and settings (`mariadb-install-db`, or
`mysqld --initialize-insecure` for MySQL), started once to create the user and the
database, and kept under the cache folder. Each start copies it into a fresh temporary
folder and runs the server with InnoDB's durability turned off.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import socket as _socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from splice._internal.services.kind_api import Endpoint, ServiceError, StartContext
from splice._internal.services.kinds.mysql.binaries import Server
from splice._internal.services.kinds.postgres import cache
from splice._internal.services.readiness import wait_ready

RUN_AS = ("mysql",)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# the same for the first start (creating the user) and every later one
SERVER_ARGS = (
    "--skip-name-resolve",
    "--skip-log-bin",  # MySQL 8 writes a binary log by default; tests never read it
    "--innodb-flush-log-at-trx-commit=0",  # no durability needed for one run
    "--innodb-doublewrite=0",
    "--innodb-log-file-size=8M",  # a small redo log copies fast
    "--innodb-buffer-pool-size=32M",
    "--innodb-temp-data-file-path=ibtmp1:1M:autoextend",  # not 12 MB written per start
    "--character-set-server=utf8mb4",
    "--performance-schema=OFF",
)


def driver(service: str) -> Any:
    try:
        # imported by name: PyMySQL ships no type hints
        pymysql = importlib.import_module("pymysql")
    except ImportError as exc:
        raise ServiceError(
            service,
            "the MySQL driver (PyMySQL) is not installed",
            hint="pip install 'splice[mysql]'",
        ) from exc
    return pymysql


def make_endpoint(
    host: str, port: int, user: str, password: str, database: str | None, **extra: Any
) -> Endpoint:
    """`mysql://user:password@host:port/database`, plus the SQLAlchemy URL."""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    tail = f"{auth}@{host}:{port}/{quote(database or '', safe='')}"
    return Endpoint(
        url=f"mysql://{tail}",
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        extra={"sqlalchemy_url": f"mysql+pymysql://{tail}", **extra},
    )


def connect(
    service: str,
    endpoint: Endpoint,
    *,
    database: str | None = None,
    autocommit: bool = True,
    timeout: float = 5.0,
    socket: str | None = None,
) -> Any:
    pymysql = driver(service)
    where: dict[str, Any] = (
        {"unix_socket": socket}
        if socket
        else {"host": endpoint.host, "port": endpoint.port or 3306}
    )
    # TLS to a loopback address buys nothing, and PyMySQL's default (try TLS) builds a
    # TLS context for every connection: ~25 ms each
    local = socket is not None or endpoint.host in _LOOPBACK
    return pymysql.connect(
        ssl_disabled=local,
        user=endpoint.user or "root",
        password=endpoint.password or "",
        database=database if database is not None else endpoint.database,
        connect_timeout=max(1, int(timeout)),
        autocommit=autocommit,
        charset="utf8mb4",
        **where,
    )


def probe(service: str, endpoint: Endpoint, socket: str | None = None) -> Callable[[], None]:
    """Readiness: log in and run `SELECT 1`."""

    def run() -> None:
        if socket is not None:
            # PyMySQL leaks its socket when a Unix socket refuses; try one that we close
            with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as raw:
                raw.connect(socket)
        conn = connect(service, endpoint, timeout=2, socket=socket)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        finally:
            conn.close()

    return run


@dataclass(frozen=True)
class DataDir:
    """What the initialised data folder depends on."""

    server: Server
    user: str
    password: str
    database: str
    run_user: str | None

    @property
    def cache_name(self) -> str:
        key = cache.settings_key(
            self.server.flavor,
            self.server.version,
            self.user,
            self.password,
            self.database,
            self.run_user,
            SERVER_ARGS,
        )
        return f"{self.server.flavor}-{self.server.version}-{key}"


def _bootstrap_sql(d: DataDir) -> list[str]:
    def lit(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    db = "`" + d.database.replace("`", "``") + "`"
    out = [f"CREATE DATABASE IF NOT EXISTS {db}"]
    for host in ("%", "localhost"):
        who = f"{lit(d.user)}@{lit(host)}"
        out += [
            f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {lit(d.password)}",
            f"ALTER USER {who} IDENTIFIED BY {lit(d.password)}",
            f"GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION",
        ]
    return [*out, "FLUSH PRIVILEGES"]


def build(ctx: StartContext, d: DataDir, target: Path) -> None:
    """Initialise a data folder in tmpfs, create the user and database, copy to `target`."""
    name = ctx.spec.name
    scratch = cache.scratch_dir(ctx.resources, "mybuild", d.run_user)
    try:
        data = scratch / "data"
        if d.server.installer is not None:
            args = [
                d.server.installer,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *SERVER_ARGS,
            ]
        else:
            args = [
                d.server.daemon,
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={data}",
                *SERVER_ARGS,
            ]
        cache.run_as(
            args,
            resources=ctx.resources,
            user=d.run_user,
            service=name,
            what="initialising the data folder",
            cwd=scratch,
            timeout=180,
        )
        sock = str(scratch / "mysqld.sock")
        proc = ctx.resources.spawn(
            [
                d.server.daemon,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={sock}",
                f"--pid-file={scratch / 'mysqld.pid'}",
                "--skip-networking",
                *SERVER_ARGS,
            ],
            log=ctx.log_path,
            cwd=scratch,
            user=d.run_user,
            env=cache.clean_env(),
        )
        try:
            root = Endpoint(url="", user="root", password="")
            wait_ready(
                name,
                probe(name, root, sock),
                awaited="the first start",
                proc=proc,
                timeout=60,
                log_path=ctx.log_path,
            )
            conn = connect(name, root, socket=sock, database="")
            with contextlib.closing(conn), conn.cursor() as cur:
                for statement in _bootstrap_sql(d):
                    cur.execute(statement)
        finally:
            stop_server(ctx.resources, proc)
        (data / "auto.cnf").unlink(missing_ok=True)  # MySQL: a server id per copy
        cache.copy_tree(data, target, ctx.resources)
    finally:
        ctx.resources.remove_dir(scratch)


def start(
    ctx: StartContext,
    d: DataDir,
    config: list[str],
    timeout: float,
) -> tuple[Endpoint, Callable[[], None], int]:
    """Copy the cached data folder, start the server, wait for a login."""
    name = ctx.spec.name
    folder = cache.scratch_dir(ctx.resources, "mysql", d.run_user)
    port = ctx.resources.port()
    try:
        cached = cache.cached_folder(
            ctx.cache_dir / "mysql",
            d.cache_name,
            lambda f: build(ctx, d, f),
            service=name,
            cancelled=ctx.cancelled,
        )
        if cached is None:
            build(ctx, d, folder / "data")
        else:
            cache.copy_tree(cached, folder / "data", ctx.resources)
    except BaseException:
        ctx.resources.release_port(port)
        ctx.resources.remove_dir(folder)
        raise
    sock = str(folder / "mysqld.sock")
    proc = ctx.resources.spawn(
        [
            d.server.daemon,
            "--no-defaults",
            f"--datadir={folder / 'data'}",
            f"--port={port}",
            f"--socket={sock}",
            f"--pid-file={folder / 'mysqld.pid'}",
            "--bind-address=127.0.0.1",
            *SERVER_ARGS,
            *config,
        ],
        log=ctx.log_path,
        cwd=folder,
        user=d.run_user,
        env=cache.clean_env(),
    )

    def stop() -> None:
        stop_server(ctx.resources, proc)
        ctx.resources.release_port(port)
        ctx.resources.remove_dir(folder)

    endpoint = make_endpoint(
        "127.0.0.1", port, d.user, d.password, d.database, socket=sock, flavor=d.server.flavor
    )
    try:
        wait_ready(
            name,
            probe(name, endpoint),
            proc=proc,
            log_path=ctx.log_path,
            awaited=f"a login as {d.user!r} and `SELECT 1` on 127.0.0.1:{port}",
            timeout=timeout,
            interval=0.005,
            hint=f"read the log above; a broken cache is rebuilt after deleting "
            f"{ctx.cache_dir / 'mysql'}",
        )
    except BaseException:
        stop()
        raise
    return endpoint, stop, proc.pid


def stop_server(resources: Any, proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM is a clean shutdown; the server is reaped first (see postgres_cluster)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    resources.stop(proc, grace=0.5)
