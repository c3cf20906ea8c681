"""The REST API of `splice serve` over real HTTP: queries, uploads, `--report-to` streaming
of a live run, a private server, and webhooks that are signed and retried."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.model.results import Status
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.store import Store, tokens, webhooks
from splice._internal.store.attach import StoreOptions, attach
from splice._internal.store.delivery import Dispatcher
from splice._internal.store.ingest import Ingest
from splice._internal.store.synthetic import generate
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer

pytestmark = pytest.mark.integration


class Api:
    """A running server over a store with history, and its tokens."""

    def __init__(self, store: Store, server: BackgroundServer) -> None:
        self.store = store
        self.url = server.url
        self.write = tokens.create(store, "writer", "write")
        self.read = tokens.create(store, "reader", "read")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """`splice serve` on a free port over a SQLite store with 15 generated runs."""
    folder = tmp_path_factory.mktemp("api")
    store = Store.open(f"sqlite:///{folder / 'r.db'}")
    generate(store, runs=15, tests=10, steps=3, days=10)
    with BackgroundServer(create_app(store, background=False)) as server:
        yield Api(store, server)
    store.close()


def test_runs_are_listed_newest_first_with_filters_and_pages(api: Api) -> None:
    """GET /api/runs pages with `next`, and filters by status, branch, tag and day."""
    first = api.get("/api/runs", params={"limit": 6}).json()
    second = api.get("/api/runs", params={"limit": 6, "before": first["next"]}).json()
    ids = [r["id"] for r in first["runs"] + second["runs"]]
    assert len(ids) == len(set(ids)) == 12
    stamps = [r["started_at"] for r in first["runs"] + second["runs"]]
    assert stamps == sorted(stamps, reverse=True)
    everything = api.get("/api/runs", params={"limit": 100}).json()["runs"]
    for key, value in (("status", "passed"), ("branch", "main")):
        chosen = api.get("/api/runs", params={key: value, "limit": 100}).json()["runs"]
        field = "status" if key == "status" else "branch"
        assert chosen and all(r[field] == value for r in chosen)
        assert len(chosen) == sum(r[field] == value for r in everything)
    assert api.get("/api/runs", params={"tag": "smoke"}).json()["runs"]
    assert api.get("/api/runs", params={"tag": "no-such-tag"}).json()["runs"] == []
    assert api.get("/api/runs", params={"since": "2999-01-01"}).json()["runs"] == []
    assert api.get("/api/runs", params={"status": "bogus"}).status_code == 422


def test_a_run_its_results_and_a_tests_history_are_readable(api: Api) -> None:
    """Run detail, one testcase's attempts and steps, and the history of its test agree."""
    run = api.get("/api/runs", params={"limit": 1}).json()["runs"][0]
    detail = api.get(f"/api/runs/{run['id']}").json()
    testcase = detail["suites"][0]["testcases"][0]
    result = api.get(f"/api/runs/{run['id']}/results/{testcase['id']}").json()
    step = result["attempts"][0]["steps"][0]
    assert step["request"]["url"].startswith("http://127.0.0.1:8000/")
    assert step["service"] == "app" and step["target"].endswith("/:id")
    history = api.get(f"/api/tests/{testcase['test_id']}").json()
    assert history["key"] == testcase["key"] and history["history"][0]["run_id"] == run["id"]
    assert len(history["history"]) == 15
    assert api.get("/api/runs/nope").status_code == 404
    assert api.get(f"/api/runs/{run['id']}/results/999999").status_code == 404


def test_compare_trends_points_and_flaky_answer(api: Api) -> None:
    """Compare two runs; trends per day; failing integration points; the flaky ranking."""
    runs = api.get("/api/runs", params={"limit": 2}).json()["runs"]
    diff = api.get("/api/compare", params={"base": runs[1]["id"], "head": runs[0]["id"]}).json()
    assert diff["base"]["id"] == runs[1]["id"] and diff["added"] == diff["removed"] == []
    assert api.get("/api/compare", params={"base": "x", "head": "y"}).status_code == 404
    days = api.get("/api/trends", params={"days": 14}).json()["days"]
    assert len(days) == 14 and sum(d["runs"] for d in days) == 15
    points = api.get("/api/integration-points").json()
    assert {p["service"] for p in points["services"]} == {"app", "db", "cache"}
    assert sum(p["calls"] for p in points["executors"]) > 0
    assert isinstance(api.get("/api/flaky").json(), list)
    assert api.get("/api/health").json()["status"] == "ok"


