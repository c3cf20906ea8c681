"""One pytest process's splice state: the project, its environment (started on first
use, stopped at the end), isolation per test, private instances.

With pytest-xdist every worker is its own process with its own `SpliceSession`, so each
worker starts its own services on ports reserved machine-wide (`Resources.port()`): no
two workers share a server, a port or a database name. A running `splice up` is reused
only without xdist: its isolation (flush, truncate) acts on the whole server, which
workers running at once would trip over.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from splice._internal.environment.lifecycle import OpenEnvironment, StartFailed
from splice._internal.errors import SpliceError
from splice._internal.masking import Masker
from splice._internal.model.results import new_run_id
from splice._internal.project.model import Project
from splice._internal.pytest.handles import PrivateServices, ServiceHandle, SpliceEnv
from splice._internal.reporting.diagnostics import render_service_error
from splice._internal.services.kind_api import RunningService, ServiceError

if TYPE_CHECKING:
    from splice._internal.environment.isolation import DataManager


def worker_id(config: pytest.Config) -> str:
    """`gw0`, `gw1`… in a pytest-xdist worker, else `main` (xdist's documented way:
    workers have `config.workerinput`)."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


class SpliceSession:
    """Lazily started services of this pytest process and what tests take from them."""

    def __init__(
        self,
        project: Project | None,
        *,
        project_error: str | None = None,
        worker: str = "main",
        reuse_up: bool = True,
        services_allowed: bool = True,
        masker: Masker | None = None,
    ) -> None:
        self.project = project
        self.masker = masker if masker is not None else Masker()
        self.project_error = project_error
        self.worker = worker
        self.reuse_up = reuse_up and worker == "main"
        self.services_allowed = services_allowed  # false under --splice-unit
        self.run_id = new_run_id()
        self.opened: OpenEnvironment | None = None
        self.env: OpenEnvironment | None = None  # the services, started or of `splice up`
        self.data: DataManager | None = None
        self.reused = False
        self._stack = contextlib.ExitStack()  # what closes the environment
        self._handle: SpliceEnv | None = None
        self._failure: str | None = None
        self._lock = threading.RLock()
        self._keys = itertools.count(1)
        self.start_error: str | None = None  # why the services did not start, for the store
        self._failed: list[dict[str, Any]] = []  # their summary then, with the kept logs

    # the shared environment ------------------------------------------------------------
    def require_project(self) -> Project:
        if self.project_error is not None:
            pytest.fail(self.project_error, pytrace=False)
        if self.project is None:
            pytest.fail(
                "splice: no splice.yaml found (looked in the invocation folder, the "
                "rootdir and their parents)\n  = hint: add a splice.yaml with `services:`, "
                "or point at one with --splice-project or the ini option splice_project",
                pytrace=False,
            )
        return self.project

    def environment(self) -> SpliceEnv:
        """The running services (started now if not yet); fails the test when they
        cannot start, with the same message for every later test (started once)."""
        with self._lock:
            if self._handle is not None:
                return self._handle
            project = self.require_project()
            if not self.services_allowed:
                pytest.fail(
                    "splice: this test needs splice's services, but --splice-unit runs "
                    "only tests that need none\n  = hint: mark it `@pytest.mark.integration`"
                    " so --splice-unit leaves it out",
                    pytrace=False,
                )
            if self._failure is not None:
                pytest.fail(self._failure, pytrace=False)
            try:
                self._start(project)
            except StartFailed as failed:  # its logs kept, the error masked
                self._failed = failed.environment.described()
                self._failure = render_service_error(failed.error)
                self.start_error = self._failure
                pytest.fail(self._failure, pytrace=False)
            except ServiceError as exc:  # a reused `splice up` that could not be prepared
                exc.mask(self.masker)
                self._failure = render_service_error(exc)
                self.start_error = self._failure
                pytest.fail(self._failure, pytrace=False)
            except SpliceError as exc:  # a kind plugin that fails to load, and the like
                hint = getattr(exc, "hint", None)
                self._failure = f"error: {exc}" + (f"\n  = hint: {hint}" if hint else "")
                pytest.fail(self._failure, pytrace=False)
            assert self.env is not None  # opened by _start
            self._handle = SpliceEnv(project, self.env.services, reused=self.reused)
            return self._handle

    def _start(self, project: Project) -> None:
        from splice._internal.environment.lifecycle import open_environment

        opened = self._stack.enter_context(
            open_environment(
                project,
                masker=self.masker,
                run_id=self.run_id,
                reuse_up=self.reuse_up,
            )
        )
        self.opened = opened
        self.env, self.data = opened, opened.data
        self.reused = opened.reused_pid is not None

    def summary(self, *, keep_logs: bool = False) -> list[dict[str, Any]]:
        """name, kind, provider, url, start time and log of each service, for reports;
        with `keep_logs`, logs are copied to .splice/logs/<run id> first (as `splice run`
        does), since the services' own folders go when they stop."""
        opened = self.opened
        if opened is None:
            return list(self._failed)
        if keep_logs:
            opened.keep_logs()
        return opened.described()

    def close(self) -> None:
        with self._lock:
            stack, self._stack = self._stack, contextlib.ExitStack()
            self._handle = None
            self.opened = self.env = self.data = None
        stack.close()

    # per test --------------------------------------------------------------------------
    def service(self, name: str) -> RunningService:
        env = self.environment()
        if name not in env.services:
            from splice._internal.source.validation import did_you_mean

            hint = did_you_mean(name, env.services) or "splice.yaml has no services"
            pytest.fail(f"splice: no service {name!r} in splice.yaml\n  = hint: {hint}", False)
        assert self.env is not None  # opened by environment()
        service: RunningService = self.env.services[name]
        return service

    def acquire(
        self, name: str, held: Collection[str] = ()
    ) -> tuple[dict[str, ServiceHandle], Callable[[], None]]:
        """The service for one test: its own database, vhost… when the project isolates
        it, else the shared endpoint; and the shared isolation (truncate, snapshot,
        flush) of what it depends on and the test does not hold yet (`held`), since a
        test that talks to the app writes to the app's database. The isolation is the
        data manager's, as for a testcase of `splice run`. Returns a handle per service
        and what releases them all."""
        service = self.service(name)
        modes: dict[str, str] = {}
        data = self.data
        if data is not None:
            if data.modes.get(name, "none") != "none":
                modes[name] = data.modes[name]
            for dep in self._dependencies(name):
                mode = data.modes.get(dep, "none")
                if dep not in held and mode != "none" and data.policy(dep, mode).shared:
                    modes[dep] = mode
        if not modes or data is None or self.env is None:
            return {name: ServiceHandle(service, service.endpoint)}, lambda: _reset_clock(service)
        services = self.env.services
        try:
            hold = data.hold(modes, key=f"pytest-{self.worker}-{next(self._keys)}")
        except ServiceError as exc:
            pytest.fail(render_service_error(exc, self.masker), pytrace=False)

        def release() -> None:
            _reset_clock(service)
            try:
                hold.release()
            except ServiceError as exc:
                pytest.fail(render_service_error(exc, self.masker), pytrace=False)

        handles = {name: ServiceHandle(service, service.endpoint)}
        for taken, mode in modes.items():
            own = services[taken]
            handles[taken] = ServiceHandle(own, hold.endpoint(taken) or own.endpoint, mode)
        return handles, release

    def _dependencies(self, name: str) -> list[str]:
        """What a service depends on, directly or not."""
        project = self.require_project()
        found: list[str] = []
        stack = list(project.services[name].depends_on) if name in project.services else []
        while stack:
            dep = stack.pop()
            if dep not in found and dep in project.services:
                found.append(dep)
                stack.extend(project.services[dep].depends_on)
        return found

    def private(self, names: tuple[str, ...]) -> tuple[PrivateServices, Callable[[], None]]:
        """Fresh instances of `names`, started for one test; what they depend on and is
        not among `names` is borrowed from the shared environment."""
        project = self.require_project()
        unknown = [n for n in names if n not in project.services]
        if unknown or not names:
            from splice._internal.source.validation import did_you_mean

            word = unknown[0] if unknown else ""
            pytest.fail(
                f"splice_private: no service {word!r} in splice.yaml\n"
                f"  = hint: {did_you_mean(word, project.services) or 'name one or more'}",
                pytrace=False,
            )
        from splice._internal.environment.lifecycle import (
            StartFailed,
            open_environment,
            private_project,
        )

        sub, borrowed = private_project(project, names)
        if borrowed:
            self.environment()  # started now if not yet: the private ones depend on it
        lent = {n: self.env.services[n] for n in borrowed} if self.env is not None else {}
        stack = contextlib.ExitStack()
        try:
            opened = stack.enter_context(
                open_environment(sub, masker=self.masker, reuse_up=False, only=names, borrowed=lent)
            )
        except StartFailed as failed:
            pytest.fail(render_service_error(failed.error, self.masker), pytrace=False)
        except ServiceError as exc:
            pytest.fail(render_service_error(exc, self.masker), pytrace=False)
        return PrivateServices({n: opened.services[n] for n in names}), stack.close


def _reset_clock(service: RunningService) -> None:
    """A test that moved a service's clock leaves it at real time for the next."""
    path = service.endpoint.extra.get("clock_file")
    if path and Path(path).is_file():
        from splice._internal.pytest.clock import ServiceClock

        clock = ServiceClock(service.name, Path(path))
        if clock.offset:
            clock.reset()
