"""Redis, NATS and Mosquitto through splice's local provider: time to ready, time to stop,
and the per-message latency of the executors.

    .venv/bin/python -m benchmarks.services_light

Ready time is measured around `kind.start_local()`: spawn, the readiness exchange (PING,
CONNECT/PING, CONNECT/CONNACK) and everything splice does around them; the environment's
reaper process is started once, outside the timing. Latency is one step that publishes plus
one step that receives from a subscription started before (the subscribe-then-receive
pattern), through the executors as a suite runs them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Table, ms, verdict
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.services.kind_api import RunningService, ServiceSpec, StartContext
from splice._internal.services.kind_registry import get
from splice._internal.services.reaper import Reaper
from splice._internal.services.resources import Resources, cache_root

TARGET = 0.050  # issue 3: Redis, NATS and MQTT ready in <= 50 ms
STARTS = 10
MESSAGES = 200

KINDS: dict[str, dict[str, Any]] = {
    "redis": {},
    "nats": {},
    "nats (JetStream)": {"jetstream": True},
    "mqtt": {},
}


def _start(
    resources: Resources, folder: Path, kind_name: str, settings: dict[str, Any], n: int
) -> tuple[RunningService, float]:
    kind = get(kind_name.split(maxsplit=1)[0])
    spec = ServiceSpec(f"s{n}", kind.name, "local", kind.settings_model.model_validate(settings))
    run_dir = folder / f"{spec.name}"
    run_dir.mkdir()
    ctx = StartContext(
        spec=spec,
        project_dir=folder,
        run_dir=run_dir,
        cache_dir=cache_root(),
        log_path=run_dir / "server.log",
        resources=resources,
        vars={},
    )
    started = time.perf_counter()
    service = kind.start_local(ctx)
    return service, time.perf_counter() - started


def ready_times(starts: int = STARTS) -> Table:
    table = Table(
        f"Light servers: ready time (median of {starts} starts, local provider)",
        ".venv/bin/python -m benchmarks.services_light",
        ["server", "ready (median)", "ready (min-max)", "stop (median)", "target ≤ 50 ms"],
    )
    reaper = Reaper()
    resources = Resources(reaper)
    folder = resources.tempdir("bench-light")
    n = 0
    try:
        for label, settings in KINDS.items():
            ready: list[float] = []
            stops: list[float] = []
            for _ in range(starts):
                n += 1
                service, took = _start(resources, folder, label, settings, n)
                ready.append(took)
                clock = time.perf_counter()
                service.stop()
                stops.append(time.perf_counter() - clock)
            median = statistics.median(ready)
            table.rows.append(
                [
                    label,
                    ms(median),
                    f"{ms(min(ready))} - {ms(max(ready))}",
                    ms(statistics.median(stops)),
                    verdict(median <= TARGET),
                ]
            )
    finally:
        resources.close()
        reaper.close()
    table.notes.append(
        "ready = spawn + a real protocol exchange; stop = signal, reap, "
        "port and data folder released"
    )
    return table


def latencies(messages: int = MESSAGES) -> Table:
    from splice._internal.executors.mqtt import MqttBlock, MqttExecutor
    from splice._internal.executors.nats import NatsBlock, NatsExecutor
    from splice._internal.executors.redis import RedisBlock, RedisExecutor

    table = Table(
        f"Light servers: per-message latency through the executors ({messages} messages)",
        ".venv/bin/python -m benchmarks.services_light",
        ["path", "median", "p95"],
    )
    reaper = Reaper()
    resources = Resources(reaper)
    folder = resources.tempdir("bench-light")
    try:
        services = {}
        for n, name in enumerate(("redis", "nats", "mqtt")):
            service, _ = _start(resources, folder, name, {}, 1000 + n)
            services[name] = service.endpoint.as_vars()
        session = TestcaseSession()
        scope: dict[str, Any] = {"services": {"s": None}}
        ctx = StepContext(vars=scope, session=session, base_dir=folder)

        def step(executor: Any, block_model: Any, target: str, **block: Any) -> object:
            ctx.vars["services"]["s"] = services[target]
            return executor.execute(block_model.model_validate({"service": "s", **block}), ctx)

        nats, mqtt, redis = NatsExecutor(), MqttExecutor(), RedisExecutor()
        cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "nats: publish step + receive step": (
                lambda: step(nats, NatsBlock, "nats", subscribe="bench.x", **{"as": "b"}),
                lambda: (
                    step(nats, NatsBlock, "nats", publish="bench.x", data="m"),
                    step(nats, NatsBlock, "nats", receive="b"),
                ),
            ),
            "mqtt QoS 0: publish step + receive step": (
                lambda: step(mqtt, MqttBlock, "mqtt", subscribe="bench/0", **{"as": "q0"}),
                lambda: (
                    step(mqtt, MqttBlock, "mqtt", publish="bench/0", data="m"),
                    step(mqtt, MqttBlock, "mqtt", receive="q0"),
                ),
            ),
            "mqtt QoS 1: publish step + receive step": (
                lambda: step(mqtt, MqttBlock, "mqtt", subscribe="bench/1", qos=1, **{"as": "q1"}),
                lambda: (
                    step(mqtt, MqttBlock, "mqtt", publish="bench/1", data="m", qos=1),
                    step(mqtt, MqttBlock, "mqtt", receive="q1"),
                ),
            ),
            "redis: SET step + GET step": (
                lambda: None,
                lambda: (
                    step(redis, RedisBlock, "redis", command="SET k v"),
                    step(redis, RedisBlock, "redis", command="GET k"),
                ),
            ),
        }
        for label, (prepare, one) in cases.items():
            prepare()
            one()  # warm up: connection, imports
            times = []
            for _ in range(messages):
                clock = time.perf_counter()
                one()
                times.append(time.perf_counter() - clock)
            times.sort()
            table.rows.append(
                [label, ms(statistics.median(times)), ms(times[int(len(times) * 0.95) - 1])]
            )
        session.close()
    finally:
        resources.close()
        reaper.close()
    table.notes.append(
        "each row is two executor calls, without the runner's templating and "
        "expectations (see step_overhead for those)"
    )
    return table


def run() -> str:
    """Both tables as one Markdown section."""
    return ready_times().markdown() + "\n" + latencies().markdown()


if __name__ == "__main__":
    print(run())
