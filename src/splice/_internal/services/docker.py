"""The `docker` provider: a kind's image started through Testcontainers.

A kind supports it by implementing `docker_plan(spec) -> DockerPlan`. Readiness is the
kind's own protocol check, the same as for local instances. When no Docker engine
answers, the error says so and names the other providers.
"""

from __future__ import annotations

import time
from typing import Any

from splice._internal.services.kind_api import RunningService, ServiceError, StartContext

_HINT = (
    "start a Docker engine (or set DOCKER_HOST), or use `provider: local` "
    "(servers from this machine) or `provider: external` with a `url:`"
)


def docker_available() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker
    except ImportError:
        return "the Docker client library is not installed (pip install 'splice[docker]')"
    client = None
    try:
        client = docker.from_env(timeout=3)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine to use
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine answers ({text[:160]})"
    finally:
        if client is not None:
            client.close()
    return None


def start_docker(kind: Any, ctx: StartContext) -> RunningService:
    spec = ctx.spec
    # a kind whose container needs more than a mapped port (Kafka advertises its own
    # address) starts it itself
    own: Any = getattr(kind, "start_container", None)
    plan_fn: Any = getattr(kind, "docker_plan", None)
    if plan_fn is None and own is None:
        raise ServiceError(spec.name, f"kind {spec.kind!r} has no Docker image", hint=_HINT)
    problem = docker_available()
    if problem is not None:
        raise ServiceError(spec.name, f"cannot use the docker provider: {problem}", hint=_HINT)
    if own is not None:
        begun = time.perf_counter()
        service: RunningService = own(ctx)
        service.started_in = time.perf_counter() - begun
        return service
    from testcontainers.core.container import DockerContainer

    plan = plan_fn(spec)
    container = DockerContainer(spec.image or plan.image)
    container.with_exposed_ports(plan.port)
    for key, value in plan.env.items():
        container.with_env(key, value)
    if plan.command:
        container.with_command(plan.command)
    started = time.perf_counter()
    try:
        container.start()
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(plan.port))
        endpoint = plan.endpoint(host, port)
        kind.check_ready(endpoint, plan.ready_timeout)
    except Exception as exc:
        logs = _logs(container)
        container.stop()
        raise ServiceError(
            spec.name,
            f"container {plan.image} did not become ready: {exc}",
            hint="read the container's log above",
            log_tail=logs,
        ) from exc
    return RunningService(
        spec, endpoint, stop=container.stop, started_in=time.perf_counter() - started
    )


def _logs(container: Any) -> list[str]:
    try:
        out, err = container.get_logs()
        text: str = (out + err).decode("utf-8", "replace")
        return text.splitlines()[-20:]
    except Exception:  # noqa: BLE001 - logs are a courtesy
        return []
