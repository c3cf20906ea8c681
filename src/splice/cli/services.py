"""The services of a command: started for a run (or reused from `splice up`), with data
prepared, and stopped afterwards; plus how a service error is shown."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from splice.masking import Masker
from splice.project.model import Project
from splice.services.base import ServiceError
from splice.words import count

EXIT_SERVICES = 3  # the environment could not be started


@dataclass
class ActiveServices:
    """What the runner needs from the environment of one run."""

    builtins: dict[str, Any] = field(default_factory=dict)
    hooks: list[Any] = field(default_factory=list)
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
    project: Project, console: Console, masker: Masker, run_id: str | None = None
) -> Iterator[ActiveServices]:
    """Start the project's services (or reuse a running `splice up`), yield, stop; each
    service's password is added to `masker`, which masks the logs that are kept.

    When they fail to start, their logs are kept under .splice/logs/<run_id>/ (what the
    error then names) and StartFailed is raised."""
    active = ActiveServices(builtins={"project": project.name, **project.vars})
    if run_id is not None:
        active.builtins["run_id"] = run_id
    if not project.services:
        active.builtins["services"] = {}
        yield active
        return
    try:
        with _services(project, console, masker, active):
            yield active
    except StartFailed as failed:  # shown and recorded masked
        failed.error.mask(masker)
        raise
    except ServiceError as exc:  # loading data or isolating: shown masked
        exc.mask(masker)
        raise


@contextlib.contextmanager
def _services(
    project: Project, console: Console, masker: Masker, active: ActiveServices
) -> Iterator[None]:
    from splice.cli.up import reuse_up_environment
    from splice.data.manager import DataManager

    reused = reuse_up_environment(project)
    if reused is not None:
        console.print(f"[dim]using the environment of `splice up` (pid {reused.pid})[/]")
        active.environment = reused
        _describe(active, reused, masker)
        try:
            data = DataManager(reused, project)
            data.prepare(load=False)
            active.hooks.append(data)
            active.data = data
            yield
        finally:
            _keep_logs(active, project, masker)
        return

    from splice.services.environment import Environment

    env = Environment(project, masker=masker)
    started = False
    try:
        try:
            with console.status(f"starting {count(len(project.services), 'service')}…"):
                env.start()
                data = DataManager(env, project)
                data.prepare()
        except ServiceError as exc:
            # the logs are kept before env.stop() removes the folders they are in
            exc.mask(masker)
            _describe(active, env, masker)  # services still running (when data failed)
            _describe_failed(active, env, exc, project)
            _keep_logs(active, project, masker)
            if exc.service in active.logs and exc.log_path is not None:
                exc.log_path = active.logs[exc.service]
            raise StartFailed(exc, active) from exc
        started = True
        active.environment = env
        _describe(active, env, masker)
        active.hooks.append(data)
        active.data = data
        ready = ", ".join(f"{n} {s.started_in * 1000:.0f} ms" for n, s in env.services.items())
        console.print(f"[dim]services ready: {escape(ready)}[/]")
        yield
    finally:
        if started:
            _keep_logs(active, project, masker)
        env.stop()


def _describe(active: ActiveServices, env: Any, masker: Masker) -> None:
    active.builtins["services"] = env.vars()
    for name, service in env.services.items():
        masker.add(service.endpoint.password)
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


def _keep_logs(active: ActiveServices, project: Project, masker: Masker) -> None:
    """Copy service logs, masked, out of the temporary run folder before it is removed."""
    from splice.services.logs import keep_logs

    run_id = active.builtins.get("run_id")
    if not active.logs or not run_id:
        return
    kept = keep_logs(project.root / ".splice" / "logs", str(run_id), active.logs, masker)
    active.logs.update(kept)


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
