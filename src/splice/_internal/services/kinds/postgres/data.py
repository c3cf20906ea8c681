"""The data methods the SQL kinds share (postgres, mysql, mariadb): fixtures and isolation.

A service's `state` keeps only what can be written down as JSON (the fixture files), so
a `splice run` that reuses a `splice up` environment still knows what to load again after
a truncate. Objects that live in this process only (clone pools, open connections, what
to do when the service stops) are kept aside, per service, in `live(service)`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from splice._internal.data import sql_fixtures
from splice._internal.data.tables import TableChoice
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError

_LIVE: weakref.WeakKeyDictionary[RunningService, dict[str, Any]] = weakref.WeakKeyDictionary()


def live(service: RunningService) -> dict[str, Any]:
    """The in-process objects of a service (see the module's docstring)."""
    return _LIVE.setdefault(service, {})


def attach(service: RunningService, objects: dict[str, Any]) -> None:
    """Make `objects` the in-process objects of a service this process just started."""
    _LIVE[service] = objects


def owned(service: RunningService) -> bool:
    """Whether this process started the server (and removes it whole when it stops)."""
    return bool(live(service).get("owned"))


def on_stop(service: RunningService, fn: Callable[[], None]) -> None:
    """Run `fn` when the service stops, before its server does."""
    objects = live(service)
    objects.setdefault("closers", []).append(fn)
    if getattr(service, "_stop", None) is None and not objects.get("chained"):
        # not started here (external, or a reused `splice up`): the environment may call
        # stop() on it, or nobody does; either way its templates and clones are dropped
        objects["chained"] = True
        service._stop = lambda: run_closers(objects)
        atexit.register(run_closers, objects)


def run_closers(objects: dict[str, Any]) -> None:
    closers = objects.pop("closers", [])
    for fn in reversed(closers):
        with contextlib.suppress(Exception):  # stopping goes on whatever fails
            fn()


def check_truncate_allowed(service: RunningService, mode: str = "truncate") -> None:
    """An external database may hold someone's real data: empty it (or restore it to the
    run's start) only when the service asks for that mode itself, never because of the
    project-wide mode."""
    if service.spec.provider == "external" and service.spec.isolation != mode:
        what = "empty every table" if mode == "truncate" else "undo every change"
        raise ServiceError(
            service.name,
            f"isolation {mode!r} would {what} of this external database",
            hint=f"set `isolation: {mode}` on the service itself to confirm, or use "
            "`isolation: template` or `rollback`, which leave its data alone",
        )


class Reset(Protocol):
    """Puts one database back after an attempt: a truncate or a snapshot restore."""

    def reset(self) -> None: ...
    def close(self) -> None: ...


class SlotResets:
    """A shared mode's database per parallel slot. Slot 0 is the service's own; slot N
    is a clone taken from a template of it the first time N testcases overlap, reset
    once before its first use (a truncate or a full restore makes any copy right), then
    after each attempt like slot 0."""

    def __init__(
        self,
        service: RunningService,
        make_reset: Callable[[Endpoint, bool], Reset],
        make_template: Callable[[], Any],
    ) -> None:
        self._make_reset, self._make_template = make_reset, make_template
        self._resets: dict[int, Reset] = {0: make_reset(service.endpoint, True)}
        self._endpoints: dict[int, Endpoint] = {}
        self._template: Any = None
        self._lock = threading.Lock()

    def endpoint(self, slot: int) -> Endpoint | None:
        """The slot's database (None for slot 0: the service's own endpoint)."""
        if slot == 0:
            return None
        with self._lock:
            if slot not in self._endpoints:
                if self._template is None:
                    self._template = self._make_template()
                endpoint = self._template.acquire()
                reset = self._make_reset(endpoint, False)
                reset.reset()
                self._endpoints[slot], self._resets[slot] = endpoint, reset
            return self._endpoints[slot]

    def reset(self, slot: int) -> None:
        with self._lock:
            reset = self._resets[slot]
        reset.reset()

    def close(self) -> None:
        for reset in self._resets.values():
            with contextlib.suppress(Exception):
                reset.close()
        if self._template is not None:
            for endpoint in self._endpoints.values():
                self._template.release(endpoint)
            self._template.close()


class SqlData:
    """DataKind methods; a kind gives its dialect, connection and isolation classes."""

    isolation_modes: ClassVar[frozenset[str]] = frozenset(
        {"rollback", "truncate", "template", "snapshot"}
    )
    # modes that reset the one database every testcase sees; under --jobs each parallel
    # slot gets its own copy (slot_copies), made from a template
    shared_modes: ClassVar[frozenset[str]] = frozenset({"truncate", "snapshot"})
    dialect: ClassVar[sql_fixtures.Dialect]
    template_class: ClassVar[Any]
    truncate_class: ClassVar[Any]
    snapshot_class: ClassVar[Any]

    def data_connection(self, service: RunningService) -> Any:
        """A connection to the service's database, not in autocommit mode."""
        raise NotImplementedError

    def load_fixtures(self, service: RunningService, files: list[Path]) -> None:
        service.state["sql.fixtures"] = [str(f) for f in files]
        try:
            conn = self.data_connection(service)
        except ServiceError:
            raise
        except Exception as exc:
            raise ServiceError(service.name, f"cannot connect to load data: {exc}") from exc
        try:
            sql_fixtures.load(conn, list(files), self.dialect)
        finally:
            conn.close()

    def slot_copies(self, service: RunningService, mode: str) -> bool:
        """Truncate and snapshot can give each parallel slot a database of its own."""
        return mode in self.shared_modes

    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        objects = live(service)
        choice = TableChoice.from_state(service.state)
        if mode == "template":
            objects["template"] = self.template_class(service)
            on_stop(service, objects["template"].close)
            return
        if mode not in self.shared_modes:
            return
        check_truncate_allowed(service, mode)
        make_reset: Callable[[Endpoint, bool], Reset]
        if mode == "truncate":
            files = [Path(f) for f in service.state.get("sql.fixtures") or []]

            def make_reset(endpoint: Endpoint, fresh: bool) -> Reset:
                made: Reset = self.truncate_class(service, endpoint, files, choice)
                return made
        else:
            snapshot = self.snapshot_class(service, choice)
            close = getattr(snapshot, "close", None)
            if close is not None:
                on_stop(service, close)

            def make_reset(endpoint: Endpoint, fresh: bool) -> Reset:
                made: Reset = snapshot.restorer(endpoint, fresh=fresh)
                return made

        objects[mode] = SlotResets(service, make_reset, lambda: self.template_class(service))
        on_stop(service, objects[mode].close)

    def acquire(
        self, service: RunningService, mode: str, key: str, *, slot: int = 0
    ) -> Endpoint | None:
        if mode == "template":
            endpoint: Endpoint = live(service)["template"].acquire()
            return endpoint
        if mode == "rollback":
            endpoint = service.endpoint
            return dataclasses.replace(endpoint, extra={**endpoint.extra, "isolation": "rollback"})
        if mode in self.shared_modes:
            copy: Endpoint | None = live(service)[mode].endpoint(slot)
            return copy
        return None

    def release(
        self,
        service: RunningService,
        mode: str,
        key: str,
        endpoint: Endpoint | None,
        *,
        slot: int = 0,
    ) -> None:
        if mode == "template":
            live(service)["template"].release(endpoint)
        elif mode in self.shared_modes:
            live(service)[mode].reset(slot)
