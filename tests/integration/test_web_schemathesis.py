"""Property tests of the REST API from its own OpenAPI document (schemathesis): for
generated requests to every operation, no server error, and every answer matches the
documented status codes, content types and response schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from splice._internal.store import Store, tokens
from splice._internal.store.synthetic import generate
from splice._internal.web import create_app
from splice._internal.web.app import openapi_document
from splice._internal.web.server import BackgroundServer

pytestmark = pytest.mark.integration

# the document is what the server serves at /api/openapi.json (asserted below)
schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server over a store with a little history, and a write token for it."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('st') / 'r.db'}")
    generate(store, runs=6, tests=6, steps=2, days=3)
    token = tokens.create(store, "fuzz", "write")
    with BackgroundServer(create_app(store, background=False)) as server:
        yield server.url, token
    store.close()


def test_the_served_document_is_the_one_tested(live: tuple[str, str]) -> None:
    """The server publishes the same OpenAPI document the property tests are built from."""
    import httpx

    assert httpx.get(f"{live[0]}/api/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_documented_contract(case: Any, live: tuple[str, str]) -> None:
    """Generated requests, with a write token, get documented answers and never a 5xx."""
    excluded = []
    if case.operation.path == "/api/import/junit":
        # JSON Schema cannot say "JUnit XML": any string is schema-valid, and XML that is
        # not JUnit is rightly refused (400), which this one check would call a violation
        excluded.append(positive_data_acceptance)
    if case.operation.path.endswith("/version/{version}"):
        # JSON Schema cannot say "the pact's names equal the path's": a pact published
        # under the wrong names is rightly refused (400)
        excluded.append(positive_data_acceptance)
    if case.operation.path == "/api/runs/{run_id}/events" and _shard_past_its_count(case.body):
        # JSON Schema cannot say "a shard's index is at most its count": shard 3 of 2 is
        # rightly refused (400)
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        base_url=live[0],
        headers={"Authorization": f"Bearer {live[1]}"},
        excluded_checks=excluded,
    )


def _shard_past_its_count(body: Any) -> bool:
    """Whether a generated batch of events names a shard whose index exceeds its count."""
    events = body.get("events") if isinstance(body, dict) else None
    for event in events if isinstance(events, list) else []:
        run = event.get("run") if isinstance(event, dict) else None
        shard = run.get("shard") if isinstance(run, dict) else None
        if isinstance(shard, dict) and _whole(shard.get("index")) > _whole(shard.get("count")):
            return True
    return False


def _whole(value: Any) -> float:
    """A generated shard number as the server reads it (numbers and numeric strings), else 0."""
    try:
        return float(value) if not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0
