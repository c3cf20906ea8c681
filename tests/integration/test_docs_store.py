"""The store and dashboard outputs the docs show, produced by running those commands
(see tests/support/docs_blocks.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.docs_blocks import check_output, output_blocks

pytestmark = pytest.mark.integration

SPLICE = [sys.executable, "-m", "splice"]
DOC_PORT = 8470
DOC_HOME = "/home/ann"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _splice(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPLICE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _as_in_docs(text: str, home: Path, port: int | None = None) -> str:
    """The output with this test's folder and port as the docs write them."""
    text = text.replace(str(home), DOC_HOME)
    if port is not None:
        text = re.sub(rf"\b{port}\b", str(DOC_PORT), text)
    return text


def _serve_start(cwd: Path, *args: str) -> tuple[str, int]:
    """What `splice serve ARGS` prints before it serves, and the port it used."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    proc = subprocess.Popen(
        [*SPLICE, "serve", "--port", str(port), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("no write token yet") or line.startswith("error"):
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    return "".join(lines), port


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    """An empty project folder named like the docs' one: /home/ann/shop."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "splice.yaml").write_text("name: shop\n")
    yield folder


def test_serve_says_where_and_warns_of_open_reads(shop: Path) -> None:
    """`splice serve` names its address and store; beyond loopback it warns of open reads."""
    out, port = _serve_start(shop)
    check_output("dashboard-serve", _as_in_docs(out, shop.parent, port))
    out, port = _serve_start(shop, "--host", "0.0.0.0")
    shown = _as_in_docs(out, shop.parent, port)
    check_output("cli-serve-open-reads", shown)
    warning = [line for line in shown.splitlines() if line.startswith("warning:")]
    check_output("dashboard-open-reads", "\n".join(warning))


def test_store_demo_tokens_webhooks_and_pruning(tmp_path: Path) -> None:
    """`splice store demo`, `token add`, `webhook add`, `info` and `prune` print what the
    dashboard how-to shows (the token and the secret are random: shown abridged)."""
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = _splice("store", "demo", "--store", store, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    check_output("dashboard-store-demo", demo.stdout)
    token = _splice("store", "token", "add", "ci", "--store", store, cwd=tmp_path)
    assert token.returncode == 0, token.stderr
    printed = re.sub(r"spl_[\w-]{20,}", "spl_Qm9vYmFy…", token.stdout + token.stderr)
    check_output("dashboard-token", printed)
    hook = _splice(
        "store", "webhook", "add", "https://hooks.example.com/splice",
        "--event", "run.failed", "--event", "test.flaky", "--store", store, cwd=tmp_path,
    )  # fmt: skip
    assert hook.returncode == 0, hook.stderr
    check_output("dashboard-webhook", re.sub(r"secret: \S+", "secret: 3q2-…", hook.stdout))
    info = _splice("store", "info", "--store", store, cwd=tmp_path)
    prune = _splice("store", "prune", "--max-runs", "100", "--store", store, cwd=tmp_path)
    assert info.returncode == prune.returncode == 0, info.stderr + prune.stderr
    shown = (info.stdout + prune.stdout).replace(str(tmp_path), "/var/lib/splice")
    check_output("dashboard-prune", shown)


def test_api_events_example(tmp_path: Path) -> None:
    """The events posted in api.md's example are accepted, with the answer it shows."""
    from splice._internal.store import Store, tokens
    from splice._internal.web import create_app
    from splice._internal.web.server import BackgroundServer

    (block,) = output_blocks("api-events")
    command = "\n".join(block.lines)
    body = command.split("-d '", 1)[1].rsplit("'", 1)[0]
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        token = tokens.create(store, "ci", "write")
        with BackgroundServer(create_app(store, background=False)) as server:
            answer = httpx.post(
                f"{server.url}/api/runs/demo1/events",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=30,
            )
    finally:
        store.close()
    assert answer.status_code < 300, answer.text
    check_output("api-events", answer.text)
