"""Hostile requests to `splice serve`: XML that expands or reads files, static paths that
climb out, tokens in the wrong place or revoked, JUnit and JSON uploads with impossible
values; and a store holding values no writer of splice makes. None gets a 500 or a
traceback; none leaks a file; every page still renders."""

from __future__ import annotations

import http.client
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, Integer, select, update

from splice._internal.store import Store, tokens
from splice._internal.store import schema as t
from splice._internal.store.ingest import Ingest
from splice._internal.web import auth, create_app
from splice._internal.web.server import BackgroundServer
from tests.support.hostile_inputs import json_reports, junit_documents

pytestmark = pytest.mark.integration

PAGES = ["/", "/trends", "/trends?days=365", "/tests", "/tests?sort=recent", "/flaky"]
PAGES += ["/quarantine", "/api/runs", "/api/trends", "/api/tests", "/api/flaky"]
PAGES += ["/api/integration-points", "/api/health"]


class Server:
    def __init__(self, store: Store, url: str) -> None:
        self.store, self.url = store, url
        self.write = tokens.create(store, "w", "write")
        self.read = tokens.create(store, "r", "read")

    def post(self, path: str, body: bytes, token: str | None = None) -> httpx.Response:
        return httpx.post(
            self.url + path,
            content=body,
            headers={"Authorization": f"Bearer {token or self.write}"},
            timeout=60,
        )

    def runs(self) -> int:
        with self.store.engine.connect() as conn:
            return len(conn.execute(select(t.runs.c.id)).all())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'r.db'}")
    with BackgroundServer(create_app(store, background=False)) as running:
        yield Server(store, running.url)
    store.close()


def _pages_render(server: Server, extra: tuple[str, ...] = ()) -> None:
    for path in (*PAGES, *extra):
        reply = httpx.get(server.url + path, timeout=30)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])


