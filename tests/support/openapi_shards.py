"""A project whose two testcases, one per shard, hit different operations of an OpenAPI
document: the run's coverage is right only when the shards' coverage is merged."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PAYMENTS = Path(__file__).resolve().parents[2] / "examples" / "payments"
OPENAPI_PROJECT = """\
name: payments
services:
  payments:
    kind: process
    command: [{python}, server.py, --port, "{{{{ port }}}}"]
    ready: {{http: /health}}
    openapi: openapi.yaml
suites: ['*.splice.yaml']
"""


def openapi_project(root: Path) -> Path:
    """Two testcases, one per shard, hitting different operations and statuses."""
    root.mkdir(exist_ok=True)
    for name in ("server.py", "openapi.yaml"):
        (root / name).write_text((PAYMENTS / name).read_text())
    (root / "splice.yaml").write_text(OPENAPI_PROJECT.format(python=json.dumps(sys.executable)))
    (root / "create.splice.yaml").write_text(
        "name: create\ntestcases:\n  - name: a payment is created\n    steps:\n"
        '      - http: {post: "{{ services.payments.url }}/payments", json: {amount: 1.5}}\n'
        "        expect: {status: 201}\n"
    )
    (root / "missing.splice.yaml").write_text(
        "name: missing\ntestcases:\n  - name: an unknown payment\n    steps:\n"
        '      - http: {get: "{{ services.payments.url }}/payments/99999"}\n'
        "        expect: {status: 404}\n"
    )
    return root


def merged_coverage(run: dict[str, Any]) -> None:
    """Both shards' operations and statuses, each shard having run one testcase."""
    assert [s["done"] for s in run["shards"]] == [1, 1]  # each shard hit its own operation
    [coverage] = run["openapi"]
    assert (coverage["exercised"], coverage["documented"], coverage["missing"]) == (2, 2, [])
    hits = {o["operation"]: o["hit"] for o in coverage["operations"]}
    assert hits == {"POST /payments": [201], "GET /payments/{id}": [404]}
