"""OpenAPI as a contract: a pact checked against the provider's document (bi-directional),
mock stubs checked against the real API's document when the mock starts, and a document
that does not validate as a located error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs_blocks import check_output

pytest.importorskip("openapi_core", reason="splice[openapi]")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration


def _splice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
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
def folder(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE / "openapi.yaml", tmp_path / "openapi.yaml")
    shutil.copytree(EXAMPLE / "pacts", tmp_path / "pacts")
    return tmp_path


def test_a_pact_that_fits_the_document(folder: Path) -> None:
    """The example pact asks only for what the payments API documents."""
    done = _splice(folder, "contract", "check-openapi", "openapi.yaml", "pacts/shop-payments.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 interaction(s) checked against openapi.yaml: fit" in done.stdout


def test_a_pact_that_expects_what_the_api_never_answers(folder: Path) -> None:
    """Wrong types, an unknown path and an undocumented status: each at its interaction."""
    pact = json.loads((folder / "pacts" / "shop-payments.json").read_text())
    pact["interactions"][0]["response"]["body"]["content"]["amount"] = "12.50"
    pact["interactions"].append(
        {
            "type": "Synchronous/HTTP",
            "description": "a refund",
            "request": {"method": "POST", "path": "/payments/7/refund"},
            "response": {"status": 200},
        }
    )
    (folder / "drift.json").write_text(json.dumps(pact, indent=1))
    done = _splice(folder, "contract", "check-openapi", "openapi.yaml", "drift.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ a request for a payment (given a payment exists)  drift.json:" in done.stdout
    assert "    response body.amount: '12.50' is not of type 'number'" in done.stdout
    assert "    request path: no operation of the OpenAPI document has this path" in done.stdout
    assert "4 interaction(s) checked against openapi.yaml: 2 do not fit" in done.stdout
    check_output("contract-check-openapi", done.stdout)


def test_a_document_that_does_not_validate_is_located(folder: Path) -> None:
    """An invalid OpenAPI document: the validator's reason at its line and column."""
    (folder / "bad.yaml").write_text("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n")
    done = _splice(folder, "contract", "check-openapi", "bad.yaml", "pacts/shop-payments.json")
    assert done.returncode == 2
    assert 'the OpenAPI document does not validate: "version" is a required property' in done.stderr
    assert "bad.yaml:2:7" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_stub_that_drifts_from_the_real_api_stops_the_mock(folder: Path) -> None:
    """A mock with `openapi:` refuses a stub whose response the document does not allow,
    naming the stub's file and line; the honest stubs run."""
    (folder / "splice.yaml").write_text(
        "name: shop\nservices:\n  paymock:\n    kind: mock\n    stubs: [stubs.yaml]\n"
        "    openapi: openapi.yaml\nsuites: [s.splice.yaml]\n"
    )
    (folder / "s.splice.yaml").write_text(
        "name: s\ntestcases:\n  - name: t\n    steps:\n"
        "      - http: {get: '{{ services.paymock.url }}/payments/7'}\n"
        "        expect: {status: 200}\n"
    )
    good = "- request: {method: GET, path_template: '/payments/{id}'}\n  response: {status: 200, json: {id: 7, amount: 12.5, status: captured}}\n"
    (folder / "stubs.yaml").write_text(good)
    assert _splice(folder, "run", "--no-store").returncode == 0
    (folder / "stubs.yaml").write_text(
        good
        + "- request: {method: GET, path: /payments/8}\n  response: {status: 200, json: {id: 8, amount: '1.00', status: captured}}\n"
    )
    done = _splice(folder, "run", "--no-store")
    assert done.returncode == 3, done.stdout + done.stderr
    said = " ".join(done.stderr.split())  # the console wraps long lines
    assert (
        "stubs.yaml:3:3: the stub answers GET /payments/8 with what the API's OpenAPI document does not allow: response body.amount: '1.00' is not of type 'number'"
        in said
    )
    assert "Traceback" not in done.stderr
