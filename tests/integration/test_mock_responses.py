"""Responses of the `mock` kind over real HTTP: bodies, templates, sequences, scenarios,
delays and faults (a client's timeouts and errors prove them, no clock is read)."""

from __future__ import annotations

import base64
import socket
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from splice._internal.doubles.client import MockClient
from splice._internal.environment.services import Environment
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration

STUBS = """
- name: file body
  request: {path: /logo}
  response: {file: bodies/logo.json, headers: {Cache-Control: no-store}}
- name: templated from a file
  request: {path_template: "/greet/{who}"}
  response: {file: bodies/greeting.txt}
"""


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, MockClient]]:
    """One mock service for the module, started by splice's own environment."""
    root = tmp_path_factory.mktemp("mock-responses")
    (root / "mocks" / "bodies").mkdir(parents=True)
    (root / "mocks" / "r.yaml").write_text(textwrap.dedent(STUBS).lstrip())
    (root / "mocks" / "bodies" / "logo.json").write_text('{"logo": "splice"}')
    (root / "mocks" / "bodies" / "greeting.txt").write_text("Hello, {{ request.params.who }}!")
    (root / "splice.yaml").write_text(
        "name: responses\nservices:\n  api: {kind: mock, stubs: [mocks/*.yaml]}\n"
    )
    with Environment(load_project(root / "splice.yaml")) as env:
        env.start()
        url = env.services["api"].endpoint.url
        with httpx.Client(base_url=url, timeout=10) as http:
            yield http, MockClient(url)


@pytest.fixture
def http(mock: tuple[httpx.Client, MockClient]) -> httpx.Client:
    mock[1].reset()
    return mock[0]


@pytest.fixture
def admin(mock: tuple[httpx.Client, MockClient]) -> MockClient:
    return mock[1]


def _add(
    admin: MockClient, path: str, response: dict[str, Any] | None = None, **extra: Any
) -> None:
    stub: dict[str, Any] = {"request": {"path": path}, **extra}
    if response is not None:
        stub["response"] = response
    admin.add(stub)


def test_status_headers_and_bodies(http: httpx.Client, admin: MockClient) -> None:
    """Text, JSON, base64 and file bodies with their default or given content types."""
    _add(admin, "/text", {"status": 202, "body": "plain", "headers": {"X-Id": 7}})
    _add(admin, "/json", {"json": [1, {"a": None}]})
    _add(admin, "/b64", {"base64": base64.b64encode(b"\x00\x01binary").decode()})
    _add(admin, "/cookies", {"headers": {"Set-Cookie": ["a=1", "b=2"]}})
    _add(admin, "/empty")
    text = http.get("/text")
    assert (text.status_code, text.text, text.headers["x-id"]) == (202, "plain", "7")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert http.get("/json").json() == [1, {"a": None}]
    binary = http.get("/b64")
    assert binary.content == b"\x00\x01binary"
    assert binary.headers["content-type"] == "application/octet-stream"
    assert http.get("/cookies").headers.get_list("set-cookie") == ["a=1", "b=2"]
    empty = http.get("/empty")
    assert (empty.status_code, empty.content) == (200, b"")
    logo = http.get("/logo")
    assert logo.json() == {"logo": "splice"}
    assert logo.headers["content-type"] == "application/json"
    assert logo.headers["cache-control"] == "no-store"


def test_head_gets_headers_without_a_body(http: httpx.Client, admin: MockClient) -> None:
    """A HEAD request gets the stub's headers and Content-Length but no body."""
    admin.add({"request": {"method": "HEAD", "path": "/h"}, "response": {"body": "12345"}})
    response = http.head("/h")
    assert response.headers["content-length"] == "5"
    assert response.content == b""


def test_templates_from_path_query_body_and_functions(
    http: httpx.Client, admin: MockClient
) -> None:
    """Response templates read path parts, query, headers and JSON fields, keep JSON
    types, and call now() and uuid()."""
    admin.add(
        {
            "request": {"method": "POST", "path_template": "/customers/{id}/charges"},
            "response": {
                "status": 201,
                "headers": {"Location": "/charges/{{ request.json.ref }}"},
                "json": {
                    "customer": "{{ request.params.id }}",
                    "amount": "{{ request.json.amount }}",
                    "currency": "{{ request.query.currency | upper }}",
                    "second_part": "{{ request.path_parts[1] }}",
                    "trace": "{{ request.headers['x-trace'] }}",
                    "id": "{{ uuid() }}",
                    "at": "{{ now() }}",
                },
            },
        }
    )
    response = http.post(
        "/customers/c_9/charges?currency=eur",
        json={"amount": 42, "ref": "r1"},
        headers={"X-Trace": "t-1"},
    )
    body = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == "/charges/r1"
    assert body["customer"] == "c_9"
    assert body["amount"] == 42  # still a number
    assert (body["currency"], body["second_part"], body["trace"]) == ("EUR", "c_9", "t-1")
    uuid.UUID(body["id"])
    assert datetime.fromisoformat(body["at"]).tzinfo == UTC


