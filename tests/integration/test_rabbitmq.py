"""The rabbitmq kind (local, external, docker) and the amqp executor against real brokers.

One node is started through the local provider for the module (a node takes ~1.5-3 s
to boot); the nothing-left-behind test starts a second one of its own. The cached node
folder has tests of its own: test_rabbitmq_cache.py.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from pydantic import ValidationError

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError
from splice._internal.executors.amqp import AmqpBlock, AmqpExecutor
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.services import kind_registry as registry
from splice._internal.services import owners
from splice._internal.services.kind_api import RunningService, ServiceError
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install
from splice._internal.services.kinds.rabbitmq.client import AmqpProblem, handshake

pytestmark = pytest.mark.integration

SYSTEM_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"  # this machine's own RabbitMQ


def _project(folder: Path, text: str) -> Any:
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """A private RabbitMQ node with a login of its own, fixtures and vhost isolation."""
    folder = tmp_path_factory.mktemp("rabbitmq")
    (folder / "topology.yaml").write_text(
        textwrap.dedent(
            """
            exchanges: [{name: jobs, type: topic}]
            queues: [job-results]
            bindings: [{exchange: jobs, queue: job-results, routing_key: "job.*"}]
            """
        )
    )
    project = _project(
        folder,
        """
        services:
          bus: {kind: rabbitmq, user: shop, password: pw, isolation: vhost}
        data:
          fixtures: {bus: [topology.yaml]}
        """,
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
    return AmqpExecutor().execute(AmqpBlock.model_validate(block), ctx).result


def _later(services: dict[str, Any], delay: float, **step: Any) -> threading.Timer:
    """A background job: after `delay`, one amqp step with a session of its own."""

    def job() -> None:
        ctx = _ctx(services)
        try:
            _run(ctx, **step)
        finally:
            ctx.session.close()

    timer = threading.Timer(delay, job)
    timer.start()
    return timer


def _queue_exists(url: str, queue: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        connection.close()


def test_local_node_is_private_and_logs_in_with_its_own_user(bus: Any) -> None:
    """The node listens on a private port with the configured login (guest is not
    created) and is registered only with an epmd of its own, not the machine's."""
    env, _ = bus
    service = env.services["bus"]
    endpoint = service.endpoint
    assert endpoint.url == f"amqp://shop:pw@127.0.0.1:{endpoint.port}/%2F"
    assert (endpoint.user, endpoint.password, endpoint.extra["vhost"]) == ("shop", "pw", "/")
    assert endpoint.port != 5672
    handshake(endpoint.url)
    with pytest.raises(AmqpProblem, match="refused the login"):
        handshake(f"amqp://guest:guest@127.0.0.1:{endpoint.port}/%2F")
    node = service.state["rabbitmq.node"]
    assert node.startswith("splice-") and node.endswith("@localhost")
    if shutil.which("epmd"):
        shared = subprocess.run(["epmd", "-names"], capture_output=True, text=True, check=False)
        assert node.split("@")[0] not in shared.stdout


def test_fixtures_declare_topology(bus: Any) -> None:
    """A fixture file's exchange, queue and binding exist after prepare."""
    env, _ = bus
    ctx = _ctx(env.vars())
    try:
        _run(ctx, publish="jobs", routing_key="job.done", body="fixture", mandatory=True)
        got = _run(ctx, consume="job-results", timeout="2s")
        assert (got["body"], got["routing_key"], got["exchange"]) == ("fixture", "job.done", "jobs")
    finally:
        ctx.session.close()


def test_declare_publish_get_purge(bus: Any) -> None:
    """declare reports what it made; publish carries headers, properties and JSON; get
    takes one message without waiting; purge says how many it removed."""
    env, _ = bus
    ctx = _ctx(env.vars())
    try:
        made = _run(
            ctx,
            declare={
                "exchanges": [{"name": "orders", "type": "topic"}],
                "queues": [{"name": "order-events", "arguments": {"x-max-length": 100}}],
                "bindings": [
                    {"exchange": "orders", "queue": "order-events", "routing_key": "order.*"}
                ],
            },
        )
        assert made["declared"] == {
            "exchanges": ["orders"],
            "queues": {"order-events": {"messages": 0, "consumers": 0}},
            "bindings": 1,
        }
        sent = _run(
            ctx,
            publish={"exchange": "orders", "routing_key": "order.created"},
            json={"id": 7},
            headers={"x-trace": "abc", "attempt": 2},
            properties={"correlation_id": "c-1", "message_id": "m-1", "delivery_mode": 2},
        )
        assert sent["count"] == 1 and sent["json"] == {"id": 7}
        got = _run(ctx, get="order-events")
        assert got["count"] == 1
        assert got["json"] == {"id": 7} and got["headers"] == {"x-trace": "abc", "attempt": 2}
        assert got["properties"] == {
            "content_type": "application/json",
            "correlation_id": "c-1",
            "message_id": "m-1",
            "delivery_mode": 2,
        }
        assert got["message"]["redelivered"] is False
        assert _run(ctx, get="order-events")["count"] == 0
        for body in ("a", "b", "c"):
            _run(ctx, publish={"queue": "order-events"}, body=body)
        kept = _run(ctx, get="order-events", ack=False)
        assert kept["body"] == "a"
        assert _run(ctx, purge="order-events") == {
            **_run_empty(),
            "count": 3,
            "queue": "order-events",
        }
    finally:
        ctx.session.close()


