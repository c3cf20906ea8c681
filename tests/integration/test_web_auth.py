"""Who may change what on `splice serve`: every write endpoint refuses a missing, wrong or
read-only token and changes nothing; the dashboard's forms need a write sign-in and their
CSRF field; captured bodies holding HTML and script are shown as text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from splice._internal.store import Store, quarantine, tokens, webhooks
from splice._internal.store import schema as t
from splice._internal.store.ingest import Ingest
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer

pytestmark = pytest.mark.integration

EVIL = "<script>alert('pwned')</script><img src=x onerror=alert(2)>"


def _run_events(run_id: str, body: Any = EVIL) -> list[dict[str, Any]]:
    step = {
        "index": 0,
        "name": "<b>step</b>",
        "executor": "http",
        "phase": "test",
        "status": "failed",
        "started_at": time.time(),
        "duration": 0.01,
        "request": {"method": "GET", "url": "http://app/x?q=<script>"},
        "response": {"status": 200, "body": body},
        "failures": [{"kind": "expect", "message": EVIL, "expected": "<i>a</i>", "actual": body}],
    }
    return [
        {"event": "run_started", "run_id": run_id, "run": {"started_at": time.time(), "total": 1}},
        {
            "event": "testcase_finished",
            "run_id": run_id,
            "testcase": {
                "suite": "xss",
                "name": EVIL,
                "status": "failed",
                "started_at": time.time(),
                "attempts": [{"number": 1, "status": "failed", "steps": [step]}],
            },
        },
        {"event": "run_finished", "run_id": run_id, "run": {"status": "failed"}},
    ]


class Server:
    def __init__(self, store: Store, url: str) -> None:
        self.store, self.url = store, url
        self.write = tokens.create(store, "w", "write")
        self.read = tokens.create(store, "r", "read")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a store holding one run with script in its captured bodies."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'r.db'}")
    Ingest(store).apply(_run_events("evil"))
    quarantine.add(store, "xss::kept", "", "test")
    webhooks.add(store, "https://example.test/h", ["run.failed"])
    with BackgroundServer(create_app(store, background=False)) as running:
        yield Server(store, running.url)
    store.close()


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table except the tokens' last-use times."""
    with store.engine.connect() as conn:
        return {
            table.name: sorted(
                tuple(str(v) for k, v in row._mapping.items() if k != "last_used_at")
                for row in conn.execute(select(table))
            )
            for table in t.metadata.sorted_tables
        }


def _write_requests(server: Server, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """A well-formed request for every write endpoint, so only the token can make it fail."""
    report = {"schema": "splice-run/1", "id": "uploaded", "status": "passed", "suites": []}
    junit = b'<testsuite name="j"><testcase classname="c" name="n"/></testsuite>'
    hook_id = webhooks.listing(server.store)[0]["id"]
    return {
        ("POST", "/api/runs"): {"json": report},
        ("POST", "/api/import/junit"): {
            "content": junit,
            "headers": {"Content-Type": "application/xml"},
        },
        ("POST", "/api/runs/{run_id}/events"): {
            "url": "/api/runs/fresh/events",
            "json": {"events": [{"event": "run_started", "run_id": "fresh", "run": {}}]},
        },
        ("POST", "/api/quarantine"): {"json": {"test": "xss::new", "reason": "r"}},
        ("DELETE", "/api/quarantine"): {"params": {"test": "xss::kept"}},
        ("POST", "/api/webhooks"): {"json": {"url": "https://e.test/x", "events": ["run.failed"]}},
        ("DELETE", "/api/webhooks/{hook_id}"): {"url": f"/api/webhooks/{hook_id}"},
        ("GET", "/api/webhooks"): {},  # lists secrets' owners: as guarded as a write
        ("POST", "/api/workflows/{name}/runs"): {"url": "/api/workflows/ci/runs", "json": {}},
        ("POST", "/api/suites/runs"): {"json": {"tags": ["smoke"]}},
        ("DELETE", "/api/triggers/{trigger_id}"): {"url": "/api/triggers/0123456789ab"},
        ("PUT", "/api/pacts/provider/{provider}/consumer/{consumer}/version/{version}"): {
            "url": "/api/pacts/provider/p/consumer/c/version/1",
            "json": {"consumer": {"name": "c"}, "provider": {"name": "p"}, "interactions": []},
        },
        (
            "POST",
            "/api/pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}/verification-results",
        ): {
            "url": "/api/pacts/provider/p/consumer/c/pact-version/"
            + "0" * 64
            + "/verification-results",
            "json": {"success": True, "providerApplicationVersion": "1"},
        },
    }


# POSTs that only read: the Pact Broker's "pacts for verification" query sends its
# selectors as a body (a read, with a read token or none on a public server)
READING_POSTS = {("POST", "/api/pacts/provider/{provider}/for-verification")}


# Endpoints that start runs need a server started with `--project`, which this one is not:
# a write token gets them past the token check to a 404 that says so. They succeed in
# tests/integration/test_web_triggers.py.
STARTING_RUNS = {
    ("POST", "/api/workflows/{name}/runs"),
    ("POST", "/api/suites/runs"),
    ("DELETE", "/api/triggers/{trigger_id}"),
}


def test_every_write_endpoint_refuses_missing_wrong_and_read_tokens(
    server: Server, tmp_path: Path
) -> None:
    """Each write endpoint of the OpenAPI answers 401 without a token or with a wrong one,
    403 with a read token, and the store is unchanged afterwards."""
    spec = httpx.get(f"{server.url}/api/openapi.json").json()
    writes = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete")
    } - READING_POSTS
    requests = _write_requests(server, tmp_path)
    assert writes <= set(requests), (
        f"write endpoints without a check here: {writes - set(requests)}"
    )
    before = _snapshot(server.store)
    for (method, path), spec_ in requests.items():
        kwargs = dict(spec_)
        url = server.url + kwargs.pop("url", path)
        headers = dict(kwargs.pop("headers", {}))
        attempts = (
            (None, 401),
            ("Bearer spl_wrong", 401),
            ("Basic dXNlcjpwYXNz", 401),
            (f"Bearer {server.write}x", 401),
            (f"Bearer {server.read}", 403),
        )
        for authorization, expected in attempts:
            sent = dict(headers)
            if authorization is not None:
                sent["Authorization"] = authorization
            reply = httpx.request(method, url, headers=sent, timeout=30, **kwargs)
            assert reply.status_code == expected, (method, path, authorization, reply.text)
    assert _snapshot(server.store) == before


