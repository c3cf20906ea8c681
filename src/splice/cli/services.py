"""The services of a command: started for a run (or reused from `splice up`), with data
prepared, and stopped afterwards; plus how a service error is shown."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from splice.project.model import Project
from splice.services.base import ServiceError

EXIT_SERVICES = 3  # the environment could not be started
KEEP_LOGS = 20  # runs whose service logs are kept under .splice/logs


@dataclass
class ActiveServices:
    """What the runner needs from the environment of one run."""

    builtins: dict[str, Any] = field(default_factory=dict)
    hooks: list[Any] = field(default_factory=list)
    secrets: list[Any] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    environment: Any = None
    data: Any = None  # the DataManager: isolation around each testcase


class StartFailed(Exception):
    """The services of a run did not start: the error (its `log_path` now names the kept
    log), and what is known of the services (`summary`, `logs`, `secrets`)."""

    def __init__(self, error: ServiceError, active: ActiveServices) -> None:
        super().__init__(str(error))
        self.error = error
        self.active = active


@contextlib.contextmanager
def services_for_run(
    project: Project, console: Console, run_id: str | None = None
) -> Iterator[ActiveServices]:
    """Start the project's services (or reuse a running `splice up`), yield, stop.

    When they fail to start, their logs are kept under .splice/logs/<run_id>/ (what the
    error then names) and StartFailed is raised."""
    active = ActiveServices(builtins={"project": project.name, **project.vars})
    if run_id is not None:
        active.builtins["run_id"] = run_id
    if not project.services:
        active.builtins["services"] = {}
        yield active
        return
    from splice.cli.up import reuse_up_environment

    reused = reuse_up_environment(project)
    if reused is not None:
        console.print(f"[dim]using the environment of `splice up` (pid {reused.pid})[/]")
        from splice.data.manager import DataManager

        active.environment = reused
        _describe(active, reused)
        data = DataManager(reused, project)
        data.prepare(load=False)
        active.hooks.append(data)
        active.data = data
        yield active
        return

    from splice.data.manager import DataManager
    from splice.services.environment import Environment

    env = Environment(project)
    started = False
    try:
        try:
            with console.status(f"starting {len(project.services)} services…"):
                env.start()
                data = DataManager(env, project)
                data.prepare()
        except ServiceError as exc:
            # the logs are kept before env.stop() removes the folders they are in
            _describe(active, env)  # services still running (when data failed)
            _describe_failed(active, env, exc, project)
            _keep_logs(active, project)
            if exc.service in active.logs and exc.log_path is not None:
                exc.log_path = active.logs[exc.service]
            raise StartFailed(exc, active) from exc
        started = True
        active.environment = env
        _describe(active, env)
        active.hooks.append(data)
        active.data = data
        ready = ", ".join(f"{n} {s.started_in * 1000:.0f} ms" for n, s in env.services.items())
        console.print(f"[dim]services ready: {ready}[/]")
        yield active
    finally:
        if started:
            _keep_logs(active, project)
        env.stop()


def _describe(active: ActiveServices, env: Any) -> None:
    active.builtins["services"] = env.vars()
    for name, service in env.services.items():
        if service.endpoint.password:
            active.secrets.append(service.endpoint.password)
        active.summary.append(
            {
                "name": name,
                "kind": service.spec.kind,
                "provider": service.spec.provider,
                "url": service.endpoint.url,
                "started_in": round(service.started_in, 4),
            }
        )
        if service.log_path:
            active.logs[name] = service.log_path


def _describe_failed(active: ActiveServices, env: Any, exc: ServiceError, project: Project) -> None:
    """The other services of a start that failed (the one that failed, and those already
    stopped again: listed without a URL), with the logs they wrote, for the record."""
    tried = env.logs()
    names = [n for n in (*tried, exc.service) if n not in env.services]
    for name in dict.fromkeys(names):
        spec = project.services.get(name)
        active.summary.append(
            {
                "name": name,
                "kind": spec.kind if spec else "",
                "provider": spec.provider if spec else "",
                "url": None,
                "started_in": None,
                "error": exc.message if name == exc.service else None,
            }
        )
        if name in tried:
            active.logs[name] = tried[name]


def _keep_logs(active: ActiveServices, project: Project) -> None:
    """Copy service logs out of the temporary run folder before it is removed."""
    run_id = active.builtins.get("run_id")
    if not active.logs or not run_id:
        return
    folder = project.root / ".splice" / "logs"
    target = folder / str(run_id)
    target.mkdir(parents=True, exist_ok=True)
    runs = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_LOGS]:  # keep the logs of the last runs only
        shutil.rmtree(old, ignore_errors=True)
    for name, path in active.logs.items():
        if path.is_file():
            shutil.copyfile(path, target / f"{name}.log")
            active.logs[name] = target / f"{name}.log"


def print_serialised(
    active: ActiveServices, suites: list[Any], jobs: int, console: Console
) -> None:
    """Under --jobs, say which isolation makes testcases run one at a time, and why."""
    if jobs <= 1 or active.data is None:
        return
    for why in active.data.serialised(suites):
        console.print(f"[yellow]note:[/] {escape(why.message(Path.cwd()))}", soft_wrap=True)
        console.print(
            "  = hint: see docs/reference/isolation.md for `--jobs` with each isolation mode",
            highlight=False,
        )


def render_service_error(exc: ServiceError, console: Console) -> None:
    console.print(f"[bold red]error:[/] {escape(str(exc))}")
    if exc.log_tail:
        where = f" of {exc.log_path}" if exc.log_path else ""
        console.print(f"  last {len(exc.log_tail)} log lines{escape(where)}:")
        for line in exc.log_tail:
            console.print(f"  [dim]|[/] {escape(line)}", highlight=False)
    if exc.hint:
        console.print(f"  = hint: {escape(exc.hint)}")