def _run_empty() -> dict[str, Any]:
    return {
        "messages": [],
        "message": None,
        "count": 0,
        "queue": None,
        "body": None,
        "json": None,
        "headers": None,
        "routing_key": None,
        "exchange": None,
        "properties": None,
    }


def test_consume_waits_for_a_background_publisher(bus: Any) -> None:
    """consume waits until `count` messages came from a job that publishes later, and
    acknowledges them (a second consume finds none)."""
    env, _ = bus
    services = env.vars()
    ctx = _ctx(services)
    try:
        _run(ctx, declare={"queues": ["mail"]})
        jobs = [
            _later(services, 0.2 + i / 10, publish={"queue": "mail"}, json={"n": i})
            for i in range(2)
        ]
        got = _run(ctx, consume="mail", count=2, timeout="10s")
        for job in jobs:
            job.join()
        assert [m["json"] for m in got["messages"]] == [{"n": 0}, {"n": 1}]
        assert got["routing_key"] == "mail" and got["exchange"] == ""
        with pytest.raises(StepError, match=r"no message on queue 'mail' within 0\.2s"):
            _run(ctx, consume="mail", timeout=0.2)
    finally:
        ctx.session.close()


def test_subscribe_binds_a_private_queue_for_a_later_consume(bus: Any) -> None:
    """subscribe with `as` binds a server-named queue at once; a later consume by that
    name gets what was published in between, and the queue stays for the next one."""
    env, _ = bus
    services = env.vars()
    ctx = _ctx(services)
    try:
        _run(ctx, declare={"exchanges": [{"name": "events", "type": "topic"}]})
        sub = _run(ctx, subscribe="events", routing_key="user.*", **{"as": "users"})
        assert sub["subscription"] == "users" and sub["queue"].startswith("amq.gen-")
        job = _later(services, 0.2, publish="events", routing_key="user.created", json={"u": 1})
        got = _run(ctx, consume="users", timeout="10s")
        job.join()
        assert got["json"] == {"u": 1} and got["routing_key"] == "user.created"
        _run(ctx, publish="events", routing_key="user.deleted", json={"u": 2})
        assert _run(ctx, consume="users", timeout="2s")["json"] == {"u": 2}  # still bound
    finally:
        ctx.session.close()


def test_step_errors_name_the_queue_and_what_to_do(bus: Any) -> None:
    """An unknown queue, a too-short wait, a missing exchange and an unroutable mandatory
    message are step errors with hints; the connection recovers after each."""
    env, _ = bus
    ctx = _ctx(env.vars())
    try:
        with pytest.raises(StepError) as info:
            _run(ctx, consume="nowhere", timeout=1)
        assert info.value.message.startswith("queue 'nowhere' does not exist")
        assert "declare it first" in (info.value.hint or "")
        _run(ctx, declare={"queues": ["quiet"]})
        _run(ctx, publish={"queue": "quiet"}, body="one")
        with pytest.raises(StepError, match=r"only 1 of 2 messages on queue 'quiet' within 0\.3s"):
            _run(ctx, consume="quiet", count=2, timeout=0.3)
        assert _run(ctx, get="quiet")["body"] == "one"  # put back for a retried step
        with pytest.raises(StepError, match="exchange 'nope' does not exist"):
            _run(ctx, publish="nope", body="x")
        with pytest.raises(StepError, match="reached no queue"):
            _run(ctx, publish="amq.topic", routing_key="nobody", body="x", mandatory=True)
        with pytest.raises(StepError, match="exists with other settings"):
            _run(ctx, declare={"queues": [{"name": "quiet", "durable": False}]})
        assert _run(ctx, purge="quiet")["count"] == 0
    finally:
        ctx.session.close()


