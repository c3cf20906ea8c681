"""The grpc executor against a real grpcio server written in the tests (with server
reflection, without it, and over TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.grpc import GrpcBlock, GrpcExecutor
from splice._internal.model.results import Status
from tests.support.grpc_server import SHOP_PROTO, GrpcServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    """shop.Orders with server reflection, for this module."""
    with GrpcServer(tmp_path_factory.mktemp("grpc")) as running:
        yield running


@pytest.fixture
def protos(tmp_path: Path) -> Path:
    """The server's .proto file, as a user would keep it beside the suite."""
    folder = tmp_path / "protos"
    folder.mkdir()
    (folder / "shop.proto").write_text(SHOP_PROTO)
    return folder


def _ctx(expect: dict[str, Any] | None = None, base: Path | None = None) -> StepContext:
    return StepContext(
        vars={"services": {}},
        session=TestcaseSession(),
        base_dir=base or Path.cwd(),
        expect=expect or {},
    )


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return GrpcExecutor().execute(GrpcBlock.model_validate(block), ctx).result


def test_unary_call_through_reflection(server: GrpcServer) -> None:
    """A unary call found by reflection answers OK with the proto3 JSON mapping (camelCase,
    int64 as a string, enums by name, timestamps as RFC 3339, defaults shown) and the
    server's metadata and trailers."""
    ctx = _ctx()
    out = _run(ctx, target=server.target, method="shop.Orders/Get", request={"id": 7})
    assert out["status"] == "OK" and out["code"] == 0 and out["details"] == ""
    assert out["json"] == {
        "id": "7",
        "name": "item-7",
        "tags": ["a", "b"],
        "state": "PACKED",
        "stock": 0,
        "added": "2023-11-14T22:13:20Z",
        "labels": {"color": "red"},
    }
    assert out["metadata"]["x-served-by"] == "test-server"
    assert out["trailers"]["x-checked"] == "yes"
    ctx.session.close()


def test_a_status_fails_the_step_unless_expected(server: GrpcServer) -> None:
    """NOT_FOUND is a result when `expect` names a status, and a failure otherwise."""
    ctx = _ctx(expect={"status": "NOT_FOUND"})
    out = _run(ctx, target=server.target, method="shop.Orders/Get", request={"id": 101})
    assert out["status"] == "NOT_FOUND" and out["details"] == "no item 101"
    assert out["trailers"]["x-reason"] == "too-big"
    with pytest.raises(StepError) as info:
        _run(_ctx(), target=server.target, method="shop.Orders/Get", request={"id": 101})
    assert info.value.message == "shop.Orders/Get answered NOT_FOUND: no item 101"
    assert info.value.hint == (
        "if that is what the test expects, say so: `expect: {status: NOT_FOUND}`"
    )
    ctx.session.close()


def test_streaming_calls_in_all_three_shapes(server: GrpcServer) -> None:
    """Server streaming gives a list, client streaming takes `requests`, and a
    bidirectional call does both."""
    ctx = _ctx()
    listed = _run(ctx, target=server.target, method="shop.Orders/List", request={"ids": [1, 2]})
    assert [x["name"] for x in listed["json"]] == ["item-1", "item-2"] and listed["count"] == 2
    total = _run(
        ctx,
        target=server.target,
        method="shop.Orders/Sum",
        requests=[{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3}],
    )
    assert total["json"] == {"lines": 2, "qty": 5}
    echoed = _run(
        ctx, target=server.target, method="shop.Orders.Echo", requests=[{"sku": "x", "qty": 1}]
    )
    assert echoed["json"] == [{"sku": "X", "qty": 2}]
    ctx.session.close()