HOSTILE_XML = {
    "entity expansion": (
        b'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n<testsuite name="&d;&d;&d;&d;"/>'
    ),
    "external entity": (
        b'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<testsuite name="s"><testcase name="&x;"/></testsuite>'
    ),
    "external DTD": (
        b'<?xml version="1.0"?>\n<!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/x.dtd">\n'
        b'<testsuite name="s"/>'
    ),
    "parameter entity": (
        b'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n'
        b"<testsuite/>"
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_XML))
def test_hostile_xml_is_refused_without_reading_anything(server: Server, kind: str) -> None:
    """Entity expansion, external entities, external DTDs and parameter entities are
    refused with 400 at the <!DOCTYPE> (line 2), nothing is stored and no file is read."""
    before = server.runs()
    reply = server.post("/api/import/junit", HOSTILE_XML[kind])
    assert reply.status_code == 400, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith("the request body:2:") and "document type declaration" in detail
    assert "root:" not in reply.text
    assert server.runs() == before


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            b'<?xml version="1.0" encoding="UTF-7"?>\n<testsuite/>',
            ":1:1: the XML declares the encoding 'UTF-7'",
        ),
        (
            b'<testsuite name="a">\n<testcase name="t" time="nan"/></testsuite>',
            ":2:1: <testcase time='nan'>",
        ),
        (
            b'<testsuite name="a">\n<testcase name="t" line="1e99"/></testsuite>',
            ":2:1: <testcase line='1e99'>",
        ),
        (
            b'<testsuite name="a">\n<testcase name="t" time="1e309"/></testsuite>',
            ":2:1: <testcase time='1e309'>",
        ),
    ],
)
def test_impossible_junit_values_get_a_located_400_and_pages_still_render(
    server: Server, body: bytes, named: str
) -> None:
    """The four JUnit uploads of issue 10 (500s before) get 400 naming the element, the
    attribute and the line; nothing is stored, and / and /trends still answer for everyone."""
    before = server.runs()
    reply = server.post("/api/import/junit", body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["detail"].startswith("the request body" + named), reply.text
    assert server.runs() == before
    _pages_render(server)


def test_static_paths_cannot_climb_out_of_the_static_folder(server: Server) -> None:
    """`..` in every spelling under /static is refused (404), never a file outside it."""
    host, port = server.url.removeprefix("http://").split(":")
    for path in (
        "/static/../app.py",
        "/static/../../../../../etc/passwd",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/..\\app.py",
        "/static//etc/passwd",
    ):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        assert answer.status in (400, 404), (path, answer.status)
        assert b"root:" not in body and b"create_app" not in body, path
    assert httpx.get(f"{server.url}/static/splice.js").status_code == 200


def test_the_dashboard_cookie_never_authorises_a_write(server: Server) -> None:
    """A write token sent as the dashboard's cookie (what a forged cross-site form would
    carry) is not taken by any API write."""
    before = server.runs()
    junit = b'<testsuite name="s"><testcase name="t"/></testsuite>'
    reply = httpx.post(
        f"{server.url}/api/import/junit", content=junit, cookies={auth.COOKIE: server.write}
    )
    assert reply.status_code == 401 and server.runs() == before
    quarantine = httpx.post(
        f"{server.url}/api/quarantine",
        json={"test": "s::t", "reason": ""},
        cookies={auth.COOKIE: server.write},
    )
    assert quarantine.status_code == 401


def test_a_revoked_token_stops_working(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """After `splice store token revoke`, the token's writes get 401 once the server's
    short cache of it has expired (here shortened)."""
    monkeypatch.setattr(auth, "CACHE_SECONDS", 0.0)
    token = tokens.create(server.store, "soon-gone", "write")
    junit = b'<testsuite name="s"><testcase name="t"/></testsuite>'
    assert server.post("/api/import/junit", junit, token).status_code == 201
    assert tokens.revoke(server.store, "soon-gone")
    assert server.post("/api/import/junit", junit, token).status_code == 401


def _events(run_id: str, now: float) -> list[dict[str, Any]]:
    step = {
        "index": 0,
        "name": "s",
        "executor": "http",
        "status": "failed",
        "started_at": now,
        "duration": 0.5,
        "request": {"method": "GET", "url": "http://a/x"},
        "failures": [{"kind": "expect", "message": "m"}],
    }

    def case(name: str, status: str) -> dict[str, Any]:
        attempt = {
            "number": 1,
            "status": status,
            "started_at": now,
            "duration": 1.0,
            "steps": [step],
        }
        return {
            "suite": "odd",
            "name": name,
            "status": status,
            "started_at": now,
            "duration": 1.0,
            "attempts": [attempt],
        }

    return [
        {"event": "run_started", "run_id": run_id, "run": {"started_at": now, "total": 3}},
        *(
            {"event": "testcase_finished", "run_id": run_id, "testcase": case(n, s)}
            for n, s in (("a", "failed"), ("b", "passed"), ("c", "flaky"))
        ),
        {"event": "run_finished", "run_id": run_id, "run": {"status": "failed", "duration": 2.0}},
    ]


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e308, -1e308, 1e16, -5.0])
def test_no_stored_value_breaks_a_page(tmp_path: Any, value: float) -> None:
    """Every number of a run, its results, attempts, steps and tests set to an infinite,
    huge or negative value (an older import, a hand edit): every page and API read answers."""
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    now = time.time()
    Ingest(store).apply(_events("before", now - 86400))
    Ingest(store).apply(_events("odd", now))
    whole = int(max(-(2**63), min(2**63 - 1, value)))
    with store.engine.begin() as conn:
        for table in (t.runs, t.results, t.attempts, t.steps, t.tests):
            values = {
                c.name: value if isinstance(c.type, Float) else whole
                for c in table.columns
                if isinstance(c.type, Float | Integer)
                and not c.primary_key
                and not c.foreign_keys
                and c.name != "pid"
            }
            conn.execute(update(table).values(**values))
    try:
        with BackgroundServer(create_app(store, background=False)) as running:
            server = Server(store, running.url)
            with store.engine.connect() as conn:
                results = conn.execute(select(t.results.c.id, t.results.c.run_id)).all()
                tests = conn.execute(select(t.tests.c.id)).scalars().all()
            extra = ["/runs/odd", "/api/runs/odd", "/compare?base=before&head=odd"]
            extra += ["/api/compare?base=before&head=odd"]
            extra += [f"/runs/{run}/results/{rid}" for rid, run in results]
            extra += [f"/api/runs/{run}/results/{rid}" for rid, run in results]
            extra += [f"/tests/{tid}" for tid in tests] + [f"/api/tests/{tid}" for tid in tests]
            _pages_render(server, tuple(extra))
            json.loads(httpx.get(f"{server.url}/api/runs/odd").text)  # valid JSON, no Infinity
    finally:
        store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(junit_documents(), json_reports()))
def test_no_generated_upload_gets_a_500(server: Server, body: bytes) -> None:
    """Generated hostile JUnit and JSON uploads get 201, 400, 409 or 422 and never a 5xx or a
    traceback; after each, / and /trends render."""
    path = "/api/runs" if body.lstrip()[:1] in (b"{", b"[") else "/api/import/junit"
    reply = server.post(path, body)
    assert reply.status_code in (201, 400, 409, 422), (reply.status_code, reply.text[:500])
    assert "Traceback" not in reply.text
    for page in ("/", "/trends"):
        assert httpx.get(server.url + page, timeout=30).status_code == 200
