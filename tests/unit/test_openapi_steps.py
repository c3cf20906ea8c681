"""The OpenAPI monitor of http steps: operations found by template, parameters, bodies and
statuses checked, pointers into the document ($refs followed), coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splice._internal.contracts.openapi_steps import Document, OpenApiMonitor, coverage_lines

DOC = """\
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /items/new:
    get:
      responses:
        200: {description: the form}
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      parameters:
        - $ref: "#/components/parameters/Verbose"
      responses:
        2XX:
          description: an item
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Item"}
        default: {description: an error}
components:
  parameters:
    Verbose: {name: verbose, in: query, required: true, schema: {type: boolean}}
  schemas:
    Item:
      type: object
      required: [id]
      properties:
        id: {type: integer}
        tags: {type: array, items: {type: string}}
"""

BASE = "http://127.0.0.1:9999/api"


@pytest.fixture
def monitor(tmp_path: Path) -> OpenApiMonitor:
    (tmp_path / "api.yaml").write_text(DOC)
    doc = Document.load("api", tmp_path / "api.yaml", "api.yaml")
    doc.base_url = BASE
    return OpenApiMonitor([doc])


def _check(monitor: OpenApiMonitor, url: str, status: int, body: Any = None) -> list[str]:
    request = {"method": "GET", "url": BASE + url, "headers": None, "body": None}
    response = {"status": status, "headers": {"content-type": "application/json"}, "body": body}
    return [f"{p}: {m}" for p, m in monitor.problems(request, response)]


def test_a_fitting_exchange_has_no_problem(monitor: OpenApiMonitor) -> None:
    assert _check(monitor, "/items/7?verbose=true", 201, {"id": 7, "tags": ["a"]}) == []
    assert _check(monitor, "/items/new", 200) == []  # not the {id} template


def test_parameters_are_required_and_typed(monitor: OpenApiMonitor) -> None:
    found = _check(monitor, "/items/x", 200, {"id": 7})
    assert found == [
        "openapi: request path id: 'x' is not of type 'integer' "
        "(api.yaml:10:61 #/paths/~1items~1{id}/parameters/0/schema/type)",
        "openapi: request query verbose: the query parameter is required "
        "(api.yaml:23:14 #/components/parameters/Verbose)",
    ]


def test_a_body_error_points_through_the_ref(monitor: OpenApiMonitor) -> None:
    found = _check(monitor, "/items/7?verbose=false", 200, {"id": 7, "tags": [1]})
    assert found == [
        "openapi: response body.tags[0]: 1 is not of type 'string' "
        "(api.yaml:30:43 #/components/schemas/Item/properties/tags/items/type)"
    ]


def test_statuses_ranges_and_default(monitor: OpenApiMonitor) -> None:
    assert _check(monitor, "/items/7?verbose=true", 500, "boom") == []  # default
    found = _check(monitor, "/items/new", 404)
    assert found == [
        "openapi: response status: 404 is not documented by GET /items/new "
        "(documented: 200; api.yaml:7:9 #/paths/~1items~1new/get/responses)"
    ]


def test_urls_of_other_services_are_not_checked(monitor: OpenApiMonitor) -> None:
    request = {"method": "GET", "url": "http://127.0.0.1:9999/other/x", "body": None}
    assert monitor.problems(request, {"status": 500}) == []
    request["url"] = "http://127.0.0.1:9998/api/nope"
    assert monitor.problems(request, {"status": 500}) == []


def test_coverage(monitor: OpenApiMonitor) -> None:
    _check(monitor, "/items/7?verbose=true", 200, {"id": 7})
    [entry] = monitor.coverage()
    assert (entry["exercised"], entry["documented"]) == (1, 2)
    assert entry["missing"] == ["GET /items/new"]
    assert coverage_lines([entry]) == [
        "OpenAPI coverage of api (api.yaml): 1 of 2 operations exercised",
        "  not exercised: GET /items/new",
    ]
