"""Opening and closing the environment of a project: the one lifecycle of every front end.

`open_environment(project)` is a context manager that every front end calls (`splice run`,
`splice up`, the pytest plugin, `splice.run`, `splice.open_environment`):

1. reuse the project's running `splice up` when it has every service (unless told not
   to), attach to its warm pool with a share of its own (`environment.warm`), or start
   the services in dependency order (`environment.services.Environment`);
2. prepare the data: migrations, fixtures, then each service's isolation
   (`environment.isolation.DataManager`, which also isolates each testcase attempt);
3. collect secrets: each service's password and declared secret settings go to the
   masker, which masks the logs when they are kept and the errors when they are raised;
4. describe readiness: `summary` (name, kind, provider, URL, start time of each service)
   and `builtins` (the `project`, `services`, `run_id` variables of suites);
5. on the way out, keep the service logs (masked) under `.splice/logs/<run id>/`, then
   stop what this process started.

When the services do not start, the logs of every service tried are kept first, the error
is masked and points at the kept log, and `StartFailed` carries it with what is known.
Front ends only show what they get: how to render a `ServiceError` is
`reporting.diagnostics.render_service_error`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.environment.slots import Serialised
from splice._internal.environment.up_state import ReusedEnvironment, reuse_up_environment
from splice._internal.masking import Masker
from splice._internal.model.suite import Suite
from splice._internal.project.model import DataPlan, Project
from splice._internal.runner.hooks import AttemptHook, SuiteGuard
from splice._internal.services.kind_api import RunningService, ServiceError
from splice._internal.services.logs import keep_logs

if TYPE_CHECKING:
    from splice._internal.environment.warm import WarmOptions

LOGS_DIR = Path(".splice") / "logs"  # in the project's root


class StartListener(Protocol):
    """Who shows the start of an environment (the CLI's spinner and its lines)."""

    def starting(self, count: int) -> None:
        """`count` services are about to start."""

    def start_ended(self) -> None:
        """The start is over: ready, failed or interrupted."""

    def reused(self, pid: int, *, warm: bool = False) -> None:
        """The services of the `splice up` running as `pid` are used instead (a warm pool's
        supervisor when `warm`: the run has a share of each service of its own)."""

    def ready(self, started_in: Mapping[str, float]) -> None:
        """Every service is ready; seconds each took to start."""


class QuietStart:
    """A `StartListener` that shows nothing."""

    def starting(self, count: int) -> None:
        return None

    def start_ended(self) -> None:
        return None

    def reused(self, pid: int, *, warm: bool = False) -> None:
        return None

    def ready(self, started_in: Mapping[str, float]) -> None:
        return None


@dataclass
class OpenEnvironment:
    """The running services of a project, their data and what the run needs of them."""

    project: Project
    masker: Masker
    run_id: str | None = None
    services: dict[str, RunningService] = field(default_factory=dict)
    # lowest-precedence variables of suites: `project`, the project's vars, `services`, `run_id`
    builtins: dict[str, Any] = field(default_factory=dict)
    summary: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    data: DataManager | None = None
    reused_pid: int | None = None  # the `splice up` whose services these are
    _kept: bool = False

    @property
    def hooks(self) -> list[AttemptHook]:
        """What runs around each testcase attempt: the data isolation."""
        return [self.data] if self.data is not None else []

    @property
    def guards(self) -> list[SuiteGuard]:
        """What is held around each suite's setup and teardown: the data isolation's lock."""
        return [self.data] if self.data is not None else []

    @property
    def logs_folder(self) -> Path | None:
        """Where the logs are kept (once `keep_logs` ran), None without a run id."""
        if self.run_id is None:
            return None
        return self.project.root / LOGS_DIR / self.run_id

    def vars(self) -> dict[str, Any]:
        """`services.NAME.*` of suites and templates."""
        return {name: s.endpoint.as_vars() for name, s in self.services.items()}

    def keep_logs(self) -> dict[str, Path]:
        """Copy the service logs, masked, out of the folders that go when the services
        stop (once; needs a run id); the kept logs by service."""
        if not self._kept and self.logs and self.run_id is not None:
            kept = keep_logs(self.project.root / LOGS_DIR, self.run_id, self.logs, self.masker)
            self.logs.update(kept)
            self._kept = True
        return dict(self.logs)

    def described(self) -> list[dict[str, Any]]:
        """`summary` with the log of each service, masked: what reports and the store show."""
        entries = [
            {**entry, "log": str(self.logs[entry["name"]]) if entry["name"] in self.logs else None}
            for entry in self.summary
        ]
        return list(self.masker.mask(entries))

    def serialised(self, suites: Sequence[Suite]) -> list[Serialised]:
        """Services whose testcases run one at a time under `--jobs`, and why."""
        return self.data.serialised(suites) if self.data is not None else []


class StartFailed(Exception):
    """The services did not start: the error (masked; its `log_path` names the kept log)
    and what is known of the environment (`environment.summary`, `.logs`)."""

    def __init__(self, error: ServiceError, environment: OpenEnvironment) -> None:
        super().__init__(str(error))
        self.error = error
        self.environment = environment


@contextlib.contextmanager
def open_environment(
    project: Project,
    *,
    masker: Masker | None = None,
    run_id: str | None = None,
    reuse_up: bool = True,
    listener: StartListener | None = None,
    only: Sequence[str] | None = None,
    borrowed: Mapping[str, RunningService] | None = None,
    warm: WarmOptions | None = None,
) -> Iterator[OpenEnvironment]:
    """The project's environment, open for the `with` block (see the module's docstring).

    `only` starts these services (and what they depend on) instead of all; `borrowed`
    are running services of another environment that they may depend on (not started,
    prepared or stopped here). `warm` attaches to the project's warm pool (started when
    there is none) with this run's own share of it (`environment.warm`). Raises
    `StartFailed`, or `ServiceError` when a reused environment cannot be prepared."""
    opened = OpenEnvironment(project, masker if masker is not None else Masker(), run_id)
    opened.builtins = {"project": project.name, **project.vars}
    if run_id is not None:
        opened.builtins["run_id"] = run_id
    if not project.services:
        opened.builtins["services"] = {}
        yield opened
        return
    show = listener if listener is not None else QuietStart()
    if warm is not None and only is None and borrowed is None:
        from splice._internal.environment.warm import attached

        try:
            with attached(project, warm) as share, _reused(opened, share, show):
                yield opened
        except ServiceError as exc:
            exc.mask(opened.masker)
            raise
        return
    reused = reuse_up_environment(project) if reuse_up and only is None else None
    try:
        if reused is not None:
            with _reused(opened, reused, show):
                yield opened
        else:
            with _started(opened, show, only, borrowed or {}):
                yield opened
    except StartFailed as failed:  # shown and recorded masked
        failed.error.mask(opened.masker)
        raise
    except ServiceError as exc:  # loading data or isolating: shown masked
        exc.mask(opened.masker)
        raise


@contextlib.contextmanager
def _reused(
    opened: OpenEnvironment, reused: ReusedEnvironment, show: StartListener
) -> Iterator[None]:
    show.reused(reused.pid, warm=reused.warm)
    opened.reused_pid = reused.pid
    _describe(opened, reused.services)
    try:
        data = DataManager(reused, opened.project)
        data.prepare(load=False)  # `splice up` loaded the data already
        opened.data = data
        yield
    finally:
        opened.keep_logs()


@contextlib.contextmanager
def _started(
    opened: OpenEnvironment,
    show: StartListener,
    only: Sequence[str] | None,
    borrowed: Mapping[str, RunningService],
) -> Iterator[None]:
    project = opened.project
    env = Environment(project, masker=opened.masker)
    env.services.update(borrowed)
    started = False
    try:
        try:
            show.starting(len(only) if only is not None else len(project.services))
            try:
                env.start(list(only) if only is not None else None)
                own = {n: s for n, s in env.services.items() if n not in borrowed}
                data = DataManager(_Services(own), project)
                data.prepare()
            finally:
                show.start_ended()
        except ServiceError as exc:
            # the logs are kept before env.stop() removes the folders they are in
            exc.mask(opened.masker)
            _describe(opened, own_services(env, borrowed))  # still running (data failed)
            _describe_failed(opened, env, exc)
            opened.keep_logs()
            if exc.service in opened.logs and exc.log_path is not None:
                exc.log_path = opened.logs[exc.service]
            raise StartFailed(exc, opened) from exc
        started = True
        own = own_services(env, borrowed)
        _describe(opened, own)
        opened.data = data
        show.ready({n: s.started_in for n, s in own.items()})
        yield
    finally:
        if started:
            opened.keep_logs()
        for name in borrowed:  # not ours to stop
            env.services.pop(name, None)
        env.stop()


def own_services(
    env: Environment, borrowed: Mapping[str, RunningService]
) -> dict[str, RunningService]:
    return {n: s for n, s in env.services.items() if n not in borrowed}


@dataclass
class _Services:
    """An environment as the data manager sees it: only the services it prepares."""

    services: dict[str, RunningService]


def _describe(opened: OpenEnvironment, services: Mapping[str, RunningService]) -> None:
    opened.services = dict(services)
    opened.builtins["services"] = opened.vars()
    for name, service in services.items():
        opened.masker.add(service.endpoint.password)
        opened.summary.append(
            {
                "name": name,
                "kind": service.spec.kind,
                "provider": service.spec.provider,
                "url": service.endpoint.url,
                "started_in": round(service.started_in, 4),
            }
        )
        if service.log_path:
            opened.logs[name] = service.log_path


def _describe_failed(opened: OpenEnvironment, env: Environment, exc: ServiceError) -> None:
    """The other services of a start that failed (the one that failed, and those already
    stopped again: listed without a URL), with the logs they wrote, for the record."""
    tried = env.logs()
    names = [n for n in (*tried, exc.service) if n not in env.services]
    for name in dict.fromkeys(names):
        spec = opened.project.services.get(name)
        opened.summary.append(
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
            opened.logs[name] = tried[name]


def private_project(project: Project, names: Sequence[str]) -> tuple[Project, list[str]]:
    """A project of fresh instances of `names` (their own data, no isolation: they are a
    test's alone), and the services they depend on that are not among them (to borrow)."""
    needed = {n for level in project.start_order(list(names)) for n in level}
    own = set(names)
    plan = DataPlan(
        isolation="none",
        fixtures={n: f for n, f in project.data.fixtures.items() if n in own},
        migrations=[m for m in project.data.migrations if m.service in own],
    )
    services = {n: s for n, s in project.services.items() if n in needed}
    return replace(project, services=services, data=plan), sorted(needed - own)