def test_uploads_of_reports_and_junit_need_a_write_token(
    api: Api, run_suite: Any, write: Any, tmp_path: Path
) -> None:
    """POST /api/runs takes a splice JSON report and /api/import/junit JUnit XML, with a
    write token; the same run twice is a conflict."""
    from splice._internal.reporting.json_report import report_dict
    from splice._internal.reporting.junit import write_junit

    result = run_suite(
        write(
            "u.splice.yaml",
            """
        name: uploaded
        testcases:
          - name: one
            steps: [{exec: "echo 1", expect: {stdout: "1\\n"}}]
    """,
        )
    )
    report = json.loads(json.dumps(report_dict(result), default=str))
    assert api.post("/api/runs", json=report).status_code == 401
    assert api.post("/api/runs", api.read, json=report).status_code == 403
    made = api.post("/api/runs", api.write, json=report, params={"branch": "feature/x"})
    assert made.status_code == 201 and made.json()["id"] == result.id
    assert api.post("/api/runs", api.write, json=report).status_code == 409
    stored = api.get(f"/api/runs/{result.id}").json()
    assert stored["branch"] == "feature/x" and stored["source"] == "upload"
    write_junit(result, tmp_path / "j.xml")
    junit = api.post(
        "/api/import/junit",
        api.write,
        content=(tmp_path / "j.xml").read_bytes(),
        headers={"Content-Type": "application/xml"},
    )
    assert junit.status_code == 201, junit.text
    bad = api.post(
        "/api/import/junit",
        api.write,
        content=b"<nope",
        headers={"Content-Type": "application/xml"},
    )
    assert bad.status_code == 400 and "well-formed" in bad.json()["detail"]


def test_report_to_streams_a_live_run_and_honours_the_remote_quarantine(
    api: Api, tmp_path: Path
) -> None:
    """`--report-to`: the server shows the run while it runs (one testcase done, one
    running), then whole; the server's quarantine makes the run pass."""
    go = tmp_path / "go"
    (tmp_path / "live.splice.yaml").write_text(
        textwrap.dedent(f"""
        name: live
        testcases:
          - name: broken
            steps: [{{exec: "echo a", expect: {{stdout: "b"}}}}]
          - name: waits
            steps: [{{exec: "sh -c 'while [ ! -f {go} ]; do sleep 0.02; done'"}}]
    """).lstrip()
    )
    added = api.post("/api/quarantine", api.write, json={"test": "live::broken", "reason": "bug"})
    assert added.status_code == 201
    suites, _ = load_all([tmp_path / "live.splice.yaml"])
    bus = EventBus()
    opts = StoreOptions(no_store=True, report_to=api.url, report_token=api.write)
    recording = attach(bus, tmp_path, "live", opts, warn=pytest.fail)
    runner = Runner(suites, RunOptions(), bus)
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(runner.run()))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            reply = api.get(f"/api/runs/{runner.result.id}")
            if reply.status_code == 200:
                seen = reply.json()
                if seen["done"] == 1:
                    break
            time.sleep(0.05)
        assert seen["status"] == "running" and seen["total"] == 2
        statuses = {tc["name"]: tc["status"] for s in seen["suites"] for tc in s["testcases"]}
        assert statuses == {"broken": "failed", "waits": "running"}
    finally:
        go.touch()
        thread.join(30)
    recording.finish(done[0])
    assert done[0].status == Status.PASSED
    final = api.get(f"/api/runs/{runner.result.id}").json()
    assert final["status"] == "passed" and final["counts"]["quarantined"] == 1
    assert (
        httpx.delete(
            f"{api.url}/api/quarantine",
            params={"test": "live::broken"},
            headers={"Authorization": f"Bearer {api.write}"},
        ).status_code
        == 204
    )


def test_a_private_server_needs_a_token_to_read(api: Api) -> None:
    """With --private, reads without a token get 401 (pages redirect to sign in); a read
    or write token reads."""
    with BackgroundServer(create_app(api.store, private=True, background=False)) as server:
        assert httpx.get(f"{server.url}/api/runs").status_code == 401
        wrong = httpx.get(f"{server.url}/api/runs", headers={"Authorization": "Bearer spl_x"})
        assert wrong.status_code == 401
        for token in (api.read, api.write):
            ok = httpx.get(f"{server.url}/api/runs", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
        page = httpx.get(f"{server.url}/flaky")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/flaky"
        signed = httpx.get(f"{server.url}/flaky", cookies={"splice_token": api.read})
        assert signed.status_code == 200 and "Flaky tests" in signed.text


class _Receiver(BaseHTTPRequestHandler):
    """Records webhook requests; answers 500 to the first `failures` of them."""

    failures = 0
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        failing = len(type(self).seen) <= type(self).failures
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def test_webhooks_are_signed_and_retried_with_backoff(tmp_path: Path) -> None:
    """A failed run's webhook is retried after 500 answers until delivered, and its
    X-Splice-Signature verifies with the webhook's secret; a dead endpoint ends 'failed'."""
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.failures, _Receiver.seen = 2, []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        _, secret = webhooks.add(store, url, ["run.failed"])
        webhooks.add(store, "http://127.0.0.1:9/dead", ["run.failed"], secret="x" * 20)
        Ingest(store).apply(
            [
                {"event": "run_started", "run_id": "r1", "run": {"started_at": time.time()}},
                {
                    "event": "testcase_finished",
                    "run_id": "r1",
                    "testcase": {"suite": "s", "name": "t", "status": "failed", "attempts": []},
                },
                {"event": "run_finished", "run_id": "r1", "run": {"status": "failed"}},
            ]
        )
        dispatcher = Dispatcher(store, interval=0.02, base_delay=0.05, max_attempts=3, timeout=2)
        dispatcher.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                states = {h["url"]: h["last_delivery"] for h in webhooks.listing(store)}
                if all(s and s["status"] in ("delivered", "failed") for s in states.values()):
                    break
                time.sleep(0.05)
        finally:
            dispatcher.stop()
        assert states[url]["status"] == "delivered" and states[url]["attempts"] == 3
        dead = states["http://127.0.0.1:9/dead"]
        assert dead["status"] == "failed" and dead["attempts"] == 3 and dead["last_error"]
        headers, body = _Receiver.seen[-1]
        assert headers["X-Splice-Event"] == "run.failed"
        assert webhooks.verify(secret, headers["X-Splice-Signature"], body, time.time())
        assert not webhooks.verify("wrong-secret", headers["X-Splice-Signature"], body, time.time())
        assert json.loads(body)["run"]["status"] == "failed"
    finally:
        receiver.shutdown()
        receiver.server_close()
        store.close()


# `splice serve` as the CLI group will run it (it renders usage errors, exit code 2)
_SERVE = (
    "import sys; from splice._internal.cli.main import SpliceGroup; "
    "from splice._internal.cli.serve_command import serve; "
    "SpliceGroup(commands={'serve': serve})(['serve', *sys.argv[1:]])"
)


def test_splice_serve_starts_the_dashboard_and_refuses_a_taken_port(tmp_path: Path) -> None:
    """`splice serve` answers on the port it prints, hints at the missing write token, and
    a port that is taken is a usage error (exit 2) naming --port."""
    import socket
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'r.db'}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, "--store", url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "No runs yet" in page.text
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            taken = busy.getsockname()[1]
            refused = subprocess.run(
                [sys.executable, "-c", _SERVE, "--store", url, "--port", str(taken)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        assert refused.returncode == 2 and "--port" in refused.stderr + refused.stdout
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://localhost:{port}/" in out and "no write token yet" in out


def test_the_pact_broker_subset_publishes_lists_and_records_verifications(api: Api) -> None:
    """Pact Broker paths under /api: publish (write token), latest for a provider with
    pending, the pact itself, a verification result; then the integration is listed."""
    pact = {"consumer": {"name": "web"}, "provider": {"name": "billing"}, "interactions": []}
    path = "/api/pacts/provider/billing/consumer/web/version/1.0.0"
    assert httpx.put(api.url + path, json=pact, timeout=30).status_code == 401
    reader = {"Authorization": f"Bearer {api.read}"}
    assert httpx.put(api.url + path, json=pact, headers=reader, timeout=30).status_code == 403
    writer = {"Authorization": f"Bearer {api.write}"}
    wrong = {**pact, "provider": {"name": "other"}}
    assert httpx.put(api.url + path, json=wrong, headers=writer, timeout=30).status_code == 400
    published = httpx.put(api.url + path, json=pact, headers=writer, timeout=30)
    assert published.status_code == 200, published.text
    sha = published.json()["sha"]
    [listed] = api.get("/api/pacts/provider/billing/latest").json()["pacts"]
    assert (listed["consumer"], listed["version"], listed["pending"]) == ("web", "1.0.0", True)
    read_back = api.get(listed["href"]).json()
    assert read_back.pop("_links")["pb:publish-verification-results"]["href"].endswith(
        f"/pact-version/{sha}/verification-results"
    )
    assert read_back == pact
    results = f"/api/pacts/provider/billing/consumer/web/pact-version/{sha}/verification-results"
    bad = api.post(results, api.write, json={"success": "yes"})
    assert bad.status_code == 422
    done = api.post(results, api.write, json={"success": True, "providerApplicationVersion": "b7"})
    assert done.status_code == 201, done.text
    [after] = api.get("/api/pacts/provider/billing/latest").json()["pacts"]
    assert after["pending"] is False
    [integration] = api.get("/api/contracts").json()["integrations"]
    assert (integration["verified"], integration["verified_by"]) == (True, "b7")
    assert api.get("/api/pacts/provider/billing/consumer/nobody/latest").status_code == 404
    page = api.get("/contracts")
    assert page.status_code == 200
    assert "web → billing" in page.text and "b7" in page.text


def test_an_integrations_page_shows_its_pact_and_the_verifications_of_each_version(
    api: Api,
) -> None:
    """/contracts/{consumer}/{provider}: every published version with the provider
    versions that verified it, and the chosen version's interactions (HTTP and message)
    with states, requests, responses, contents, metadata and matching rules."""
    base = "/api/pacts/provider/ledger/consumer/till/version/"
    writer = {"Authorization": f"Bearer {api.write}"}
    http_item = {
        "type": "Synchronous/HTTP",
        "description": "a balance",
        "providerStates": [{"name": "an account exists", "params": {"id": 7}}],
        "request": {"method": "GET", "path": "/accounts/7", "query": {"full": ["yes"]}},
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": {"content": {"balance": 12.5}, "contentType": "application/json"},
            "matchingRules": {"body": {"$.balance": {"matchers": [{"match": "decimal"}]}}},
        },
    }
    message = {
        "type": "Asynchronous/Messages",
        "description": "a <posted> entry",
        "contents": {"content": {"entry": 1}, "contentType": "application/json"},
        "metadata": {"topic": "ledger.posted"},
    }
    for version, items in (("1", [http_item]), ("2", [http_item, message])):
        pact = {
            "consumer": {"name": "till"},
            "provider": {"name": "ledger"},
            "interactions": items,
            "metadata": {"pactSpecification": {"version": "4.0"}},
        }
        done = httpx.put(api.url + base + version, json=pact, headers=writer, timeout=30)
        assert done.status_code == 200, done.text
    sha = done.json()["sha"]
    results = f"/api/pacts/provider/ledger/consumer/till/pact-version/{sha}/verification-results"
    verified = api.post(
        results, api.write, json={"success": False, "providerApplicationVersion": "L9"}
    )
    assert verified.status_code == 201, verified.text

    page = api.get("/contracts/till/ledger")
    assert page.status_code == 200
    text = page.text
    assert "till → ledger" in text and "version <code>2</code>" in text
    assert "Interactions (2)" in text
    assert (
        "a balance" in text and "an account exists" in text and "GET /accounts/7?full=yes" in text
    )
    assert "$.balance" in text and "decimal" in text and "&#34;balance&#34;: 12.5" in text
    assert "a &lt;posted&gt; entry" in text and "ledger.posted" in text  # escaped
    assert "L9" in text and "pending: not verified yet" in text  # 2 failed by L9; 1 never
    older = api.get("/contracts/till/ledger", params={"version": "1"})
    assert older.status_code == 200 and "Interactions (1)" in older.text
    missing = api.get("/contracts/till/ledger", params={"version": "3"})
    assert missing.status_code == 404 and "its versions: 2, 1" in missing.text
    assert api.get("/contracts/nobody/ledger").status_code == 404
    assert 'href="/contracts/till/ledger"' in api.get("/contracts").text
