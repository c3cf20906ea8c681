"""What tests receive: a running service's address (and clock), and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice._internal.pytest.clock import ServiceClock

if TYPE_CHECKING:
    from splice._internal.project.model import Project
    from splice._internal.services.kind_api import Endpoint, RunningService


class ServiceHandle:
    """One service as a test sees it: `url`, `host`, `port`, `user`, `password`,
    `database` and the kind's extra fields (also as `handle["name"]`).

    From a per-test fixture (`splice_<name>`, `splice_service(name)`) the endpoint is the
    test's own when the service is isolated (a cloned database, a private vhost); from
    `splice_env.services` it is the shared one.
    """

    def __init__(
        self, service: RunningService, endpoint: Endpoint, isolation: str = "none"
    ) -> None:
        self.name = service.name
        self.kind = service.spec.kind
        self.endpoint = endpoint
        self.isolation = isolation
        self._service = service

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int | None:
        return self.endpoint.port

    @property
    def user(self) -> str | None:
        return self.endpoint.user

    @property
    def password(self) -> str | None:
        return self.endpoint.password

    @property
    def database(self) -> str | None:
        return self.endpoint.database

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.endpoint.extra)

    def as_vars(self) -> dict[str, Any]:
        """The fields suites see as `services.NAME.*`."""
        return self.endpoint.as_vars()

    def __getitem__(self, key: str) -> Any:
        return self.as_vars()[key]

    @property
    def log_path(self) -> Path | None:
        return self._service.log_path

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines the service logged (for assertion messages)."""
        return self._service.log_tail(lines)

    @property
    def clock(self) -> ServiceClock:
        """The service's wall clock, for a `process` service with `clock: true`."""
        path = self.endpoint.extra.get("clock_file")
        if not path:
            raise AttributeError(
                f"service {self.name!r} has no settable clock; "
                "add `clock: true` to it in splice.yaml (kind: process, needs libfaketime)"
            )
        return ServiceClock(self.name, Path(path))

    def __repr__(self) -> str:
        iso = f", isolation={self.isolation!r}" if self.isolation != "none" else ""
        return f"<ServiceHandle {self.name!r} {self.kind} {self.url}{iso}>"


class SpliceEnv:
    """The `splice_env` fixture: the project's running services, started once per
    session (per worker with pytest-xdist) or reused from `splice up`."""

    def __init__(
        self, project: Project, services: Mapping[str, RunningService], *, reused: bool
    ) -> None:
        self.project = project
        self.reused = reused  # the services belong to a running `splice up`
        self.services: dict[str, ServiceHandle] = {
            name: ServiceHandle(s, s.endpoint) for name, s in services.items()
        }

    @property
    def root(self) -> Path:
        """The folder of splice.yaml."""
        return self.project.root

    def vars(self) -> dict[str, Any]:
        """`services.*` as suites see them: name -> url, host, port, …"""
        return {name: h.as_vars() for name, h in self.services.items()}

    def __repr__(self) -> str:
        names = ", ".join(self.services)
        return f"<SpliceEnv {self.project.name!r}: {names}{' (splice up)' if self.reused else ''}>"


class PrivateServices:
    """The `splice_private(...)` factory's result: services started for one test only."""

    def __init__(self, services: Mapping[str, RunningService]) -> None:
        self.services = {name: ServiceHandle(s, s.endpoint) for name, s in services.items()}

    def __getitem__(self, name: str) -> ServiceHandle:
        return self.services[name]
