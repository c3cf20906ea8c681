"""Interop with pact-python (the Pact reference core): its pacts verify in splice with
located diffs, and splice's pacts verify with its Verifier."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import free_port, splice_cli

pact = pytest.importorskip("pact", reason="pact-python is a dev dependency (splice[dev])")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration


def _provider(*flags: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "server.py"), "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def honest() -> Iterator[str]:
    yield from _provider()


@pytest.fixture
def drifted() -> Iterator[str]:
    yield from _provider("--drifted")


def _pact_python_pact(folder: Path) -> Path:
    """A pact written by pact-python's consumer API, through its own mock server."""
    from pact import Pact, match

    contract = Pact("shop", "payments").with_specification("V4")
    (
        contract.upon_receiving("a request for a payment")
        .given("a payment exists", id=7)
        .with_request("GET", "/payments/7")
        .will_respond_with(200)
        .with_body(
            {
                "id": match.int(7),
                "amount": match.decimal(12.5),
                "currency": "EUR",
                "status": match.regex("captured", regex="pending|captured|refunded"),
            },
            content_type="application/json",
        )
    )
    with contract.serve() as server:
        assert httpx.get(f"{server.url}/payments/7").status_code == 200
    contract.write_file(folder, overwrite=True)
    return folder / "shop-payments.json"


def test_a_pact_python_pact_verifies_in_splice(tmp_path: Path, honest: str) -> None:
    """pact-python's V4 pact, its matchers and states, verifies unchanged against a provider
    that honours it."""
    path = _pact_python_pact(tmp_path)
    done = splice_cli(
        tmp_path,
        "contract",
        "verify",
        path.name,
        "--provider-base-url",
        honest,
        "--provider-states-setup-url",
        honest + "/_pact/state",
        "--no-store",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_a_pact_python_pact_fails_at_the_right_path(tmp_path: Path, drifted: str) -> None:
    """Against a provider that drifted, the mismatch names body.amount and the matcher."""
    path = _pact_python_pact(tmp_path)
    done = splice_cli(
        tmp_path,
        "contract",
        "verify",
        path.name,
        "--provider-base-url",
        drifted,
        "--provider-states-setup-url",
        drifted + "/_pact/state",
        "--no-store",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ body.amount: expected a decimal, got string '12.50'" in done.stdout
    assert done.stdout.count("✗ body.") == 1


def test_a_splice_pact_verifies_with_pact_pythons_verifier(tmp_path: Path, honest: str) -> None:
    """The pact splice's mock writes is one the reference verifier accepts and passes."""
    project = tmp_path / "shop"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("pacts", ".splice"))
    (project / "splice.yaml").write_text(
        "name: shop\n"
        "services:\n"
        "  paymock:\n"
        "    kind: mock\n"
        "    stubs: [stubs.yaml]\n"
        "    contract: {consumer: shop, provider: payments}\n"
        "suites: [shop.splice.yaml]\n"
    )
    (project / "stubs.yaml").write_text(
        "- name: a request for a payment\n"
        "  given: [{name: a payment exists, params: {id: 7}}]\n"
        "  request: {method: GET, path_template: '/payments/{id}'}\n"
        "  response: {status: 200, json: {id: 7, amount: 12.5, currency: EUR, status: captured}}\n"
    )
    (project / "shop.splice.yaml").write_text(
        "name: shop\ntestcases:\n  - name: reads a payment\n    steps:\n"
        "      - http: {get: '{{ services.paymock.url }}/payments/7'}\n"
        "        expect: {status: 200}\n"
    )
    assert splice_cli(project, "run", "--no-store").returncode == 0
    written = project / "pacts" / "shop-payments.json"
    assert json.loads(written.read_text())["interactions"]
    from pact import Verifier

    verifier = (
        Verifier("payments", host="127.0.0.1")
        .add_transport(url=honest)
        .add_source(written)
        .state_handler(honest + "/_pact/state", teardown=True, body=True)
    )
    verifier.verify()  # raises on any mismatch
    results = verifier.results
    assert results, "the verifier reported nothing"
