"""Kafka, gRPC and GraphQL (issue 14): the five targets, each beside its floor.

    .venv/bin/python -m benchmarks protocols

1. Kafka broker ready: `KafkaKind.start_local` (spawn Tansu, a Metadata answer, the
   declared topic created) beside the bare binary answering its first Metadata request.
2. Produce-then-consume round trip of one message, after the first: a suite of N pairs
   of steps (produce; consume that offset), (t(N)-t(1))/(N-1), beside a hand-written
   confluent-kafka producer and assigned consumer doing the same.
3. A consumer group's first message: a consume step with a new group, beside a
   hand-written consumer with the same settings, and one with librdkafka's defaults.
4. gRPC unary step overhead above a hand-written grpcio loop (same server, same check).
5. GraphQL step overhead above the HTTP step posting the same body to the same server.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import BenchError, Table, median, ms, repeat, verdict
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor
from splice._internal.model.results import Status
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.services.kind_api import ServiceSpec, StartContext
from splice._internal.services.kind_registry import get
from splice._internal.services.kinds.kafka import brokers as kafka_brokers
from splice._internal.services.kinds.kafka import protocol as kafka_protocol
from splice._internal.services.reaper import Reaper
from splice._internal.services.resources import Resources, cache_root

READY_TARGET = 0.100
ROUND_TRIP_TARGET = 0.020
GROUP_TARGET = 1.5
GRPC_TARGET = 0.5e-3
GRAPHQL_TARGET = 0.2e-3


@contextmanager
def _broker(
    resources: Resources, folder: Path, n: int, **settings: Any
) -> Iterator[tuple[Any, float]]:
    kind = get("kafka")
    spec = ServiceSpec(
        f"k{n}",
        "kafka",
        "local",
        kind.settings_model.model_validate({"topics": {"t": 1}, **settings}),
    )
    run_dir = folder / spec.name
    run_dir.mkdir()
    ctx = StartContext(
        spec=spec,
        project_dir=folder,
        run_dir=run_dir,
        cache_dir=cache_root(),
        log_path=run_dir / "broker.log",
        resources=resources,
        vars={},
    )
    started = time.perf_counter()
    service = kind.start_local(ctx)
    took = time.perf_counter() - started
    try:
        yield service, took
    finally:
        service.stop()


def _bare_ready(resources: Resources) -> float:
    """The Tansu binary alone: spawn, then Metadata requests until one is answered."""
    binary = kafka_brokers.tansu_binary("bench", None, cache_root())
    port = resources.port()
    command = kafka_brokers.tansu(binary, port).args
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                kafka_protocol.check("127.0.0.1", port)
                return time.perf_counter() - started
            except OSError:
                if time.perf_counter() - started > 10:
                    raise BenchError("the bare Tansu binary did not answer in 10 s") from None
                time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait()
        resources.release_port(port)


def _run_suite(path: Path, external: dict[str, Any]) -> float:
    suites, problems = load_all([path])
    if problems:
        raise BenchError(f"cannot load {path.name}: {problems[0].message}")
    start = time.perf_counter()
    result = Runner(suites, RunOptions(external=external), EventBus()).run()
    elapsed = time.perf_counter() - start
    if result.status != Status.PASSED:
        steps = result.suites[0].testcases[0].attempts[-1].steps if result.suites else []
        failed = next((s for s in steps if not s.status.ok), None)
        why = failed.failures[0].message if failed and failed.failures else result.status.value
        raise BenchError(f"{path.name}: {why}")
    return elapsed


def _per_step(write: Callable[[int], Path], external: dict[str, Any], n: int, runs: int) -> float:
    big, one = write(n), write(1)
    t_big = median(repeat(lambda: _run_suite(big, external), runs, 60))
    t_one = median(repeat(lambda: _run_suite(one, external), runs, 60))
    return (t_big - t_one) / (n - 1)


def _suite(folder: Path, name: str, step: str, n: int) -> Path:
    path = folder / f"{name}-{n}.splice.yaml"
    path.write_text(f"name: {name}\ntestcases:\n  - name: steps\n    steps:\n" + step * n)
    return path


# 2. round trip -------------------------------------------------------------------------
_PAIR = (
    "      - kafka: {url: '{{ kafka }}', produce: {topic: t, partition: 0, value: ping}}\n"
    "        capture: {at: offset}\n"
    "      - kafka: {url: '{{ kafka }}', consume: {topic: t, partition: 0, from: '{{ at }}'}}\n"
    "        expect: {value: ping}\n"
)
_JSON_PAIR = (
    "      - kafka: {url: '{{ kafka }}', produce: {topic: t, partition: 0, "
    "json: {id: 7, name: ping}}}\n"
    "        capture: {at: offset}\n"
    "      - kafka: {url: '{{ kafka }}', consume: {topic: t, partition: 0, from: '{{ at }}'}}\n"
    "        expect: {json: {id: 7, name: ping}}\n"
)
# the same value in Avro, through the registry beside the broker (registered by the first)
_AVRO_PAIR = (
    "      - kafka:\n"
    "          url: '{{ kafka }}'\n"
    "          schema_registry: '{{ registry }}'\n"
    "          produce:\n"
    "            {topic: t, partition: 0, avro: {id: 7, name: ping}, schema: {type: record, "
    "name: P, fields: [{name: id, type: long}, {name: name, type: string}]}}\n"
    "        capture: {at: offset}\n"
    "      - kafka: {url: '{{ kafka }}', schema_registry: '{{ registry }}', "
    "consume: {topic: t, partition: 0, from: '{{ at }}'}}\n"
    "        expect: {json: {id: 7, name: ping}, schema_id: 1}\n"
)


def _floor_round_trip(bootstrap: str, n: int) -> float:
    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "socket.nagle.disable": True}
    )
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "floor",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
            "socket.nagle.disable": True,
        }
    )
    try:
        times = []
        delivered: list[Any] = []
        for i in range(n + 1):
            start = time.perf_counter()
            delivered.clear()
            producer.produce(
                "t", b"ping", partition=0, on_delivery=lambda _e, m: delivered.append(m)
            )
            producer.flush(5)
            consumer.assign([TopicPartition("t", 0, delivered[0].offset())])
            message = consumer.poll(5)
            if message is None or message.value() != b"ping":
                raise BenchError("the hand-written consumer got no message")
            if i:  # the first pays for connections and metadata
                times.append(time.perf_counter() - start)
        return median(times)
    finally:
        consumer.close()
        producer.flush(1)


def _avro_codec(folder: Path, registry: str, n: int = 2000) -> float:
    """What a pair of Avro steps adds to a pair of JSON steps: one encode (the value
    checked against the schema, written, framed) and one decode, schema cached."""
    from splice._internal.executors._kafka_values import Decoder, Encoding, encode

    ctx = StepContext(vars={}, session=TestcaseSession(), base_dir=folder)
    schema = {
        "type": "record",
        "name": "P",
        "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}],
    }
    wanted = Encoding(key="avro", value={"id": 7, "name": "ping"}, path=("avro",), schema=schema)
    decoder = Decoder(ctx, registry)
    try:
        encode(ctx, registry, wanted, "t")  # registers the schema
        start = time.perf_counter()
        for _ in range(n):
            data, _ = encode(ctx, registry, wanted, "t")
            if decoder(data) is None:
                raise BenchError("the Avro value did not decode")
        return (time.perf_counter() - start) / n
    finally:
        ctx.session.close()


# 3. a group's first message -------------------------------------------------------------
def _step_group_first(bootstrap: str, group: str) -> float:
    ctx = StepContext(
        vars={
            "services": {
                "bus": {
                    "url": f"kafka://{bootstrap}",
                    "bootstrap": bootstrap,
                    "group_session_timeout_ms": 1000,
                }
            }
        },
        session=TestcaseSession(),
        base_dir=Path.cwd(),
    )
    executor = KafkaExecutor()
    block = KafkaBlock.model_validate(
        {"service": "bus", "consume": {"topic": "t", "group": group, "timeout": "30s"}}
    )
    try:
        start = time.perf_counter()
        executor.execute(block, ctx)
        return time.perf_counter() - start
    finally:
        ctx.session.close()


def _floor_group_first(bootstrap: str, group: str, settings: dict[str, Any]) -> float:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **settings,
        }
    )
    try:
        start = time.perf_counter()
        consumer.subscribe(["t"])
        deadline = start + 60
        while time.perf_counter() < deadline:
            message = consumer.poll(0.05)
            if message is not None and message.error() is None:
                return time.perf_counter() - start
        raise BenchError("the hand-written group consumer got no message in 60 s")
    finally:
        consumer.close()


def kafka_tables(runs: int, quick: bool) -> list[Table]:
    reaper = Reaper()
    resources = Resources(reaper)
    folder = resources.tempdir("bench-kafka")
    ready = Table(
        f"Kafka: local broker ready (median of {runs * 2} starts)",
        ".venv/bin/python -m benchmarks protocols",
        ["what", "ready (median)", "min-max", "target ≤ 100 ms"],
    )
    trips = Table(
        "Kafka: produce-then-consume round trip of one message, after the first",
        ".venv/bin/python -m benchmarks protocols",
        ["what", "per round trip", "target ≤ 20 ms"],
    )
    groups = Table(
        "Kafka: a consumer group's first message (new group, message already there)",
        ".venv/bin/python -m benchmarks protocols",
        ["what", "median", "target ≤ 1.5 s"],
    )
    try:
        starts: list[float] = []
        for n in range(runs * 2):
            with _broker(resources, folder, n) as (_service, took):
                starts.append(took)
        bare = [_bare_ready(resources) for _ in range(runs * 2)]
        ready.rows.append(
            [
                "splice: KafkaKind.start_local (Tansu, a topic declared)",
                ms(median(starts)),
                f"{ms(min(starts))}-{ms(max(starts))}",
                verdict(median(starts) <= READY_TARGET),
            ]
        )
        with_registry: list[float] = []
        for n in range(runs):
            with _broker(resources, folder, 200 + n, schema_registry=True) as (_service, took):
                with_registry.append(took)
        ready.rows.append(
            [
                "splice: the same with `schema_registry: true` (splice's registry beside it)",
                ms(median(with_registry)),
                f"{ms(min(with_registry))}-{ms(max(with_registry))}",
                "",
            ]
        )
        ready.rows.append(
            [
                "floor: the Tansu binary alone, first Metadata answer",
                ms(median(bare)),
                f"{ms(min(bare))}-{ms(max(bare))}",
                "",
            ]
        )
        ready.notes.append(
            "the first start on a machine also checks the binary's SHA-256 (~0.2 s), "
            "remembered in the cache folder after that; not in these numbers"
        )
        with _broker(resources, folder, 99, schema_registry=True) as (service, _):
            bootstrap = service.endpoint.extra["bootstrap"]
            external = {
                "kafka": service.endpoint.url,
                "registry": service.endpoint.extra["schema_registry_url"],
            }
            n = 20 if quick else 50
            step = _per_step(lambda k: _suite(folder, "trip", _PAIR, k), external, n, runs)
            as_json = _per_step(lambda k: _suite(folder, "json", _JSON_PAIR, k), external, n, runs)
            as_avro = _per_step(lambda k: _suite(folder, "avro", _AVRO_PAIR, k), external, n, runs)
            floor = _floor_round_trip(bootstrap, n)
            trips.rows.append(
                [
                    f"splice: produce step + consume step, N={n} pairs, (t(N)-t(1))/(N-1)",
                    ms(step),
                    verdict(step <= ROUND_TRIP_TARGET),
                ]
            )
            trips.rows.append(
                ["splice: the same with a JSON value {id, name}, expect on json", ms(as_json), ""]
            )
            trips.rows.append(
                [
                    "splice: the same value in Avro through splice's registry (encoded, "
                    "framed, decoded)",
                    ms(as_avro),
                    "",
                ]
            )
            codec = _avro_codec(folder, external["registry"])
            trips.rows.append(
                ["of which: encoding and decoding the Avro value (in process)", ms(codec), ""]
            )
            trips.rows.append(["floor: hand-written confluent-kafka, same calls", ms(floor), ""])
            trips.notes.append(
                "Avro: the first produce of a testcase registers the schema (one request); "
                "after that, encoding and decoding use the schema the testcase keeps, so the "
                "Avro and JSON rows differ by the in-process row plus the machine's noise"
            )
            from confluent_kafka import Producer

            producer = Producer({"bootstrap.servers": bootstrap})
            producer.produce("t", b"first", partition=0)
            producer.flush(5)
            mine = [_step_group_first(bootstrap, f"g-step-{i}") for i in range(runs)]
            fast = {
                "session.timeout.ms": 1000,
                "heartbeat.interval.ms": 200,
                "fetch.wait.max.ms": 10,
            }
            theirs = [_floor_group_first(bootstrap, f"g-floor-{i}", fast) for i in range(runs)]
            groups.rows.append(
                [
                    "splice: consume step with `group:` (session.timeout.ms 1000 from the kind)",
                    ms(median(mine)),
                    verdict(median(mine) <= GROUP_TARGET),
                ]
            )
            groups.rows.append(
                ["floor: hand-written consumer, same settings", ms(median(theirs)), ""]
            )
            if not quick:
                default = _floor_group_first(bootstrap, "g-default", {})
                groups.rows.append(
                    [
                        "hand-written consumer, librdkafka's defaults (session.timeout.ms 45000)",
                        ms(default),
                        "",
                    ]
                )
            groups.notes.append(
                "Tansu answers a JoinGroup only after half the session timeout has passed "
                "(in steps of 1 s): the kind's 1 s session makes a join take about 1 s"
            )
    finally:
        resources.close()
        reaper.close()
    return [ready, trips, groups]


# 4. gRPC ------------------------------------------------------------------------------------
def grpc_table(runs: int, quick: bool) -> Table:
    import grpc
    from tests.support.grpc_server import GrpcServer

    n = 200 if quick else 500
    table = Table(
        f"gRPC: unary step overhead above a hand-written grpcio loop, N={n}",
        ".venv/bin/python -m benchmarks protocols",
        ["runner", "ms/call", "above grpcio", "target ≤ 0.5 ms"],
    )
    with (
        tempfile.TemporaryDirectory(prefix="splice-bench-grpc-") as tmp,
        GrpcServer(Path(tmp)) as server,
    ):
        pb2 = server.pb2

        def loop() -> float:
            with grpc.insecure_channel(server.target) as channel:
                call = channel.unary_unary(
                    "/shop.Orders/Get",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=pb2.Item.FromString,
                )
                call(pb2.GetRequest(id=7))
                start = time.perf_counter()
                for _ in range(n):
                    if call(pb2.GetRequest(id=7), timeout=10).name != "item-7":
                        raise BenchError("the grpcio loop got a wrong answer")
                return (time.perf_counter() - start) / n

        floor = median(repeat(loop, runs, 60))
        step = (
            '      - grpc: {target: "{{ target }}", method: shop.Orders/Get, request: {id: 7}}\n'
            "        expect: {status: OK, json: {name: item-7}}\n"
        )
        folder = Path(tmp)
        splice = _per_step(
            lambda k: _suite(folder, "grpc", step, k), {"target": server.target}, n, runs
        )
    table.rows.append(["grpcio loop (floor)", f"{floor * 1000:.3f}", "+0.000 ms", ""])
    above = splice - floor
    table.rows.append(
        [
            "splice, in process (Runner.run)",
            f"{splice * 1000:.3f}",
            f"{above * 1000:+.3f} ms",
            verdict(above <= GRPC_TARGET),
        ]
    )
    table.notes.append(
        "both check the answer's name; splice's steps find the method by reflection (once)"
    )
    return table


# 5. GraphQL ---------------------------------------------------------------------------------
def graphql_table(runs: int, quick: bool) -> Table:
    from tests.support.graphql_server import GraphqlServer

    n = 200 if quick else 500
    table = Table(
        f"GraphQL: step overhead above the HTTP step posting the same body, N={n}",
        ".venv/bin/python -m benchmarks protocols",
        ["step", "ms/step", "above http", "target ≤ 0.2 ms"],
    )
    query = "{ item(id: 7) { name } }"
    body = json.dumps({"query": query})
    graphql_step = (
        f"      - graphql: {{url: '{{{{ url }}}}', query: '{query}'}}\n"
        "        expect: {data: {item: {name: item-7}}}\n"
    )
    http_step = (
        f"      - http: {{post: '{{{{ url }}}}', json: {body}}}\n"
        "        expect: {status: 200, json: {data: {item: {name: item-7}}}}\n"
    )
    with tempfile.TemporaryDirectory(prefix="splice-bench-gql-") as tmp, GraphqlServer() as server:
        folder = Path(tmp)
        external = {"url": server.url}
        http = _per_step(lambda k: _suite(folder, "http", http_step, k), external, n, runs)
        gql = _per_step(lambda k: _suite(folder, "graphql", graphql_step, k), external, n, runs)
    table.rows.append(["http (floor)", f"{http * 1000:.3f}", "+0.000 ms", ""])
    above = gql - http
    table.rows.append(
        [
            "graphql",
            f"{gql * 1000:.3f}",
            f"{above * 1000:+.3f} ms",
            verdict(above <= GRAPHQL_TARGET),
        ]
    )
    table.notes.append(
        "the graphql step validates its query against the introspected schema (cached per "
        "URL and query) and then sends it through the http executor"
    )
    return table


def run(quick: bool = False) -> str:
    runs = 3 if quick else 5
    tables = [*kafka_tables(runs, quick), grpc_table(runs, quick), graphql_table(runs, quick)]
    return "\n".join(t.markdown() for t in tables)


if __name__ == "__main__":
    print(run())
