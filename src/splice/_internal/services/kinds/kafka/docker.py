"""The `kafka` kind's docker provider: Testcontainers' Kafka (KRaft) or Redpanda module.

A Kafka broker must advertise the address clients reach it on, which is only known once
the container runs with its port mapped; the Testcontainers modules handle that, so the
kind uses them instead of a plain image (see `services/docker.py`). Readiness is the
same Metadata exchange as for the local broker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError, StartContext
from splice._internal.services.kinds.kafka import protocol
from splice._internal.services.readiness import wait_ready

KAFKA_IMAGE = "confluentinc/cp-kafka"
KAFKA_TAG = "7.6.0"
REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda"
REDPANDA_TAG = "v23.1.13"


def start(ctx: StartContext, make_endpoint: Callable[..., Endpoint]) -> RunningService:
    spec = ctx.spec
    settings: Any = spec.settings
    # Tansu has no image of its own here: the container runs Apache Kafka instead
    broker = "kafka" if settings.broker == "tansu" else settings.broker
    container = _container(broker, spec.image, settings.version)
    try:
        container.start(timeout=int(time_limit(settings)))
        host, port = container.get_bootstrap_server().rsplit(":", 1)
        endpoint = make_endpoint(host, int(port), settings, broker)
        if broker == "redpanda":
            endpoint.extra["schema_registry_url"] = container.get_schema_registry_address()
        wait_ready(
            spec.name,
            lambda: protocol.check(host, int(port)),
            awaited=f"a Kafka Metadata answer from {host}:{port}",
            timeout=time_limit(settings),
        )
    except Exception as exc:
        logs = _logs(container)
        container.stop()
        raise ServiceError(
            spec.name,
            f"the {broker} container did not become ready: {exc}",
            hint="read the container's log above",
            log_tail=logs,
        ) from exc
    return RunningService(spec, endpoint, stop=container.stop, started_in=0.0)


def time_limit(settings: Any) -> float:
    from splice._internal.model.durations import parse_duration

    return max(60.0, parse_duration(settings.ready_timeout))


def _container(broker: str, image: str | None, version: str | None) -> Any:
    try:
        from testcontainers.kafka import KafkaContainer, RedpandaContainer
    except ImportError as exc:  # pragma: no cover - docker_available() checked the extra
        raise ServiceError(
            "kafka", "Testcontainers is not installed", hint="pip install 'splice[docker]'"
        ) from exc
    if broker == "redpanda":
        return RedpandaContainer(image or f"{REDPANDA_IMAGE}:{version or REDPANDA_TAG}")
    return KafkaContainer(image or f"{KAFKA_IMAGE}:{version or KAFKA_TAG}").with_kraft()


def _logs(container: Any) -> list[str]:
    try:
        out, err = container.get_logs()
        text: str = (out + err).decode("utf-8", "replace")
        return text.splitlines()[-20:]
    except Exception:  # noqa: BLE001 - logs are a courtesy
        return []
