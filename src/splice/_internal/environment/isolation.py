"""Prepares the data of a started environment and isolates testcases from each other.

Order: migrations (commands, like `alembic upgrade head`), then fixtures per service,
then each data kind prepares its isolation (for example a template database and a pool
of clones, or a snapshot of every table once the system under test is ready). Around
every testcase attempt, each isolated service is held (`DataManager.hold`: possibly
giving the attempt its own endpoint, exported as `services.NAME.*`) and released. Both
front ends come here: the runner through `attempt_started`/`attempt_finished`, the
pytest plugin through `hold` for each service a test takes.

Under `--jobs`, a mode that resets shared state gets a copy per parallel slot, or runs
its attempts one at a time (see `splice._internal.environment.slots`); a suite's setup and
teardown are kept apart from running testcases the same way (`suite_phase`).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import subprocess
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from splice._internal.data.tables import TableChoice
from splice._internal.environment.slots import Policy, Serialised, Slots
from splice._internal.errors import SourceSpan
from splice._internal.project.model import Project
from splice._internal.services import kind_registry as registry
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError

DATABASE_MODES = frozenset({"none", "rollback", "truncate", "template", "snapshot"})


class Services(Protocol):
    """What the manager needs of an environment: started or reused from `splice up`."""

    @property
    def services(self) -> Mapping[str, RunningService]: ...


@dataclass(frozen=True)
class Taken:
    """One service held for an attempt."""

    name: str
    mode: str
    policy: Policy
    endpoint: Endpoint | None  # the attempt's own, or None: the shared one


@dataclass
class Hold:
    """The isolated services of one attempt (or one pytest test), until `release`."""

    manager: DataManager
    key: str
    slot: int  # -1: none (an attempt with no isolated service)
    exclusive: bool
    gated: bool  # holds the gate: exclusively, or shared with the other attempts
    taken: list[Taken] = field(default_factory=list)
    released: bool = False

    def endpoint(self, name: str) -> Endpoint | None:
        """The attempt's own endpoint of a service, None when it uses the shared one."""
        return next((t.endpoint for t in self.taken if t.name == name), None)

    def release(self) -> None:
        """Give everything back (each service even when one fails), then the slot."""
        if self.released:
            return
        self.released = True
        problem: BaseException | None = None
        try:
            for taken in reversed(self.taken):
                try:
                    self.manager.release_taken(taken, self)
                except BaseException as exc:  # noqa: BLE001 - the rest is still released
                    problem = problem or exc
        finally:
            if self.slot >= 0:
                self.manager.slots.leave()
            if self.gated:
                self.manager.slots.gate.release(exclusive=self.exclusive)
        if problem is not None:
            raise problem


