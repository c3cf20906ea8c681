"""Message interactions verified on a real Kafka broker (splice's own `kafka` service, the
local Tansu broker): the provider publishes its event, keyed and with a header, to a topic
it creates with its first message; the message is consumed after the trigger and held to
the pact, its topic and key as metadata."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor
from tests.support.cli import splice_cli
from tests.support.message_contracts import PACT, PROJECT, STATES
from tests.support.message_contracts import write_project as _project

pytest.importorskip("confluent_kafka")

pytestmark = pytest.mark.integration

KAFKA_PROJECT = PROJECT.replace("{{kind: nats}}", "{{kind: kafka}}").replace(
    'NATS_URL: "{{{{ services.bus.url }}}}"', 'KAFKA_BOOTSTRAP: "{{{{ services.bus.bootstrap }}}}"'
)
KAFKA_STATES = STATES.replace(
    "nats: {service: bus, subscribe: orders.created, timeout: 3s}",
    "kafka: {service: bus, consume: {topic: orders.created, timeout: 5s}}",
)


def _pact(**metadata: Any) -> dict[str, Any]:
    pact: dict[str, Any] = json.loads(json.dumps(PACT))
    pact["interactions"][0]["metadata"] = metadata
    return pact


def _kafka_project(folder: Path, *flags: str, states: str = KAFKA_STATES, **meta: Any) -> None:
    _project(folder, *flags, states=states, project=KAFKA_PROJECT)
    pact = _pact(**(meta or {"topic": "orders.created", "key": "42", "source": "orders"}))
    (folder / "pacts" / "shop-orders.json").write_text(json.dumps(pact, indent=2))


def test_a_message_received_over_kafka_is_verified(tmp_path: Path) -> None:
    """The event keyed by the order's id on a topic the trigger creates: its contents
    honour the pact's rules, its topic, key and header the pact's metadata."""
    _kafka_project(tmp_path)
    done = splice_cli(tmp_path, "run", "--no-store", "--json", "run.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout
    run = json.loads((tmp_path / "run.json").read_text())
    [testcase] = run["suites"][0]["testcases"]
    steps = testcase["attempts"][0]["steps"]
    assert [(s["phase"], s["executor"]) for s in steps][-2:] == [("test", "http"), ("test", "pact")]
    assert steps[-1]["name"] == "message 'an order created event' from kafka orders.created"
    metadata = steps[-1]["response"]["metadata"]
    assert metadata["topic"] == "orders.created"
    assert metadata["key"] == "42"
    assert metadata["source"] == "orders"
    assert metadata["contentType"] == "application/json"


def test_a_wrong_key_in_the_metadata_is_a_mismatch(tmp_path: Path) -> None:
    """The pact expects another key: a located mismatch at metadata.key, nothing else."""
    _kafka_project(tmp_path, topic="orders.created", key="7")
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "metadata.key: expected '7', got '42'" in done.stdout, done.stdout
    assert "metadata.topic" not in done.stdout
    assert "body." not in done.stdout


def test_a_wrong_field_over_kafka_fails_at_its_path(tmp_path: Path) -> None:
    """The id published as a string: a located mismatch at body.id, the run fails."""
    _kafka_project(tmp_path, "--drifted")
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout
    assert "body.id: expected an integer, got string '42'" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("topics", "why"),
    [
        ("", "topic 'orders.created' does not exist; waited 0.5s for it"),
        (", topics: [orders.created]", "no message on topic 'orders.created' within 0.5s"),
    ],
    ids=["topic-never-created", "topic-declared"],
)
def test_a_message_never_published_on_kafka_is_a_failed_testcase(
    tmp_path: Path, topics: str, why: str
) -> None:
    """The provider publishes to another topic: the testcase fails at `message` once the
    receive's timeout passes, whether the topic was never made or is declared and
    stays empty; the run ends."""
    states = KAFKA_STATES.replace("timeout: 5s", "timeout: 500ms")
    _kafka_project(tmp_path, "--silent", states=states)
    project = tmp_path / "splice.yaml"
    project.write_text(project.read_text().replace("{kind: kafka}", "{kind: kafka" + topics + "}"))
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout
    assert f"message: never arrived: {why}" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_contract_verify_starts_the_kafka_broker_of_the_receive(tmp_path: Path) -> None:
    """`splice contract verify --provider orders --states provider.yaml` starts the
    provider and the Kafka broker its `receive:` names, and verifies the same way."""
    _kafka_project(tmp_path)
    done = splice_cli(
        tmp_path,
        "contract",
        "verify",
        "pacts/shop-orders.json",
        "--provider",
        "orders",
        "--states",
        "provider.yaml",
        "--no-store",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_each_interaction_takes_its_own_message_from_a_shared_topic(tmp_path: Path) -> None:
    """Three interactions whose events go to one topic of three partitions (declared by
    the service): each reads from where the partitions ended before its trigger, so it
    takes its own order's event (its key), never one an earlier interaction left there."""
    _kafka_project(tmp_path)
    project = tmp_path / "splice.yaml"
    project.write_text(
        project.read_text().replace("{kind: kafka}", "{kind: kafka, topics: {orders.created: 3}}")
    )
    pact = _pact(topic="orders.created", key="42")
    for n in (7, 8):
        other = json.loads(json.dumps(pact["interactions"][0]))
        other["providerStates"][0]["params"]["id"] = n
        other["metadata"]["key"] = str(n)
        pact["interactions"].append(other)
    (tmp_path / "pacts" / "shop-orders.json").write_text(json.dumps(pact, indent=2))
    done = splice_cli(tmp_path, "run", "--no-store", "--json", "run.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 0 failed" in done.stdout
    run = json.loads((tmp_path / "run.json").read_text())
    keys = []
    for testcase in run["suites"][0]["testcases"]:
        steps = testcase["attempts"][0]["steps"]
        assert steps[1]["name"] == "kafka orders.created: where it ends before the trigger"
        keys.append(steps[-1]["response"]["metadata"]["key"])
    assert keys == ["42", "7", "8"]


def test_from_end_in_a_kafka_receive_is_a_located_error(tmp_path: Path) -> None:
    """`from: end` would start after the message the trigger published: an error at its
    place in the states file, before anything starts."""
    states = KAFKA_STATES.replace("topic: orders.created,", "topic: orders.created, from: end,")
    _kafka_project(tmp_path, states=states)
    done = splice_cli(tmp_path, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "with `from: end` it misses the message the trigger published" in out, out
    assert "provider.yaml:11:" in out, out
    assert "drop `from:`" in out, out
    assert "Traceback" not in out


def test_noting_the_ends_of_a_topic_on_no_broker_is_a_step_error() -> None:
    """The step before the trigger, against a port no broker listens on: a StepError
    saying no broker answers, not a driver exception."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    ctx = StepContext(vars={}, session=TestcaseSession(), base_dir=Path.cwd(), timeout=1.0)
    block = KafkaBlock.model_validate(
        {"url": f"kafka://127.0.0.1:{port}", "consume": {"topic": "t"}}
    )
    try:
        with pytest.raises(StepError, match="no Kafka broker answers"):
            KafkaExecutor().ends(block, ctx)
    finally:
        ctx.session.close()
