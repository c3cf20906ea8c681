"""No secret leaves splice: one project seeds secrets through every way one can enter,
runs passing and failing suites with every report, records with a mock and replays,
streams to a `splice serve`, runs the same suites under pytest, and then every file
produced, the store's dumps, the server's answers, a webhook's payloads and the console
hold none of them, in any spelling (tests/support/leaks.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.services.resources import cache_root
from splice._internal.store import Store, tokens, webhooks
from splice._internal.store.delivery import Dispatcher
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer
from tests.support.leaks import Grep, produced, snapshot

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent

# one value per way in, so a hit says which way leaked
SECRETS = {
    "cli-var": "cli-T0ken-7f3a9c",  # --var cli_token=... --secret cli_token
    "odd-var": 'qu"ote-\u00fc-T0ken-44',  # JSON-escaped and UTF-8 percent forms differ
    "var-file": "file-T0ken-2b8e1d",  # --var-file, --secret file_token
    "suite": "suite-T0ken-5c4d0e",  # suite vars + suite `secrets:`
    "basic": "basic-Pw-8d2c4f",  # a suite secret sent as basic auth
    "project": "project-T0ken-9a1f6b",  # project vars + project `secrets:`
    "setting": "env-T0ken-3e7b2a",  # a literal service env var, declared by its path
    "given-password": "p@ss/w0rd#1-leak",  # a postgres password with URL-special characters
}

APP = r"""
import base64, json, os, secrets, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

print("API_TOKEN is", os.environ["API_TOKEN"], flush=True)
print("DATABASE_URL is", os.environ["DATABASE_URL"], flush=True)


