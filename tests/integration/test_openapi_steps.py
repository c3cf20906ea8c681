"""`openapi:` on a service: every http step against it is checked against the document
(path, method, status, request and response schemas, with the JSON pointer and line of
what it breaks), `openapi: false` opts a step out, and the run ends with the coverage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import on_a_terminal, splice_cli
from tests.support.docs_blocks import check_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

PROJECT = """\
name: payments
services:
  payments:
    kind: process
    command: python server.py --port {{ port }}
    ready: {http: /health}
    openapi: openapi.yaml
"""

SUITE = """\
name: payments
testcases:
  - name: a payment is created and read
    steps:
      - http:
          post: "{{ services.payments.url }}/payments"
          json: {amount: 12.5}
        expect: {status: 201}
        capture: {id: json.id}
      - http: {get: "{{ services.payments.url }}/payments/{{ id }}"}
        expect: {status: 200}
  - name: the admin endpoint is not part of the API
    steps:
      - http:
          post: "{{ services.payments.url }}/_admin/payments"
          json: {id: 9, amount: 1}
          openapi: false
        expect: {status: 201}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("server.py", "openapi.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "splice.yaml").write_text(PROJECT)
    (tmp_path / "payments.splice.yaml").write_text(SUITE)
    return tmp_path


def test_steps_that_fit_the_document_pass_and_the_coverage_is_shown(project: Path) -> None:
    done = splice_cli(
        project, "run", "--no-store", "--json", "run.json", "--html", "run.html", columns=200
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OpenAPI coverage of payments (openapi.yaml): 2 of 2 operations exercised" in (
        done.stdout
    )
    page = (project / "run.html").read_text()
    assert 'id="openapi-payments"' in page
    assert "2 of 2 operations exercised" in page
    run = json.loads((project / "run.json").read_text())
    [coverage] = run["openapi"]
    assert coverage["exercised"] == 2
    assert coverage["missing"] == []
    ops = {o["operation"]: o["hit"] for o in coverage["operations"]}
    assert ops == {"POST /payments": [201], "GET /payments/{id}": [200]}


def test_the_store_keeps_the_coverage_and_the_dashboard_shows_it(project: Path) -> None:
    """A stored run keeps its operation coverage (the store's `openapi` column), and the
    dashboard's run page shows it as a table per document."""
    import httpx

    from splice._internal.store.core import Store
    from splice._internal.store.query_runs import get_run, list_runs
    from splice._internal.web import create_app
    from splice._internal.web.server import BackgroundServer

    done = splice_cli(project, "run", columns=200)
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store.open(f"sqlite:///{project / '.splice' / 'results.db'}")
    try:
        [recorded] = list_runs(store)
        detail = get_run(store, recorded["id"])
        assert detail is not None
        [coverage] = detail["openapi"]
        assert (coverage["service"], coverage["exercised"], coverage["documented"]) == (
            "payments",
            2,
            2,
        )
        with BackgroundServer(create_app(store, background=False)) as server:
            page = httpx.get(f"{server.url}/runs/{recorded['id']}", timeout=30).text
            api = httpx.get(f"{server.url}/api/runs/{recorded['id']}", timeout=30).json()
    finally:
        store.close()
    assert 'id="openapi-payments"' in page
    assert "2 of 2 operations exercised" in page
    assert '<td class="mono">GET /payments/{id}</td><td>200, 404</td><td>200</td>' in page
    assert api["openapi"] == detail["openapi"]


def test_a_drifted_response_fails_with_the_pointer_into_the_document(project: Path) -> None:
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("--port {{ port }}", "--port {{ port }} --drifted")
    )
    code, out = on_a_terminal(project, "run", "--no-store", "payments.splice.yaml")
    assert code == 1, out
    check_output("openapi-step-drifted", out)
    done = splice_cli(project, "run", "--no-store", columns=200)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "openapi: response body.amount: '12.50' is not of type 'number'" in done.stdout
    assert "openapi.yaml:40:24 #/components/schemas/Payment/properties/amount/type" in (done.stdout)


