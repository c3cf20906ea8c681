"""Message interactions verified on the real broker: the states file's `messages:` runs a
trigger against the provider, takes the message it published from NATS (or MQTT), and
holds it to the pact; bad `messages:` entries are located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import splice_cli
from tests.support.docs_blocks import check_output
from tests.support.message_contracts import PACT, PROJECT, STATES
from tests.support.message_contracts import write_project as _project

pytestmark = pytest.mark.integration


def test_a_provider_that_publishes_what_the_pact_says_passes(tmp_path: Path) -> None:
    """The state is set, the subscription made, the trigger run, and the event that
    arrived on NATS honours the pact: contents by its rules, the subject and a header
    as metadata; the testcase is in the JSON report like any other."""
    _project(tmp_path)
    done = splice_cli(tmp_path, "run", "--no-store", "--json", "run.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout
    run = json.loads((tmp_path / "run.json").read_text())
    [suite] = run["suites"]
    [testcase] = suite["testcases"]
    assert testcase["name"] == "an order created event (given an order exists)"
    steps = testcase["attempts"][0]["steps"]
    assert [(s["phase"], s["executor"]) for s in steps] == [
        ("setup", "http"),
        ("test", "nats"),
        ("test", "http"),
        ("test", "pact"),
    ]
    assert steps[1]["name"] == "nats subscribe orders.created"
    assert steps[1]["location"]["line"] == 11  # the receive block in provider.yaml
    assert steps[3]["name"] == "message 'an order created event' from nats orders.created"
    assert steps[3]["response"]["metadata"]["subject"] == "orders.created"


def test_a_provider_that_publishes_a_wrong_field_fails_at_its_path(tmp_path: Path) -> None:
    """The id published as a string: a located mismatch at body.id, the run fails."""
    _project(tmp_path, "--drifted")
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout
    assert "body.id: expected an integer, got string '42'" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_message_that_never_arrives_is_a_failed_testcase(tmp_path: Path) -> None:
    """The provider publishes elsewhere: the testcase fails once the receive's timeout
    passes, saying what it waited for; the run ends."""
    _project(tmp_path, "--silent", states=STATES.replace("timeout: 3s", "timeout: 500ms"))
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout
    assert "message: never arrived: no message on orders.created within 0.5s" in done.stdout, (
        done.stdout
    )


def test_contract_verify_takes_the_messages_of_its_states_file(tmp_path: Path) -> None:
    """`splice contract verify --provider orders --states provider.yaml` starts the
    provider and the broker the message arrives on, and verifies the same way."""
    _project(tmp_path)
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


MQTT_PROJECT = PROJECT.replace("{{kind: nats}}", "{{kind: mqtt}}").replace("NATS_URL", "MQTT_URL")


def test_a_message_received_over_mqtt_is_verified(tmp_path: Path) -> None:
    """The same contract with the event published on MQTT: the topic is the metadata."""
    pact = json.loads(json.dumps(PACT))
    pact["interactions"][0]["metadata"] = {"topic": "orders/created"}
    states = STATES.replace(
        "nats: {service: bus, subscribe: orders.created",
        "mqtt: {service: bus, subscribe: orders/created, qos: 1",
    )
    _project(tmp_path, states=states, project=MQTT_PROJECT)
    (tmp_path / "pacts" / "shop-orders.json").write_text(json.dumps(pact))
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


AMQP_PROJECT = PROJECT.replace("{{kind: nats}}", "{{kind: rabbitmq}}").replace(
    "NATS_URL", "AMQP_URL"
)


def test_a_message_received_over_amqp_is_verified(tmp_path: Path) -> None:
    """RabbitMQ (the one slow broker here): a private queue bound to the exchange before
    the trigger; the exchange and routing key are the metadata, a wrong one a mismatch."""
    pact = json.loads(json.dumps(PACT))
    pact["interactions"][0]["metadata"] = {"exchange": "orders", "routingKey": "order.shipped"}
    states = STATES.replace(
        "nats: {service: bus, subscribe: orders.created",
        "amqp: {service: bus, subscribe: {exchange: orders, routing_key: order.created}",
    )
    _project(tmp_path, states=states, project=AMQP_PROJECT)
    (tmp_path / "pacts" / "shop-orders.json").write_text(json.dumps(pact))
    done = splice_cli(tmp_path, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "metadata.routingKey: expected 'order.shipped', got 'order.created'" in done.stdout, (
        done.stdout
    )
    assert "metadata.exchange" not in done.stdout
    assert "body." not in done.stdout  # the contents honour the pact


@pytest.mark.parametrize(
    ("states", "message", "hint"),
    [
        (
            STATES.replace("an order created event:", "an order create event:"),
            "no message interaction of the pacts is described 'an order create event'",
            "did you mean 'an order created event'?",
        ),
        (
            STATES.replace("    trigger:", "    triger:"),
            "unknown key 'triger' in message 'an order created event'",
            "did you mean 'trigger'?",
        ),
        (
            STATES.replace("    trigger:", "    triger:"),
            "message 'an order created event' has no `trigger:`",
            "give the steps that make the provider publish it",
        ),
        (
            STATES.replace("service: bus,", "service: buss,"),
            "unknown service 'buss' in `receive:`",
            "did you mean 'bus'?",
        ),
        (
            STATES.replace("nats: {service", "natz: {service"),
            "a message cannot be received with 'natz'",
            "did you mean 'nats'?",
        ),
        (
            STATES.replace("subscribe: orders.created", "publish: orders.created"),
            "the nats block of `receive:` must `subscribe:`, found `publish:`",
            "the message is taken from a subscription made before the trigger",
        ),
        (
            STATES.replace("subscribe: orders.created", "subscrib: orders.created"),
            "unknown key 'subscrib' in the nats block of `receive:`",
            "did you mean 'subscribe'?",
        ),
    ],
    ids=[
        "unknown-description",
        "typo-key",
        "missing-trigger",
        "unknown-service",
        "unknown-broker",
        "not-a-consume",
        "typo-subscribe",
    ],
)
def test_bad_messages_entries_are_located_errors(
    tmp_path: Path, states: str, message: str, hint: str
) -> None:
    """Each mistake names the place in the states file and the way out; nothing starts."""
    _project(tmp_path, states=states)
    done = splice_cli(tmp_path, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert message in out, out
    assert hint in out, out
    assert "provider.yaml:" in out, out
    assert "Traceback" not in out
    if "create event" in states:
        check_output("contract-message-unknown-description", done.stdout + done.stderr)


def test_a_message_interaction_no_entry_matches_is_a_located_error(tmp_path: Path) -> None:
    """With `messages:`, every message interaction needs an entry: the pact's place."""
    pact = json.loads(json.dumps(PACT))
    pact["interactions"].append(
        {**pact["interactions"][0], "description": "an order shipped event"}
    )
    _project(tmp_path)
    (tmp_path / "pacts" / "shop-orders.json").write_text(json.dumps(pact, indent=2))
    done = splice_cli(tmp_path, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "no entry of `messages:` in" in out, out
    assert "matches the message 'an order shipped event'" in out, out
    assert "shop-orders.json:" in out, out