def test_the_same_requests_succeed_with_a_write_token(server: Server, tmp_path: Path) -> None:
    """The requests of the refusal test are well-formed: a write token makes each succeed."""
    for (method, path), spec_ in _write_requests(server, tmp_path).items():
        kwargs = dict(spec_)
        url = server.url + kwargs.pop("url", path)
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {server.write}"}
        reply = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
        if (method, path) in STARTING_RUNS:  # past the token check; this server has no project
            assert reply.status_code == 404, (method, path, reply.text)
            assert "this server starts no runs" in reply.text, reply.text
            continue
        assert reply.status_code < 300, (method, path, reply.text)
    quarantine.add(server.store, "xss::kept", "", "test")  # restore for the next tests
    webhooks.add(server.store, "https://example.test/h", ["run.failed"])


def test_dashboard_forms_need_a_write_sign_in_and_their_csrf_field(server: Server) -> None:
    """Quarantine forms: refused anonymously, with a read sign-in and with a wrong CSRF
    field; accepted signed in with a write token and the page's own field."""
    form = {"test": "xss::by-form", "reason": "", "csrf": "forged"}
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.post("/quarantine/add", data=form).status_code == 403
    with httpx.Client(base_url=server.url, cookies={"splice_token": server.read}) as reader:
        assert reader.post("/quarantine/add", data=form).status_code == 403
    with httpx.Client(base_url=server.url) as browser:
        wrong = browser.post("/login", data={"token": "spl_nope", "next": "/"})
        assert wrong.status_code == 303 and "error=unknown" in wrong.headers["location"]
        signed = browser.post("/login", data={"token": server.write, "next": "//evil.example/"})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        assert "httponly" in signed.headers["set-cookie"].lower()
        assert "samesite=strict" in signed.headers["set-cookie"].lower()
        assert browser.post("/quarantine/add", data=form).status_code == 403
        assert "xss::by-form" not in quarantine.keys(server.store)
        page = browser.get("/quarantine").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = browser.post("/quarantine/add", data={**form, "csrf": csrf})
        assert done.status_code == 303 and "xss::by-form" in quarantine.keys(server.store)
        browser.post("/quarantine/remove", data={"test": "xss::by-form", "csrf": csrf})
        assert "xss::by-form" not in quarantine.keys(server.store)


def test_captured_html_and_script_are_shown_as_text(server: Server) -> None:
    """Bodies, names and messages holding markup are escaped in every page, and pages
    forbid inline script through their Content-Security-Policy."""
    run = httpx.get(f"{server.url}/api/runs/evil").json()
    result_id = run["suites"][0]["testcases"][0]["id"]
    for path in (
        "/",
        "/runs/evil",
        f"/runs/evil/results/{result_id}",
        "/tests",
        f"/tests/{run['suites'][0]['testcases'][0]['test_id']}",
    ):
        page = httpx.get(server.url + path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "script-src 'self'" in page.headers["content-security-policy"]
    detail = httpx.get(f"{server.url}/runs/evil/results/{result_id}").text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in detail
    assert "&lt;b&gt;step&lt;/b&gt;" in detail
