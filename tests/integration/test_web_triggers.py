"""Runs started from outside: a real `splice serve --project` starts a workflow (a suite job
and a command job) or suites by tag when asked with a write token, queues them under its
limits, records them in its store with the trigger's branch, commit and environment, pushes
the webhook, and stops them (leaving no process) when it is stopped; `splice trigger
--wait` follows a run and exits by its outcome."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.store import Store, webhooks
from tests.support.trigger_server import (
    DEADLINE,
    SPLICE,
    Served,
    alive,
    ancestors,
    project,
    read,
    serve,
    until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(project(tmp_path / "shop"), "--queue-size", "1") as server:
        yield server


def test_a_triggered_workflow_runs_once_recorded_with_its_metadata(served: Served) -> None:
    """202 with the run's id and status URL; queued or running, then passed; the store holds
    one run with every job's testcases, the branch, commit and environment given, and the
    kept artifact."""
    body = {"branch": "main", "commit": "abc123", "environment": "staging",
            "ci_url": "https://ci.example/job/7"}  # fmt: skip
    answer = served.post("/api/workflows/deploy-check/runs", body)
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert started["status"] in ("queued", "running")
    assert answer.headers["Location"] == started["status_url"]
    assert started["dashboard_url"].endswith(f"/runs/{started['id']}")
    done = served.until_done(started["id"])
    assert done["status"] == "passed" and done["exit_code"] == 0, done["log"]
    run = served.stored(started["id"])
    assert run is not None and run["status"] == "passed" and run["source"] == "workflow"
    assert (run["branch"], run["commit"], run["ci_url"]) == (
        "main", "abc123", "https://ci.example/job/7",
    )  # fmt: skip
    assert run["environment"]["target"] == "staging"
    names = {f"{s['name']}::{t['name']}" for s in run["suites"] for t in s["testcases"]}
    assert names == {"smoke::the home page answers", "smoke::an untagged check", "script::works"}
    listed = httpx.get(served.url + "/api/runs", timeout=30).json()["runs"]
    assert [r["id"] for r in listed] == [started["id"]]


def test_the_run_page_shows_jobs_the_critical_path_and_artifact_links(served: Served) -> None:
    """A workflow run's page lists its jobs (status, worker, duration), marks the chain
    through `needs` as the critical path, and links each kept artifact to a download."""
    started = served.post("/api/workflows/deploy-check/runs").json()
    served.until_done(started["id"])
    detail = httpx.get(f"{served.url}/api/runs/{started['id']}", timeout=30).json()
    jobs = {j["name"]: j for j in detail["jobs"]}
    assert set(jobs) == {"smoke", "script"}
    assert jobs["script"]["needs"] == ["smoke"] and jobs["script"]["kind"] == "command"
    assert all(j["status"] == "passed" and j["duration"] is not None for j in jobs.values())
    assert all(j["worker"] == socket.gethostname() for j in jobs.values())
    assert jobs["smoke"]["testcases"] == 2 and jobs["script"]["testcases"] == 1
    assert all(log["kind"] != "job" for log in detail["logs"])
    page = httpx.get(started["dashboard_url"], timeout=30).text
    assert "critical path" in page and "<b>smoke</b> → <b>script</b>" in page
    artifact = next(log for log in detail["logs"] if log["kind"] == "artifact")
    link = f"/runs/{started['id']}/artifacts/{artifact['id']}"
    assert link in page
    download = httpx.get(served.url + link, timeout=30)
    assert download.status_code == 200 and "<testsuite" in download.text
    assert download.headers["Content-Disposition"] == 'attachment; filename="script.xml"'
    assert (
        httpx.get(f"{served.url}/runs/{started['id']}/artifacts/999999", timeout=30).status_code
        == 404
    )


def test_suites_by_tag_run_only_the_tagged_testcases(served: Served) -> None:
    """`POST /api/suites/runs` with tags runs `splice run --tag` in the project."""
    answer = served.post("/api/suites/runs", {"tags": ["deploy"], "branch": "release"})
    assert answer.status_code == 202, answer.text
    done = served.until_done(answer.json()["id"])
    assert done["status"] == "passed", done["log"]
    run = served.stored(done["id"])
    assert run is not None and run["branch"] == "release" and run["source"] == "run"
    names = [t["name"] for s in run["suites"] for t in s["testcases"]]
    assert names == ["the home page answers"]


def test_a_failing_workflow_ends_failed(served: Served) -> None:
    """A workflow whose job fails is `failed`, and so is its stored run."""
    answer = served.post("/api/workflows/red/runs")
    done = served.until_done(answer.json()["id"])
    assert done["status"] == "failed" and done["exit_code"] == 1
    run = served.stored(done["id"])
    assert run is not None and run["status"] == "failed"


def test_bad_triggers_get_clear_errors_and_start_nothing(served: Served) -> None:
    """No token 401, a read token 403, an unknown workflow 404 naming the close one, a
    suite glob leaving the project 400, a mistake in the project 400 naming its place, an
    unknown trigger 404 and an unknown status to list 422; none of them starts a run or
    queues a trigger."""
    none = served.post("/api/workflows/deploy-check/runs", token=None)
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"
    wrong = served.post("/api/workflows/deploy-check/runs", token="spl_not-a-token")
    assert wrong.status_code == 401
    read = served.post("/api/workflows/deploy-check/runs", token=served.read_token)
    assert read.status_code == 403
    unknown = served.post("/api/workflows/deploy-chek/runs")
    assert unknown.status_code == 404
    assert "no workflow named 'deploy-chek'" in unknown.json()["detail"]
    assert "did you mean 'deploy-check'" in unknown.json()["detail"]
    outside = served.post("/api/suites/runs", {"suites": ["../elsewhere/*.yaml"]})
    assert outside.status_code == 400
    missing = httpx.get(served.url + "/api/triggers/000000000000", timeout=30)
    assert missing.status_code == 404
    bogus = httpx.get(served.url + "/api/triggers", params={"status": "done"}, timeout=30)
    assert bogus.status_code == 422 and "'queued'" in bogus.json()["detail"][0]["msg"]
    assert httpx.get(served.url + "/api/triggers", timeout=30).json() == {"triggers": []}
    project_file = served.root / "splice.yaml"
    good = project_file.read_text()
    project_file.write_text(
        good.replace(
            "smoke: {suites: [suites/smoke.splice.yaml]}", "smoke: {suites: [x], bogus: 1}"
        )
    )
    mistake = served.post("/api/workflows/deploy-check/runs")
    assert mistake.status_code == 400, mistake.text
    assert mistake.json()["detail"].startswith("the project has a mistake: splice.yaml:")
    assert "unknown key 'bogus'" in mistake.json()["detail"]
    project_file.write_text(good)
    assert httpx.get(served.url + "/api/runs", timeout=30).json()["runs"] == []


def test_a_full_queue_gets_429_with_retry_after(served: Served) -> None:
    """One run running and one waiting (--queue-size 1): the next trigger gets 429 with
    Retry-After; the waiting one can be cancelled; after the release the first passes."""
    first = served.post("/api/workflows/hold/runs").json()
    until((served.root / "hold.pid").exists, "the held job to start")
    second = served.post("/api/workflows/deploy-check/runs")
    assert second.status_code == 202 and second.json()["position"] == 1
    full = served.post("/api/workflows/deploy-check/runs")
    assert full.status_code == 429, full.text
    assert int(full.headers["Retry-After"]) > 0
    assert "the queue is full" in full.json()["detail"]
    cancel = httpx.delete(
        f"{served.url}/api/triggers/{second.json()['id']}",
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"
    (served.root / "release").write_text("go")
    assert served.until_done(first["id"])["status"] == "passed"


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_finished_webhook_is_pushed_for_a_triggered_run(served: Served) -> None:
    """A webhook for `run.finished` gets the triggered run's id when it ends."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.bodies = []
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        store = Store.open(served.store_url)
        try:
            webhooks.add(store, f"http://127.0.0.1:{receiver.server_port}/h", ["run.finished"])
        finally:
            store.close()
        started = served.post("/api/workflows/deploy-check/runs").json()
        served.until_done(started["id"])
        pushed = until(lambda: list(_Receiver.bodies), "the webhook")
        assert any(json.dumps(b).find(started["id"]) >= 0 for b in pushed), pushed
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(timeout=10)


def _trigger(
    served: Served, *args: str, token: str | None = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env["SPLICE_TOKEN"] = served.token if token == "" else (token or "")
    return subprocess.run(
        [*SPLICE, "trigger", *args, "--server", served.url],
        cwd=served.root.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_splice_trigger_wait_exits_by_the_outcome(served: Served) -> None:
    """`splice trigger --wait`: 0 for a passed run, 1 for a failed one (with its last
    lines), 2 for an unknown workflow or no token, 4 past --timeout; the token is never
    printed."""
    passed = _trigger(served, "deploy-check", "--wait", "--environment", "staging")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "/runs/" in passed.stdout and "passed" in passed.stdout
    failed = _trigger(served, "red", "--wait")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "failed" in failed.stderr and "its last lines" in failed.stderr
    unknown = _trigger(served, "nope", "--wait")
    assert unknown.returncode == 2 and "answered 404" in unknown.stderr
    no_token = _trigger(served, "red", token=None)
    assert no_token.returncode == 2 and "answered 401" in no_token.stderr
    held = _trigger(served, "hold", "--wait", "--timeout", "1")
    assert held.returncode == 4, held.stdout + held.stderr
    assert "still" in held.stderr
    (served.root / "release").write_text("go")
    for result in (passed, failed, unknown, no_token, held):
        assert served.token not in result.stdout + result.stderr


def test_splice_trigger_wait_says_why_a_stopped_run_ended(served: Served) -> None:
    """A run stopped through the API while `splice trigger --wait` follows it: exit 1,
    naming the reason the server gives."""
    waiter = threading.Thread(target=lambda: results.append(_trigger(served, "hold", "--wait")))
    results: list[subprocess.CompletedProcess[str]] = []
    waiter.start()
    try:
        until((served.root / "hold.pid").exists, "the held job to start")
        held = httpx.get(served.url + "/api/triggers", params={"status": "running"}, timeout=30)
        (running,) = held.json()["triggers"]
        stop = httpx.delete(
            f"{served.url}/api/triggers/{running['id']}",
            headers={"Authorization": f"Bearer {served.token}"},
            timeout=30,
        )
        assert stop.status_code == 202, stop.text
    finally:
        waiter.join(timeout=DEADLINE)
    (result,) = results
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"run {running['id']} interrupted" in result.stderr
    assert "  why: stopped through the API" in result.stderr


def test_stopping_the_server_stops_its_triggered_runs_leaving_no_process(tmp_path: Path) -> None:
    """SIGTERM to `splice serve` while a triggered run holds a job and another waits: the
    server exits, the running one is stopped and stored as interrupted (its trigger says
    the server stopped), the waiting one stays queued in the store for the next server,
    and neither the run's process nor its job's is left."""
    root = project(tmp_path / "shop")
    with serve(root) as served:
        first = served.post("/api/workflows/hold/runs").json()
        waiting = served.post("/api/workflows/deploy-check/runs").json()
        job_pid = int(until(lambda: read(root / "hold.pid"), "the held job to start"))
        until(lambda: served.stored(first["id"]), "the run to be stored")
        chain = ancestors(job_pid, served.proc.pid)  # the job, its shell, `splice workflow run`
        assert len(chain) >= 2 and all(alive(pid) for pid in chain)
        served.proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down cleanly (lifespan ended)
        assert served.proc.wait(timeout=120) in (0, -signal.SIGTERM)
        assert not any(alive(pid) for pid in chain)
        stored = served.stored(first["id"])
        assert stored is not None and stored["status"] == "interrupted"
        assert served.stored(waiting["id"]) is None
        ended, kept = served.row(first["id"]), served.row(waiting["id"])
        assert ended is not None and ended["state"] == "interrupted"
        assert ended["reason"] == f"the server stopped while it ran (pid {served.proc.pid})"
        assert kept is not None and kept["state"] == "queued" and kept["started_at"] is None
