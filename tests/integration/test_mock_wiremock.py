"""WireMock mapping files, written as a team would have them, imported by the `mock`
kind and served: URL forms, matchers, body patterns, responses, delays, faults and
scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from splice._internal.environment.services import Environment
from splice._internal.errors import SuiteError
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration

MAPPINGS = {
    "urls.json": {
        "mappings": [
            {
                "request": {"method": "GET", "url": "/exact?a=1"},
                "response": {"status": 200, "body": "url"},
            },
            {
                "request": {"method": "GET", "urlPath": "/path"},
                "response": {"status": 200, "body": "urlPath"},
            },
            {
                "request": {"method": "GET", "urlPattern": "/pattern/[0-9]+\\?.*"},
                "response": {"status": 200, "body": "urlPattern"},
            },
            {
                "request": {"method": "ANY", "urlPathPattern": "/users/[a-z]+"},
                "response": {"status": 200, "body": "urlPathPattern"},
            },
            {
                "request": {"method": "GET", "urlPathTemplate": "/orders/{id}"},
                "response": {"status": 200, "body": "urlPathTemplate"},
            },
        ]
    },
    "matchers.json": {
        "priority": 1,
        "request": {
            "method": "GET",
            "urlPath": "/search",
            "queryParameters": {
                "q": {"matches": "sh.*"},
                "page": {"equalTo": "2"},
                "debug": {"absent": True},
            },
            "headers": {
                "Accept": {"contains": "json"},
                "X-Env": {"equalTo": "PROD", "caseInsensitive": True},
            },
            "cookies": {"session": {"doesNotMatch": "expired-.*"}},
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "jsonBody": {"results": [1, 2]},
        },
    },
    "bodies.json": {
        "mappings": [
            {
                "request": {
                    "method": "POST",
                    "url": "/charges",
                    "bodyPatterns": [
                        {
                            "equalToJson": {"amount": 42, "currency": "eur"},
                            "ignoreExtraElements": True,
                        },
                        {"matchesJsonPath": "$.card.number"},
                        {"matchesJsonPath": {"expression": "$.card.brand", "equalTo": "visa"}},
                    ],
                },
                "response": {"status": 201, "bodyFileName": "charge.json"},
            },
            {
                "request": {
                    "method": "POST",
                    "url": "/exact-json",
                    "bodyPatterns": [{"equalToJson": "[1, 2, 3]", "ignoreArrayOrder": True}],
                },
                "response": {"status": 200, "base64Body": "aGVsbG8="},
            },
            {
                "request": {
                    "method": "POST",
                    "url": "/text",
                    "bodyPatterns": [{"contains": "needle"}, {"matches": ".*needle.*"}],
                },
                "response": {"status": 200, "body": "text"},
            },
            {
                "request": {
                    "method": "POST",
                    "url": "/schema",
                    "bodyPatterns": [
                        {"matchesJsonSchema": '{"type": "object", "required": ["id"]}'}
                    ],
                },
                "response": {"status": 200, "body": "schema"},
            },
        ]
    },
    "timing.json": {
        "mappings": [
            {
                "request": {"method": "GET", "url": "/slow"},
                "response": {"status": 200, "fixedDelayMilliseconds": 3000},
            },
            {
                "request": {"method": "GET", "url": "/jitter"},
                "response": {
                    "status": 200,
                    "body": "j",
                    "delayDistribution": {"type": "uniform", "lower": 1, "upper": 10},
                },
            },
            {
                "request": {"method": "GET", "url": "/reset"},
                "response": {"fault": "CONNECTION_RESET_BY_PEER"},
            },
            {
                "request": {"method": "GET", "url": "/empty"},
                "response": {"fault": "EMPTY_RESPONSE"},
            },
            {
                "request": {"method": "GET", "url": "/chunk"},
                "response": {"fault": "MALFORMED_RESPONSE_CHUNK"},
            },
            {
                "request": {"method": "GET", "url": "/random"},
                "response": {"fault": "RANDOM_DATA_THEN_CLOSE"},
            },
        ]
    },
    "scenario.json": {
        "mappings": [
            {
                "scenarioName": "todo",
                "requiredScenarioState": "Started",
                "request": {"method": "GET", "url": "/todo"},
                "response": {"status": 200, "jsonBody": []},
            },
            {
                "scenarioName": "todo",
                "requiredScenarioState": "Started",
                "newScenarioState": "Added",
                "request": {"method": "POST", "url": "/todo"},
                "response": {"status": 201},
            },
            {
                "scenarioName": "todo",
                "requiredScenarioState": "Added",
                "request": {"method": "GET", "url": "/todo"},
                "response": {"status": 200, "jsonBody": ["milk"]},
            },
        ]
    },
}


def _layout(root: Path, mappings: dict[str, object]) -> None:
    (root / "wiremock" / "mappings").mkdir(parents=True)
    (root / "wiremock" / "__files").mkdir()
    (root / "wiremock" / "__files" / "charge.json").write_text('{"id": "ch_1"}')
    for name, data in mappings.items():
        (root / "wiremock" / "mappings" / name).write_text(json.dumps(data, indent=2))
    (root / "splice.yaml").write_text(
        "name: wm\nservices:\n  api: {kind: mock, wiremock: [wiremock/mappings/*.json]}\n"
    )


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A mock serving the WireMock mappings above."""
    root = tmp_path_factory.mktemp("wiremock")
    _layout(root, MAPPINGS)
    with Environment(load_project(root / "splice.yaml")) as env:
        env.start()
        with httpx.Client(base_url=env.services["api"].endpoint.url, timeout=10) as client:
            yield client


