"""Whether a started service is still up (`splice status`), checked the way its readiness
is declared: its process must be alive, and then the kind checks it, `check_running` when
it has one (a `process` service: HTTP, TCP or its ready command; with `ready: {log: ...}`
the living process is all there is to check), else the protocol exchange of
`check_ready`."""

from __future__ import annotations

from splice._internal.services import kind_registry as registry
from splice._internal.services import owners
from splice._internal.services.kind_api import RunningCheck, RunningService, ServiceError, tail


def check(service: RunningService, *, timeout: float, pid_start: str | None = None) -> None:
    """Raise ServiceError, naming the service, when it is not up."""
    if (
        service.pid is not None
        and pid_start is not None
        and not owners.alive(service.pid, pid_start)
    ):
        raise ServiceError(
            service.name,
            f"its process (pid {service.pid}) is not running",
            hint="read its log; `splice down` then `splice up` starts it again",
            log_tail=tail(service.log_path, 10),
            log_path=service.log_path,
        )
    kind = registry.get(service.spec.kind)
    try:
        # a kind's own check needs the service's settings, which only a local one has here
        if isinstance(kind, RunningCheck) and service.spec.provider == "local":
            kind.check_running(service, timeout)
        else:
            kind.check_ready(service.endpoint, timeout)
    except ServiceError as exc:
        if exc.service == service.name:
            raise
        raise named(exc, service.name) from exc


def named(exc: ServiceError, name: str) -> ServiceError:
    """`exc` told of the service `name` (a kind's check names only the kind)."""
    return ServiceError(
        name, exc.message, hint=exc.hint, log_tail=exc.log_tail, log_path=exc.log_path
    )
