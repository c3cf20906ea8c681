"""`splice up`, `splice down`, `splice status`: a long-lived environment for development.

`splice up` starts the project's services in a background process that keeps them
running, writes their connection details to `.splice/up.json` and `.splice/up.env`, and
returns. A later `splice run` in the project finds it and reuses it instead of starting
its own. `splice down` stops it; if that process is killed, its reaper still stops the
services.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from splice.errors import UsageError
from splice.masking import Masker
from splice.project.model import Project
from splice.services.base import Endpoint, RunningService, ServiceSpec

STATE_DIR = ".splice"


def state_path(project: Project) -> Path:
    return project.root / STATE_DIR / "up.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is not running
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def read_state(project: Project) -> dict[str, Any] | None:
    path = state_path(project)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return state


@dataclass
class ReusedEnvironment:
    """The services of a running `splice up`, as a run sees them."""

    pid: int
    services: dict[str, RunningService]

    @property
    def environment(self) -> ReusedEnvironment:
        return self

    def vars(self) -> dict[str, Any]:
        return {name: s.endpoint.as_vars() for name, s in self.services.items()}


def reuse_up_environment(project: Project) -> ReusedEnvironment | None:
    """The running `splice up` of this project, when it has every service of the project."""
    state = read_state(project)
    if state is None or set(state["services"]) != set(project.services):
        return None
    services = {}
    for name, saved in state["services"].items():
        services[name] = _saved_service(project.services[name], saved)
    return ReusedEnvironment(int(state["pid"]), services)


def _saved_service(spec: ServiceSpec, saved: dict[str, Any]) -> RunningService:
    """A service of `splice up` as its state file describes it."""
    return RunningService(
        spec,
        Endpoint(**saved["endpoint"]),
        log_path=Path(saved["log"]) if saved.get("log") else None,
        pid=saved.get("pid"),
        state=saved.get("state") or {},
    )


def up(project: Project, console: Console, *, foreground: bool, timeout: float) -> int:
    if not project.services:
        raise UsageError("the project has no services to start", "add `services:` to splice.yaml")
    existing = read_state(project)
    if existing is not None:
        console.print(f"already up (pid {existing['pid']}); `splice down` stops it")
        _print_details(existing, console)
        return 0
    if foreground:
        return _serve(project, console)
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


def _serve(project: Project, console: Console) -> int:
    from splice.cli.services import render_service_error
    from splice.data.manager import DataManager
    from splice.services import owners
    from splice.services.base import ServiceError
    from splice.services.environment import Environment

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    env = Environment(project)
    path = state_path(project)
    try:
        try:
            env.start()
            DataManager(env, project).prepare()
        except ServiceError as exc:
            exc.mask(env.masker)  # passwords and declared settings (also of loading data)
            render_service_error(exc, console)
            return 3
        state = {
            "pid": os.getpid(),
            "project": str(project.path),
            "ready": True,
            "started_at": time.time(),
            "services": {
                name: {
                    "kind": s.spec.kind,
                    "provider": s.spec.provider,
                    "endpoint": s.endpoint.__dict__,
                    "log": str(s.log_path) if s.log_path else None,
                    "pid": s.pid,
                    "pid_start": owners.start_time(s.pid) if s.pid else None,
                    "state": _jsonable(s.state),
                }
                for name, s in env.services.items()
            },
        }
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)  # connection details, passwords included: the user's alone
        tmp.write_text(json.dumps(state, indent=2))
        _write_env_file(project, state)
        tmp.replace(path)
        console.print("ready", highlight=False)
        stop.wait()
        return 0
    finally:
        path.unlink(missing_ok=True)
        (project.root / STATE_DIR / "up.env").unlink(missing_ok=True)
        env.stop()


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {}
    return value


def _write_env_file(project: Project, state: dict[str, Any]) -> None:
    lines = []
    for name, saved in state["services"].items():
        for key, value in saved["endpoint"].items():
            if value is None or isinstance(value, dict):
                continue
            var = f"SPLICE_{name}_{key}".upper().replace("-", "_")
            lines.append(f"{var}={value}")
    env_file = project.root / STATE_DIR / "up.env"
    env_file.touch(mode=0o600)
    env_file.write_text("\n".join(lines) + "\n")


def _passwords(state: dict[str, Any]) -> Masker:
    """A masker of the services' passwords: printed URLs hide them (up.env holds them)."""
    masker = Masker()
    masker.add_all(saved["endpoint"].get("password") for saved in state["services"].values())
    return masker


def _print_details(state: dict[str, Any], console: Console) -> None:
    """The services and their URLs, passwords masked."""
    masker = _passwords(state)
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
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # its reaper still stops the services
    console.print(f"[green]down[/] (stopped pid {pid})")
    return 0


def status(project: Project, console: Console) -> int:
    """Each service of the running `splice up`, checked the way its readiness is declared
    (`services.health`); problems in full below the table. 0 when all are up."""
    from splice.cli.services import render_service_error
    from splice.services import health
    from splice.services.base import ServiceError
    from splice.services.environment import rendered_spec

    state = read_state(project)
    if state is None:
        console.print("nothing is up")
        return 1
    table = Table("service", "kind", "url", "status", box=None, pad_edge=False)
    scope = {
        "services": {n: Endpoint(**s["endpoint"]).as_vars() for n, s in state["services"].items()},
        **project.vars,
    }
    masker = _passwords(state)
    problems: list[ServiceError] = []
    for name, saved in state["services"].items():
        try:
            spec = project.services.get(name) or ServiceSpec(name, saved["kind"], "external", None)
            service = _saved_service(rendered_spec(spec, scope), saved)
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
    console.print(table)
    for problem in problems:
        render_service_error(problem, console)
    return 1 if problems else 0