def test_unknown_methods_and_services_suggest_the_close_one(server: GrpcServer) -> None:
    """A misspelt method or service is named with "did you mean"."""
    ctx = _ctx()
    with pytest.raises(StepError) as info:
        _run(ctx, target=server.target, method="shop.Orders/Gett", request={})
    assert info.value.message == "service 'shop.Orders' has no method 'Gett'"
    assert info.value.hint == "did you mean 'Get'?"
    with pytest.raises(StepError) as info:
        _run(ctx, target=server.target, method="shop.Order/Get", request={})
    assert info.value.hint == "did you mean 'shop.Orders'?"
    ctx.session.close()


def test_a_request_that_does_not_fit_names_the_field_and_type(server: GrpcServer) -> None:
    """A wrong type says the field's path and the type expected; an unknown field is
    named with the closest one."""
    ctx = _ctx()
    with pytest.raises(StepError) as info:
        _run(ctx, target=server.target, method="shop.Orders/List", request={"ids": [1, "x"]})
    assert info.value.message == (
        "request.ids[1]: expected an integer (int64, as a number or a string of digits), "
        "got str 'x'"
    )
    with pytest.raises(StepError) as info:
        _run(ctx, target=server.target, method="shop.Orders/Get", request={"idd": 1})
    assert info.value.message == "request.idd: message shop.GetRequest has no field 'idd'"
    assert info.value.hint == "did you mean 'id'?"
    with pytest.raises(StepError, match=r"requests\[0\]\.qty: expected an integer"):
        _run(ctx, target=server.target, method="shop.Orders/Sum", requests=[{"qty": True}])
    ctx.session.close()


def test_proto_files_describe_a_server_without_reflection(tmp_path: Path, protos: Path) -> None:
    """Without reflection the error says to give .proto files; with them the call works."""
    with GrpcServer(tmp_path, reflection=False) as plain:
        ctx = _ctx(base=tmp_path)
        with pytest.raises(StepError, match="does not offer server reflection"):
            _run(ctx, target=plain.target, method="shop.Orders/Get", request={"id": 1})
        out = _run(
            ctx,
            target=plain.target,
            method="shop.Orders/Get",
            request={"id": 1},
            proto="protos/shop.proto",
            field_names="proto",
        )
        assert out["json"]["name"] == "item-1"
        ctx.session.close()


def test_a_proto_that_does_not_compile_names_its_file_and_line(tmp_path: Path) -> None:
    """protoc's error comes with the .proto file, line and column."""
    (tmp_path / "bad.proto").write_text('syntax = "proto3";\nmessage A { int64 id = 1 }\n')
    ctx = _ctx(base=tmp_path)
    with pytest.raises(StepError) as info:
        _run(ctx, target="127.0.0.1:1", method="x.Y/Z", proto="bad.proto")
    assert info.value.message == f'{tmp_path / "bad.proto"}:2:26: Expected ";".'
    ctx.session.close()


