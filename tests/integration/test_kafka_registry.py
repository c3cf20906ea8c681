"""Avro and JSON Schema values through a schema registry: splice's own registry, started
by the kafka kind's local provider beside a Tansu broker (`schema_registry: true`), and
the kafka executor producing and consuming through it."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from splice._internal.environment.services import Environment
from splice._internal.errors import StepError, SuiteError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "items", "type": {"type": "array", "items": "string"}, "default": []},
    ],
}
SHIPMENT = {
    "type": "object",
    "properties": {"order": {"type": "integer"}, "status": {"enum": ["sent", "lost"]}},
    "required": ["order", "status"],
}


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """A Tansu broker with splice's schema registry beside it, for this module."""
    folder = tmp_path_factory.mktemp("registry")
    (folder / "splice.yaml").write_text(
        "services: {bus: {kind: kafka, schema_registry: true, "
        "topics: {orders: 1, shipments: 1, raw: 1}}}\n"
    )
    (folder / "order.avsc").write_text(json.dumps(ORDER))
    with Environment(load_project(folder / "splice.yaml")) as env:
        env.start()
        yield env


_OPEN: list[TestcaseSession] = []


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    """Every step context's clients are closed after each test, also a failed one."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _ctx(env: Environment, expect: dict[str, Any] | None = None) -> StepContext:
    session = TestcaseSession()
    _OPEN.append(session)
    return StepContext(
        vars={"services": env.vars()},
        session=session,
        base_dir=env.project.root,
        expect=expect or {},
    )


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return (
        KafkaExecutor().execute(KafkaBlock.model_validate({"service": "bus", **block}), ctx).result
    )


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _url(env: Environment) -> str:
    return str(env.vars()["bus"]["schema_registry_url"])


def test_the_registry_speaks_confluents_api_and_goes_with_the_broker(tmp_path: Path) -> None:
    """`schema_registry: true` exports a registry URL that answers the REST calls of
    Confluent's clients; it is stopped, its port freed, with the service."""
    (tmp_path / "splice.yaml").write_text("services: {k: {kind: kafka, schema_registry: true}}\n")
    with Environment(load_project(tmp_path / "splice.yaml")) as env:
        env.start()
        url = str(env.vars()["k"]["schema_registry_url"])
        port = urlsplit(url).port or 0
        with httpx.Client(base_url=url) as client:
            made = client.post(
                "/subjects/orders-value/versions",
                json={"schema": json.dumps(ORDER)},
                headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            )
            assert made.status_code == 200 and made.json() == {"id": 1}
            assert made.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
            assert client.get("/subjects").json() == ["orders-value"]
            latest = client.get("/subjects/orders-value/versions/latest").json()
            assert (latest["id"], latest["version"], json.loads(latest["schema"])) == (1, 1, ORDER)
            missing = client.get("/subjects/shipments-value/versions/latest")
            assert missing.status_code == 404
            assert missing.json() == {
                "error_code": 40401,
                "message": "Subject 'shipments-value' not found.",
            }
    assert not _listening(port), "the registry outlived its service"


def test_produce_avro_then_consume_and_expect_json(bus: Environment) -> None:
    """An Avro value with its schema from a file is registered under TOPIC-value, framed
    with its id, and a consume decodes it: `json` is the record, `value` its JSON text."""
    ctx = _ctx(bus)
    sent = _run(
        ctx,
        produce={
            "topic": "orders",
            "key": "7",
            "avro": {"id": 7, "qty": 2},
            "schema": "order.avsc",
        },
    )
    assert sent["json"] == {"id": 7, "qty": 2, "items": []}
    raw = base64.b64decode(sent["message"]["base64"])
    assert raw[:5] == b"\x00" + sent["schema_id"].to_bytes(4, "big")
    subject = httpx.get(f"{_url(bus)}/subjects/orders-value/versions/latest").json()
    assert subject["id"] == sent["schema_id"]
    reader = _ctx(bus, expect={"key": "7", "json": {"id": 7, "qty": 2}})
    got = _run(reader, consume={"topic": "orders", "timeout": "5s"})
    assert got["json"] == {"id": 7, "qty": 2, "items": []}
    assert got["schema_id"] == sent["schema_id"]
    assert json.loads(got["value"]) == got["json"]


def test_produce_with_the_subjects_latest_version_by_default(bus: Environment) -> None:
    """Without `schema`, a value is written with the subject's latest version: the schema
    the system under test registered; `schema_id` picks one by its id."""
    url = _url(bus)
    made = httpx.post(
        f"{url}/subjects/shipments-value/versions",
        json={"schema": json.dumps(SHIPMENT), "schemaType": "JSON"},
    ).json()
    ctx = _ctx(bus)
    first = _run(ctx, produce={"topic": "shipments", "json_schema": {"order": 1, "status": "sent"}})
    assert first["schema_id"] == made["id"]
    again = _run(
        ctx,
        produce={
            "topic": "shipments",
            "messages": [{"json_schema": {"order": 2, "status": "lost"}}],
            "schema_id": made["id"],
        },
    )
    assert again["json"] == {"order": 2, "status": "lost"}


