"""The HTTP mock's throughput, latency and memory, side by side with WireMock.

    .venv/bin/python -m benchmarks.mock_server            # prints the Markdown section

One trivial stub (GET /hello -> 200 JSON), 10 keep-alive connections for 10 s on
loopback, driven by `wrk` (Debian package `wrk`) or, without it, by a Python load loop in
its own process (which tops out below what the mock can do, so the numbers are then a
lower bound). WireMock is its standalone jar from the npm package `wiremock`, installed
into a temporary folder and run with this machine's Java; skipped with a notice when it
does not install. Both servers get the same 15 s warm-up first (WireMock, measured: 600
req/s in its first 5 s under load, 3,000 after 15 s: the JVM needs its JIT).

Memory: the mock's resident set size (VmRSS) after its journal is full (10,000 requests
by default) and then every 50,000 requests up to 200,000: flat means the ring buffer
does its job.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import BenchError, Table

DURATION = 10.0
WARMUP = 15.0  # the JVM needs ~15 s of load before WireMock reaches its speed
CONNECTIONS = 10
MEMORY_REQUESTS = 200_000
BODY = {"id": 1, "name": "widget", "price": 9.5}
WIREMOCK_TARGET = 3_250.0  # req/s WireMock did on this machine when the issue was written


def _notice(message: str) -> None:
    print(f"  notice: {message}", file=sys.stderr, flush=True)


# --- the servers ---------------------------------------------------------------------------


@contextlib.contextmanager
def splice_mock() -> Iterator[tuple[str, int]]:
    """A splice mock started by splice's own environment: (url, pid of the server)."""
    from splice._internal.environment.services import Environment
    from splice._internal.project.loader import load_project

    with tempfile.TemporaryDirectory(prefix="splice-bench-mock-") as folder:
        root = Path(folder)
        stub = {"request": {"method": "GET", "path": "/hello"}, "response": {"json": BODY}}
        (root / "hello.json").write_text(json.dumps([stub]))
        (root / "splice.yaml").write_text(
            "name: bench\nservices:\n  api: {kind: mock, stubs: [hello.json]}\n"
        )
        with Environment(load_project(root / "splice.yaml")) as env:
            env.start()
            service = env.services["api"]
            assert service.pid is not None
            yield service.endpoint.url, service.pid