def test_template_in_a_body_file_and_opt_out(http: httpx.Client, admin: MockClient) -> None:
    """A text body file is a template too; `template: false` serves braces literally."""
    assert http.get("/greet/Ada").text == "Hello, Ada!"
    _add(admin, "/literal", {"body": "{{ not a template }}", "template": False})
    assert http.get("/literal").text == "{{ not a template }}"


def test_a_failing_template_answers_500_with_the_reason(
    http: httpx.Client, admin: MockClient
) -> None:
    """A template that fails at run time (a field the request lacks) explains itself."""
    _add(admin, "/broken", {"json": {"x": "{{ request.json.missing.deeper }}"}})
    response = http.post("/broken", json={})
    assert response.status_code == 500
    assert "response template failed" in response.text


def test_sequence_repeats_the_last_or_cycles(http: httpx.Client, admin: MockClient) -> None:
    """`responses` answers in order then repeats the last; with `cycle` it starts over."""
    steps = [{"status": 503}, {"status": 503}, {"status": 200, "body": "ok"}]
    _add(admin, "/flaky", responses=steps)
    assert [http.get("/flaky").status_code for _ in range(5)] == [503, 503, 200, 200, 200]
    _add(admin, "/rr", responses=[{"body": "a"}, {"body": "b"}], cycle=True)
    assert [http.get("/rr").text for _ in range(5)] == ["a", "b", "a", "b", "a"]


def test_scenario_states_move_requests_between_stubs(http: httpx.Client, admin: MockClient) -> None:
    """A scenario starts in Started; stubs answer only in their state and move it on;
    the state can be set from outside and is reset."""
    admin.add(
        {
            "request": {"method": "GET", "path": "/order"},
            "scenario": {"name": "checkout", "state": "Started"},
            "response": {"json": {"status": "new"}},
        },
        {
            "request": {"method": "POST", "path": "/order/pay"},
            "scenario": {"name": "checkout", "state": "Started", "next": "Paid"},
            "response": {"status": 204},
        },
        {
            "request": {"method": "GET", "path": "/order"},
            "scenario": {"name": "checkout", "state": "Paid"},
            "response": {"json": {"status": "paid"}},
        },
    )
    assert http.get("/order").json() == {"status": "new"}
    assert http.post("/order/pay").status_code == 204
    assert http.get("/order").json() == {"status": "paid"}
    assert http.post("/order/pay").status_code == 404  # only from Started
    assert admin.scenarios() == {"checkout": "Paid"}
    admin.set_scenario("checkout", "Started")
    assert http.get("/order").json() == {"status": "new"}


def test_fixed_and_random_delays_hold_the_response(http: httpx.Client, admin: MockClient) -> None:
    """A delayed response outlasts a short client timeout and arrives within a long one;
    other connections are served meanwhile."""
    _add(admin, "/slow", {"body": "late", "delay": "3s"})
    _add(admin, "/jitter", {"body": "j", "delay": {"min": "1ms", "max": "20ms"}})
    _add(admin, "/fast", {"body": "fast"})
    with pytest.raises(httpx.ReadTimeout):
        http.get("/slow", timeout=0.3)
    assert http.get("/fast").text == "fast"
    assert http.get("/jitter", timeout=10).text == "j"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("connection_reset", httpx.ReadError),
        ("empty_response", httpx.RemoteProtocolError),
        ("malformed_chunk", httpx.RemoteProtocolError),
        ("random_data", httpx.RemoteProtocolError),
    ],
)
def test_faults_break_the_connection(
    http: httpx.Client, admin: MockClient, fault: str, error: type[Exception]
) -> None:
    """Each fault fails the client the way a broken server would."""
    _add(admin, f"/fault/{fault}", {"fault": fault})
    with httpx.Client(base_url=str(http.base_url), timeout=5) as fresh, pytest.raises(error):
        fresh.get(f"/fault/{fault}")
    assert http.get("/logo").status_code == 200  # the mock itself is fine


def test_connection_reset_is_a_tcp_reset(http: httpx.Client, admin: MockClient) -> None:
    """`connection_reset` sends RST: a raw socket reads ECONNRESET, not an orderly close."""
    _add(admin, "/reset", {"fault": "connection_reset"})
    host, port = http.base_url.host, http.base_url.port
    assert port is not None
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_never_respond_outlasts_the_client_and_frees_the_mock(
    http: httpx.Client, admin: MockClient
) -> None:
    """`never_respond` holds the request until the client gives up; the mock goes on."""
    _add(admin, "/void", {"fault": "never_respond"})
    with httpx.Client(base_url=str(http.base_url)) as fresh, pytest.raises(httpx.ReadTimeout):
        fresh.get("/void", timeout=0.3)
    assert http.get("/logo").status_code == 200
    assert admin.health()["status"] == "ok"


def test_keep_alive_pipelining_and_chunked_requests(http: httpx.Client, admin: MockClient) -> None:
    """Two pipelined requests on one socket (one with a chunked body) get two replies,
    in order."""
    admin.add(
        {"request": {"method": "POST", "path": "/echo"}, "response": {"body": "{{ request.body }}"}}
    )
    port = http.base_url.port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nfg"
        )
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    replies = data.split(b"HTTP/1.1 200 OK")
    assert len(replies) == 3
    assert replies[1].endswith(b"abcde") and replies[2].endswith(b"fg")
