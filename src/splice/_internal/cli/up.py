"""`splice up`, `splice down`, `splice status`: a long-lived environment for development.

`splice up` starts the project's services in a background process that keeps them
running, writes their connection details to `.splice/up.json` and `.splice/up.env`, and
returns. A later `splice run` in the project finds it and reuses it instead of starting
its own. `splice down` stops it; if that process is killed, its reaper still stops the
services.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from splice._internal.environment.up_state import (
    STATE_DIR,
    passwords,
    read_state,
    remove_state,
    saved_service,
    write_state,
)
from splice._internal.errors import UsageError
from splice._internal.project.model import Project
from splice._internal.services.kind_api import Endpoint, ServiceSpec
from splice._internal.words import count


def up(
    project: Project,
    console: Console,
    *,
    foreground: bool,
    timeout: float,
    warm_key: str | None = None,
    idle: float | None = None,
) -> int:
    if not project.services:
        raise UsageError("the project has no services to start", "add `services:` to splice.yaml")
    existing = read_state(project)
    if existing is not None:
        console.print(f"already up (pid {existing['pid']}); `splice down` stops it")
        _print_details(existing, console)
        return 0
    if foreground:
        return _serve(project, console, warm_key, idle)
    folder = project.root / STATE_DIR
    folder.mkdir(exist_ok=True)
    log = folder / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "splice", "up", "--foreground"],
            cwd=project.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(project)
        if state is not None and state.get("ready"):
            console.print(f"[green]up[/] (pid {proc.pid}); `splice down` stops it")
            _print_details(state, console)
            return 0
        if proc.poll() is not None:
            console.print(escape(log.read_text(errors="replace")), highlight=False)
            return proc.returncode or 3
        time.sleep(0.05)
    proc.terminate()
    console.print(f"[red]error:[/] the environment was not up within {timeout:g}s; see {log}")
    return 3


def _serve(project: Project, console: Console, warm_key: str | None, idle: float | None) -> int:
    """Keep the project's environment open until a signal (or, as the supervisor of a warm
    pool, `idle` seconds without an attached run); its state file says so."""
    from splice._internal.cli.services import print_service_error
    from splice._internal.environment import warm
    from splice._internal.environment.lifecycle import StartFailed, open_environment
    from splice._internal.services.kind_api import ServiceError

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with open_environment(project, reuse_up=False) as opened:
            pool: dict[str, Any] | None = None
            if warm_key is not None:
                seconds = idle if idle is not None else warm.DEFAULT_IDLE
                pool = {"key": warm_key, "idle": seconds}
            write_state(project, opened.services, pool)
            if pool is not None:  # after the state: a run waiting for it holds the lock
                warm.supervise(project, opened.services, pool["idle"], stop)
            console.print("ready", highlight=False)
            stop.wait()
            return 0
    except StartFailed as failed:
        print_service_error(failed.error, console)
        return 3
    except ServiceError as exc:  # masked by the lifecycle (passwords, secret settings)
        print_service_error(exc, console)
        return 3
    finally:
        remove_state(project)
        if warm_key is not None:
            warm.forget_shares(project)


def _print_details(state: dict[str, Any], console: Console) -> None:
    """The services and their URLs, passwords masked."""
    masker = passwords(state)
    table = Table("service", "kind", "url", box=None, pad_edge=False)
    for name, saved in state["services"].items():
        table.add_row(name, saved["kind"], masker.text(saved["endpoint"]["url"]))
    console.print(table)
    console.print(f"[dim]environment variables: {STATE_DIR}/up.env[/]")


def down(project: Project, console: Console, timeout: float = 30.0) -> int:
    state = read_state(project)
    if state is None:
        console.print("nothing is up")
        return 0
    from splice._internal.environment.warm import stop_supervisor

    pid = int(state["pid"])
    stop_supervisor(pid, timeout)
    console.print(f"[green]down[/] (stopped pid {pid})")
    return 0


def status(project: Project, console: Console) -> int:
    """Each service of the running `splice up`, checked the way its readiness is declared
    (`services.health`); problems in full below the table. 0 when all are up."""
    from splice._internal.cli.services import print_service_error
    from splice._internal.environment.services import rendered_spec
    from splice._internal.services import health
    from splice._internal.services.kind_api import ServiceError

    state = read_state(project)
    if state is None:
        console.print("nothing is up")
        return 1
    table = Table("service", "kind", "url", "status", box=None, pad_edge=False)
    scope = {
        "services": {n: Endpoint(**s["endpoint"]).as_vars() for n, s in state["services"].items()},
        **project.vars,
    }
    masker = passwords(state)
    problems: list[ServiceError] = []
    for name, saved in state["services"].items():
        try:
            spec = project.services.get(name) or ServiceSpec(name, saved["kind"], "external", None)
            service = saved_service(rendered_spec(spec, scope), saved)
            health.check(service, timeout=2.0, pid_start=saved.get("pid_start"))
            mark = "[green]ready[/]"
        except ServiceError as exc:
            exc.mask(masker)
            problems.append(exc)
            mark = "[red]down[/]"
        except Exception as exc:  # noqa: BLE001 - a kind's check that failed unexpectedly
            problems.append(ServiceError(name, masker.text(f"could not be checked: {exc}")))
            mark = "[red]down[/]"
        table.add_row(name, saved["kind"], escape(masker.text(saved["endpoint"]["url"])), mark)
    console.print(
        f"up since {time.strftime('%H:%M:%S', time.localtime(state['started_at']))}"
        f" (pid {state['pid']})"
    )
    if state.get("warm"):
        from splice._internal.environment.warm import live_leases

        runs = count(len(live_leases(project)), "run")
        console.print(
            f"warm pool: {runs} attached; stops after {state['warm']['idle']:g}s without a run"
        )
    console.print(table)
    for problem in problems:
        print_service_error(problem, console)
    return 1 if problems else 0
