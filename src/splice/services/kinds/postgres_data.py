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
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from splice.data import sql_fixtures
from splice.services.base import Endpoint, RunningService, ServiceError

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


def check_truncate_allowed(service: RunningService) -> None:
    """An external database may hold someone's real data: empty it only when the service
    asks for truncate itself, never because of the project-wide mode."""
    if service.spec.provider == "external" and service.spec.isolation != "truncate":
        raise ServiceError(
            service.name,
            "isolation 'truncate' would empty every table of this external database",
            hint="set `isolation: truncate` on the service itself to confirm, or use "
            "`isolation: template` or `rollback`, which leave its data alone",
        )


class SqlData:
    """DataKind methods; a kind gives its dialect, connection and isolation classes."""

    isolation_modes: ClassVar[frozenset[str]] = frozenset({"rollback", "truncate", "template"})
    dialect: ClassVar[sql_fixtures.Dialect]
    template_class: ClassVar[Any]
    truncate_class: ClassVar[Any]

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

    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        objects = live(service)
        if mode == "template":
            objects["template"] = self.template_class(service)
            on_stop(service, objects["template"].close)
        elif mode == "truncate":
            check_truncate_allowed(service)
            files = [Path(f) for f in service.state.get("sql.fixtures") or []]
            objects["truncate"] = self.truncate_class(service, files)
            on_stop(service, objects["truncate"].close)

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        if mode == "template":
            endpoint: Endpoint = live(service)["template"].acquire()
            return endpoint
        if mode == "rollback":
            endpoint = service.endpoint
            return dataclasses.replace(endpoint, extra={**endpoint.extra, "isolation": "rollback"})
        return None

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        if mode == "template":
            live(service)["template"].release(endpoint)
        elif mode == "truncate":
            live(service)["truncate"].release()
