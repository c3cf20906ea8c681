"""Prepares the data of a started environment and isolates testcases from each other.

Order: migrations (commands, like `alembic upgrade head`), then fixtures per service,
then each data kind prepares its isolation (for example a template database and a pool
of clones). Around every testcase attempt, each isolated service is acquired (possibly
giving the attempt its own endpoint, exported as `services.NAME.*`) and released.
"""

from __future__ import annotations

import copy
import os
import subprocess
import threading
from typing import TYPE_CHECKING, Any

from splice.project.model import Project
from splice.services import registry
from splice.services.base import RunningService, ServiceError
from splice.services.environment import Environment

if TYPE_CHECKING:
    from splice.cli.up import ReusedEnvironment

_DATABASE_MODES = {"none", "rollback", "truncate", "template"}


class DataManager:
    """Runner hook (`attempt_started` / `attempt_finished`) plus one-time preparation."""

    def __init__(self, env: Environment | ReusedEnvironment, project: Project) -> None:
        self.env = env
        self.project = project
        self.modes: dict[str, str] = {}  # service -> isolation mode in force
        self._held: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._prepared: set[tuple[str, str]] = set()

    def prepare(self, *, load: bool = True) -> None:
        """Migrations and fixtures (unless `load` is false: a reused `splice up`
        environment has them already), then each service's isolation."""
        for migration in self.project.data.migrations if load else []:
            self._migrate(migration)
        for name, files in self.project.data.fixtures.items() if load else []:
            service = self.env.services.get(name)
            if service is None:
                continue
            kind = registry.get(service.spec.kind)
            loader = getattr(kind, "load_fixtures", None)
            if loader is None:
                raise ServiceError(name, f"kind {service.spec.kind!r} cannot load fixtures")
            loader(service, files)
        for name, service in self.env.services.items():
            mode = self._mode(service, None)
            if mode != "none":
                self._prepare(name, mode)
                self.modes[name] = mode

    def _prepare(self, name: str, mode: str) -> None:
        """Prepare a service for an isolation mode once (a suite may ask for another)."""
        with self._lock:
            if (name, mode) in self._prepared:
                return
            self._prepared.add((name, mode))
        service = self.env.services[name]
        prepare = getattr(registry.get(service.spec.kind), "prepare_isolation", None)
        if prepare is not None:
            prepare(service, mode)

    def _mode(self, service: RunningService, suite_mode: str | None) -> str:
        kind = registry.get(service.spec.kind)
        supported: frozenset[str] = getattr(kind, "isolation_modes", frozenset())
        wanted = service.spec.isolation or suite_mode or self.project.data.isolation
        if wanted == "none" or not supported:
            return "none"
        if wanted in supported:
            return wanted
        if wanted in _DATABASE_MODES and service.spec.isolation is None:
            # The project-wide database mode: a cache is flushed along. A broker's
            # vhost or prefix is only used when the service asks for it, because it
            # hides the messages the system under test sends on its own names.
            return "flush" if "flush" in supported else "none"
        raise ServiceError(
            service.name,
            f"isolation {wanted!r} is not supported by kind {service.spec.kind!r}",
            hint="it supports: " + ", ".join(sorted(supported)),
        )

    def modes_for(self, suite: Any) -> dict[str, str]:
        """The isolation of each service for a suite's testcases."""
        suite_mode = getattr(suite, "isolation", None)
        if suite_mode is None:
            return self.modes
        modes = {}
        for name, service in self.env.services.items():
            mode = self._mode(service, suite_mode)
            if mode != "none":
                self._prepare(name, mode)
                modes[name] = mode
        return modes

    def _migrate(self, migration: Any) -> None:
        service = self.env.services[migration.service]
        env = dict(os.environ)
        env.update(migration.env)
        env.setdefault("DATABASE_URL", service.endpoint.url)
        done = subprocess.run(
            migration.command,
            shell=isinstance(migration.command, str),
            cwd=migration.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=migration.timeout,
            check=False,
        )
        if done.returncode != 0:
            lines = (done.stdout + done.stderr).strip().splitlines()[-20:]
            raise ServiceError(
                migration.service,
                f"migration `{migration.command}` failed with exit code {done.returncode}",
                hint="run it by hand against the URL in DATABASE_URL to see why",
                log_tail=lines,
            )

    # runner hooks ----------------------------------------------------------------------
    def attempt_started(
        self, suite: Any, testcase: Any, scope: dict[str, Any], session: Any
    ) -> None:
        modes = self.modes_for(suite)
        if not modes:
            return
        with self._lock:
            self._counter += 1
            key = f"t{self._counter}"
        services = copy.deepcopy(scope.get("services") or {})
        held = []
        for name, mode in modes.items():
            service = self.env.services[name]
            kind = registry.get(service.spec.kind)
            endpoint = kind.acquire(service, mode, key)  # type: ignore[attr-defined]
            held.append((name, mode, endpoint))
            if endpoint is not None:
                services[name] = endpoint.as_vars()
        scope["services"] = services
        with self._lock:
            self._held[(id(scope), "")] = (key, held)

    def attempt_finished(
        self, suite: Any, testcase: Any, scope: dict[str, Any], passed: bool
    ) -> None:
        with self._lock:
            entry = self._held.pop((id(scope), ""), None)
        if entry is None:
            return
        key, held = entry
        for name, mode, endpoint in held:
            service = self.env.services[name]
            kind = registry.get(service.spec.kind)
            kind.release(service, mode, key, endpoint)  # type: ignore[attr-defined]
