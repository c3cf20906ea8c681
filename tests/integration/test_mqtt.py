"""The mqtt kind (local, external, docker) and the mqtt executor against real brokers."""

from __future__ import annotations

import gc
import os
import socket
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError, SuiteError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.mqtt import MqttBlock, MqttExecutor
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.services.kind_api import ServiceError
from splice._internal.services.kinds import _binary_server
from splice._internal.services.kinds.mqtt import connack

pytestmark = pytest.mark.integration


def _project(folder: Path, text: str) -> Any:
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """A private Mosquitto with a password and topic-prefix isolation, for this module."""
    project = _project(
        tmp_path_factory.mktemp("mqtt"),
        "services: {mq: {kind: mqtt, user: app, password: 's3 cret', isolation: prefix}}",
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        yield env, manager


def _ctx(services: dict[str, Any], session: TestcaseSession | None = None) -> StepContext:
    return StepContext(
        vars={"services": services}, session=session or TestcaseSession(), base_dir=Path.cwd()
    )


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return MqttExecutor().execute(MqttBlock.model_validate(block), ctx).result


def _later(services: dict[str, Any], delay: float, *steps: dict[str, Any]) -> threading.Timer:
    """A background job: after `delay`, publish with a session of its own."""

    def job() -> None:
        ctx = _ctx(services)
        try:
            for step in steps:
                _run(ctx, **step)
        finally:
            ctx.session.close()

    timer = threading.Timer(delay, job)
    timer.start()
    return timer


def test_local_broker_checks_the_password_and_leaves_nothing(broker: Any) -> None:
    """The broker accepts only its user and password; a second broker's process, port and
    folder are gone after stop."""
    env, _ = broker
    endpoint = env.services["mq"].endpoint
    assert endpoint.url == f"mqtt://app:s3%20cret@127.0.0.1:{endpoint.port}"
    connack("127.0.0.1", endpoint.port, user="app", password="s3 cret")
    with pytest.raises(ConnectionError, match=r"bad user name or password|not authorised"):
        connack("127.0.0.1", endpoint.port, user="app", password="wrong")
    with pytest.raises(ConnectionError, match="not authorised"):
        connack("127.0.0.1", endpoint.port)
    with pytest.raises(StepError, match="refused the connection"):
        _run(_ctx({}), url=f"mqtt://app:wrong@127.0.0.1:{endpoint.port}", publish="x")

    project = _project(Path(env.run_dir or "."), "services: {m: {kind: mqtt}}")
    before = set(Path("/dev/shm").glob("splice-mqtt-*"))
    with Environment(project) as other:
        other.start()
        pid, port = other.services["m"].pid, other.services["m"].endpoint.port
        connack("127.0.0.1", port)
    assert pid is not None and port is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert set(Path("/dev/shm").glob("splice-mqtt-*")) <= before


def test_subscribe_with_wildcards_waits_for_a_background_publisher(broker: Any) -> None:
    """A waiting subscribe with + and # collects what a job publishes at QoS 1 and 2."""
    env, _ = broker
    services = env.vars()
    job = _later(
        services,
        0.2,
        {"publish": "sensors/1/temp", "json": {"c": 21.5}, "qos": 1},
        {"publish": "sensors/2/temp", "data": "22", "qos": 2},
    )
    ctx = _ctx(services)
    out = _run(ctx, subscribe="sensors/+/temp", count=2, qos=2, timeout="5s")
    job.join()
    assert out["count"] == 2 and out["json"] == {"c": 21.5} and out["topic"] == "sensors/1/temp"
    assert out["messages"][1] == {
        "topic": "sensors/2/temp",
        "payload": "22",
        "json": 22,
        "qos": 2,
        "retain": False,
    }
    ctx.session.close()


def test_subscribe_then_trigger_then_receive(broker: Any) -> None:
    """`as:` starts a subscription and returns; `receive:` gets what a job published in
    between, and a timeout says clearly that nothing (more) came."""
    env, _ = broker
    services = env.vars()
    ctx = _ctx(services)
    assert _run(ctx, subscribe="alerts/#", **{"as": "alerts"})["subscription"] == "alerts"
    _later(services, 0.05, {"publish": "alerts/high", "json": {"level": "high"}}).join()
    out = _run(ctx, receive="alerts", timeout="5s")
    assert out["json"] == {"level": "high"} and out["payload"] == '{"level": "high"}'
    with pytest.raises(StepError, match=r"^no message on alerts/# within 0.2s$"):
        _run(ctx, receive="alerts", timeout=0.2)
    with pytest.raises(StepError, match="no subscription named 'alert'"):
        _run(ctx, receive="alert")
    ctx.session.close()


def test_retained_messages_reach_later_subscribers(broker: Any) -> None:
    """A retained message is delivered to a later subscription, and an empty retained
    publish clears it."""
    env, _ = broker
    ctx = _ctx(env.vars())
    topic = f"state/{uuid.uuid4().hex}"
    _run(ctx, publish=topic, data="on", retain=True, qos=1)
    got = _run(ctx, subscribe=topic, timeout=15)
    assert got["message"]["retain"] is True and got["payload"] == "on"
    _run(ctx, publish=topic, data="", retain=True, qos=1)
    assert _run(ctx, subscribe=topic, count=0, timeout=0.2)["count"] == 0
    ctx.session.close()


def test_prefix_isolation_separates_testcases(broker: Any) -> None:
    """Each attempt gets a topic prefix the executor applies and strips; the raw topic
    carries it and another attempt does not see the message."""
    env, manager = broker
    scopes: list[dict[str, Any]] = [{"services": env.vars()}, {"services": env.vars()}]
    sessions = [TestcaseSession(), TestcaseSession()]
    for scope, session in zip(scopes, sessions, strict=True):
        manager.attempt_started(None, None, scope, session)
    first, second = (_ctx(s["services"], t) for s, t in zip(scopes, sessions, strict=True))
    prefix = scopes[0]["services"]["mq"]["prefix"]
    assert prefix.endswith("/") and prefix != scopes[1]["services"]["mq"]["prefix"]
    _run(first, subscribe="orders/#", **{"as": "mine"})
    _run(second, subscribe="orders/#", **{"as": "theirs"})
    _run(first, subscribe="#", prefix=False, **{"as": "raw"})
    _run(first, publish="orders/created", data="x", qos=1)
    assert _run(first, receive="mine")["topic"] == "orders/created"
    assert _run(first, receive="raw")["topic"] == f"{prefix}orders/created"
    assert _run(second, receive="theirs", count=0, timeout=0.1)["count"] == 0
    for scope, session in zip(scopes, sessions, strict=True):
        session.close()
        manager.attempt_finished(None, None, scope, True)


def test_mistakes_are_clear_errors(broker: Any) -> None:
    """Bad filters, wildcard topics and misplaced keys fail with what to change."""
    env, _ = broker
    ctx = _ctx(env.vars())
    with pytest.raises(StepError, match="invalid topic filter") as info:
        _run(ctx, subscribe="a/#/b", timeout=1)
    assert "# may only come last" in (info.value.hint or "")
    with pytest.raises(StepError, match="invalid topic"):
        _run(ctx, publish="a/+")
    with pytest.raises(StepError, match=r"cannot connect to MQTT at mqtt://127\.0\.0\.1:1"):
        _run(ctx, url="mqtt://127.0.0.1:1", publish="x")
    ctx.session.close()
    for message, block in {
        "an mqtt step does one thing": {"publish": "a", "receive": "b"},
        "`retain` belongs to publish": {"subscribe": "a", "retain": True},
        "`qos` is set when subscribing": {"receive": "a", "qos": 1},
    }.items():
        with pytest.raises(ValidationError, match=message.replace("`", ".")):
            MqttBlock.model_validate(block)


def test_settings_splice_manages_are_located_errors(tmp_path: Path) -> None:
    """A directive splice sets itself (listener) is refused at its line with a hint."""
    with pytest.raises(SuiteError) as info:
        _project(tmp_path, "services:\n  m:\n    kind: mqtt\n    config: {listener: 1}\n")
    diag = info.value.diagnostics[0]
    assert "'listener' is set by splice" in diag.message and diag.span is not None
    assert diag.span.line == 4


def test_external_provider_uses_this_machines_broker(tmp_path: Path) -> None:
    """An external broker is checked with CONNECT/CONNACK and works with the executor."""
    project = _project(tmp_path, "services: {ext: {kind: mqtt, url: 'mqtt://127.0.0.1:1883'}}")
    topic = f"splice/test/{uuid.uuid4().hex}"
    with Environment(project) as env:
        env.start()
        ctx = _ctx(env.vars())
        _run(ctx, subscribe=topic, **{"as": "t"})
        _run(ctx, publish=topic, json={"ok": True})
        assert _run(ctx, receive="t")["json"] == {"ok": True}
        ctx.session.close()
    connack("127.0.0.1", 1883)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # docker-py's failed probe socket
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """With no Docker engine the docker provider says what to do instead."""
    from splice._internal.services.docker import docker_available

    if docker_available() is None:
        pytest.skip("a Docker engine answers here; this test covers the machine without one")
    project = _project(tmp_path, "services: {m: {kind: mqtt, provider: docker}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)


def test_missing_binary_names_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without mosquitto, the error names the packages and the other providers."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_binary_server, "EXTRA_DIRS", ())
    project = _project(tmp_path, "services: {m: {kind: mqtt}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "`mosquitto` was not found" in str(info.value)
    assert "apt-get install mosquitto" in (info.value.hint or "")
    assert "provider: external" in (info.value.hint or "")


def test_suite_waits_for_what_a_background_job_publishes(
    broker: Any, write: Any, run_suite: Any
) -> None:
    """In YAML: subscribe, trigger a job that publishes later, then receive and expect."""
    env, _ = broker
    job = (
        "import sys, time\n"
        "import paho.mqtt.publish as publish\n"
        "from urllib.parse import urlsplit\n"
        "u = urlsplit(sys.argv[1])\n"
        "time.sleep(0.2)\n"
        "publish.single(sys.argv[2] + 'devices/7/status', '{\"online\": true}', qos=1,\n"
        "               hostname=u.hostname, port=u.port,\n"
        "               auth={'username': 'app', 'password': 's3 cret'})\n"
    )
    write("job.py", job)
    path = write(
        "m.splice.yaml",
        f"""
        name: mqtt
        testcases:
          - name: device comes online
            steps:
              - mqtt: {{service: mq, subscribe: devices/+/status, as: status, qos: 1}}
              - exec: "{sys.executable} job.py {{{{ services.mq.url }}}} '{{{{ services.mq.prefix }}}}' >/dev/null 2>&1 &"
              - mqtt: {{receive: status, timeout: 10s}}
                expect: {{json: {{online: true}}, topic: devices/7/status}}
        """,
    )
    run = run_suite(path, services=env.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps
