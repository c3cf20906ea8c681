"""The nats kind (local, external, docker) and the nats executor against real servers."""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import textwrap
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError
from splice._internal.executors._nats_session import session_for
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.nats import NatsBlock, NatsExecutor
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.services.kind_api import ServiceError
from splice._internal.services.kinds import _binary_server, nats_protocol

pytestmark = pytest.mark.integration


def _project(folder: Path, text: str) -> Any:
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """A private nats-server with JetStream and subject-prefix isolation, for this module."""
    project = _project(
        tmp_path_factory.mktemp("nats"),
        "services: {bus: {kind: nats, jetstream: true, monitoring: true, isolation: prefix}}",
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
    return NatsExecutor().execute(NatsBlock.model_validate(block), ctx).result


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


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_local_server_checks_credentials_and_leaves_nothing(tmp_path: Path) -> None:
    """A local nats-server with a password accepts only those credentials, serves its
    monitoring port, and its process, port and folder are gone after stop."""
    project = _project(tmp_path, "services: {n: {kind: nats, password: pw, monitoring: true}}")
    before = set(Path("/dev/shm").glob("splice-nats-*"))
    with Environment(project) as env:
        env.start()
        endpoint = env.services["n"].endpoint
        assert endpoint.url == f"nats://splice:pw@127.0.0.1:{endpoint.port}"
        assert endpoint.port is not None
        nats_protocol.check(
            "127.0.0.1", endpoint.port, user="splice", password="pw", tls=False, jetstream=False
        )
        with pytest.raises(nats_protocol.NatsProtocolError, match="Authorization"):
            nats_protocol.check(
                "127.0.0.1", endpoint.port, user=None, password=None, tls=False, jetstream=False
            )
        with urllib.request.urlopen(f"{endpoint.extra['monitoring_url']}/varz") as answer:
            assert json.load(answer)["port"] == endpoint.port
        pid, port = env.services["n"].pid, endpoint.port
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _listening(port)
    assert set(Path("/dev/shm").glob("splice-nats-*")) <= before


def test_subscribe_waits_for_a_background_publisher(bus: Any) -> None:
    """A waiting subscribe collects `count` messages that a job publishes while it waits;
    data, JSON and headers come through."""
    env, _ = bus
    services = env.vars()
    job = _later(
        services,
        0.2,
        {"publish": "jobs.done", "json": {"id": 1}, "headers": {"X-Trace": "t1"}},
        {"publish": "jobs.done", "data": "plain"},
    )
    ctx = _ctx(services)
    out = _run(ctx, subscribe="jobs.*", count=2, timeout="5s")
    job.join()
    assert out["count"] == 2
    assert out["json"] == {"id": 1} and out["headers"] == {"X-Trace": "t1"}
    assert out["messages"][1] == {
        "subject": "jobs.done",
        "data": "plain",
        "json": None,
        "headers": {},
    }
    ctx.session.close()


def test_subscribe_then_trigger_then_receive(bus: Any) -> None:
    """`as:` starts a subscription and returns; a later `receive:` gets what the triggered
    job published in between, and says clearly when nothing (more) came."""
    env, _ = bus
    services = env.vars()
    ctx = _ctx(services)
    started = _run(ctx, subscribe="orders.created", **{"as": "created"})
    assert started["subscription"] == "created" and started["count"] == 0
    _later(services, 0.05, {"publish": "orders.created", "json": {"sku": "A"}}).join()
    out = _run(ctx, receive="created", timeout="5s")
    assert out["json"] == {"sku": "A"} and out["message"]["subject"] == "orders.created"
    with pytest.raises(StepError, match=r"^no message on orders.created within 0.2s$") as info:
        _run(ctx, receive="created", timeout=0.2)
    assert "subscribe before the step that triggers it" in (info.value.hint or "")
    _run(ctx, publish="orders.created", data="one")
    with pytest.raises(StepError, match=r"only 1 of 2 messages on orders.created within 0.2s"):
        _run(ctx, receive="created", count=2, timeout=0.2)
    assert _run(ctx, receive="created", count=0, timeout=0.05)["data"] == "one"
    assert _run(ctx, subscribe="orders.paid", wait=False)["subscription"] == "orders.paid"
    _run(ctx, publish="orders.paid", data="2")
    assert _run(ctx, receive="orders.paid")["data"] == "2"
    with pytest.raises(StepError, match="no subscription named 'create'") as info:
        _run(ctx, receive="create")
    assert info.value.hint == "did you mean 'created'?"
    ctx.session.close()


def test_request_reply_and_no_responders(bus: Any) -> None:
    """A request gets the responder's answer; without a responder the error says so."""
    env, _ = bus
    services = env.vars()
    responder = _ctx(services)
    session = session_for(responder)
    client = session.connection(services["bus"]["url"], responder)

    async def answer(msg: Any) -> None:
        await msg.respond(json.dumps({"price": 9.5, "asked": msg.data.decode()}).encode())

    async def serve() -> None:
        await client.subscribe("prices.get", cb=answer)
        await client.flush()

    session.run(serve, 5.0, responder)
    ctx = _ctx(services)
    out = _run(ctx, request="prices.get", data="A", timeout="2s")
    assert out["reply"]["json"] == {"price": 9.5, "asked": "A"} and out["count"] == 1
    with pytest.raises(StepError, match=r"no one answers requests on nobody\.home"):
        _run(ctx, request="nobody.home", timeout=1)
    ctx.session.close()
    responder.session.close()


def test_jetstream_streams_publish_and_consume(bus: Any) -> None:
    """Streams are created, published to with acks, pulled by ephemeral and durable
    consumers, purged and deleted; mistakes give clear errors."""
    env, _ = bus
    ctx = _ctx(env.vars())
    made = _run(ctx, jetstream={"create_stream": "ORDERS", "subjects": ["orders.>"]})
    assert made["stream"] == {"name": "ORDERS", "subjects": ["orders.>"], "messages": 0}
    for n in (1, 2):
        ack = _run(ctx, jetstream={"publish": "orders.new"}, json={"n": n})["ack"]
        assert ack == {"stream": "ORDERS", "seq": n, "duplicate": False}
    got = _run(ctx, jetstream={"consume": "ORDERS"}, count=2, timeout=15)
    assert [m["json"] for m in got["messages"]] == [{"n": 1}, {"n": 2}]
    assert got["messages"][1]["seq"] == 2
    first = _run(ctx, jetstream={"consume": "ORDERS", "durable": "audit"}, timeout=15)
    second = _run(ctx, jetstream={"consume": "ORDERS", "durable": "audit"}, timeout=15)
    assert (first["json"], second["json"]) == ({"n": 1}, {"n": 2})
    with pytest.raises(StepError, match=r"no message on stream ORDERS within 0\.2s"):
        _run(ctx, jetstream={"consume": "ORDERS", "durable": "audit"}, timeout=0.2)
    assert _run(ctx, jetstream={"purge_stream": "ORDERS"})["stream"]["messages"] == 0
    with pytest.raises(StepError, match=r"no stream stores subject 'unstored\.x'"):
        _run(ctx, jetstream={"publish": "unstored.x"}, data="x", timeout=1)
    with pytest.raises(StepError, match="there is no stream 'NOPE'"):
        _run(ctx, jetstream={"consume": "NOPE"}, timeout=1)
    assert _run(ctx, jetstream={"delete_stream": "ORDERS"})["stream"] is None
    assert _run(ctx, jetstream={"delete_stream": "ORDERS"})["stream"] is None
    ctx.session.close()


def test_prefix_isolation_separates_testcases_and_cleans_streams(bus: Any) -> None:
    """Each attempt gets a subject prefix the executor applies and strips; the raw subject
    carries it, other attempts do not see it, and the attempt's streams are deleted."""
    env, manager = bus
    scopes: list[dict[str, Any]] = [{"services": env.vars()}, {"services": env.vars()}]
    sessions = [TestcaseSession(), TestcaseSession()]
    for scope, session in zip(scopes, sessions, strict=True):
        manager.attempt_started(None, None, scope, session)
    first, second = (_ctx(s["services"], t) for s, t in zip(scopes, sessions, strict=True))
    prefix = scopes[0]["services"]["bus"]["prefix"]
    assert prefix.endswith(".") and prefix != scopes[1]["services"]["bus"]["prefix"]
    _run(first, subscribe="orders.created", **{"as": "mine"})
    _run(second, subscribe="orders.created", **{"as": "theirs"})
    _run(first, subscribe=">", prefix=False, **{"as": "raw"})
    _run(first, publish="orders.created", data="x")
    assert _run(first, receive="mine")["message"]["subject"] == "orders.created"
    assert _run(first, receive="raw")["message"]["subject"] == f"{prefix}orders.created"
    assert _run(second, receive="theirs", count=0, timeout=0.1)["count"] == 0
    with pytest.raises(StepError, match=r"no message on orders\.created") as info:
        _run(second, receive="theirs", timeout=0.05)
    assert "add `prefix: false` to the step" in (info.value.hint or "")
    _run(first, jetstream={"create_stream": "EVENTS", "subjects": ["events.>"]})
    endpoint = env.services["bus"].endpoint
    with nats_protocol.RawNats("127.0.0.1", endpoint.port) as conn:
        names = conn.jetstream("STREAM.NAMES", {}).get("streams") or []
    assert f"{prefix[:-1]}_EVENTS" in names
    for scope, session in zip(scopes, sessions, strict=True):
        session.close()
        manager.attempt_finished(None, None, scope, True)
    with nats_protocol.RawNats("127.0.0.1", endpoint.port) as conn:
        assert f"{prefix[:-1]}_EVENTS" not in (
            conn.jetstream("STREAM.NAMES", {}).get("streams") or []
        )


def test_block_mistakes_are_validation_errors() -> None:
    """A step does one thing, and keys belong to the operations that use them."""
    cases = {
        "a nats step does one thing, found publish and subscribe": {
            "publish": "a",
            "subscribe": "b",
        },
        "`data` is what a publish or request sends": {"subscribe": "a", "data": "x"},
        "`as` names a subscription that runs on": {"subscribe": "a", "as": "h", "wait": True},
        "`count` belongs to subscribe": {"publish": "a", "count": 2},
        "give `data` or `json`, not both": {"publish": "a", "data": "x", "json": 1},
        "a jetstream step does one thing": {"jetstream": {"publish": "a", "consume": "B"}},
    }
    for message, block in cases.items():
        with pytest.raises(ValidationError, match=message.replace("`", ".")):
            NatsBlock.model_validate(block)


def test_external_provider_uses_this_machines_server(tmp_path: Path) -> None:
    """An external NATS is checked with CONNECT/PING and works with the executor."""
    project = _project(tmp_path, "services: {ext: {kind: nats, url: 'nats://127.0.0.1:4222'}}")
    subject = f"splice.test.{uuid.uuid4().hex}"
    with Environment(project) as env:
        env.start()
        ctx = _ctx(env.vars())
        _run(ctx, subscribe=subject, **{"as": "s"})
        _run(ctx, service="ext", publish=subject, json=[1, 2])
        assert _run(ctx, receive="s")["json"] == [1, 2]
        ctx.session.close()
    nats_protocol.check("127.0.0.1", 4222, user=None, password=None, tls=False, jetstream=False)


def test_unreachable_server_is_a_step_error(bus: Any) -> None:
    """Connecting to a port where nothing listens fails the step with the URL, no password."""
    ctx = _ctx({})
    with pytest.raises(StepError, match=r"cannot connect to NATS at nats://u:\*\*\*@127\.0\.0\.1"):
        _run(ctx, url="nats://u:secret@127.0.0.1:1", publish="x")
    ctx.session.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # docker-py's failed probe socket
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """With no Docker engine the docker provider says what to do instead."""
    from splice._internal.services.docker import docker_available

    if docker_available() is None:
        pytest.skip("a Docker engine answers here; this test covers the machine without one")
    project = _project(tmp_path, "services: {n: {kind: nats, provider: docker}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)


def test_missing_binary_names_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without nats-server, the error names the packages and the other providers."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_binary_server, "EXTRA_DIRS", ())
    project = _project(tmp_path, "services: {n: {kind: nats}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "`nats-server` was not found" in str(info.value)
    assert "apt-get install nats-server" in (info.value.hint or "")
    assert "provider: docker" in (info.value.hint or "")


def test_suite_waits_for_what_a_background_job_publishes(
    bus: Any, write: Any, run_suite: Any
) -> None:
    """In YAML: subscribe, trigger a job that publishes later, then receive and expect."""
    env, _ = bus
    job = (
        "import asyncio, sys, nats\n"
        "async def main():\n"
        "    await asyncio.sleep(0.2)\n"
        "    nc = await nats.connect(sys.argv[1])\n"
        "    await nc.publish('shipments.sent', b'{\"order\": 7}')\n"
        "    await nc.close()\n"
        "asyncio.run(main())\n"
    )
    (write("job.py", job)).chmod(0o755)
    path = write(
        "n.splice.yaml",
        f"""
        name: nats
        testcases:
          - name: shipment announced
            steps:
              - nats: {{service: bus, subscribe: shipments.sent, as: sent}}
              - exec: "{sys.executable} job.py {{{{ services.bus.url }}}} >/dev/null 2>&1 &"
              - nats: {{receive: sent, timeout: 10s}}
                expect: {{json: {{order: 7}}, count: 1, message: {{subject: shipments.sent}}}}
        """,
    )
    run = run_suite(path, services=env.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps
