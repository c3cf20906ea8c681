"""The grpc-mock kind: stubs served from .proto files, called with the grpc executor."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from splice._internal.environment.services import Environment
from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.grpc import GrpcBlock, GrpcExecutor
from splice._internal.project.loader import load_project
from splice._internal.services.kind_api import ServiceError
from tests.support.grpc_server import SHOP_PROTO

pytestmark = pytest.mark.integration

STUBS = """
services:
  orders:
    kind: grpc-mock
    proto: protos/shop.proto
    stubs:
      - method: shop.Orders/Get
        request: {id: "7"}
        response: {id: 7, name: item-7, state: PACKED}
        metadata: {x-mock: "yes"}
      - method: shop.Orders/Get
        request: {id: {$regex: "^9"}}
        status: NOT_FOUND
        details: no item 9x
      - method: shop.Orders/List
        responses: [{id: 1, name: one}, {id: 2, name: two}]
      - method: shop.Orders.Sum
        requests: [{sku: A}, {sku: B}]
        response: {lines: 2, qty: 5}
"""


def _project(folder: Path, text: str) -> Any:
    (folder / "protos").mkdir(exist_ok=True)
    (folder / "protos" / "shop.proto").write_text(SHOP_PROTO)
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return GrpcExecutor().execute(GrpcBlock.model_validate(block), ctx).result


def test_stubs_answer_by_method_and_request(tmp_path: Path) -> None:
    """A call gets the first stub whose request matches (matchers allowed); streams and
    statuses come back as stubbed; the calls are in the journal; nothing is left after."""
    with Environment(_project(tmp_path, STUBS)) as env:
        env.start()
        services = env.vars()
        ctx = StepContext(vars={"services": services}, session=TestcaseSession(), base_dir=tmp_path)
        got = _run(ctx, service="orders", method="shop.Orders/Get", request={"id": 7})
        assert got["json"]["name"] == "item-7" and got["json"]["state"] == "PACKED"
        assert got["metadata"]["x-mock"] == "yes"
        ctx.expect = {"status": "NOT_FOUND"}
        missing = _run(ctx, service="orders", method="shop.Orders/Get", request={"id": 93})
        assert missing["status"] == "NOT_FOUND" and missing["details"] == "no item 9x"
        ctx.expect = {}
        listed = _run(ctx, service="orders", method="shop.Orders/List", request={})
        assert [x["name"] for x in listed["json"]] == ["one", "two"]
        total = _run(
            ctx, service="orders", method="shop.Orders/Sum", requests=[{"sku": "A"}, {"sku": "B"}]
        )
        assert total["json"] == {"lines": 2, "qty": 5}
        with pytest.raises(StepError) as info:
            _run(ctx, service="orders", method="shop.Orders/Get", request={"id": 5})
        assert "UNIMPLEMENTED: grpc-mock: no stub for shop.Orders/Get matched" in info.value.message
        ctx.session.close()
        journal = Path(services["orders"]["journal"]).read_text().splitlines()
        assert json.loads(journal[0]) == {
            "method": "shop.Orders/Get",
            "request": {"id": "7"},
            "matched": True,
        }
        pid = env.services["orders"].pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_stub_that_does_not_fit_the_proto_is_named(tmp_path: Path) -> None:
    """A misspelt method, or a response that does not fit its type, fails the start."""
    bad = STUBS.replace("method: shop.Orders/List", "method: shop.Orders/Lst")
    with Environment(_project(tmp_path, bad)) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "stubs[2] (shop.Orders/Lst): service 'shop.Orders' has no method 'Lst'" in str(
        info.value
    )
    assert info.value.hint == "did you mean 'List'?"
    wrong = STUBS.replace("{lines: 2, qty: 5}", "{lines: two}")
    with Environment(_project(tmp_path, wrong)) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "the response does not fit shop.Total: lines: expected an integer" in str(info.value)
