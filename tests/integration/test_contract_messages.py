"""Message pacts: a provider's message producer verified by `splice contract verify`
(Pact V4 asynchronous messages and V3 message pacts), and message interactions written by
a consumer's suite that consumes from a real broker (the `message_pact` step)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import free_port, splice_cli
from tests.support.docs_blocks import check_output

PRODUCER = Path(__file__).resolve().parents[1] / "support" / "message_producer.py"

pytestmark = pytest.mark.integration

RULES = {"$.id": {"combine": "AND", "matchers": [{"match": "integer"}]}}

V4_PACT = {
    "consumer": {"name": "shop"},
    "provider": {"name": "orders"},
    "interactions": [
        {
            "type": "Asynchronous/Messages",
            "description": "an order created event",
            "providerStates": [{"name": "an order exists", "params": {"id": 42}}],
            "contents": {
                "content": {"id": 1, "sku": "A-1", "status": "created"},
                "contentType": "application/json",
                "encoded": False,
            },
            "metadata": {"topic": "orders.created"},
            "matchingRules": {"content": RULES},
        }
    ],
    "metadata": {"pactSpecification": {"version": "4.0"}},
}

V3_PACT = {
    "consumer": {"name": "shop"},
    "provider": {"name": "orders"},
    "messages": [
        {
            "description": "an order created event",
            "providerStates": [{"name": "an order exists"}],
            "contents": {"id": 1, "status": "created"},
            "metaData": {"contentType": "application/json", "topic": "orders.created"},
            "matchingRules": {"body": RULES},
        }
    ],
    "metadata": {"pactSpecification": {"version": "3.0.0"}},
}


def _start(*flags: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(PRODUCER), "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "orders listening on ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def producer() -> Iterator[str]:
    yield from _start()


@pytest.fixture
def drifted_producer() -> Iterator[str]:
    yield from _start("--drifted")


def _verify(
    folder: Path, url: str, *extra: str, pact: str = "pact.json"
) -> subprocess.CompletedProcess[str]:
    return splice_cli(
        folder,
        "contract",
        "verify",
        pact,
        "--provider-base-url",
        url,
        "--messages-path",
        "/_pact/message",
        "--no-store",
        *extra,
    )


@pytest.mark.parametrize("pact", [V4_PACT, V3_PACT], ids=["v4", "v3"])
def test_a_producer_that_honours_a_message_pact_passes(
    tmp_path: Path, producer: str, pact: dict[str, object]
) -> None:
    """The producer is asked for the message by description and states; contents and
    metadata honour the pact (the id by type: an integer, whatever its value)."""
    (tmp_path / "pact.json").write_text(json.dumps(pact))
    done = _verify(tmp_path, producer)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout
    assert "not verified" not in done.stderr


def test_a_drifted_producer_fails_at_the_right_paths(tmp_path: Path, drifted_producer: str) -> None:
    """An id sent as a string and a missing metadata key: each a located mismatch."""
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "shop-orders.json").write_text(json.dumps(V4_PACT, indent=2))
    done = _verify(tmp_path, drifted_producer, pact="pacts/shop-orders.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout
    assert "body.id: expected an integer, got string '42'" in done.stdout, done.stdout
    assert "metadata.topic: missing, expected 'orders.created'" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    check_output("contract-message-drifted", done.stdout)


def test_a_producer_that_knows_no_such_message_is_a_readable_failure(
    tmp_path: Path, producer: str
) -> None:
    """A description the producer does not know: its answer, and a hint."""
    pact = json.loads(json.dumps(V4_PACT))
    pact["interactions"][0]["description"] = "an order shipped event"
    (tmp_path / "pact.json").write_text(json.dumps(pact))
    done = _verify(tmp_path, producer)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "answered 404 for 'an order shipped event'" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


CONSUMER_PROJECT = """
name: shop
services:
  bus: {kind: nats}
suites: [shop.splice.yaml]
"""

CONSUMER_SUITE = """
name: shop
testcases:
  - name: the shop handles an order created event
    steps:
      - nats: {subscribe: orders.created, as: created}
      # stands in for the orders service, which publishes the event
      - nats: {publish: orders.created, json: {id: 42, sku: A-1, status: created, total: 12.5}}
      - nats: {receive: created}
        capture: {event: json}
      - message_pact:
          consumer: shop
          provider: orders
          description: an order created event
          given: [{name: an order exists, params: {id: 42}}]
          message: "{{ event }}"
          contents:
            id: {$type: integer}
            sku: {$regex: "^[A-Z]-[0-9]+$"}
            status: created
          metadata: {topic: orders.created}