@contextlib.contextmanager
def wiremock() -> Iterator[tuple[str, int] | None]:
    """WireMock's standalone jar from npm, or None (with a notice) when unavailable."""
    java, npm = shutil.which("java"), shutil.which("npm")
    if not java or not npm:
        _notice("WireMock skipped: java or npm is not installed")
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="splice-bench-wiremock-") as folder:
        root = Path(folder)
        install = subprocess.run(
            [npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", "wiremock"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        jars = sorted(root.glob("node_modules/wiremock/build/wiremock-standalone-*.jar"))
        if install.returncode != 0 or not jars:
            last = (install.stderr or install.stdout).strip().splitlines()[-1:]
            _notice(f"WireMock skipped: npm install wiremock failed ({' '.join(last)})")
            yield None
            return
        (root / "wm" / "mappings").mkdir(parents=True)
        mapping = {
            "request": {"method": "GET", "url": "/hello"},
            "response": {
                "status": 200,
                "jsonBody": BODY,
                "headers": {"Content-Type": "application/json"},
            },
        }
        (root / "wm" / "mappings" / "hello.json").write_text(json.dumps(mapping))
        port = _free_port()
        # WireMock as users run it: its request journal on (the default, unbounded)
        args = [java, "-jar", str(jars[-1]), "--port", str(port), "--root-dir", str(root / "wm")]
        args.append("--disable-banner")
        log = (root / "wiremock.log").open("wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _await(url + "/__admin/mappings", proc, 60.0)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _await(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"WireMock exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"WireMock did not answer {url} within {timeout:g}s")


# --- load ----------------------------------------------------------------------------------


def load(url: str, seconds: float) -> tuple[float, float, int]:
    """(requests per second, p99 latency in ms, requests) of GET url/hello."""
    if shutil.which("wrk"):
        return _wrk(url, seconds)
    return _python_load(url, seconds)


def _wrk(url: str, seconds: float) -> tuple[float, float, int]:
    threads = min(CONNECTIONS, 2)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", url + "/hello"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    text = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    total = re.search(r"(\d+) requests in", text)
    if done.returncode != 0 or not rate or not p99 or not total:
        raise BenchError(f"wrk failed: {(done.stderr or text).strip()[:200]}")
    if re.search(r"Non-2xx or 3xx responses: \d+", text):
        raise BenchError("the server answered errors under load")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rate.group(1)), float(p99.group(1)) * scale, int(total.group(1))


def _python_load(url: str, seconds: float) -> tuple[float, float, int]:
    """The fallback: a separate process with one thread per connection."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.mock_server", "--load", url, "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"the load loop failed: {done.stderr.strip()[-200:]}")
    data = json.loads(done.stdout)
    return data["rate"], data["p99_ms"], data["requests"]


def _load_loop(url: str, seconds: float) -> None:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    stop = time.perf_counter() + seconds

    def worker(out: list[float]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while (start := time.perf_counter()) < stop:
            conn.request("GET", "/hello")
            conn.getresponse().read()
            out.append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=worker, args=(lat,)) for lat in latencies]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for lat in latencies for x in lat)
    p99 = every[int(len(every) * 0.99) - 1] if every else 0.0
    print(json.dumps({"rate": len(every) / elapsed, "p99_ms": p99 * 1000, "requests": len(every)}))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def _served(url: str) -> int:
    with urllib.request.urlopen(url + "/__splice/journal?limit=0", timeout=10) as response:
        return int(json.loads(response.read())["total"])


# --- the tables ----------------------------------------------------------------------------


def measure(seconds: float = DURATION, memory_requests: int = MEMORY_REQUESTS) -> list[Table]:
    tool = "wrk" if shutil.which("wrk") else "a Python load loop (install wrk for real numbers)"
    speed = Table(
        "HTTP mock: a trivial stub under load",
        ".venv/bin/python -m benchmarks.mock_server",
        ["server", "requests/s", "p99 latency", "requests served", "resident memory after"],
    )
    speed.notes.append(
        f"{CONNECTIONS} keep-alive connections for {seconds:g} s on loopback, driven by {tool}, "
        f"after a {WARMUP:g} s warm-up; the same run for each server."
    )
    memory = Table(
        "HTTP mock: resident memory over 200,000 requests",
        ".venv/bin/python -m benchmarks.mock_server",
        ["requests served", "resident memory (VmRSS)"],
    )
    with splice_mock() as (url, pid):  # a fresh mock, so the count starts at zero
        _memory_rows(url, pid, memory_requests, memory)
    with splice_mock() as (url, pid):
        warm = load(url, WARMUP)[2]
        rate, p99, served = load(url, seconds)
        speed.rows.append(
            [
                "splice mock",
                f"{rate:,.0f}",
                f"{p99:.2f} ms",
                f"{warm + served:,}",
                f"{rss_mb(pid):.0f} MB",
            ]
        )
    with wiremock() as found:
        if found is None:
            speed.rows.append(["WireMock", "skipped (see notice)", "", "", ""])
        else:
            wm_url, wm_pid = found
            wm_warm = load(wm_url, WARMUP)[2]
            wm_rate, wm_p99, wm_served = load(wm_url, seconds)
            speed.rows.append(
                [
                    "WireMock (standalone jar)",
                    f"{wm_rate:,.0f}",
                    f"{wm_p99:.2f} ms",
                    f"{wm_warm + wm_served:,}",
                    f"{rss_mb(wm_pid):.0f} MB",
                ]
            )
            speed.notes.append(f"splice mock / WireMock: {rate / wm_rate:.1f}x the requests/s")
    speed.notes.append(
        f"target: at least 3x WireMock's ~{WIREMOCK_TARGET:,.0f} req/s measured here, i.e. "
        f"{3 * WIREMOCK_TARGET:,.0f}; {'met' if rate >= 3 * WIREMOCK_TARGET else '**missed**'}"
    )
    return [speed, memory]


def _memory_rows(url: str, pid: int, total: int, table: Table) -> None:
    """RSS once the journal is full, then every 50,000 requests up to `total`."""
    marks = [10_000, *range(50_000, total + 1, 50_000)]
    served = _served(url)
    table.rows.append([f"{served:,} (started)", f"{rss_mb(pid):.1f} MB"])
    first: float | None = None
    for mark in marks:
        if served >= mark:  # a load second can pass several marks at once
            continue
        while served < mark:
            load(url, 1.0)
            served = _served(url)
        rss = rss_mb(pid)
        first = rss if first is None else first
        table.rows.append([f"{served:,}", f"{rss:.1f} MB"])
    if first is not None:
        growth = rss_mb(pid) - first
        table.notes.append(
            f"growth after the journal filled: {growth:+.1f} MB "
            f"({'flat' if abs(growth) < 5 else '**not flat**'}; the journal keeps the last "
            "10,000 requests)"
        )


def run() -> str:
    """The Markdown section for BENCHMARKS.md."""
    return "\n".join(table.markdown() for table in measure())


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--load", metavar="URL", help="internal: run the Python load loop")
    parser.add_argument("--seconds", type=float, default=DURATION)
    args = parser.parse_args()
    if args.load:
        _load_loop(args.load, args.seconds)
        return
    print(run())


if __name__ == "__main__":
    main()
