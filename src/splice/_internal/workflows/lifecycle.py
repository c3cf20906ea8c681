"""The one place where workflows meet the environment and suite lifecycles.

Starting services (or reusing `splice up`), preparing data, loading suites and running them
all go through the code `splice run` uses (`environment.lifecycle`, `api`);
nothing here copies it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from splice._internal.cli.services import ConsoleStart
from splice._internal.environment.lifecycle import OpenEnvironment, StartFailed, open_environment
from splice._internal.masking import Masker
from splice._internal.model.results import RunResult
from splice._internal.model.suite import Suite
from splice._internal.project.model import Project
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import Selection, select
from splice._internal.runner.run import Runner, RunOptions

ActiveServices = OpenEnvironment  # what a job sees of its environment

__all__ = ["ActiveServices", "StartFailed", "environment", "load_suites", "suite_runner"]


def _subset(project: Project, wanted: set[str] | None) -> Project:
    """The project with only the services in `wanted` and what they depend on."""
    if wanted is None:
        return project
    names = {name for level in project.start_order(sorted(wanted)) for name in level}
    services = {n: s for n, s in project.services.items() if n in names}
    fixtures = {n: f for n, f in project.data.fixtures.items() if n in names}
    migrations = [m for m in project.data.migrations if m.service in names]
    data = dataclasses.replace(project.data, fixtures=fixtures, migrations=migrations)
    return dataclasses.replace(project, services=services, data=data)


@contextlib.contextmanager
def environment(
    project: Project,
    wanted: set[str] | None,
    console: Console,
    masker: Masker,
    run_id: str,
) -> Iterator[ActiveServices]:
    """The running services in `wanted` (None: all of the project's), stopped afterwards.

    Raises StartFailed when they do not start (its error names the service and log)."""
    with open_environment(
        _subset(project, wanted), masker=masker, run_id=run_id, listener=ConsoleStart(console)
    ) as active:
        yield active


def load_suites(project: Project, paths: list[str], root: Path | None = None) -> list[Suite]:
    """The suites in `paths` (globs from `root`, default the project folder; none: the
    project's `suites`), checked as `splice run` does."""
    from splice._internal.api import load_suites as load

    return load(paths, project, (), root=root or project.root)


def suite_runner(
    suites: list[Suite],
    keywords: list[str],
    tags: list[str],
    *,
    active: ActiveServices,
    bus: EventBus,
    masker: Masker,
    retries: int,
    jobs: int,
    external: dict[str, Any],
    secret_names: set[str],
) -> Runner | None:
    """A runner of the selected testcases in the environment `active`; None if none matches."""
    selected = select(suites, Selection(list(keywords), list(tags), []))
    if not selected:
        return None
    options = RunOptions(
        jobs=jobs,
        retries=retries,
        external=external,
        secret_names=secret_names,
        builtins=dict(active.builtins),
        hooks=list(active.hooks),
        guards=list(active.guards),
    )
    return Runner(selected, options, bus, masker)


def run_suites(runner: Runner) -> RunResult:
    return runner.run()


def service_env(active: ActiveServices) -> dict[str, str]:
    """The services' endpoints as SPLICE_<SERVICE>_<KEY> variables (as `splice up` writes
    them to .splice/up.env), for pytest and command jobs."""
    out: dict[str, str] = {}
    for name, endpoint in (active.builtins.get("services") or {}).items():
        if not isinstance(endpoint, dict):
            continue
        for key, value in endpoint.items():
            if value is None or isinstance(value, dict | list):
                continue
            out[f"SPLICE_{name}_{key}".upper().replace("-", "_")] = str(value)
    return out


def summary(active: ActiveServices) -> list[dict[str, Any]]:
    """The services as the store keeps them with the run, each with its kept log."""
    return active.described()