"""


@pytest.fixture
def consumer(tmp_path: Path) -> Path:
    (tmp_path / "splice.yaml").write_text(CONSUMER_PROJECT.lstrip())
    (tmp_path / "shop.splice.yaml").write_text(CONSUMER_SUITE.lstrip())
    return tmp_path


def test_a_consumer_suite_writes_message_interactions(consumer: Path) -> None:
    """The message received from a real NATS server, held to `contents`, becomes a V4
    message interaction: the received values as examples, the matchers as rules, only the
    keys the consumer names."""
    done = splice_cli(consumer, "run", "--no-store")
    assert done.returncode == 0, done.stdout + done.stderr
    pact = json.loads((consumer / "pacts" / "shop-orders.json").read_text())
    assert pact["consumer"] == {"name": "shop"}
    assert pact["metadata"]["pactSpecification"] == {"version": "4.0"}
    (item,) = pact["interactions"]
    assert item["type"] == "Asynchronous/Messages"
    assert item["description"] == "an order created event"
    assert item["providerStates"] == [{"name": "an order exists", "params": {"id": 42}}]
    assert item["contents"] == {
        "content": {"id": 42, "sku": "A-1", "status": "created"},
        "contentType": "application/json",
        "encoded": False,
    }
    assert item["metadata"] == {"contentType": "application/json", "topic": "orders.created"}
    assert item["matchingRules"] == {
        "content": {
            "$.id": {"combine": "AND", "matchers": [{"match": "integer"}]},
            "$.sku": {
                "combine": "AND",
                "matchers": [{"match": "regex", "regex": "^[A-Z]-[0-9]+$"}],
            },
        }
    }


def test_the_provider_verifies_the_message_pact_the_consumer_wrote(
    consumer: Path, producer: str
) -> None:
    """Both sides of one message contract: the pact the shop's run wrote verifies against
    the orders provider's message producer."""
    assert splice_cli(consumer, "run", "--no-store").returncode == 0
    shutil.copy(consumer / "pacts" / "shop-orders.json", consumer / "pact.json")
    done = _verify(consumer, producer)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_a_message_that_breaks_the_expectation_fails_and_is_not_written(consumer: Path) -> None:
    """The received message is held to `contents` by the Pact matching engine."""
    suite = CONSUMER_SUITE.replace("id: 42, sku: A-1", 'id: "42", sku: a1')
    (consumer / "shop.splice.yaml").write_text(suite.lstrip())
    done = splice_cli(consumer, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "contents.id: expected an integer" in done.stdout, done.stdout
    assert "contents.sku:" in done.stdout
    assert not (consumer / "pacts" / "shop-orders.json").exists()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_pact_python_message_pact_verifies_in_splice(tmp_path: Path, producer: str) -> None:
    """A V4 message pact written by pact-python (the reference core) verifies unchanged."""
    pact = pytest.importorskip("pact", reason="pact-python is a dev dependency (splice[dev])")
    contract = pact.Pact("shop", "orders").with_specification("V4")
    (
        contract.upon_receiving("an order created event", "Async")
        .given("an order exists", id=42)
        .with_body(json.dumps({"id": 42, "sku": "A-1", "status": "created"}), "application/json")
        .with_metadata({"topic": "orders.created"})
    )
    contract.verify(lambda body, metadata: None, "Async")
    contract.write_file(tmp_path, overwrite=True)
    shutil.move(tmp_path / "shop-orders.json", tmp_path / "pact.json")
    done = _verify(tmp_path, producer)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_a_splice_message_pact_verifies_with_pact_pythons_verifier(
    consumer: Path, producer: str
) -> None:
    """The message pact a splice run writes passes pact-python's verifier against the same
    message producer: splice's producer convention is the Pact verifiers' own."""
    pact = pytest.importorskip("pact", reason="pact-python is a dev dependency (splice[dev])")
    assert splice_cli(consumer, "run", "--no-store").returncode == 0
    verifier = (
        pact.Verifier("orders", host="127.0.0.1")
        .add_transport(protocol="message", port=_port(producer), path="/_pact/message")
        .add_source(consumer / "pacts" / "shop-orders.json")
    )
    verifier.verify()  # raises on any mismatch
    assert verifier.results["result"] is True
