"""The `mock` executor and the admin API against a running mock: stubs added, replaced
and removed from suites, verification with near misses, the bounded journal."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.doubles.client import MockAdminError, MockClient
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.mock import MockBlock, MockExecutor
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """Two mocks (one with a tiny journal) and a process service, started by splice."""
    root = tmp_path_factory.mktemp("mock-executor")
    (root / "splice.yaml").write_text(
        textwrap.dedent(
            """
            name: executor
            services:
              payments: {kind: mock}
              tiny: {kind: mock, journal_size: 5, journal_body_limit: 8}
            """
        ).lstrip()
    )
    with Environment(load_project(root / "splice.yaml")) as started:
        started.start()
        yield started


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    (tmp_path / "stubs.yaml").write_text(
        "- name: refund\n  request: {method: POST, path: /v1/refunds}\n"
        "  response: {status: 201, json: {id: 're_{{ request.json.charge }}'}}\n"
    )
    return tmp_path


def _run(env: Environment, base: Path, **block: Any) -> dict[str, Any]:
    ctx = StepContext(
        vars={"services": env.vars()}, session=TestcaseSession(), base_dir=base, timeout=5
    )
    return MockExecutor().execute(MockBlock.model_validate(block), ctx).result


@pytest.fixture
def payments(env: Environment) -> Iterator[httpx.Client]:
    MockClient(env.endpoint("payments").url).reset()
    with httpx.Client(base_url=env.endpoint("payments").url, timeout=5) as client:
        yield client


def test_add_verify_count_and_body(
    env: Environment, payments: httpx.Client, suite_dir: Path
) -> None:
    """A suite adds a stub, the system calls it, and verify counts the calls and shows
    their bodies: "charged exactly once with amount 42"."""
    added = _run(
        env,
        suite_dir,
        service="payments",
        stub={
            "name": "charge",
            "request": {"method": "POST", "path": "/v1/charges"},
            "response": {"status": 201, "json": {"id": "ch_1"}},
        },
    )
    assert len(added["ids"]) == 1
    assert payments.post("/v1/charges", json={"amount": 42}).status_code == 201
    payments.get("/v1/other")
    found = _run(
        env,
        suite_dir,
        service="payments",
        verify={"method": "POST", "path": "/v1/charges"},
    )
    assert found["count"] == 1
    assert found["request"]["json"] == {"amount": 42}
    assert found["request"]["stub_name"] == "charge"
    assert found["requests"][0]["headers"]["content-type"] == "application/json"
    assert found["total"] == 2


def test_verify_without_a_match_lists_near_misses(
    env: Environment, payments: httpx.Client, suite_dir: Path
) -> None:
    """When no received request matches, the result shows the nearest ones and how
    they differ."""
    payments.post("/v1/charges", json={"amount": 41})
    found = _run(
        env,
        suite_dir,
        service="payments",
        verify={"method": "POST", "path": "/v1/charges", "body": {"json_partial": {"amount": 42}}},
    )
    assert found["count"] == 0
    assert found["near_misses"] == [
        {
            "request": "POST /v1/charges",
            "received": 1,
            "differences": ['body json: expected contains {"amount": 42}, got {"amount": 41}'],
        }
    ]


def test_file_replace_remove_and_reset(
    env: Environment, payments: httpx.Client, suite_dir: Path
) -> None:
    """Stubs come from a file next to the suite, are replaced by name, removed, and a
    reset takes the mock back to its own stubs."""
    _run(env, suite_dir, service="payments", file="stubs.yaml")
    assert payments.post("/v1/refunds", json={"charge": "ch_1"}).json() == {"id": "re_ch_1"}
    replaced = _run(
        env,
        suite_dir,
        service="payments",
        replace={"refund": {"request": {"path": "/v1/refunds"}, "response": {"status": 409}}},
    )
    assert len(replaced["ids"]) == 1
    assert payments.post("/v1/refunds").status_code == 409
    _run(env, suite_dir, service="payments", remove="refund")
    assert payments.post("/v1/refunds").status_code == 404
    _run(env, suite_dir, service="payments", stub={"request": {"path": "/x"}})
    _run(env, suite_dir, service="payments", reset=True)
    assert _run(env, suite_dir, service="payments", journal=True)["requests"] == []
    assert payments.get("/x").status_code == 404


def test_scenarios_set_and_reported(
    env: Environment, payments: httpx.Client, suite_dir: Path
) -> None:
    """A step moves a scenario to a state; the result reports every scenario's state."""
    result = _run(
        env,
        suite_dir,
        service="payments",
        stub={
            "request": {"path": "/status"},
            "scenario": {"name": "outage", "state": "Down"},
            "response": {"status": 503},
        },
        scenarios={"outage": "Down"},
    )
    assert result["scenarios"] == {"outage": "Down"}
    assert payments.get("/status").status_code == 503


def test_journal_is_a_bounded_ring_and_verify_refuses_to_miscount(
    env: Environment, suite_dir: Path
) -> None:
    """The journal keeps the last `journal_size` requests with bodies cut at the limit,
    counts what it dropped, and a verification over a journal that overflowed fails
    with a hint instead of a wrong count."""
    url = env.endpoint("tiny").url
    admin = MockClient(url)
    admin.reset()
    with httpx.Client(base_url=url) as client:
        for i in range(12):
            client.post(f"/r/{i}", content=b"0123456789abcdef")
    journal = admin.journal()
    assert journal["total"] == 12 and journal["dropped"] == 7
    assert [r["path"] for r in journal["requests"]] == [f"/r/{i}" for i in range(7, 12)]
    assert journal["requests"][0]["body"] == "01234567"
    with pytest.raises(StepError, match="has dropped 7 since the last reset") as caught:
        _run(env, suite_dir, service="tiny", verify={"path_regex": "/r/.*"})
    assert "journal_size" in (caught.value.hint or "")


def test_errors_name_the_problem(env: Environment, suite_dir: Path) -> None:
    """Which mock is meant, an unknown stub, a stub the mock refuses, a non-mock service."""
    with pytest.raises(StepError, match="which mock\\? the project has 2: payments, tiny"):
        _run(env, suite_dir, reset=True)
    with pytest.raises(StepError, match="no stub with id or name 'nope'"):
        _run(env, suite_dir, service="payments", remove="nope")
    with pytest.raises(StepError, match="unknown service 'paymnts'") as caught:
        _run(env, suite_dir, service="paymnts", reset=True)
    assert caught.value.hint == "did you mean 'payments'?"
    ctx = StepContext(
        vars={"services": {"app": {"url": "http://127.0.0.1:1"}}},
        session=TestcaseSession(),
        base_dir=suite_dir,
    )
    with pytest.raises(StepError, match="'app' is not a mock"):
        MockExecutor().execute(MockBlock.model_validate({"service": "app", "reset": True}), ctx)


def test_block_validation(env: Environment) -> None:
    """An empty step and an invalid stub are errors when the suite loads."""
    with pytest.raises(ValueError, match="does nothing"):
        MockBlock.model_validate({"service": "payments"})
    with pytest.raises(ValueError, match="staus"):
        MockBlock.model_validate({"stub": {"response": {"staus": 200}}})


def test_admin_api_refuses_invalid_stubs_with_problems(env: Environment) -> None:
    """The admin API answers 400 with each problem of an invalid stub."""
    admin = MockClient(env.endpoint("payments").url)
    with pytest.raises(MockAdminError) as caught:
        admin.add({"request": {"methd": "GET"}})
    assert caught.value.status == 400
    assert any("methd" in p for p in caught.value.problems)
    with pytest.raises(MockAdminError) as caught:
        admin.add({"request": {"body": {"json_schema": {"type": "nonsense"}}}})
    assert "invalid JSON schema" in caught.value.message
