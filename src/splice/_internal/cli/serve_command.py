"""`splice serve`: the dashboard and REST API over the results store; with `--project`
it also starts runs when asked through the API (`web.triggers`), and with `--dist` it
keeps a Dask cluster for the suite runs it starts."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from splice._internal.cli.store_commands import _open, _out, _store_option
from splice._internal.errors import UsageError

__all__ = ["serve"]


def _hosts(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from splice._internal.web.guard import check_pattern

    try:
        return tuple(check_pattern(v) for v in value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _size(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    from splice._internal.web.guard import parse_size

    try:
        size = parse_size(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a size: give one like 64MiB, 500KiB or 1GiB"
        ) from None
    if size < 1024:
        raise click.BadParameter(f"{value!r} is too small: the least is 1KiB")
    return size


@click.command()
@_store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(1, 65535))
@click.option("--private", is_flag=True, help="Reads need a token too (writes always do).")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    envvar="SPLICE_ALLOWED_HOSTS",
    show_envvar=True,
    callback=_hosts,
    help="A name this server is reached by (behind a proxy: dash.example.com, "
    "*.example.com, or * for any); repeatable. IP addresses and localhost always are.",
)
@click.option(
    "--max-body",
    default="64MiB",
    show_default=True,
    metavar="SIZE",
    envvar="SPLICE_MAX_BODY",
    show_envvar=True,
    callback=_size,
    help="Largest request body (uploads of JUnit XML and JSON reports); larger gets 413.",
)
@click.option("--keep-days", type=float, metavar="DAYS", help="Delete runs older than this.")
@click.option("--keep-runs", type=click.IntRange(1), metavar="N", help="Keep the newest N runs.")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Start runs in this project (the folder of splice.yaml) when asked through the API "
    "(POST /api/workflows/NAME/runs, POST /api/suites/runs); without it the server starts none.",
)
@click.option(
    "--max-concurrent-runs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    metavar="N",
    help="Triggered runs that run at once; more wait in the queue.",
)
@click.option(
    "--queue-size",
    default=10,
    show_default=True,
    type=click.IntRange(0, 1000),
    metavar="N",
    help="Triggered runs that may wait; past that a trigger gets 429 with Retry-After.",
)
@click.option(
    "--dist",
    metavar="dask[:ADDRESS]",
    help="With --project: run triggered suite runs as `splice shard run` on Dask: a local "
    "cluster the server keeps (dask), or the scheduler at ADDRESS (dask:tcp://HOST:8786, "
    "dask://HOST:8786).",
)
@click.option(
    "--dist-shards",
    default=2,
    show_default=True,
    type=click.IntRange(1, 1024),
    metavar="N",
    help="With --dist: shards of each triggered suite run (and workers of the local cluster).",
)
def serve(
    *,
    store_url: str | None,
    host: str,
    port: int,
    private: bool,
    allowed_hosts: tuple[str, ...],
    max_body: int,
    keep_days: float | None,
    keep_runs: int | None,
    project_dir: Path | None,
    max_concurrent_runs: int,
    queue_size: int,
    dist: str | None,
    dist_shards: int,
) -> None:
    """Dashboard and REST API over the results store, on a local port."""
    import socket

    import uvicorn

    from splice._internal.web.app import Retention, create_app
    from splice._internal.web.guard import check_pattern

    store = _open(store_url)
    try:
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.close()
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            "another program uses the port: choose one with --port",
        ) from exc
    names = list(allowed_hosts)
    with contextlib.suppress(ValueError):  # --host given as a name is a name of this server
        names.append(check_pattern(host))
    triggers = _trigger_settings(store.url, project_dir, max_concurrent_runs, queue_size)
    cluster = _cluster(dist, dist_shards, triggers)
    try:
        if cluster is not None:
            triggers = dataclasses.replace(triggers, dist=cluster.address, dist_shards=dist_shards)
        app = create_app(
            store,
            private=private,
            retention=Retention(keep_days, keep_runs),
            allowed_hosts=names,
            max_body=max_body,
            triggers=triggers,
            on_stop=[cluster.close] if cluster is not None else [],
        )
        if app.state.triggers is not None:
            _recover(app.state.triggers, store.url)
        _greet(store, host, port, private=private, triggers=triggers, local=dist == "dask")
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if cluster is not None:
            cluster.close()


def _recover(queue: Any, url: str) -> None:
    """The queue a gone server left, taken over before the server listens; a store that
    cannot be read or written then is a usage error that says so."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        queue.recover()
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's own message, if any
        raise UsageError(
            f"cannot take over the triggers a stopped server left in {url}: "
            f"{str(cause).splitlines()[0]}",
            "check that the store is reachable and writable (`splice store info`)",
        ) from None


def _greet(store: Any, host: str, port: int, *, private: bool, triggers: Any, local: bool) -> None:
    from splice._internal.store import tokens
    from splice._internal.web.guard import is_loopback

    out = _out()
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    out.print(
        f"[bold]splice serve[/]: http://{shown}:{port}/  [dim](store: {escape(store.url)})[/]"
    )
    if not private and not is_loopback(host):
        out.print(
            f"[yellow]warning:[/] reads are open: whoever reaches port {port} of this machine "
            "reads every stored run (requests, responses, logs, command lines) without a "
            "token; start with --private to need a read token"
        )
    if not any(t["scope"] == "write" for t in tokens.listing(store)):
        out.print(
            "[dim]no write token yet: uploads, --report-to and the quarantine need one; "
            "create it with `splice store token add NAME`[/]"
        )
    if triggers is not None:
        out.print(
            f"[dim]runs are started on request in {escape(str(triggers.project))}: "
            f"{triggers.max_concurrent} at once, {triggers.queue_size} waiting[/]"
        )
    if triggers is not None and triggers.dist:
        cluster = f"a local Dask cluster of {triggers.dist_shards} workers" if local else "Dask"
        out.print(
            f"[dim]triggered suite runs go to {cluster} at {escape(triggers.dist)}, "
            f"in {triggers.dist_shards} shards each[/]"
        )


def _cluster(dist: str | None, shards: int, triggers: Any) -> Any:
    """The Dask cluster of `--dist` (started, or its scheduler reached); None without it."""
    if dist is None:
        return None
    if triggers is None:
        raise UsageError(
            "--dist needs --project: only the runs the server starts go to Dask",
            "add --project DIR (the folder of splice.yaml)",
        )
    from splice._internal.shards.dask import KeptCluster
    from splice._internal.shards.execute import parse_on

    return KeptCluster(parse_on(dist, "--dist"), shards, "--dist")


def _trigger_settings(store_url: str, project_dir: Path | None, concurrent: int, queue: int) -> Any:
    """What `--project` and its limits give the server; None without --project."""
    if project_dir is None:
        return None
    from splice._internal.project.model import PROJECT_FILE
    from splice._internal.store.location import sqlite_path
    from splice._internal.web.triggers import TriggerSettings

    folder = project_dir.resolve()
    if not (folder / PROJECT_FILE).is_file():
        raise UsageError(
            f"--project {project_dir}: there is no {PROJECT_FILE} in {folder}",
            "give the folder of the project's splice.yaml",
        )
    path = sqlite_path(store_url)
    if path and path != ":memory:" and not Path(path).is_absolute():
        store_url = f"sqlite:///{Path(path).resolve()}"  # the runs start in another folder
    return TriggerSettings(folder, store_url, max_concurrent=concurrent, queue_size=queue)
