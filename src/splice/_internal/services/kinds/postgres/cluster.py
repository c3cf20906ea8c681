"""A private PostgreSQL server: a cached initialised cluster, copied to tmpfs and started.

Cold, `initdb` takes ~0.7 s; the cluster it makes (with the user's database already
created) is kept under the cache folder, keyed by version and the settings `initdb`
depends on. Each start copies it into a fresh temporary folder and runs `postgres`
directly (no `pg_ctl`), without fsync, and stops it with SIGINT (a fast shutdown).
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from splice._internal.services.kind_api import Endpoint, ServiceError, StartContext
from splice._internal.services.kinds.postgres import cache
from splice._internal.services.kinds.postgres.binaries import Binaries
from splice._internal.services.readiness import wait_ready

RUN_AS = ("postgres",)
SERVER_SETTINGS = {
    # durability costs time and buys nothing for a server that lives for one run
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # shared memory segments in the data folder, not /dev/shm: they go with the folder,
    # also when the server is killed
    "dynamic_shared_memory_type": "mmap",
}


@dataclass(frozen=True)
class Cluster:
    """What `initdb` depends on: one cached cluster per distinct value."""

    binaries: Binaries
    user: str
    password: str
    database: str
    locale: str
    run_user: str | None

    @property
    def cache_name(self) -> str:
        key = cache.settings_key(
            "postgres",
            self.binaries.major,
            self.user,
            self.password,
            self.database,
            self.locale,
            self.run_user,
        )
        return f"{self.binaries.major}-{key}"


def make_endpoint(
    host: str, port: int, user: str, password: str, database: str, **extra: Any
) -> Endpoint:
    """`postgresql://user:password@host:port/database`, plus the SQLAlchemy URL."""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    tail = f"{auth}@{host}:{port}/{quote(database, safe='')}"
    return Endpoint(
        url=f"postgresql://{tail}",
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        extra={"sqlalchemy_url": f"postgresql+psycopg://{tail}", **extra},
    )


def driver(service: str) -> Any:
    """The psycopg module, or an error naming the extra to install."""
    try:
        import psycopg
    except ImportError as exc:
        raise ServiceError(
            service,
            "the PostgreSQL driver (psycopg) is not installed",
            hint="pip install 'splice[postgres]'",
        ) from exc
    return psycopg


def connect(
    service: str,
    endpoint: Endpoint,
    *,
    database: str | None = None,
    autocommit: bool = True,
    timeout: float = 5.0,
) -> Any:
    """A psycopg connection to the endpoint (or another database of the same server)."""
    psycopg = driver(service)
    extra: dict[str, Any] = {"dbname": database} if database else {}
    # the URL, not its parts: it may carry sslmode and other libpq parameters
    return psycopg.connect(
        endpoint.url, connect_timeout=max(1, int(timeout)), autocommit=autocommit, **extra
    )


def probe(service: str, endpoint: Endpoint) -> Callable[[], None]:
    """Readiness: log in and run `SELECT 1`."""

    def run() -> None:
        with connect(service, endpoint, timeout=2) as conn:
            conn.execute("SELECT 1").fetchone()

    return run


def prepared_data(ctx: StartContext, cluster: Cluster, target: Path) -> None:
    """Put an initialised cluster at `target`: a copy of the cached one (built first
    when missing), or a fresh `initdb` when the cache folder cannot be written."""
    service = ctx.spec.name
    cached = cache.cached_folder(
        ctx.cache_dir / "postgres",
        cluster.cache_name,
        lambda folder: _build(ctx, cluster, folder),
        service=service,
        cancelled=ctx.cancelled,
    )
    if cached is None:
        _build(ctx, cluster, target)
        return
    try:
        cache.copy_tree(cached, target, ctx.resources)
    except OSError as exc:
        raise ServiceError(
            service,
            f"cannot copy the cached cluster {cached}: {exc}",
            hint=f"delete {cached} to rebuild it",
        ) from exc


def _build(ctx: StartContext, cluster: Cluster, target: Path) -> None:
    """initdb (as the server user, in tmpfs), create the database, copy to `target`."""
    service = ctx.spec.name
    scratch = cache.scratch_dir(ctx.resources, "pgbuild", cluster.run_user)
    try:
        data = scratch / "data"
        args = [
            cluster.binaries.tool("initdb"),
            "-D",
            str(data),
            "-E",
            "UTF8",
            f"--locale={cluster.locale}",
            "-U",
            cluster.user,
            "--no-sync",
        ]
        major = (
            int(cluster.binaries.major.split(".")[0]) if cluster.binaries.major[0].isdigit() else 0
        )
        if major >= 11:
            args.append("--wal-segsize=1")  # a 1 MB WAL segment copies faster than 16 MB
        if major >= 13:
            args.append("--no-instructions")
        if cluster.password:
            pwfile = cache.temp_file(scratch, cluster.password + "\n", cluster.run_user)
            args += [f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"]
        else:
            args.append("--auth=trust")
        cache.run_as(
            args,
            resources=ctx.resources,
            user=cluster.run_user,
            service=service,
            what="initdb",
            cwd=scratch,
        )
        if cluster.database not in ("postgres", "template1"):
            # single-user mode creates the database without starting a server
            name = cluster.database.replace('"', '""')
            cache.run_as(
                [
                    cluster.binaries.tool("postgres"),
                    "--single",
                    "-D",
                    str(data),
                    "-F",
                    "-c",
                    "exit_on_error=true",
                    "template1",
                ],
                resources=ctx.resources,
                user=cluster.run_user,
                service=service,
                what="creating the database",
                cwd=scratch,
                stdin=f'CREATE DATABASE "{name}";\n',
            )
        _trim(cluster, data)
        cache.copy_tree(data, target, ctx.resources)
    finally:
        ctx.resources.remove_dir(scratch)


def _trim(cluster: Cluster, data: Path) -> None:
    """Leave out what a cleanly shut down cluster can do without: ~20% fewer bytes and
    files to copy at every start.

    Free space maps and visibility maps are hints PostgreSQL rebuilds on demand (a missing
    one reads as "no free space known", "not all visible"); WAL segments after the one
    holding the last checkpoint are only recycled files waiting to be reused.
    """
    for pattern in ("base/*/*_fsm", "base/*/*_vm", "global/*_fsm", "global/*_vm"):
        for path in data.glob(pattern):
            path.unlink()
    done = subprocess.run(
        [cluster.binaries.tool("pg_controldata"), str(data)],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C"},
    )
    redo = re.search(r"REDO WAL file:\s*(\w{24})", done.stdout)
    if done.returncode == 0 and redo:
        for segment in (data / "pg_wal").iterdir():
            if re.fullmatch(r"[0-9A-F]{24}", segment.name) and segment.name > redo.group(1):
                segment.unlink()


def start(
    ctx: StartContext,
    cluster: Cluster,
    config: dict[str, str],
    timeout: float,
) -> tuple[Endpoint, Path, Callable[[], None], int]:
    """Copy, start and wait for the server; its endpoint, socket folder, stop, pid."""
    service = ctx.spec.name
    folder = cache.scratch_dir(ctx.resources, "pg", cluster.run_user)
    port = ctx.resources.port()
    try:
        prepared_data(ctx, cluster, folder / "data")
    except BaseException:
        ctx.resources.release_port(port)
        ctx.resources.remove_dir(folder)
        raise
    args = [
        cluster.binaries.tool("postgres"),
        "-D",
        str(folder / "data"),
        "-p",
        str(port),
        "-k",
        str(folder),
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    for key, value in {**SERVER_SETTINGS, **config}.items():
        args += ["-c", f"{key}={value}"]
    proc = ctx.resources.spawn(
        args, log=ctx.log_path, cwd=folder, user=cluster.run_user, env=cache.clean_env()
    )

    def stop() -> None:
        stop_server(ctx.resources, proc)
        ctx.resources.release_port(port)
        ctx.resources.remove_dir(folder)

    endpoint = make_endpoint(
        "127.0.0.1", port, cluster.user, cluster.password, cluster.database, socket_dir=str(folder)
    )
    try:
        wait_ready(
            service,
            probe(service, endpoint),
            proc=proc,
            log_path=ctx.log_path,
            awaited=f"a login as {cluster.user!r} and `SELECT 1` on 127.0.0.1:{port}",
            timeout=timeout,
            interval=0.003,
            hint=f"read the log above; a broken cache is rebuilt after deleting "
            f"{ctx.cache_dir / 'postgres'}",
        )
    except BaseException:
        stop()
        raise
    return endpoint, folder, stop, proc.pid


def stop_server(resources: Any, proc: subprocess.Popen[bytes]) -> None:
    """SIGINT is PostgreSQL's fast shutdown (~20 ms; `pg_ctl stop` polls and takes ~100).

    The server is reaped here first: a zombie still counts as a member of its process
    group, and Resources.stop would wait out its grace period for it.
    """
    if proc.poll() is None:
        # to the postmaster only: it shuts its children down itself
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    resources.stop(proc, sig=signal.SIGINT, grace=0.5)