def test_block_mistakes_are_validation_errors() -> None:
    """Two operations, payload keys on a consume and `as` on a publish are rejected."""
    for block in (
        {"consume": "a", "get": "a"},
        {"consume": "a", "body": "x"},
        {"publish": "ex", "as": "x"},
        {"publish": {"queue": "q", "exchange": "e"}},
        {"get": "q", "count": 2},
    ):
        with pytest.raises(ValidationError):
            AmqpBlock.model_validate(block)


def test_vhost_isolation_keeps_testcases_apart(bus: Any) -> None:
    """Two attempts get their own vhost (with the fixtures declared again): what one
    publishes on `job-results` the other does not see; the vhost is gone afterwards."""
    env, manager = bus
    scopes, sessions = [], []
    for _ in range(2):
        scope: dict[str, Any] = {"services": env.vars()}
        session = TestcaseSession()
        manager.attempt_started(None, None, scope, session)
        scopes.append(scope)
        sessions.append(session)
    a, b = (s["services"]["bus"] for s in scopes)
    assert a["vhost"] != b["vhost"] and a["vhost"].startswith("t")
    assert a["url"].endswith("/" + a["vhost"])
    ctx_a, ctx_b = (
        _ctx(scopes[0]["services"], sessions[0]),
        _ctx(scopes[1]["services"], sessions[1]),
    )
    _run(ctx_a, publish="jobs", routing_key="job.done", body="only for a", mandatory=True)
    with pytest.raises(StepError, match="no message on queue 'job-results'"):
        _run(ctx_b, consume="job-results", timeout=0.3)
    assert _run(ctx_a, consume="job-results", timeout=15)["body"] == "only for a"
    for scope, session in zip(scopes, sessions, strict=True):
        session.close()
        manager.attempt_finished(None, None, scope, True)
    with pytest.raises(AmqpProblem, match="refused access"):
        handshake(a["url"])


def test_prefix_isolation_keeps_testcases_apart_and_cleans_up(bus: Any) -> None:
    """Under prefix isolation two attempts use the 'same' queue under different
    prefixes, do not see each other's messages, and their queues are deleted after."""
    env, _ = bus
    service: RunningService = env.services["bus"]
    kind: Any = registry.get("rabbitmq")
    endpoints = [kind.acquire(service, "prefix", key) for key in ("t900", "t901")]
    prefixes = [e.extra["prefix"] for e in endpoints]
    assert prefixes[0] != prefixes[1] and prefixes[0].startswith("t900")
    ctxs = [_ctx({"bus": e.as_vars()}) for e in endpoints]
    for ctx in ctxs:
        _run(ctx, declare={"queues": ["shared"]})
    _run(ctxs[0], publish={"queue": "shared"}, body="mine")
    with pytest.raises(StepError) as info:
        _run(ctxs[1], consume="shared", timeout=0.3)
    assert "prefix: false" in (info.value.hint or "")
    got = _run(ctxs[0], consume="shared", timeout=15)
    assert (got["body"], got["routing_key"], got["queue"]) == ("mine", "shared", "shared")
    assert _queue_exists(service.endpoint.url, prefixes[0] + "shared")
    assert _queue_exists(service.endpoint.url, prefixes[0] + "job-results")  # the fixtures
    for key, endpoint, ctx in zip(("t900", "t901"), endpoints, ctxs, strict=True):
        ctx.session.close()
        kind.release(service, "prefix", key, endpoint)
    for prefix in prefixes:
        assert not _queue_exists(service.endpoint.url, prefix + "shared")
        assert not _queue_exists(service.endpoint.url, prefix + "job-results")


