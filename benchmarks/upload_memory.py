"""Resident memory of `splice serve` and `splice import` while they take large uploads.

.venv/bin/python -m benchmarks.upload_memory            # 50 MB JUnit, 200 MB JSON report
.venv/bin/python -m benchmarks.upload_memory --junit-mb 10 --json-mb 20
PYTHONPATH=/path/to/other/checkout/src .venv/bin/python -m benchmarks.upload_memory

Each upload goes to a fresh `python -m splice serve --max-body 1GiB` (its own process and
SQLite store); the table shows its peak resident memory (VmHWM of /proc/PID/status) before
the upload and after it, and the same for `splice import` of the same file. splice is run
as `python -m splice`, so PYTHONPATH measures another checkout. Not part of
`python -m benchmarks`: it writes large files and takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks.common import Table

MB = 1024 * 1024
SPLICE = [sys.executable, "-m", "splice"]


def junit_file(path: Path, size_mb: float) -> int:
    """JUnit XML of about `size_mb` MB: many small testcases, one in ten failing."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n')
        suite = 0
        while out.tell() < size_mb * MB:
            out.write(f'<testsuite name="suite{suite}" timestamp="2026-01-01T00:00:00">\n')
            for case in range(1000):
                count += 1
                out.write(
                    f'<testcase classname="pkg.mod{suite}" name="test_{case}" time="0.001"'
                    f' file="tests/test_{suite}.py" line="{case}"'
                )
                if case % 10 == 0:
                    out.write(f'><failure message="assert {case} == 0"/></testcase>\n')
                else:
                    out.write("/>\n")
            out.write("</testsuite>\n")
            suite += 1
        out.write("</testsuites>\n")
    return count


def json_file(path: Path, size_mb: float) -> int:
    """A splice-run/1 report of about `size_mb` MB: testcases of five HTTP steps each."""
    body = "x" * 1500
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"schema": "splice-run/1", "id": "big", "status": "failed", "suites": [')
        suite = 0
        while out.tell() < size_mb * MB:
            cases = []
            for case in range(200):
                count += 1
                steps = [
                    {
                        "index": i,
                        "name": f"step {i}",
                        "executor": "http",
                        "status": "passed",
                        "request": {"method": "GET", "url": f"http://app/items/{i}"},
                        "response": {"status": 200, "body": body},
                    }
                    for i in range(5)
                ]
                cases.append(
                    {
                        "suite": f"s{suite}",
                        "name": f"t{case}",
                        "status": "passed",
                        "duration": 0.1,
                        "attempts": [{"number": 1, "status": "passed", "steps": steps}],
                    }
                )
            out.write(
                ("," if suite else "") + json.dumps({"name": f"s{suite}", "testcases": cases})
            )
            suite += 1
        out.write("]}")
    return count


_LIMIT: list[str] = []  # ["--max-body", "1GiB"] when the server knows the option


def _status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of `pid` in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) // 1024
    return values


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A `splice serve` subprocess over a fresh store, with a write token."""

    def __init__(self, folder: Path) -> None:
        self.store = f"sqlite:///{folder / 'r.db'}"
        made = subprocess.run(
            [*SPLICE, "store", "token", "add", "bench", "--store", self.store],
            capture_output=True,
            text=True,
            check=True,
        )
        self.token = made.stdout.split()[-1]
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*SPLICE, "serve", "--store", self.store, "--port", str(self.port), *_LIMIT],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError("splice serve did not start")

    def upload(self, path: Path, endpoint: str, content_type: str) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(MB):
                    yield chunk

        return httpx.post(
            self.url + endpoint,
            content=chunks(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
            timeout=600,
        )

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _import_peak(path: Path, folder: Path) -> tuple[int, float, str]:
    """Peak resident MB of `splice import PATH` (getrusage of the child), seconds, outcome."""
    code = (
        "import resource, subprocess, sys, time;"
        "t = time.monotonic();"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "print(time.monotonic() - t);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024);"
        "print(p.returncode)"
    )
    store = f"sqlite:///{folder / 'import.db'}"
    out = subprocess.run(
        [sys.executable, "-c", code, *SPLICE, "import", str(path), "--store", store],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return int(out[1]), float(out[0]), f"exit {out[2]}"


def measure(junit_mb: float, json_mb: float) -> Table:
    table = Table(
        "Resident memory of uploads and imports",
        "python -m benchmarks.upload_memory",
        [
            "file",
            "size",
            "serve: peak idle",
            "serve: peak after upload",
            "answer, time",
            "splice import: peak, time",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="splice-upload-") as tmp:
        folder = Path(tmp)
        cases = [
            ("JUnit XML", folder / "big.xml", junit_mb, junit_file, "/api/import/junit", "xml"),
            ("JSON report", folder / "big.json", json_mb, json_file, "/api/runs", "json"),
        ]
        for label, path, size, make, endpoint, kind in cases:
            count = make(path, size)
            sub = folder / kind
            sub.mkdir()
            served = Served(sub)
            try:
                idle = _status(served.proc.pid)["VmHWM"]
                start = time.monotonic()
                reply = served.upload(path, endpoint, f"application/{kind}")
                took = time.monotonic() - start
                after = _status(served.proc.pid)["VmHWM"]
            finally:
                served.close()
            peak, seconds, outcome = _import_peak(path, sub)
            table.rows.append(
                [
                    f"{label} ({count} testcases)",
                    f"{path.stat().st_size / MB:.0f} MB",
                    f"{idle} MB",
                    f"{after} MB",
                    f"{reply.status_code}, {took:.0f} s",
                    f"{peak} MB, {seconds:.0f} s ({outcome})",
                ]
            )
            path.unlink()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit-mb", type=float, default=50)
    parser.add_argument("--json-mb", type=float, default=200)
    args = parser.parse_args()
    os.environ.setdefault("SPLICE_NO_COLOR", "1")
    helped = subprocess.run(
        [*SPLICE, "serve", "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--max-body" in helped:
        _LIMIT.extend(["--max-body", "1GiB"])
    print(measure(args.junit_mb, args.json_mb).markdown())


if __name__ == "__main__":
    main()