def test_deadline_gives_deadline_exceeded(server: GrpcServer) -> None:
    """A call slower than its deadline ends with DEADLINE_EXCEEDED."""
    ctx = _ctx(expect={"status": "DEADLINE_EXCEEDED"})
    out = _run(
        ctx, target=server.target, method="shop.Orders/Get", request={"id": 99}, deadline="0.2s"
    )
    assert out["status"] == "DEADLINE_EXCEEDED"
    ctx.session.close()


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    """Over TLS the step trusts the CA it is given, for the name it is given."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("orders.test")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = (cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())
    with GrpcServer(tmp_path, tls=tls) as secure:
        ctx = _ctx(base=tmp_path)
        out = _run(
            ctx,
            target=secure.target,
            method="shop.Orders/Get",
            request={"id": 3},
            tls={"ca": "ca.pem", "server_name": "orders.test"},
        )
        assert out["json"]["name"] == "item-3"
        ctx.session.close()


def test_unreachable_target_is_a_step_error() -> None:
    """Nothing listening: the step says no server answers, with the target."""
    ctx = _ctx()
    with pytest.raises(StepError, match=r"no gRPC server answers at 127\.0\.0\.1:1"):
        _run(ctx, target="127.0.0.1:1", method="shop.Orders/Get", request={}, deadline="0.5s")
    ctx.session.close()


def test_block_mistakes_are_validation_errors() -> None:
    """Where to call and what to send are checked when the suite loads."""
    cases = {
        "a grpc step needs .target. or .service.": {"method": "a.B/C"},
        "give .request. .one message. or .requests.": {
            "target": "h:1",
            "method": "a.B/C",
            "request": {},
            "requests": [],
        },
        ".cert. and .key. go together": {"target": "h:1", "method": "a.B/C", "tls": {"cert": "c"}},
        ".import_paths. goes with .proto.": {
            "target": "h:1",
            "method": "a.B/C",
            "import_paths": ["p"],
        },
    }
    for message, block in cases.items():
        with pytest.raises(ValidationError, match=message):
            GrpcBlock.model_validate(block)


def test_suite_calls_and_captures(server: GrpcServer, write: Any, run_suite: Any) -> None:
    """In YAML: a call with metadata, expectations on status and JSON, and a capture."""
    path = write(
        "g.splice.yaml",
        f"""
        name: grpc
        testcases:
          - name: an item is found and a missing one is not
            steps:
              - grpc: {{target: "{server.target}", method: shop.Orders/Get, request: {{id: 7}}, metadata: {{x-user: ann}}}}
                expect: {{status: OK, json: {{name: item-7, state: PACKED}}}}
                capture: {{name: json.name}}
              - grpc: {{target: "{server.target}", method: shop.Orders/Get, request: {{id: 404}}}}
                expect: {{status: NOT_FOUND, details: no item 404}}
              - exec: "test {{{{ name }}}} = item-7"
        """,
    )
    run = run_suite(path)
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_splice_check_finds_request_mistakes_with_proto_files(tmp_path: Path, protos: Path) -> None:
    """With `proto:`, loading the suite reports a misspelt method, a request field of the
    wrong type at its own place in the file, and a .proto that does not compile at its
    line in the .proto file."""
    from splice._internal.runner.planner import load_all

    (protos / "broken.proto").write_text('syntax = "proto3";\nmessage A { int64 id = 1 }\n')
    suite = tmp_path / "g.splice.yaml"
    suite.write_text(
        "name: g\n"
        "testcases:\n"
        "  - name: t\n"
        "    steps:\n"
        "      - grpc: {target: 'h:1', proto: protos/shop.proto, method: shop.Orders/Gett}\n"
        "      - grpc:\n"
        "          target: h:1\n"
        "          proto: protos/shop.proto\n"
        "          method: shop.Orders/List\n"
        "          request: {ids: [1, two], idd: '{{ x }}'}\n"
        "      - grpc: {target: 'h:1', proto: protos/broken.proto, method: a.B/C}\n"
    )
    _, problems = load_all([suite])
    found = [(p.message, p.span.path.name, p.span.line, p.span.column) for p in problems if p.span]
    assert found == [
        ("service 'shop.Orders' has no method 'Gett'", "g.splice.yaml", 5, 65),
        (
            "expected an integer (int64, as a number or a string of digits), got str 'two'",
            "g.splice.yaml",
            10,
            30,
        ),
        ("message shop.ListRequest has no field 'idd'", "g.splice.yaml", 10, 36),
        ('Expected ";".', "broken.proto", 2, 26),
    ]


def test_an_interrupt_ends_a_call_in_flight(server: GrpcServer) -> None:
    """Ctrl-C during a slow call ends the step as interrupted (had the call been left to
    finish, the server's answer would have come back as a result)."""
    import threading

    from splice._internal.errors import StepInterrupted

    ctx = _ctx()
    timer = threading.Timer(0.2, ctx.cancelled.set)
    timer.start()
    with pytest.raises(StepInterrupted):
        _run(ctx, target=server.target, method="shop.Orders/Get", request={"id": 99})
    timer.join()
    ctx.session.close()