def test_suite_consumes_what_a_background_job_publishes(
    bus: Any, write: Any, run_suite: Any
) -> None:
    """In YAML: declare and bind in setup, trigger a job that publishes later, then
    consume with a timeout and expect on its JSON and routing key."""
    env, _ = bus
    job = (
        "import sys, time, pika\n"
        "time.sleep(0.3)\n"
        "c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))\n"
        "c.channel().basic_publish('shop', 'order.shipped', b'{\"order\": 7}')\n"
        "c.close()\n"
    )
    write("job.py", job)
    path = write(
        "a.splice.yaml",
        f"""
        name: amqp
        testcases:
          - name: shipment announced
            setup:
              - amqp:
                  service: bus
                  declare:
                    exchanges: [{{name: shop, type: topic}}]
                    queues: [shipments]
                    bindings: [{{exchange: shop, queue: shipments, routing_key: "order.*"}}]
            steps:
              - exec: "{sys.executable} job.py '{{{{ services.bus.url }}}}' >/dev/null 2>&1 &"
              - amqp: {{service: bus, consume: shipments, timeout: 10s}}
                expect: {{json: {{order: 7}}, routing_key: order.shipped, count: 1}}
        """,
    )
    run = run_suite(path, services=env.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_external_provider_uses_this_machines_broker(tmp_path: Path) -> None:
    """`url:` to the machine's own RabbitMQ: checked by a handshake, usable by the
    executor, never stopped; vhost isolation is refused with a hint; a wrong password
    fails at once."""
    project = _project(tmp_path, f"services: {{ext: {{kind: rabbitmq, url: '{SYSTEM_BROKER}'}}}}")
    queue = f"splice-test-{uuid.uuid4().hex[:8]}"
    with Environment(project) as env:
        env.start()
        endpoint = env.services["ext"].endpoint
        assert (endpoint.port, endpoint.user, endpoint.extra["vhost"]) == (5672, "guest", "/")
        ctx = _ctx(env.vars())
        try:
            _run(ctx, declare={"queues": [{"name": queue, "durable": False}]})
            _run(ctx, publish={"queue": queue}, json={"ok": True})
            assert _run(ctx, consume=queue, timeout=15)["json"] == {"ok": True}
        finally:
            ctx.session.close()
            connection = pika.BlockingConnection(pika.URLParameters(SYSTEM_BROKER))
            connection.channel().queue_delete(queue)
            connection.close()
        with pytest.raises(ServiceError, match="isolation `vhost` needs"):
            registry.get("rabbitmq").prepare_isolation(env.services["ext"], "vhost")  # type: ignore[attr-defined]
    handshake(SYSTEM_BROKER)  # still running
    bad = _project(
        tmp_path, "services: {ext: {kind: rabbitmq, url: 'amqp://guest:no@127.0.0.1:5672/'}}"
    )
    with Environment(bad) as env, pytest.raises(ServiceError, match="refused the login"):
        env.start()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # docker-py's failed probe socket
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """The docker plan runs rabbitmq:3 with the login; with no Docker engine the provider
    says what to do instead."""
    from splice._internal.services.docker import docker_available

    project = _project(
        tmp_path, "services: {b: {kind: rabbitmq, provider: docker, user: u, password: p}}"
    )
    plan = registry.get("rabbitmq").docker_plan(project.services["b"])  # type: ignore[attr-defined]
    assert plan.image == "rabbitmq:3" and plan.port == 5672
    assert plan.env["RABBITMQ_DEFAULT_USER"] == "u"
    assert plan.endpoint("localhost", 32000).url == "amqp://u:p@localhost:32000/%2F"
    if docker_available() is None:
        pytest.skip("a Docker engine answers here; this test covers the machine without one")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)