def test_a_suite_produces_json_schema_values_and_expects_them(
    bus: Environment, write: Any, run_suite: Any
) -> None:
    """In YAML: an inline JSON Schema, a produce, and a consume whose `expect: {json}`
    picks the decoded value out of the topic."""
    path = write(
        "s.splice.yaml",
        """
        name: registry
        testcases:
          - name: a shipment event in JSON Schema
            steps:
              - kafka:
                  service: bus
                  produce:
                    topic: shipments
                    key: "42"
                    json_schema: {order: 42, status: sent}
                    schema:
                      type: object
                      properties: {order: {type: integer}, status: {enum: [sent, lost]}}
                      required: [order, status]
              - kafka: {service: bus, consume: {topic: shipments, timeout: 5s}}
                expect: {key: "42", json: {order: 42, status: sent}}
                capture: {id: schema_id}
              - exec: "test {{ id }} -ge 1"
        """,
    )
    run = run_suite(path, services=bus.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_a_value_that_does_not_fit_is_a_step_error_naming_the_path(bus: Environment) -> None:
    """Nothing is sent; the error names the value's path and the type the schema wants,
    for Avro and for JSON Schema."""
    ctx = _ctx(bus)
    with pytest.raises(StepError) as info:
        _run(
            ctx,
            produce={
                "topic": "orders",
                "avro": {"id": 1, "qty": 1, "items": ["a", 2]},
                "schema": "order.avsc",
            },
        )
    assert info.value.message == (
        "the value does not fit the Avro schema shop.Order (id 1): "
        "avro.items[1]: expected string, got 2 (an integer)"
    )
    with pytest.raises(StepError) as info:
        _run(
            ctx,
            produce={
                "topic": "shipments",
                "messages": [{"json_schema": {"order": "x", "status": "sent"}}],
                "schema": SHIPMENT,
            },
        )
    assert info.value.message.endswith(
        ': messages[0].json_schema.order: "x" is not of type "integer"'
    )
    avro_message = (
        "the value does not fit the Avro schema shop.Order (id 1): "
        "avro.items[1]: expected string, got 2 (an integer)"
    )
    check_output("kafka-value-does-not-fit", f"{avro_message}\n{info.value.message}")


def test_an_unknown_subject_is_named_with_the_known_ones(bus: Environment) -> None:
    """A value without `schema` on a topic whose subject is not registered says so."""
    ctx = _ctx(bus)
    _run(ctx, produce={"topic": "orders", "avro": {"id": 1, "qty": 1}, "schema": "order.avsc"})
    with pytest.raises(StepError) as info:
        _run(ctx, produce={"topic": "raw", "avro": {"id": 1}})
    assert info.value.message == f"subject 'raw-value' is not in the schema registry at {_url(bus)}"
    assert "orders-value" in (info.value.hint or "")


def test_a_framed_value_with_an_unknown_id_is_a_located_error(bus: Environment) -> None:
    """A consumed value framed with an id the registry does not have fails the step with
    the message's place; `schema_registry: false` reads the bytes as they are."""
    ctx = _ctx(bus)
    sent = _run(ctx, produce={"topic": "raw", "base64": "AAAAA+d7fQ=="})  # id 999, then {}
    with pytest.raises(StepError) as info:
        _run(ctx, consume={"topic": "raw", "from": sent["offset"], "timeout": "5s"})
    assert info.value.message == (
        f"the message on 'raw' at partition 0 offset {sent['offset']}: its value names schema "
        f"id 999, which the schema registry at {_url(bus)} does not have"
    )
    plain = _run(
        ctx,
        schema_registry=False,
        consume={"topic": "raw", "from": sent["offset"], "timeout": "5s"},
    )
    assert plain["schema_id"] is None and plain["message"]["base64"] == "AAAAA+d7fQ=="


def test_a_registry_that_does_not_answer_is_a_clear_error(bus: Environment) -> None:
    """A produce through a registry nobody listens on fails at once, saying which and
    what to check; a step without any registry says how to get one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    ctx = _ctx(bus)
    with pytest.raises(StepError) as info:
        _run(
            ctx,
            schema_registry=f"http://127.0.0.1:{free}",
            produce={"topic": "orders", "avro": {"id": 1, "qty": 1}, "schema": "order.avsc"},
        )
    assert info.value.message.startswith(
        f"the schema registry at http://127.0.0.1:{free} did not answer: "
    )
    assert "schema_registry: true" in (info.value.hint or "")
    with pytest.raises(StepError) as info:
        _run(ctx, schema_registry=False, produce={"topic": "orders", "avro": {"id": 1}})
    assert (
        info.value.message == "an `avro` value needs a schema registry, and service 'bus' has none"
    )


def test_schema_registry_true_on_an_external_broker_asks_for_a_url(tmp_path: Path) -> None:
    """An external cluster has its own registry: `true` there is an error of splice.yaml
    (found when it loads) with a hint."""
    (tmp_path / "splice.yaml").write_text(
        "services: {k: {kind: kafka, url: 'kafka://127.0.0.1:9', schema_registry: true}}\n"
    )
    with pytest.raises(SuiteError) as info:
        load_project(tmp_path / "splice.yaml")
    (found,) = info.value.diagnostics
    assert "an external cluster's registry is its own" in found.message
    assert found.hint == "give the registry's URL: `schema_registry: http://HOST:8081`"
    assert found.span is not None and found.span.line == 1


def test_sigkill_of_splice_leaves_no_registry_behind(tmp_path: Path) -> None:
    """After `kill -9` of a `splice run` with a registry beside the broker, the reaper
    stops the registry too: its port is free again."""
    marker = tmp_path / "started"
    (tmp_path / "splice.yaml").write_text(
        "services: {bus: {kind: kafka, schema_registry: true}}\nsuites: [s.splice.yaml]\n"
    )
    (tmp_path / "s.splice.yaml").write_text(
        textwrap.dedent(
            f"""
            name: long
            testcases:
              - name: waits
                steps:
                  - exec: 'echo {{{{ services.bus.schema_registry_url }}}} > {marker}; sleep 60'
                    timeout: 120s
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--no-store"],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text().strip():
                break
            time.sleep(0.05)
        port = urlsplit(marker.read_text().strip()).port or 0
        assert _listening(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _listening(port):
        time.sleep(0.1)
    assert not _listening(port), "the registry outlived splice"


def test_splice_check_finds_values_that_do_not_fit_a_given_schema(tmp_path: Path) -> None:
    """When the step gives the schema (a file, or inline), loading the suite reports a
    value that does not fit at its own place in the file, and a schema that is not valid;
    values with templates are left to the run."""
    from splice._internal.runner.planner import load_all

    (tmp_path / "order.avsc").write_text(json.dumps(ORDER))
    suite = tmp_path / "k.splice.yaml"
    suite.write_text(
        "name: k\n"
        "testcases:\n"
        "  - name: t\n"
        "    steps:\n"
        "      - kafka:\n"
        "          produce: {topic: o, avro: {id: 1, qty: two}, schema: order.avsc}\n"
        "      - kafka:\n"
        "          produce:\n"
        "            topic: o\n"
        "            schema: {type: object, properties: {n: {type: integer}}}\n"
        "            messages: [{json_schema: {n: 1}}, {json_schema: {n: x}}]\n"
        "      - kafka: {produce: {topic: o, avro: {id: 1}, schema: {type: nope}}}\n"
        "      - kafka: {produce: {topic: o, avro: {id: '{{ x }}', qty: a}, schema: order.avsc}}\n"
        "      - kafka: {produce: {topic: o, key: '{{ k }}', avro: {id: 1, qty: b}, schema: order.avsc}}\n"
        "      - kafka: {produce: {topic: o, avro: {id: 1}, schema: order.avsc}}\n"
        "      - kafka: {produce: {topic: o, avro: {id: 1, qty: 1, itemz: []}, schema: order.avsc}}\n"
    )
    _, problems = load_all([suite])
    found = [(p.message, p.span.line, p.span.column) for p in problems if p.span]
    fit = "the value does not fit the Avro schema shop.Order in order.avsc: "
    assert found == [
        (fit + "expected int, got 'two' (text)", 6, 50),
        (
            "the value does not fit the JSON Schema in the step's `schema`: "
            '"x" is not of type "integer"',
            11,
            65,
        ),
        (
            "the schema in the step's `schema` is not an Avro schema: "
            "UnknownType: {'type': 'nope'}",
            12,
            60,
        ),
        (fit + "expected int, got 'b' (text)", 14, 72),
        (fit + "missing: the field (int) has no default", 15, 43),
        (fit + "record shop.Order has no field 'itemz'; did you mean 'items'?", 16, 59),
    ]


def test_the_registry_reads_chunked_bodies_and_keeps_connections(bus: Environment) -> None:
    """On one connection: a chunked POST registers a schema, a HEAD answers without a
    body, and a malformed request line is refused with 400 and the connection closed."""
    port = urlsplit(_url(bus)).port or 0
    body = json.dumps({"schema": '"string"'}).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            b"POST /subjects/chunked-value/versions HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked
        )
        first = conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b'"id": ' in first
        conn.sendall(b"HEAD /subjects HTTP/1.1\r\nHost: x\r\n\r\n")
        head = conn.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
        conn.sendall(b"NONSENSE\r\n\r\n")
        bad = conn.recv(65536)
        assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert conn.recv(65536) == b""  # closed