def test_url_forms(http: httpx.Client) -> None:
    """url, urlPath, urlPattern, urlPathPattern (full matches) and urlPathTemplate."""
    assert http.get("/exact?a=1").text == "url"
    assert http.get("/exact?a=2").status_code == 404
    assert http.get("/path?any=thing").text == "urlPath"
    assert http.get("/pattern/12?x=1").text == "urlPattern"
    assert http.delete("/users/ann").text == "urlPathPattern"
    assert http.get("/users/ann/x").status_code == 404
    assert http.get("/orders/o-1").text == "urlPathTemplate"


def test_query_header_and_cookie_matchers(http: httpx.Client) -> None:
    """equalTo, matches, absent, contains, caseInsensitive and doesNotMatch."""
    headers = {"Accept": "application/json", "X-Env": "prod", "Cookie": "session=live-1"}
    ok = http.get("/search", params={"q": "shoes", "page": "2"}, headers=headers)
    assert ok.json() == {"results": [1, 2]}
    expired = {**headers, "Cookie": "session=expired-1"}
    assert (
        http.get("/search", params={"q": "shoes", "page": "2"}, headers=expired).status_code == 404
    )
    debug = {"q": "shoes", "page": "2", "debug": "1"}
    assert http.get("/search", params=debug, headers=headers).status_code == 404


def test_body_patterns(http: httpx.Client) -> None:
    """equalToJson (partial, unordered), matchesJsonPath, contains, matches, schema."""
    charge = {"amount": 42, "currency": "eur", "card": {"number": "4242", "brand": "visa"}}
    response = http.post("/charges", json=charge)
    assert (response.status_code, response.json()) == (201, {"id": "ch_1"})
    mastercard = {**charge, "card": {"number": "5555", "brand": "mastercard"}}
    assert http.post("/charges", json=mastercard).status_code == 404
    assert http.post("/exact-json", json=[3, 2, 1]).content == b"hello"
    assert http.post("/text", content=b"a needle in").text == "text"
    assert http.post("/schema", json={"id": 1}).text == "schema"
    assert http.post("/schema", json={"name": 1}).status_code == 404


def test_delays_and_faults(http: httpx.Client) -> None:
    """fixedDelayMilliseconds, a uniform delayDistribution and the four faults."""
    with pytest.raises(httpx.ReadTimeout):
        http.get("/slow", timeout=0.3)
    assert http.get("/jitter").text == "j"
    for path, error in [
        ("/reset", httpx.ReadError),
        ("/empty", httpx.RemoteProtocolError),
        ("/chunk", httpx.RemoteProtocolError),
        ("/random", httpx.RemoteProtocolError),
    ]:
        with httpx.Client(base_url=str(http.base_url)) as fresh, pytest.raises(error):
            fresh.get(path)


def test_scenarios(http: httpx.Client) -> None:
    """scenarioName with requiredScenarioState and newScenarioState."""
    assert http.get("/todo").json() == []
    assert http.post("/todo").status_code == 201
    assert http.get("/todo").json() == ["milk"]


def test_unsupported_mapping_stops_the_start_with_its_name(tmp_path: Path) -> None:
    """A mapping outside the subset is an error of the project (`splice check` shows it,
    nothing starts) naming the file, the mapping and the feature, never a silently
    different stub."""
    _layout(
        tmp_path,
        {
            "bad.json": {
                "request": {"url": "/x"},
                "response": {"body": "{{request.path}}", "transformers": ["response-template"]},
            }
        },
    )
    with pytest.raises(SuiteError) as caught:
        load_project(tmp_path / "splice.yaml")
    (diag,) = caught.value.diagnostics
    assert "wiremock/mappings/bad.json#1" in diag.message
    assert "Handlebars" in diag.message
    assert diag.span is not None and diag.span.path.name == "splice.yaml"
    assert diag.hint and "request.path" in diag.hint