def test_unknown_paths_methods_statuses_and_bad_requests_fail(project: Path) -> None:
    (project / "payments.splice.yaml").write_text(
        """\
name: drift
testcases:
  - name: unknown path
    steps:
      - http: {get: "{{ services.payments.url }}/refunds"}
  - name: unknown method
    steps:
      - http: {delete: "{{ services.payments.url }}/payments/7"}
  - name: undocumented status
    steps:
      - http: {get: "{{ services.payments.url }}/health"}
  - name: a request the document refuses
    steps:
      - http:
          post: "{{ services.payments.url }}/payments"
          json: {amount: "twelve"}
"""
    )
    done = splice_cli(project, "run", "--no-store", "--json", "run.json", columns=200)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "openapi: request path: no operation of the document has the path /refunds" in out
    assert "openapi: request method: the document has no DELETE operation at /payments/7" in out
    assert "openapi: request path: no operation of the document has the path /health" in out
    assert "openapi: request body.amount: 'twelve' is not of type 'number'" in out
    assert "#/paths/~1payments/post/requestBody/content/application~1json/schema" in out
    assert "0 passed, 4 failed" in out
    run = json.loads((project / "run.json").read_text())
    assert run["openapi"][0]["missing"] == ["GET /payments/{id}"]
    assert "not exercised: GET /payments/{id}" in out


def test_a_status_the_operation_does_not_document(project: Path) -> None:
    """The server answers 400 to a payment without an amount: POST documents 400, but
    GET /payments/{id} documents no 500."""
    doc = project / "openapi.yaml"
    doc.write_text(doc.read_text().replace('"404": {description: no such payment}', ""))
    (project / "payments.splice.yaml").write_text(
        """\
name: status
testcases:
  - name: a missing payment
    steps:
      - http: {get: "{{ services.payments.url }}/payments/12345"}
        expect: {status: 404}
"""
    )
    done = splice_cli(project, "run", "--no-store", columns=200)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "openapi: response status: 404 is not documented by GET /payments/{id}" in done.stdout
    assert "(documented: 200;" in done.stdout


def test_a_missing_document_is_a_located_error(project: Path) -> None:
    config = project / "splice.yaml"
    config.write_text(config.read_text().replace("openapi: openapi.yaml", "openapi: nope.yaml"))
    done = splice_cli(project, "check", columns=200)
    assert done.returncode == 2
    assert "OpenAPI document 'nope.yaml' does not exist" in done.stderr
    assert "splice.yaml:7:14" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_document_that_does_not_validate_stops_the_run_before_it_starts(project: Path) -> None:
    (project / "openapi.yaml").write_text("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n")
    for command in (["run", "--no-store"], ["check"]):
        done = splice_cli(project, *command, columns=200)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "the OpenAPI document does not validate" in done.stderr
        assert "services ready" not in done.stderr
        assert "Traceback" not in done.stderr


def test_without_a_document_nothing_of_it_is_loaded(project: Path) -> None:
    """No `openapi:` anywhere: the run never imports the checker (no cost per step)."""
    config = project / "splice.yaml"
    config.write_text(config.read_text().replace("    openapi: openapi.yaml\n", ""))
    script = (
        "import sys, splice\n"
        "run = splice.run(['payments.splice.yaml'])\n"
        "print(run.status.value, run.openapi,"
        " 'splice._internal.contracts.openapi_steps' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.split() == ["passed", "[]", "False"], done.stdout + done.stderr


def test_suite_items_under_pytest_are_checked_too(pytester: pytest.Pytester) -> None:
    for name in ("server.py", "openapi.yaml"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    text = PROJECT.replace(
        "python server.py --port {{ port }}",
        f"{sys.executable} server.py --port {{{{ port }}}} --drifted",
    )
    (pytester.path / "splice.yaml").write_text(text + "suites: [payments.splice.yaml]\n")
    (pytester.path / "payments.splice.yaml").write_text(SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "openapi: response body.amount: '12.50' is not of type 'number'" in result.stdout.str()
