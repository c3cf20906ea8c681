"""Request matching of the `mock` kind, driven with a real HTTP client: every matcher,
priorities and the tie rule, and the near-miss reply to an unmatched request."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.doubles.client import MockClient
from splice._internal.environment.services import Environment
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration

STUBS = """
- name: health
  request: {method: GET, path: /health}
  response: {json: {ok: true}}
- name: file stub that a runtime stub overrides
  request: {method: GET, path: /override}
  response: {body: from the file}
"""


class Mock:
    """A running mock: its URL, an HTTP client and its admin client."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.http = httpx.Client(base_url=url, timeout=10)
        self.admin = MockClient(url)

    def stub(self, request: dict[str, Any], name: str = "s", **extra: Any) -> None:
        response = extra.pop("response", {"status": 200, "body": name})
        self.admin.add({"name": name, "request": request, "response": response, **extra})

    def hit(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    """One mock service for the module, started by splice's own environment."""
    root = tmp_path_factory.mktemp("mock-matching")
    (root / "mocks").mkdir()
    (root / "mocks" / "base.yaml").write_text(textwrap.dedent(STUBS).lstrip())
    (root / "splice.yaml").write_text(
        "name: matching\nservices:\n  api: {kind: mock, stubs: [mocks/*.yaml]}\n"
    )
    with Environment(load_project(root / "splice.yaml")) as env:
        env.start()
        service = env.services["api"]
        assert service.log_path is not None
        m = Mock(service.endpoint.url, service.log_path)
        yield m
        m.http.close()


@pytest.fixture(autouse=True)
def _fresh(mock: Mock) -> None:
    mock.admin.reset()


def test_file_stubs_are_served(mock: Mock) -> None:
    """A stub from the service's stub files answers with its JSON body."""
    response = mock.hit("GET", "/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["content-type"] == "application/json"


def test_method_exact_list_and_any(mock: Mock) -> None:
    """`method` matches one method, a list of them, or any when left out."""
    mock.stub({"method": "PUT", "path": "/m1"}, "put")
    mock.stub({"method": ["GET", "DELETE"], "path": "/m2"}, "get-or-delete")
    mock.stub({"path": "/m3"}, "any")
    assert mock.hit("PUT", "/m1").text == "put"
    assert mock.hit("GET", "/m1").status_code == 404
    assert mock.hit("DELETE", "/m2").text == "get-or-delete"
    assert mock.hit("PATCH", "/m3").text == "any"


def test_path_exact_template_regex_and_url(mock: Mock) -> None:
    """Exact paths, `{name}` templates, whole-path regexes and exact or regex URLs."""
    mock.stub({"path": "/exact"}, "exact")
    mock.stub({"path_template": "/users/{id}/cards/{card}"}, "template")
    mock.stub({"path_regex": r"/items/\d+"}, "regex")
    mock.stub({"url": "/search?q=a&page=2"}, "url")
    mock.stub({"url_regex": r"/report\?year=20\d\d"}, "url-regex")
    assert mock.hit("GET", "/exact").text == "exact"
    assert mock.hit("GET", "/exact/more").status_code == 404
    assert mock.hit("GET", "/users/7/cards/c_1").text == "template"
    assert mock.hit("GET", "/users/7/cards").status_code == 404
    assert mock.hit("GET", "/items/42").text == "regex"
    assert mock.hit("GET", "/items/42x").status_code == 404
    assert mock.hit("GET", "/search?q=a&page=2").text == "url"
    assert mock.hit("GET", "/search?page=2&q=a").status_code == 404
    assert mock.hit("GET", "/report?year=2026").text == "url-regex"


def test_query_parameters(mock: Mock) -> None:
    """Query values: equal, contains, regex, absent, and any of a repeated parameter."""
    mock.stub(
        {
            "path": "/q",
            "query": {
                "page": 2,
                "sort": {"contains": "date"},
                "q": {"regex": "^sh"},
                "debug": {"absent": True},
                "tag": "blue",
            },
        },
        "query",
    )
    ok = {"page": "2", "sort": "-date", "q": "shoes", "tag": ["red", "blue"]}
    assert mock.hit("GET", "/q", params=ok).text == "query"
    assert mock.hit("GET", "/q", params={**ok, "debug": "1"}).status_code == 404
    assert mock.hit("GET", "/q", params={**ok, "page": "3"}).status_code == 404
    assert mock.hit("GET", "/q", params={**ok, "q": "boots"}).status_code == 404


def test_headers_and_cookies(mock: Mock) -> None:
    """Header names in any case, values by regex or case-insensitively; cookies by name."""
    mock.stub(
        {
            "path": "/h",
            "headers": {
                "authorization": {"regex": "^Bearer [a-z0-9]+$"},
                "X-Env": {"equal": "STAGING", "case_insensitive": True},
                "X-Forbidden": {"absent": True},
            },
            "cookies": {"session": "s-1", "theme": {"not_regex": "^light$"}},
        },
        "headers",
    )
    headers = {"Authorization": "Bearer abc123", "x-env": "staging"}
    cookie = {"Cookie": "session=s-1; theme=dark"}
    assert mock.hit("GET", "/h", headers={**headers, **cookie}).text == "headers"
    forbidden = {**headers, **cookie, "X-Forbidden": "1"}
    assert mock.hit("GET", "/h", headers=forbidden).status_code == 404
    light = {**headers, "Cookie": "session=s-1; theme=light"}
    assert mock.hit("GET", "/h", headers=light).status_code == 404
    assert mock.hit("GET", "/h", headers={"x-env": "staging", **cookie}).status_code == 404


def test_body_text_matchers(mock: Mock) -> None:
    """Body equal (also as a plain string), contains and regex."""
    mock.stub({"path": "/b1", "body": "exactly this"}, "equal")
    mock.stub({"path": "/b2", "body": {"contains": "needle"}}, "contains")
    mock.stub({"path": "/b3", "body": {"regex": r"^id=\d+$"}}, "regex")
    mock.stub({"path": "/b4", "body": {"absent": True}}, "empty")
    assert mock.hit("POST", "/b1", content=b"exactly this").text == "equal"
    assert mock.hit("POST", "/b1", content=b"exactly this!").status_code == 404
    assert mock.hit("POST", "/b2", content=b"hay needle hay").text == "contains"
    assert mock.hit("POST", "/b3", content=b"id=12").text == "regex"
    assert mock.hit("POST", "/b4").text == "empty"
    assert mock.hit("POST", "/b4", content=b"x").status_code == 404


def test_body_json_equal_partial_and_array_order(mock: Mock) -> None:
    """JSON equal ignores key order; partial allows extra keys; array order is optional."""
    mock.stub({"path": "/j1", "body": {"json": {"a": 1, "b": [1, 2]}}}, "equal")
    mock.stub({"path": "/j2", "body": {"json_partial": {"card": {"last4": "4242"}}}}, "partial")
    mock.stub({"path": "/j3", "body": {"json": [3, 1, 2], "ignore_array_order": True}}, "order")
    assert mock.hit("POST", "/j1", content=b'{"b": [1, 2], "a": 1}').text == "equal"
    assert mock.hit("POST", "/j1", json={"a": 1, "b": [1, 2], "c": 0}).status_code == 404
    assert mock.hit("POST", "/j1", json={"a": True, "b": [1, 2]}).status_code == 404
    partial = {"amount": 5, "card": {"last4": "4242", "exp": "12/30"}}
    assert mock.hit("POST", "/j2", json=partial).text == "partial"
    assert mock.hit("POST", "/j2", content=b"not json").status_code == 404
    assert mock.hit("POST", "/j3", json=[1, 2, 3]).text == "order"


def test_body_json_path(mock: Mock) -> None:
    """JSONPath: present, equal to a typed value, regex, absent, and filter expressions."""
    mock.stub(
        {
            "path": "/p",
            "body": {
                "json_path": {
                    "$.customer.id": None,
                    "$.amount": 42,
                    "$.currency": {"regex": "^(eur|usd)$"},
                    "$.coupon": {"absent": True},
                    "$.items[?(@.qty > 1)]": None,
                }
            },
        },
        "json-path",
    )
    body = {
        "customer": {"id": "c1"},
        "amount": 42,
        "currency": "eur",
        "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3}],
    }
    assert mock.hit("POST", "/p", json=body).text == "json-path"
    assert mock.hit("POST", "/p", json={**body, "amount": "42"}).status_code == 404
    assert mock.hit("POST", "/p", json={**body, "coupon": "X"}).status_code == 404
    assert mock.hit("POST", "/p", json={**body, "items": [{"qty": 1}]}).status_code == 404
    assert mock.hit("POST", "/p", json={**body, "currency": "gbp"}).status_code == 404


def test_body_json_schema(mock: Mock) -> None:
    """A body valid against a JSON schema matches; an invalid one does not."""
    schema = {
        "type": "object",
        "required": ["amount", "currency"],
        "properties": {"amount": {"type": "integer", "minimum": 1}},
    }
    mock.stub({"path": "/schema", "body": {"json_schema": schema}}, "schema")
    assert mock.hit("POST", "/schema", json={"amount": 5, "currency": "eur"}).text == "schema"
    assert mock.hit("POST", "/schema", json={"amount": 0, "currency": "eur"}).status_code == 404
    assert mock.hit("POST", "/schema", json={"amount": 5}).status_code == 404


def test_body_form_fields_urlencoded_and_multipart(mock: Mock) -> None:
    """Form fields match in url-encoded and multipart bodies."""
    mock.stub(
        {"path": "/form", "body": {"form": {"email": {"regex": "@example\\.com$"}, "plan": "pro"}}},
        "form",
    )
    fields = {"email": "ann@example.com", "plan": "pro"}
    assert mock.hit("POST", "/form", data=fields).text == "form"
    assert mock.hit("POST", "/form", files={k: (None, v) for k, v in fields.items()}).text == "form"
    assert mock.hit("POST", "/form", data={**fields, "plan": "free"}).status_code == 404


def test_priority_and_tie_rule(mock: Mock) -> None:
    """Lower priority numbers win; among equals the stub added last wins, so a runtime
    stub overrides a file stub."""
    assert mock.hit("GET", "/override").text == "from the file"
    mock.stub({"path": "/override"}, "runtime")
    assert mock.hit("GET", "/override").text == "runtime"
    mock.stub({"path_regex": "/over.*"}, "catch-all", priority=9)
    mock.stub({"path_regex": "/over.*"}, "urgent", priority=1)
    assert mock.hit("GET", "/override").text == "urgent"
    mock.admin.reset()
    assert mock.hit("GET", "/override").text == "from the file"


def test_unmatched_request_gets_near_misses_and_a_log_line(mock: Mock) -> None:
    """A request no stub matches gets a 404 naming the nearest stubs and how each
    differed, and the mock's log says so."""
    mock.stub(
        {"method": "POST", "path": "/v1/charges", "body": {"json_partial": {"currency": "eur"}}},
        "charge",
    )
    response = mock.hit("POST", "/v1/charges", json={"amount": 1, "currency": "usd"})
    assert response.status_code == 404
    assert response.headers["x-splice-unmatched"] == "true"
    lines = response.text.splitlines()
    assert lines[0] == "splice mock: no stub matched POST /v1/charges"
    assert lines[3] == "  1. 'charge'  (admin API)"
    assert 'body json  expected contains {"currency": "eur"}' in lines[4]
    assert "unmatched POST /v1/charges; nearest stub 'charge'" in mock.log.read_text()
    unmatched = mock.admin.journal(unmatched=True)["requests"]
    assert [r["path"] for r in unmatched] == ["/v1/charges"]


def test_near_misses_through_the_admin_api(mock: Mock) -> None:
    """The admin API ranks stubs for a described request, nearest first."""
    mock.stub({"method": "GET", "path": "/v1/customers"}, "customers")
    mock.stub({"method": "GET", "path": "/v2/refunds/all"}, "refunds")
    near = mock.admin.near_misses({"method": "GET", "url": "/v1/customer"})
    assert near[0]["name"] == "customers"
    assert near[0]["differences"] == [
        {"part": "path", "expected": "'/v1/customers'", "actual": "/v1/customer"}
    ]
