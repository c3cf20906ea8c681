"""The orders provider's pact, project and states file, shared by the tests that verify
its message interactions on each broker (tests/support/order_publisher.py publishes them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

PUBLISHER = Path(__file__).resolve().parent / "order_publisher.py"

PACT = {
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
            "metadata": {"topic": "orders.created", "source": "orders"},
            "matchingRules": {
                "content": {"$.id": {"combine": "AND", "matchers": [{"match": "integer"}]}}
            },
        }
    ],
    "metadata": {"pactSpecification": {"version": "4.0"}},
}

PROJECT = """\
name: orders
services:
  bus: {{kind: nats}}
  orders:
    kind: process
    command: [{python}, {script}, --port, "{{{{ port }}}}"{flags}]
    env: {{NATS_URL: "{{{{ services.bus.url }}}}"}}
    ready: {{http: /health}}
    depends_on: [bus]
contracts:
  - provider: orders
    pacts: [pacts/*.json]
    states: provider.yaml
"""

STATES = """\
states:
  an order exists:
    - http: {put: "{{ services.orders.url }}/orders/{{ params.id }}"}
      expect: {status: 204}
messages:
  an order created event:
    trigger:
      - http: {post: "{{ services.orders.url }}/orders/{{ params.id }}/announce"}
        expect: {status: 202}
    receive:
      nats: {service: bus, subscribe: orders.created, timeout: 3s}
"""


def write_project(folder: Path, *flags: str, states: str = STATES, project: str = PROJECT) -> Path:
    shown = "".join(f", {f}" for f in flags)
    (folder / "splice.yaml").write_text(
        project.format(
            python=json.dumps(sys.executable), script=json.dumps(str(PUBLISHER)), flags=shown
        )
    )
    (folder / "provider.yaml").write_text(states)
    (folder / "pacts").mkdir(exist_ok=True)
    (folder / "pacts" / "shop-orders.json").write_text(json.dumps(PACT, indent=2))
    return folder
