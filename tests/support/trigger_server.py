"""A real `splice serve --project` for the tests of triggered runs: a project with a suite
that passes, one that fails, a command job and a job that holds until released; a server
on a free port over a SQLite store with a write and a read token; and the process checks
that prove nothing is left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from splice._internal.store import Store, tokens, trigger_rows
from splice._internal.store.query_runs import get_run
from tests.support.cli import free_port

SPLICE = [sys.executable, "-m", "splice"]
DEADLINE = 180.0  # seconds a condition may take on a loaded machine

SMOKE = """
name: smoke
testcases:
  - name: the home page answers
    tags: [deploy]
    steps:
      - exec: "echo ok"
        expect: {stdout: "ok\\n"}
  - name: an untagged check
    steps:
      - exec: "echo other"
        expect: {stdout: "other\\n"}
"""

BROKEN = """
name: broken
testcases:
  - name: it fails
    steps:
      - exec: "echo no"
        expect: {stdout: "yes\\n"}
"""

WRITE_JUNIT = """
import pathlib
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path("reports/script.xml").write_text(
    '<testsuite name="script" tests="1"><testcase classname="script" name="works" '
    'time="0.01"/></testsuite>')
print("wrote the report")
"""

# waits until the test lets it go (a file appears), writing its pid first
HOLD = """
import os, pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
deadline = time.monotonic() + 170
while not pathlib.Path(sys.argv[2]).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path("reports/hold.xml").write_text(
    '<testsuite name="hold" tests="1"><testcase classname="hold" name="held"/></testsuite>')
"""

WORKFLOWS = """
deploy-check:
  jobs:
    smoke: {suites: [suites/smoke.splice.yaml]}
    script:
      command: "{python} write_junit.py"
      junit: reports/script.xml
      needs: [smoke]
      artifacts: [reports/script.xml]
red:
  jobs:
    broken: {suites: [suites/broken.splice.yaml]}
hold:
  jobs:
    wait:
      command: "{python} hold.py {pid} {release}"
      junit: reports/hold.xml
"""


@dataclass
class Served:
    url: str
    token: str
    read_token: str
    root: Path
    store_url: str
    proc: subprocess.Popen[str]

    def post(self, path: str, body: dict[str, Any] | None = None, token: str | None = "") -> Any:
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url + path, json=body or {}, headers=headers, timeout=30)

    def status(self, trigger_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/api/triggers/{trigger_id}", timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def until_done(self, trigger_id: str) -> dict[str, Any]:
        return until(
            lambda: (s := self.status(trigger_id))["status"] not in ("queued", "running") and s,
            f"triggered run {trigger_id} to end",
        )

    def row(self, trigger_id: str) -> dict[str, Any] | None:
        """The trigger's row in the store, as the server wrote it through."""
        store = Store.open(self.store_url)
        try:
            return trigger_rows.get(store, trigger_id)
        finally:
            store.close()

    def stored(self, run_id: str) -> dict[str, Any] | None:
        store = Store.open(self.store_url)
        try:
            return get_run(store, run_id)
        finally:
            store.close()


def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def project(root: Path) -> Path:
    (root / "suites").mkdir(parents=True)
    (root / "suites" / "smoke.splice.yaml").write_text(SMOKE)
    (root / "suites" / "broken.splice.yaml").write_text(BROKEN)
    (root / "write_junit.py").write_text(WRITE_JUNIT)
    (root / "hold.py").write_text(HOLD)
    flows = (
        WORKFLOWS.replace("{python}", sys.executable)
        .replace("{pid}", str(root / "hold.pid"))
        .replace("{release}", str(root / "release"))
    )
    (root / "splice.yaml").write_text("name: shop\nworkflows:\n" + textwrap.indent(flows, "  "))
    return root


@contextlib.contextmanager
def serve(
    root: Path,
    *args: str,
    after: Served | None = None,
    tokens_of: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Served]:
    """`splice serve --project ROOT ARGS` on a free port, with a write and a read token
    (new ones; `tokens_of` when the store has them; the store and tokens of the server
    `after` when restarting one); `env` is added to the server's environment; `port`
    instead of a free one."""
    store_url = after.store_url if after else f"sqlite:///{root.parent / 'server.db'}"
    if after is not None:
        tokens_of = (after.token, after.read_token)
    if tokens_of is None:
        store = Store.open(store_url)
        try:
            tokens_of = (tokens.create(store, "ci"), tokens.create(store, "viewer", scope="read"))
        finally:
            store.close()
    write, read = tokens_of
    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    env.pop("SPLICE_STORE_URL", None)
    proc = subprocess.Popen(
        [*SPLICE, "serve", "--port", str(port), "--store", store_url, "--project", str(root),
         *args],
        cwd=root.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"splice serve exited: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            return httpx.get(url + "/api/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        until(up, "splice serve to answer")
        yield Served(url, write, read, root, store_url, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, its parent gone or not waiting yet) holds nothing
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def read(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        return path.read_text()
    return ""


def ancestors(pid: int, stop: int) -> list[int]:
    """`pid` and its parents up to (not including) `stop`."""
    chain = []
    while pid not in (stop, 0, 1):
        chain.append(pid)
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])
    assert pid == stop, f"{chain} does not descend from {stop}"
    return chain
