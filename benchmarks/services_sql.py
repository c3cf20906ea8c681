"""PostgreSQL and MariaDB through splice's local provider: ready time (cold, from the
cache, and pytest-postgresql's way), stop time, and the cost of per-testcase isolation.

    .venv/bin/python -c "from benchmarks import services_sql; print(services_sql.run())"

Every number is the median of several runs. "Ready" means a login and `SELECT 1`
answered, for splice and for the peer alike.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import BenchError, Table, median, ms, verdict

READY_TARGET = 0.2  # seconds, PostgreSQL from splice's cache
COMMAND = '.venv/bin/python -c "from benchmarks import services_sql; print(services_sql.run())"'

SCHEMA = """
create table users (id serial primary key, name text not null);
create table products (id serial primary key, sku text unique, price numeric(10, 2));
create table orders (id serial primary key, user_id int references users (id),
                     product_id int references products (id), qty int);
"""
MY_SCHEMA = """
create table users (id int auto_increment primary key, name varchar(40) not null);
create table products (id int auto_increment primary key, sku varchar(20) unique,
                       price decimal(10, 2));
create table orders (id int auto_increment primary key, user_id int, product_id int, qty int,
                     foreign key (user_id) references users (id),
                     foreign key (product_id) references products (id));
"""


def _fixtures() -> str:
    users = [{"id": i, "name": f"user{i}"} for i in range(1, 11)]
    products = [{"id": i, "sku": f"SKU-{i}", "price": i * 1.5} for i in range(1, 11)]
    orders = [{"user_id": i % 10 + 1, "product_id": i % 7 + 1, "qty": i} for i in range(20)]
    return json.dumps({"users": users, "products": products, "orders": orders})


@contextmanager
def _project(services: str, schema: str = SCHEMA) -> Iterator[Any]:
    from splice._internal.project.loader import load_project

    folder = Path(tempfile.mkdtemp(prefix="bench-sql-"))
    try:
        (folder / "schema.sql").write_text(schema)
        (folder / "fixtures.json").write_text(_fixtures())
        (folder / "splice.yaml").write_text(textwrap.dedent(services))
        yield load_project(folder / "splice.yaml")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _start_time(project: Any, cache: Path | None = None) -> float:
    """Seconds `Environment.start()` takes (the reaper is started before the clock)."""
    from splice._internal.environment.services import Environment

    saved = os.environ.get("SPLICE_CACHE_DIR")
    if cache is not None:
        os.environ["SPLICE_CACHE_DIR"] = str(cache)
    try:
        with Environment(project) as env:
            started = time.perf_counter()
            env.start()
            return time.perf_counter() - started
    finally:
        if cache is not None:
            if saved is None:
                os.environ.pop("SPLICE_CACHE_DIR", None)
            else:
                os.environ["SPLICE_CACHE_DIR"] = saved


def _cold(project: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
        try:
            times.append(_start_time(project, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return median(times)


def _warm(project: Any, runs: int) -> float:
    _start_time(project)  # builds the cache when it is missing
    return median([_start_time(project) for _ in range(runs)])


# PostgreSQL's own processes, outside splice: for the stop and peer measurements ------------
def _cluster() -> tuple[Any, Path, str | None]:
    from splice._internal.services.credentials import service_password
    from splice._internal.services.kinds.postgres import binaries as postgres_binaries
    from splice._internal.services.kinds.postgres import cache as postgres_cache
    from splice._internal.services.kinds.postgres import cluster as postgres_cluster
    from splice._internal.services.resources import cache_root

    binaries = postgres_binaries.find("bench", None)
    user = postgres_cache.server_user(postgres_cluster.RUN_AS)
    password = service_password(None)
    cluster = postgres_cluster.Cluster(binaries, "splice", password, "splice", "C", user)
    return binaries, cache_root() / "postgres" / cluster.cache_name, user


def _ids(user: str | None) -> dict[str, Any]:
    import pwd

    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _serve_copy(binaries: Any, cached: Path, user: str | None) -> tuple[Any, Path, int]:
    """A copy of the cached cluster started the way splice starts it; ready on return."""
    from splice._internal.services.kinds.postgres import cache as postgres_cache
    from splice._internal.services.kinds.postgres import cluster as postgres_cluster
    from splice._internal.services.resources import Resources, fast_tmp_root

    folder = Path(tempfile.mkdtemp(prefix="bench-pg-", dir=fast_tmp_root()))
    postgres_cache.give_to(folder, user)
    postgres_cache.copy_tree(cached, folder / "data", Resources())
    port = _free_port()
    args = [
        binaries.tool("postgres"),
        "-D",
        str(folder / "data"),
        "-p",
        str(port),
        "-k",
        str(folder),
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    for key, value in postgres_cluster.SERVER_SETTINGS.items():
        args += ["-c", f"{key}={value}"]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=folder,
        **_ids(user),
    )
    _wait_sql(port, proc)
    return proc, folder, port


def _wait_sql(port: int, proc: Any, timeout: float = 30.0) -> None:
    import psycopg

    from splice._internal.services.credentials import service_password

    password = service_password(None)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=port,
                user="splice",
                password=password,
                dbname="splice",
                connect_timeout=2,
            ) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the benchmark's PostgreSQL did not start") from None
            time.sleep(0.003)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop_times(runs: int) -> tuple[float, float]:
    """Median seconds from the stop request to the server's exit: SIGINT, pg_ctl stop."""
    binaries, cached, user = _cluster()
    sigint, pg_ctl = [], []
    for _ in range(runs):
        for way, times in (("sigint", sigint), ("pg_ctl", pg_ctl)):
            proc, folder, _ = _serve_copy(binaries, cached, user)
            try:
                started = time.perf_counter()
                if way == "sigint":
                    proc.send_signal(signal.SIGINT)
                    proc.wait(timeout=30)
                else:
                    subprocess.run(
                        [
                            binaries.tool("pg_ctl"),
                            "stop",
                            "-D",
                            str(folder / "data"),
                            "-m",
                            "fast",
                            "-w",
                        ],
                        check=True,
                        capture_output=True,
                        timeout=60,
                        **_ids(user),
                    )
                    proc.wait(timeout=30)
                times.append(time.perf_counter() - started)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                shutil.rmtree(folder, ignore_errors=True)
    return median(sigint), median(pg_ctl)


def _peer(runs: int) -> tuple[float, float] | str:
    """pytest-postgresql's PostgreSQLExecutor (what `postgresql_proc` runs): initdb, then
    `pg_ctl start -w`, data in a temporary folder on disk as in its default. Under root,
    `pg_ctl` is called through a `setpriv` wrapper that runs it as the server user, since
    initdb refuses root (and so does the plugin itself there)."""
    try:
        import psycopg
        from pytest_postgresql.executors.proc import PostgreSQLExecutor
    except ImportError:
        return "not installed (.venv/bin/pip install pytest-postgresql)"
    binaries, _, user = _cluster()
    from splice._internal.services.kinds.postgres.cache import give_to

    ready, stop = [], []
    tools = Path(tempfile.mkdtemp(prefix="bench-peer-tools-"))
    try:
        pg_ctl = binaries.tool("pg_ctl")
        if user is not None:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                return "needs `setpriv` to run as an unprivileged user under root"
            wrapper = tools / "pg_ctl"
            wrapper.write_text(
                f"#!/bin/sh\nexec {setpriv} --reuid={user} --regid={user} "
                f'--clear-groups {pg_ctl} "$@"\n'
            )
            wrapper.chmod(0o755)
            tools.chmod(0o755)
            pg_ctl = str(wrapper)
        for _ in range(runs):
            folder = Path(tempfile.mkdtemp(prefix="bench-peer-"))
            give_to(folder, user)
            port = _free_port()
            ex = PostgreSQLExecutor(
                pg_ctl,
                "127.0.0.1",
                port,
                str(folder / "data"),
                str(folder),
                str(folder / "log"),
                "-w",
                "test",
                user="postgres",
            )
            try:
                started = time.perf_counter()
                ex.start()
                with psycopg.connect(
                    host="127.0.0.1", port=port, user="postgres", dbname="postgres"
                ) as conn:
                    conn.execute("SELECT 1")
                ready.append(time.perf_counter() - started)
                started = time.perf_counter()
                ex.stop()
                stop.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - reported in the table
                return f"failed: {str(exc).splitlines()[0][:120]}"
            finally:
                if ex.running():
                    ex.stop()
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tools, ignore_errors=True)
    return median(ready), median(stop)


def _copy_time(runs: int) -> float:
    from splice._internal.services.kinds.postgres.cache import copy_tree
    from splice._internal.services.resources import Resources, fast_tmp_root

    _, cached, _ = _cluster()
    resources = Resources()  # copies tagged as splice tags them
    times = []
    for _ in range(runs):
        target = Path(tempfile.mkdtemp(prefix="bench-copy-", dir=fast_tmp_root())) / "data"
        started = time.perf_counter()
        copy_tree(cached, target, resources)
        times.append(time.perf_counter() - started)
        shutil.rmtree(target.parent, ignore_errors=True)
    return median(times)


# isolation ------------------------------------------------------------------------------
def _each(fn: Callable[[], None], runs: int, gap: float = 0.0) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
        time.sleep(gap)  # the testcase's own work, while the pool prepares the next clone
    return median(times)


def _isolation(kind_name: str, schema: str, runs: int) -> dict[str, float]:
    from splice._internal.environment.isolation import DataManager
    from splice._internal.environment.services import Environment
    from splice._internal.executors.executor_api import StepContext, TestcaseSession
    from splice._internal.executors.sql import SqlBlock, SqlExecutor
    from splice._internal.services import kind_registry as registry

    service = "{kind: %s, init: [schema.sql], isolation: %s}"
    text = f"""
        services:
          tpl: {service % (kind_name, "template")}
          trunc: {service % (kind_name, "truncate")}
          rb: {service % (kind_name, "rollback")}
        data: {{fixtures: {{tpl: [fixtures.json], trunc: [fixtures.json], rb: [fixtures.json]}}}}
    """
    out: dict[str, float] = {}
    with _project(text, schema) as project, Environment(project) as env:
        env.start()
        DataManager(env, project).prepare()
        kind: Any = registry.get(kind_name)
        tpl, trunc = env.services["tpl"], env.services["trunc"]

        def template() -> None:
            kind.release(tpl, "template", "k", kind.acquire(tpl, "template", "k"))

        out["template, pool ready (20 ms testcases)"] = _each(template, runs, gap=0.02)
        out["template, back to back (pool drained)"] = _each(template, runs)
        out["truncate (3 tables, 40 fixture rows)"] = _each(
            lambda: kind.release(trunc, "truncate", "k", None), runs
        )
        executor = SqlExecutor()
        insert = SqlBlock(service="x", query="insert into users (name) values ('bench')")
        for mode, vars_ in (("rollback", {"isolation": "rollback"}), ("none", {})):
            services = {"x": {**env.services["rb"].endpoint.as_vars(), **vars_}}

            def attempt(services: dict[str, Any] = services) -> None:
                ctx = StepContext(
                    vars={"services": services}, session=TestcaseSession(), base_dir=Path.cwd()
                )
                executor.execute(insert, ctx)
                ctx.session.close()

            attempt()  # the first engine pays SQLAlchemy's import and dialect set-up
            out[f"one sql step, {mode}"] = _each(attempt, runs)
    return out


def run(runs: int = 7) -> str:
    """The Markdown section: three tables."""
    pg = "services: {db: {kind: postgres}}\n"
    my = "services: {db: {kind: mariadb}}\n"
    with _project(pg) as pg_project, _project(my) as my_project:
        warm = _warm(pg_project, runs)
        ready = Table(
            f"SQL services: time to ready (median of {runs}; cold: 3)",
            COMMAND,
            ["server", "way", "ready in", "target"],
        )
        ready.rows += [
            [
                "PostgreSQL",
                "splice, cold: initdb, cache built, copy, start",
                ms(_cold(pg_project, 3)),
                "",
            ],
            [
                "PostgreSQL",
                "splice, from the cache (copy to tmpfs, start)",
                ms(warm),
                f"≤ {ms(READY_TARGET)}: {verdict(warm <= READY_TARGET)}",
            ],
            ["PostgreSQL", "of which: copying the cached cluster", ms(_copy_time(runs)), ""],
        ]
        peer = _peer(3)
        peer_text = ms(peer[0]) if isinstance(peer, tuple) else peer
        ready.rows.append(
            ["PostgreSQL", "pytest-postgresql 10 (initdb + pg_ctl start -w, disk)", peer_text, ""]
        )
        ready.rows += [
            [
                "MariaDB",
                "splice, cold: install-db, cache built, copy, start",
                ms(_cold(my_project, 2)),
                "",
            ],
            ["MariaDB", "splice, from the cache", ms(_warm(my_project, runs)), ""],
        ]
    sigint, pg_ctl = _stop_times(runs)
    stop = Table(f"PostgreSQL: time to stop (median of {runs})", COMMAND, ["way", "stopped in"])
    stop.rows += [
        ["SIGINT to the postmaster (splice)", ms(sigint)],
        ["`pg_ctl stop -m fast -w`", ms(pg_ctl)],
    ]
    if isinstance(peer, tuple):
        stop.rows.append(
            ["pytest-postgresql (`pg_ctl stop -m f`, then its own checks)", ms(peer[1])]
        )
    isolation = Table(
        f"Per-testcase isolation cost (median of {runs * 3})",
        COMMAND,
        ["server", "mode", "cost per testcase attempt"],
    )
    for name, kind, schema in (
        ("PostgreSQL", "postgres", SCHEMA),
        ("MariaDB", "mariadb", MY_SCHEMA),
    ):
        for mode, seconds in _isolation(kind, schema, runs * 3).items():
            isolation.rows.append([name, mode, ms(seconds)])
    isolation.notes += [
        "template: acquire + release as the runner calls them; clones are made and dropped "
        "by a background thread, so a testcase that takes longer than one clone waits for "
        "nothing",
        "truncate: emptying every table and loading the fixtures again, after each attempt",
        "rollback vs none: one `sql` step's whole attempt (connect, statement, close); the "
        "difference is the cost of the transaction and savepoint",
    ]
    return "\n".join(t.markdown() for t in (ready, stop, isolation))


if __name__ == "__main__":
    print(run())
