"""The consumer side: a `mock` service with `contract:` writes a Pact V4 file of the stubs a
run exercised, and the real provider verifies it (both sides of one contract)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from splice._internal.contracts.pact import read_pact

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration

PROJECT = """
name: shop
services:
  paymock:
    kind: mock
    stubs: [stubs.yaml]
    contract: {consumer: shop, provider: payments}
  payments:
    kind: process
    command: python server.py --port {{ port }}
    ready: {http: /health}
suites: [shop.splice.yaml]
"""

STUBS = """
- name: a request for a payment
  given: [{name: a payment exists, params: {id: 7}}]
  request: {method: GET, path_template: "/payments/{id}"}
  response: {status: 200, json: {id: 7, amount: 12.5, currency: EUR, status: captured}}
- name: a new payment
  request:
    method: POST
    path: /payments
    headers: {Content-Type: {contains: json}}
    body: {json_partial: {amount: 30.0}}
  response: {status: 201, json: {id: 101, amount: 30.0, status: pending}}
- name: a refund
  request: {method: POST, path_template: "/payments/{id}/refund"}
  response: {status: 200}
- name: the mock's own health
  contract: false
  request: {method: GET, path: /ping}
  response: {status: 200}
"""

SUITE = """
name: shop
testcases:
  - name: the shop reads and creates payments
    steps:
      - http: {get: "{{ services.paymock.url }}/payments/7"}
        expect: {status: 200}
      - http: {get: "{{ services.paymock.url }}/payments/7"}
      - http: {post: "{{ services.paymock.url }}/payments", json: {amount: 30.0, note: gift}}
        expect: {status: 201}
      - http: {get: "{{ services.paymock.url }}/ping"}
"""


def _splice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "splice.yaml").write_text(textwrap.dedent(PROJECT).lstrip())
    (tmp_path / "stubs.yaml").write_text(textwrap.dedent(STUBS).lstrip())
    (tmp_path / "shop.splice.yaml").write_text(textwrap.dedent(SUITE).lstrip())
    shutil.copy(EXAMPLE / "server.py", tmp_path / "server.py")
    shutil.copy(EXAMPLE / "states.yaml", tmp_path / "states.yaml")
    return tmp_path


def test_the_run_writes_the_pact_of_the_exercised_stubs(project: Path) -> None:
    """Exercised stubs become interactions (once each), with states and implied rules;
    the unexercised stub and the `contract: false` one are left out."""
    done = _splice(project, "run", "--no-store")
    assert done.returncode == 0, done.stdout + done.stderr
    path = project / "pacts" / "shop-payments.json"
    document = json.loads(path.read_text())
    assert document["metadata"]["pactSpecification"]["version"] == "4.0"
    assert (document["consumer"], document["provider"]) == ({"name": "shop"}, {"name": "payments"})
    [new, read] = document["interactions"]
    assert (new["description"], read["description"]) == ("a new payment", "a request for a payment")
    assert read["providerStates"] == [{"name": "a payment exists", "params": {"id": 7}}]
    assert read["request"]["matchingRules"]["path"]["matchers"] == [
        {"match": "regex", "regex": "^/payments/[^/]+$"}
    ]
    assert new["request"]["body"]["content"] == {"amount": 30.0, "note": "gift"}
    rules = new["request"]["matchingRules"]
    assert rules["body"] == {"$.note": {"combine": "AND", "matchers": [{"match": "type"}]}}
    assert rules["header"]["Content-Type"]["matchers"] == [{"match": "include", "value": "json"}]
    assert new["response"]["body"]["content"] == {"id": 101, "amount": 30.0, "status": "pending"}
    read_pact(path)  # splice reads back what it wrote


def test_the_provider_verifies_the_pact_the_consumer_wrote(project: Path) -> None:
    """Both sides of one contract: the pact from the shop's run verifies against payments."""
    assert _splice(project, "run", "--no-store").returncode == 0
    done = _splice(
        project,
        "contract",
        "verify",
        "pacts/shop-payments.json",
        "--provider",
        "payments",
        "--states",
        "states.yaml",
        "--no-store",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 0 failed" in done.stdout


def test_a_cassette_becomes_a_pact(tmp_path: Path) -> None:
    """`splice contract from-cassette` writes one interaction per distinct recorded request."""
    (tmp_path / "c.yaml").write_text(
        textwrap.dedent(
            """
            version: 1
            interactions:
              - request: {method: GET, path: /payments/7}
                response: {status: 200, json: {id: 7, amount: 12.5}}
              - request: {method: GET, path: /payments/7}
                response: {status: 200, json: {id: 7, amount: 13.5}}
              - request: {method: POST, path: /payments, json: {amount: 3}}
                response: {status: 201, json: {id: 8}}
            """
        )
    )
    done = _splice(
        tmp_path,
        "contract",
        "from-cassette",
        "c.yaml",
        "--consumer",
        "shop",
        "--provider",
        "payments",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote pacts/shop-payments.json: 2 interaction(s)"
    pact = read_pact(tmp_path / "pacts" / "shop-payments.json")
    first = pact.interactions[0]
    assert first.request is not None and first.response is not None and first.response.body
    assert (first.description, first.response.body.content) == (
        "GET /payments/7",
        {"id": 7, "amount": 12.5},
    )
    assert pact.interactions[1].request.body.content == {"amount": 3}  # type: ignore[union-attr]
    missing = _splice(
        tmp_path, "contract", "from-cassette", "nope.yaml", "--consumer", "a", "--provider", "b"
    )
    assert missing.returncode == 2
    assert "cannot read cassette 'nope.yaml'" in missing.stderr
    assert "Traceback" not in missing.stderr