def test_missing_binary_names_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without rabbitmq-server, the error names the packages and the other providers."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(rabbitmq_install, "_SERVER_CANDIDATES", ())
    project = _project(tmp_path, "services: {b: {kind: rabbitmq}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "`rabbitmq-server` was not found" in str(info.value)
    hint = info.value.hint or ""
    assert "apt-get install rabbitmq-server" in hint and "brew install rabbitmq" in hint
    assert "provider: docker" in hint and "provider: external" in hint


def test_settings_and_plugin_mistakes_are_reported(tmp_path: Path) -> None:
    """A bad rabbitmq.conf key, a multi-line password and an unknown plugin are errors."""
    settings = registry.get("rabbitmq").settings_model
    with pytest.raises(ValidationError, match=r"not a rabbitmq\.conf key"):
        settings.model_validate({"config": {"bad key": 1}})
    with pytest.raises(ValidationError):
        settings.model_validate({"password": "a\nb"})
    install = rabbitmq_install.find("b")
    assert install.plugins is not None
    with pytest.raises(ServiceError) as info:
        rabbitmq_install.trimmed("b", install.plugins, ["rabbitmq_managment"], tmp_path / "p")
    assert "did you mean 'rabbitmq_management'" in (info.value.hint or "")


def _processes_mentioning(word: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if word in cmdline and state != "Z":
                found.append(f"{entry.name} {cmdline}")
    return found


def test_node_with_plugins_and_config_leaves_nothing_behind(tmp_path: Path) -> None:
    """A node with a plugin and extra config serves the plugin's exchange type; after
    stop no process of it (beam.smp, epmd, erl_child_setup) and no folder remain."""
    project = _project(
        tmp_path,
        """
        services:
          b:
            kind: rabbitmq
            plugins: [rabbitmq_consistent_hash_exchange]
            config: {consumer_timeout: 60000, heartbeat: 30}
        """,
    )
    with Environment(project) as env:
        env.start()
        service = env.services["b"]
        node = service.state["rabbitmq.node"]
        # every process of the node carries the environment's tag, erl_child_setup too
        # (it runs in a session of its own, outside the group that SIGTERM reaches)
        tagged = [(p.pid, p.start) for p in owners.scan() if owners.carries(p, env.resources.tag)]
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid, _ in tagged]
        assert any(b"erl_child_setup" in command for command in commands), commands
        folder = Path(service.state["rabbitmq.admin"]["home"]).parent
        assert folder.is_dir() and "heartbeat = 30" in (folder / "rabbitmq.conf").read_text()
        # beam.smp (`erl` execs it: no script); by its folder, as nodes of other runs
        # started from the same cached folder have the same name
        assert _processes_mentioning(str(folder)) != []
        assert node in "".join(_processes_mentioning(str(folder)))
        ctx = _ctx(env.vars())
        try:
            made = _run(ctx, declare={"exchanges": [{"name": "h", "type": "x-consistent-hash"}]})
            assert made["declared"]["exchanges"] == ["h"]
        finally:
            ctx.session.close()
        epmd_port = service.state["rabbitmq.admin"]["env"]["ERL_EPMD_PORT"]
    assert _processes_mentioning(str(folder)) == []
    assert _processes_mentioning(f"-port {epmd_port} ") == []
    assert [pid for pid, started in tagged if owners.alive(pid, started)] == []
    assert not folder.exists()


def _evaluate(service: RunningService, expression: str) -> str:
    admin = service.state["rabbitmq.admin"]
    done = subprocess.run(
        [admin["erl_call"], "-address", admin["address"], "-e"],
        input=expression + "\n",
        env={"HOME": admin["home"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_node_runs_erl_directly_with_a_short_code_path(tmp_path: Path) -> None:
    """The node is `erl` itself (no script), its code path holds the trimmed plugins
    folder but not the installation's whole one; a module of Erlang/OTP is loaded from
    the folder of links, and so is the broker's own: every module the node loads at
    boot is loaded before the broker starts (in parallel); all are listed in the node's
    folder."""
    install = rabbitmq_install.find("b")
    if install.erl_call is None or install.erl is None:
        pytest.skip("needs Erlang's erl and erl_call")
    project = _project(tmp_path, "services: {b: {kind: rabbitmq}}")
    with Environment(project) as env:
        env.start()
        service = env.services["b"]
        assert service.pid is not None
        assert Path(f"/proc/{service.pid}/exe").resolve().name == "beam.smp"
        folder = Path(service.state["rabbitmq.admin"]["home"]).parent
        path = _evaluate(service, "code:get_path().")
        assert str(folder / "modules") in path and str(folder / "plugins") in path
        assert str(install.plugins) not in path
        which = _evaluate(service, "{code:which(ssl), code:which(rabbit_vhost)}.")
        assert f'"{folder / "modules"}/ssl.beam"' in which, which
        assert f'"{folder / "modules"}/rabbit_vhost.beam"' in which, which
        listed = folder / "preload.eterm"
        not_loaded = _evaluate(
            service,
            f'{{ok, [M]}} = file:consult("{listed}"), '
            "{length(M), [X || X <- M, code:is_loaded(X) =:= false]}.",
        )
        count = int(not_loaded.split("{ok, {")[1].split(",")[0])
        assert count > 500 and not_loaded.strip().endswith(", []}}"), not_loaded


def test_node_starts_through_the_script_where_erl_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an `erl` to start directly, the node is started by `rabbitmq-server` as
    before, and serves AMQP."""
    found = rabbitmq_install.find("b")
    monkeypatch.setattr(rabbitmq_install, "find", lambda name: dataclasses.replace(found, erl=None))
    project = _project(tmp_path, "services: {b: {kind: rabbitmq}}")
    with Environment(project) as env:
        env.start()
        service = env.services["b"]
        assert service.pid is not None
        assert Path(f"/proc/{service.pid}/exe").resolve().name != "beam.smp"  # the script
        handshake(service.endpoint.url, 10.0)