class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        print("GET", self.path, "auth:", self.headers.get("Authorization"), flush=True)
        if self.path == "/issue":
            token = "issued-" + secrets.token_hex(6)
            with open(os.environ["ISSUED_FILE"], "a") as out:
                out.write(token + "\n")
            self._send(200, json.dumps({"token": token}).encode())
        elif self.path == "/binary":
            body = b"\xff\xfe\x00" + os.environ["BINARY"].encode() + b"\x00\xff"
            self._send(200, body, "application/octet-stream")
        else:
            self._send(200, b'{"ok": true}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        print("POST", self.path, "auth:", self.headers.get("Authorization"), "body:",
              body.decode(), flush=True)
        echo = {"headers": dict(self.headers), "body": body.decode()}
        self._send(200, json.dumps(echo).encode())


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), App).serve_forever()
"""

PROJECT = """
name: leaky
vars: {{project_token: "{project}"}}
secrets: [project_token, services.app.env.API_TOKEN]
suites: [suites/*.splice.yaml]
services:
  db: {{kind: postgres}}
  db2: {{kind: postgres, password: "{given}"}}
  app:
    kind: process
    command: [python, app.py]
    env:
      API_TOKEN: "{setting}"
      DATABASE_URL: "{{{{ services.db2.url }}}}"
      BINARY: "{file}"
      ISSUED_FILE: "{issued}"
    ready: {{http: /}}
    depends_on: [db2]
  api:
    kind: mock
    record: {{target: "{{{{ services.app.url }}}}", cassette: cassettes/api.yaml, mode: once}}
    depends_on: [app]
"""

PASSING = """
name: passing
vars: {suite_token: "%(suite)s", basic_pw: "%(basic)s"}
secrets: [suite_token, basic_pw]
testcases:
  - name: every way through the mock
    steps:
      - http:
          post: "{{ services.api.url }}/echo"
          headers: {Authorization: "Bearer {{ cli_token }}"}
          json: {project: "{{ project_token }}", file: "{{ file_token }}", odd: "{{ odd_token }}"}
        expect: {status: 200}
      - http: {get: "{{ services.api.url }}/basic", auth: {user: leak-user, password: "{{ basic_pw }}"}}
        expect: {status: 200}
      - http: {get: "{{ services.app.url }}/issue"}
        capture: {issued: {expr: json.token, secret: true}}
      - http: {post: "{{ services.api.url }}/echo", json: {issued: "{{ issued }}"}}
        expect: {status: 200}
      - http: {get: "{{ services.api.url }}/binary"}
        expect: {status: 200}
  - name: databases and commands
    steps:
      - sql: {service: db2, query: "select '{{ suite_token }}' as t"}
        expect: {scalar: "{{ suite_token }}"}
      - sql: {service: db, query: "select 1"}
      - exec: {command: [echo, "{{ services.db2.url }} {{ services.db.url }}"]}
"""

FAILING = """
name: failing
vars: {suite_token: "%(suite)s"}
secrets: [suite_token]
testcases:
  - name: a statement postgres logs
    steps:
      - sql: {service: db, query: "select * from no_such_table where t = '{{ suite_token }}'"}
  - name: a diff full of secrets
    steps:
      - http:
          post: "{{ services.app.url }}/echo"
          headers: {Authorization: "Bearer {{ cli_token }}"}
          json: {t: "{{ project_token }}", odd: "{{ odd_token }}", url: "{{ services.db2.url }}"}
        expect: {json: {body: nothing}}
"""

PYTEST_FILE = """
def test_a_python_failure_names_the_url(splice_db2):
    print("connecting to", splice_db2.url)
    assert splice_db2.url == "nothing", "cannot use " + splice_db2.url
"""


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: keeps every body it is sent."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def run_temp() -> Iterator[Path]:
    """SPLICE_TMPDIR, reachable by PostgreSQL's unprivileged user (not under tmp_path)."""
    path = Path(tempfile.mkdtemp(prefix="splice-leak-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _write_project(root: Path, issued: Path) -> None:
    values = {
        "project": SECRETS["project"],
        "given": SECRETS["given-password"],
        "setting": SECRETS["setting"],
        "file": SECRETS["var-file"],
        "issued": str(issued),
    }
    (root / "splice.yaml").write_text(PROJECT.format(**values))
    (root / "app.py").write_text(APP)
    (root / "suites").mkdir()
    (root / "suites" / "passing.splice.yaml").write_text(PASSING % SECRETS)
    (root / "suites" / "failing.splice.yaml").write_text(FAILING % SECRETS)
    (root / "secret-vars.yaml").write_text(json.dumps({"file_token": SECRETS["var-file"]}))
    (root / "tests").mkdir()
    (root / "tests" / "test_python.py").write_text(textwrap.dedent(PYTEST_FILE))


def _dump(path: Path, grep: Grep, label: str) -> None:
    with sqlite3.connect(path) as conn:
        grep.text(f"{label} (.dump)", "\n".join(conn.iterdump()))


def _server_answers(url: str, grep: Grep) -> None:
    """What `splice serve` shows: the API and the dashboard, every run and result."""
    with httpx.Client(base_url=url, timeout=30) as client:
        runs = client.get("/api/runs", params={"limit": 100}).json()["runs"]
        grep.text("GET /api/runs", json.dumps(runs))
        grep.text("GET /", client.get("/").text)
        for run in runs:
            detail = client.get(f"/api/runs/{run['id']}")
            grep.text("GET /api/runs/{id}", detail.text)
            grep.text("GET /runs/{id}", client.get(f"/runs/{run['id']}").text)
            for suite in detail.json()["suites"]:
                for tc in suite["testcases"]:
                    path = f"/runs/{run['id']}/results/{tc['id']}"
                    grep.text("GET /api/runs/{id}/results/{r}", client.get("/api" + path).text)
                    grep.text("GET /runs/{id}/results/{r}", client.get(path).text)


class Runs:
    """The commands of the test, each run in the project, their consoles kept."""

    def __init__(self, root: Path, reports: Path, run_temp: Path, server: str, token: str) -> None:
        self.root, self.reports, self.server, self.token = root, reports, server, token
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "SPLICE_TMPDIR": str(run_temp),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        self.env.pop("SPLICE_TOKEN", None)
        self.env.pop("SPLICE_STORE_URL", None)
        self.consoles: dict[str, str] = {}
        self.problems: list[str] = []

    def _run(self, label: str, args: list[str]) -> tuple[int, str]:
        done = subprocess.run(
            args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=180,
            check=False,
        )  # fmt: skip
        self.consoles[f"stdout of {label}"] = done.stdout
        self.consoles[f"stderr of {label}"] = done.stderr
        return done.returncode, done.stdout + done.stderr

    def splice_run(self, label: str) -> None:
        """`splice run` with every report, the store and --report-to: the failing suite
        fails, the passing one passes (in a replay too: its mock steps match the cassette)."""
        out = self.reports / label
        code, output = self._run(
            f"splice run ({label})",
            [sys.executable, "-m", "splice", "run", *INPUTS,
             "--junit", f"{out}.xml", "--json", f"{out}.json", "--html", f"{out}.html",
             "--report-to", self.server, "--report-token", self.token],
        )  # fmt: skip
        report = json.loads(Path(f"{out}.json").read_text())
        statuses = {s["name"]: s["status"] for s in report["suites"]}
        if code != 1 or statuses != {"failing": "error", "passing": "passed"}:
            self.problems.append(f"splice run ({label}): exit {code}, {statuses}\n{output}")

    def pytest(self) -> None:
        """pytest over the same suites and a Python test: the failing suite's two
        testcases and the Python test fail; the passing suite replays and passes."""
        given = [a.replace("--", "--splice-") if a.startswith("--") else a for a in INPUTS]
        code, output = self._run(
            "pytest",
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
             "-o", "addopts=", "-W", "ignore", ".", *given,
             "--splice-junit", f"{self.reports / 'pytest.xml'}",
             "--splice-json", f"{self.reports / 'pytest.json'}",
             "--splice-html", f"{self.reports / 'pytest.html'}",
             "--splice-report-to", self.server, "--splice-report-token", self.token],
        )  # fmt: skip
        if code != 1 or "3 failed, 2 passed" not in output:
            self.problems.append(f"pytest: exit {code}\n{output}")


INPUTS = [
    "--var", f"cli_token={SECRETS['cli-var']}", "--secret", "cli_token",
    "--var", f"odd_token={SECRETS['odd-var']}", "--secret", "odd_token",
    "--var-file", "secret-vars.yaml", "--secret", "file_token",
]  # fmt: skip


@pytest.fixture
def webhook() -> Iterator[str]:
    """A receiver of webhooks; its URL."""
    Receiver.bodies = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    receiver.shutdown()
    receiver.server_close()


@pytest.mark.skipif(shutil.which("initdb") is None and not Path("/usr/lib/postgresql").is_dir(),
                    reason="needs PostgreSQL's binaries")  # fmt: skip
def test_no_secret_leaves_splice_in_any_spelling(
    tmp_path: Path, run_temp: Path, webhook: str
) -> None:
    """Every secret (a --var marked --secret, a var file's, suite and project secrets, a
    declared service setting, a given and a generated service password, bearer and basic
    auth, a captured secret, the report token) appears in no file, dump, API answer,
    webhook payload or console output of `splice run` (twice: record, then replay) and of
    pytest, in any spelling."""
    root, outside, reports = tmp_path / "project", tmp_path / "outside", tmp_path / "reports"
    for folder in (root, outside, reports):
        folder.mkdir()
    issued = outside / "issued.txt"
    _write_project(root, issued)
    before = snapshot(root)
    server_store = Store.open(f"sqlite:///{outside / 'server.db'}")
    token = tokens.create(server_store, "ci", "write")
    webhooks.add(server_store, webhook, ["run.finished", "run.failed"])
    try:
        with BackgroundServer(create_app(server_store, background=False)) as server:
            runs = Runs(root, reports, run_temp, server.url, token)
            runs.splice_run("record")
            runs.splice_run("replay")
            runs.pytest()
            Dispatcher(server_store, base_delay=0.01).run_once()
            generated = (cache_root() / "password").read_text().strip()
            secrets = {**SECRETS, "generated-password": generated, "report-token": token}
            grep = Grep(secrets | _issued(issued))
            _server_answers(server.url, grep)
    finally:
        server_store.close()

    for source, text in runs.consoles.items():
        grep.text(source, text)
    assert Receiver.bodies, "the webhook was not sent"
    for body in Receiver.bodies:
        grep.data("webhook payload", body)
    for path in [*produced(root, before), *sorted(reports.iterdir()), outside / "server.db"]:
        grep.file(path, str(path.relative_to(tmp_path)))
    for db in (root / ".splice" / "results.db", outside / "server.db"):
        _dump(db, grep, str(db.relative_to(tmp_path)))
    assert (grep.hits, runs.problems) == ({}, []), grep.report() + "\n" + "\n".join(runs.problems)
    _everything_was_there(root, issued)


def _everything_was_there(root: Path, issued: Path) -> None:
    """What was grepped holds what it should, masked: no vacuous pass."""
    assert len(issued.read_text().split()) == 3  # record, replay and pytest each captured one
    logs = sorted((root / ".splice" / "logs").iterdir())
    assert len(logs) == 3  # kept for each run
    app_log = (logs[-1] / "app.log").read_text()
    assert "API_TOKEN is ****" in app_log and "splice:****@127.0.0.1" in app_log, app_log
    assert "t = '****'" in (logs[-1] / "db.log").read_text()  # PostgreSQL logged it, masked
    cassette = (root / "cassettes" / "api.yaml").read_text()
    assert cassette.count("request:") == 4 and "Basic <scrubbed>" in cassette, cassette
    with sqlite3.connect(root / ".splice" / "results.db") as conn:
        assert conn.execute("select count(*) from artifacts").fetchone()[0] >= 12


def _issued(path: Path) -> dict[str, str]:
    return {f"issued-{i}": token for i, token in enumerate(path.read_text().split())}


def test_a_service_that_fails_to_start_shows_its_log_masked(tmp_path: Path) -> None:
    """The log tail of a service that dies while starting is shown with its declared
    secret masked, by `splice run` and by the pytest plugin."""
    (tmp_path / "splice.yaml").write_text(
        textwrap.dedent(
            """
            secrets: [services.app.env.TOKEN]
            services:
              app:
                kind: process
                command: 'echo "token $TOKEN and more"; exit 1'
                env: {TOKEN: dying-S3cret-1}
            """
        )
    )
    (tmp_path / "t.splice.yaml").write_text(
        "name: t\ntestcases: [{name: x, steps: [{exec: 'true'}]}]\n"
    )
    (tmp_path / "test_it.py").write_text("def test_it(splice_app):\n    pass\n")
    env = {**os.environ, "NO_COLOR": "1", "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    shown = []
    for args in (
        [sys.executable, "-m", "splice", "run", "--no-store", "t.splice.yaml"],
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_it.py",
         "-o", "addopts=", "--splice-no-store"],
    ):  # fmt: skip
        done = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        shown.append(done.stdout + done.stderr)
    assert all("token **** and" in out for out in shown), shown
    assert not [out for out in shown if "dying-S3cret-1" in out], shown


def test_warnings_of_reporting_hide_the_token_and_url_passwords(tmp_path: Path) -> None:
    """A server that cannot be reached is named in the warnings without the password of
    its URL, and the token is among the secrets the front end masks."""
    from splice._internal.store.attach import StoreOptions, open_recording

    warnings: list[str] = []
    opts = StoreOptions(
        no_store=True,
        report_to="http://ci:url-S3cret-pw@127.0.0.1:9",
        report_token="token-S3cret",
    )
    recording = open_recording(tmp_path, "p", opts, warnings.append)
    recording.close()
    assert warnings and all("url-S3cret-pw" not in w for w in warnings), warnings
    assert any("http://ci:****@127.0.0.1:9" in w for w in warnings), warnings
    assert sorted(recording.secrets) == ["token-S3cret", "url-S3cret-pw"]