class DataManager:
    """Runner hook (`attempt_started` / `attempt_finished`), suite guard (`suite_phase`)
    plus one-time preparation."""

    def __init__(self, env: Services, project: Project) -> None:
        self.env = env
        self.project = project
        self.modes: dict[str, str] = {}  # service -> isolation mode in force
        self.slots = Slots()
        self._spans: dict[str, SourceSpan | None] = {}  # service -> where its mode is set
        self._holds: dict[int, Hold] = {}
        self._lock = threading.Lock()
        self._keys = itertools.count(1)
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
        choice = TableChoice(tuple(self.project.data.keep), tuple(self.project.data.only))
        for service in self.env.services.values():
            service.state["sql.tables"] = choice.as_state()
        for name, service in self.env.services.items():
            mode, span = self._mode(service, None, None)
            if mode != "none":
                self._prepare(name, mode)
                self.modes[name] = mode
                self._spans[name] = span

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

    def _mode(
        self, service: RunningService, suite_mode: str | None, suite_span: SourceSpan | None
    ) -> tuple[str, SourceSpan | None]:
        """The mode of a service and where it is set (the service, the suite or `data:`)."""
        kind = registry.get(service.spec.kind)
        supported: frozenset[str] = getattr(kind, "isolation_modes", frozenset())
        if service.spec.isolation is not None:
            wanted, span = service.spec.isolation, service.spec.isolation_span
        elif suite_mode is not None:
            wanted, span = suite_mode, suite_span
        else:
            wanted, span = self.project.data.isolation, self.project.data.isolation_span
        if wanted == "none" or not supported:
            return "none", None
        if wanted in supported:
            return wanted, span
        if wanted in DATABASE_MODES and service.spec.isolation is None:
            # The project-wide database mode: a cache is flushed along. A broker's
            # vhost or prefix is only used when the service asks for it, because it
            # hides the messages the system under test sends on its own names.
            return ("flush", span) if "flush" in supported else ("none", None)
        raise ServiceError(
            service.name,
            f"isolation {wanted!r} is not supported by kind {service.spec.kind!r}",
            hint="it supports: " + ", ".join(sorted(supported)),
        )

    def modes_for(self, suite: Any) -> dict[str, str]:
        """The isolation of each service for a suite's testcases."""
        return {name: mode for name, (mode, _) in self._suite_modes(suite).items()}

    def _suite_modes(self, suite: Any) -> dict[str, tuple[str, SourceSpan | None]]:
        suite_mode = getattr(suite, "isolation", None)
        if suite_mode is None:
            return {n: (m, self._spans.get(n)) for n, m in self.modes.items()}
        modes = {}
        for name, service in self.env.services.items():
            mode, span = self._mode(service, suite_mode, getattr(suite, "isolation_span", None))
            if mode != "none":
                self._prepare(name, mode)
                modes[name] = (mode, span)
        return modes

    # parallel attempts -----------------------------------------------------------------
    def policy(self, name: str, mode: str) -> Policy:
        return self._why_alone(name, mode, None)[0]

    def _why_alone(
        self, name: str, mode: str, span: SourceSpan | None
    ) -> tuple[Policy, Serialised | None]:
        service = self.env.services[name]
        kind = registry.get(service.spec.kind)
        if mode not in getattr(kind, "shared_modes", frozenset()):
            return Policy.ATTEMPT, None
        users = sorted(n for n, s in self.project.services.items() if name in s.depends_on)
        if users:
            names = " and ".join(repr(u) for u in users)
            reason = (
                f"is reset after each testcase, and {names} connects to it with the one "
                "address it was started with: a copy per parallel testcase could not "
                "follow that connection"
            )
            return Policy.EXCLUSIVE, Serialised(name, mode, span, reason)
        copies = getattr(kind, "slot_copies", None)
        if copies is not None and copies(service, mode):
            return Policy.SLOT, None
        reason = "is reset after each testcase and is one server that splice cannot copy"
        return Policy.EXCLUSIVE, Serialised(name, mode, span, reason)

    def serialised(self, suites: Iterable[Any] = ()) -> list[Serialised]:
        """Services whose attempts run one at a time under `--jobs`, and why: for the
        project's modes and those of `suites` (a suite may set its own)."""
        found: dict[tuple[str, str], Serialised] = {}
        for modes in [self._suite_modes(None), *(self._suite_modes(s) for s in suites)]:
            for name, (mode, span) in modes.items():
                _, why = self._why_alone(name, mode, span)
                if why is not None:
                    found.setdefault((name, mode), why)
        return list(found.values())

    def hold(
        self, modes: Mapping[str, str], key: str | None = None, *, gated: bool = False
    ) -> Hold:
        """Acquire every service of `modes` for one attempt, in this thread's slot; the
        attempt runs alone when one of them is exclusive. `gated`: else hold the gate
        shared, so that the attempt does not overlap one that runs alone (the runner's
        attempts; a pytest test only takes the services it names). Release with
        `Hold.release`."""
        policies = {name: self.policy(name, mode) for name, mode in modes.items()}
        exclusive = Policy.EXCLUSIVE in policies.values()
        gated = gated or exclusive
        if gated:
            self.slots.gate.acquire(exclusive=exclusive)
        slot = self.slots.enter() if modes else -1
        hold = Hold(self, key or f"t{next(self._keys)}", slot, exclusive, gated)
        try:
            for name, mode in modes.items():
                endpoint = self._acquire(name, mode, policies[name], hold)
                hold.taken.append(Taken(name, mode, policies[name], endpoint))
        except BaseException:
            with contextlib.suppress(Exception):
                hold.release()
            raise
        return hold

    def suite_phase(self, suite: Any) -> AbstractContextManager[None]:
        """Held around a suite's setup and around its teardown: alone when the suite's
        isolation resets state its testcases share (a setup that checks that state must
        not see another testcase's writes, nor a reset), else shared with the testcases
        that may overlap it."""
        modes = self.modes_for(suite)
        alone = any(self.policy(name, mode).shared for name, mode in modes.items())
        return self.slots.gate.held(exclusive=alone)

    def _acquire(self, name: str, mode: str, policy: Policy, hold: Hold) -> Endpoint | None:
        service = self.env.services[name]
        kind: Any = registry.get(service.spec.kind)
        slot = {"slot": hold.slot} if policy is Policy.SLOT else {}
        endpoint: Endpoint | None = kind.acquire(service, mode, hold.key, **slot)
        return endpoint

    def release_taken(self, taken: Taken, hold: Hold) -> None:
        service = self.env.services[taken.name]
        kind: Any = registry.get(service.spec.kind)
        slot = {"slot": hold.slot} if taken.policy is Policy.SLOT else {}
        kind.release(service, taken.mode, hold.key, taken.endpoint, **slot)

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
        # even with no isolated service: the attempt must not overlap one that runs alone
        hold = self.hold(self.modes_for(suite), gated=True)
        own = {t.name: t.endpoint for t in hold.taken if t.endpoint is not None}
        if own:
            services = copy.deepcopy(scope.get("services") or {})
            for name, endpoint in own.items():
                services[name] = endpoint.as_vars()
            scope["services"] = services
        with self._lock:
            self._holds[id(scope)] = hold

    def attempt_finished(
        self, suite: Any, testcase: Any, scope: dict[str, Any], passed: bool
    ) -> None:
        with self._lock:
            hold = self._holds.pop(id(scope), None)
        if hold is not None:
            hold.release()
