"""What `splice serve` checks before a request reaches the app: the `Host` it names (DNS
rebinding), the size of its body (413), with the server's memory bounded while it takes
large uploads; and what it says at start-up when its reads are open beyond this machine."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from splice._internal.store import Store, tokens
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
JUNIT = b'<testsuite name="s"><testcase classname="c" name="n" time="0.1"/></testsuite>'


class Served:
    def __init__(self, store: Store, url: str) -> None:
        self.store, self.url = store, url
        self.token = tokens.create(store, "w", "write")
        self.port = int(url.rsplit(":", 1)[1])

    def runs(self) -> int:
        return len(httpx.get(f"{self.url}/api/runs").json()["runs"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that knows the names dash.example.com and *.corp.example, and takes 1 MiB."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('guard') / 'r.db'}")
    app = create_app(
        store,
        background=False,
        allowed_hosts=["dash.example.com", "*.corp.example"],
        max_body=MIB,
    )
    with BackgroundServer(app) as server:
        yield Served(store, server.url)
    store.close()


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "localhost.evil.example",
        "dash.example.com.evil.example",
        "corp.example.evil.example",
        "[::1",
        "a b",
    ],
)
def test_a_request_naming_a_foreign_host_is_refused(served: Served, host: str) -> None:
    """A page and an API read naming another host (what a DNS-rebinding page sends) get 400
    with the option that would allow the name; an upload with a write token stores nothing."""
    host = host.format(port=served.port)
    before = served.runs()
    for path in ("/", "/api/runs", "/static/splice.js"):
        reply = httpx.get(served.url + path, headers={"Host": host})
        assert reply.status_code == 400, (path, reply.text)
    api = httpx.get(served.url + "/api/runs", headers={"Host": host}).json()["detail"]
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if " " not in host and "[" not in host:
        assert f"--allowed-host {name}" in api, api
    upload = httpx.post(
        served.url + "/api/import/junit",
        content=JUNIT,
        headers={"Host": host, "Authorization": f"Bearer {served.token}"},
    )
    assert upload.status_code == 400 and served.runs() == before


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "LOCALHOST",
        "[::1]:{port}",
        "10.1.2.3:{port}",
        "dash.example.com",
        "dash.example.com:443",
        "ci.corp.example",
        "localhost:9999",  # an SSH tunnel's own port
    ],
)
def test_addresses_localhost_and_allowed_names_are_answered(served: Served, host: str) -> None:
    """IP addresses, localhost and the names given with --allowed-host (wildcards too) are
    served, whatever the port."""
    reply = httpx.get(served.url + "/api/health", headers={"Host": host.format(port=served.port)})
    assert reply.status_code == 200, reply.text


def test_a_body_past_the_limit_gets_413_and_stores_nothing(served: Served) -> None:
    """Past --max-body, an upload is refused with 413 naming the option, whether its
    Content-Length says so up front or its chunks pass the limit as they arrive."""
    before = served.runs()
    headers = {"Authorization": f"Bearer {served.token}", "Content-Type": "application/xml"}
    big = b"<testsuite>" + b" " * (2 * MIB) + b"</testsuite>"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    for content in (big, chunks()):
        reply = httpx.post(
            f"{served.url}/api/import/junit", content=content, headers=headers, timeout=60
        )
        assert reply.status_code == 413, reply.text
        assert "--max-body" in reply.json()["detail"] and "1 MiB" in reply.json()["detail"]
    assert served.runs() == before
    fits = httpx.post(f"{served.url}/api/import/junit", content=JUNIT, headers=headers)
    assert fits.status_code == 201 and served.runs() == before + 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) // 1024
    return out


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SPLICE_STORE_URL": f"sqlite:///{tmp_path / 'r.db'}"},
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/api/health").status_code in (200, 401):  # 401: --private
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"splice serve did not start: {proc.communicate()[0]}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


def _junit(path: Path, size: int) -> None:
    """JUnit XML of `size` bytes or a little more: about 20,000 testcases, a fifth failing,
    each with 2.5 KB of output (bytes are what the memory bound is about; fewer testcases
    keep the store's share of the test's time small)."""
    output = "<system-out>" + "INFO pkg.module{0}: a line of what the test printed\n" * 48
    passing = (
        '<testcase classname="pkg.module{0}" name="test_{0}" time="0.01" line="{0}">'
        + output
        + "</system-out></testcase>\n"
    )
    failing = (
        '<testcase classname="pkg.module{0}" name="test_{0}" time="0.01" line="{0}">'
        '<failure message="assert {0} == 0">' + "E  assert False\n" * 40 + "</failure>"
        "</testcase>\n"
    )
    with path.open("w") as out:
        out.write("<testsuites>\n")
        n = 0
        while out.tell() < size:
            out.write(f'<testsuite name="suite{n}">\n')
            for i in range(n * 1000, n * 1000 + 1000):
                out.write((failing if i % 5 == 0 else passing).format(i))
            out.write("</testsuite>\n")
            n += 1
        out.write("</testsuites>\n")


def test_large_uploads_keep_the_servers_memory_bounded(tmp_path: Path) -> None:
    """A 50 MB JUnit upload below the limit is stored, and a 100 MB one streamed past it gets
    413, while the server's peak resident memory (VmHWM) stays under 300 MB."""
    report = tmp_path / "big.xml"
    _junit(report, 50 * MIB)
    cases = report.read_bytes().count(b"<testcase ")
    token = subprocess.run(
        [sys.executable, "-m", "splice", "store", "token", "add", "ci"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SPLICE_STORE_URL": f"sqlite:///{tmp_path / 'r.db'}"},
    ).stdout.strip()
    proc, url = _serve(tmp_path)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    try:

        def chunks(path: Path, repeat: int = 1) -> Iterator[bytes]:
            for _ in range(repeat):
                with path.open("rb") as handle:
                    while chunk := handle.read(MIB):
                        yield chunk

        stored = httpx.post(
            f"{url}/api/import/junit", content=chunks(report), headers=headers, timeout=600
        )
        assert stored.status_code == 201, stored.text
        after_stored = _status(proc.pid)
        refused = httpx.post(
            f"{url}/api/import/junit", content=chunks(report, 2), headers=headers, timeout=600
        )
        assert refused.status_code == 413, refused.text
        after_refused = _status(proc.pid)
        listed = httpx.get(f"{url}/api/runs").json()["runs"]
        assert [(r["id"], r["total"], r["done"]) for r in listed] == [
            (stored.json()["id"], cases, cases)
        ]
    finally:
        _stop(proc)
    assert after_stored["VmHWM"] < 300, after_stored
    assert after_refused["VmHWM"] < 300, after_refused


def _doc_warning() -> str:
    """The warning as cli.md shows it; the dashboard how-to shows the same line."""
    text = (ROOT / "docs" / "reference" / "cli.md").read_text()
    block = text.split("$ splice serve --host 0.0.0.0\n", 1)[1].split("```", 1)[0]
    line = next(line for line in block.splitlines() if line.startswith("warning:"))
    assert line in (ROOT / "docs" / "how-to" / "dashboard.md").read_text()
    return line


def test_serve_says_reads_are_open_when_it_listens_beyond_loopback(tmp_path: Path) -> None:
    """Listening on 0.0.0.0 without --private prints the warning of the docs; with
    --private, or on 127.0.0.1, it does not."""
    for args, warned in (
        (["--host", "0.0.0.0"], True),
        (["--host", "0.0.0.0", "--private"], False),
        ([], False),
    ):
        proc, _ = _serve(tmp_path, *args)
        out = re.sub(r"\s+", " ", _stop(proc))
        port = re.search(r":(\d+)/", out)
        assert port is not None, out
        expected = _doc_warning().replace("8470", port.group(1))
        assert (expected in out) is warned, (args, out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allowed-host", "bad host"], "is not a host name"),
        (["--allowed-host", "a.*.example"], "is not a host name"),
        (["--max-body", "lots"], "is not a size"),
        (["--max-body", "10"], "too small"),
    ],
)
def test_bad_serve_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    """A malformed --allowed-host or --max-body exits 2 with what to give instead."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "splice",
            "serve",
            "--store",
            f"sqlite:///{tmp_path / 'r.db'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
