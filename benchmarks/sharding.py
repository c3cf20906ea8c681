"""A latency-bound suite run five ways: one process, `--jobs 4`, `splice shard run` on
Dask (2 workers x 4 jobs; with the cluster's start, and on a cluster already up) and 2
static shards (`splice run --shard I/2 -j 4`, started at
once, as two CI jobs would be). Each testcase makes HTTP requests to a server that answers
in 50 ms and uses its own Redis database (`isolation: flush`: slot N gets database N).

Ideal = the total work (the testcases' own durations in the one-process run) divided by
the parallel slots. Durations come from history: the one-process run is recorded first;
Dask's planner reads the store, the static shards a `splice shard durations` file."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.common import COMMAND_TIMEOUT, SPLICE, BenchError, Table, ms, verdict

LATENCY = 0.050
REQUESTS = 2  # per testcase
TARGET_EFFICIENCY = 0.15  # the best distributed run within 15% of the ideal
TARGET_IMBALANCE = 0.10


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(LATENCY)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def _server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def write_project(root: Path, url: str, testcases: int) -> None:
    (root / "splice.yaml").write_text(
        "name: shardbench\n"
        "services:\n  cache: {kind: redis, isolation: flush}\n"
        f"vars: {{base_url: '{url}'}}\n"
        "suites: ['*.splice.yaml']\n"
    )
    lines = ["name: latency", "testcases:"]
    for i in range(testcases):
        lines += [f"  - name: testcase {i:03d}", "    steps:"]
        lines += ['      - http: {get: "{{ base_url }}/item"}', "        expect: {status: 200}"]
        lines += [f"      - redis: {{service: cache, command: SET k{i} v}}"]
        lines += ['      - http: {get: "{{ base_url }}/item"}', "        expect: {status: 200}"]
        lines += [f"      - redis: {{service: cache, command: GET k{i}}}"]
        lines += ["        expect: {value: v}"]
    (root / "latency.splice.yaml").write_text("\n".join(lines) + "\n")


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SPLICE_STORE_URL", None)
    return env


def _start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SPLICE, *args],
        cwd=root,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _wait(proc: subprocess.Popen[str], what: str) -> float:
    """Wait for `proc`; its end time. A failed run is a BenchError with its output."""
    out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
    end = time.perf_counter()
    if proc.returncode != 0:
        raise BenchError(f"{what} exited {proc.returncode}: {(err or out)[-800:]}")
    return end


def _timed(root: Path, *args: str) -> float:
    start = time.perf_counter()
    return _wait(_start(root, *args), " ".join(args[:4])) - start


def _together(root: Path, commands: list[list[str]]) -> list[float]:
    """Start the commands at once (as CI starts a matrix); each one's wall time."""
    start = time.perf_counter()
    procs = [_start(root, *args) for args in commands]
    ends: list[float] = [0.0] * len(procs)
    errors: list[BenchError] = []

    def wait(i: int) -> None:
        try:
            ends[i] = _wait(procs[i], f"shard {i + 1}") - start
        except BenchError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return ends


def _kept_cluster_run(root: Path, store: list[str]) -> float:
    """`splice shard run --on dask:ADDRESS` on a local cluster of 2 workers started before
    the clock (as `splice serve --dist dask` keeps one: `shards.dask.KeptCluster`), timed
    on its second run, when the workers have imported the drivers (a kept cluster's usual
    state)."""
    from splice._internal.shards.dask import KeptCluster

    cluster = KeptCluster(None, 2)
    try:
        args = ("shard", "run", "--shards", "2", "-j", "4", "--on", f"dask:{cluster.address}")
        _timed(root, *args, *store)  # warms the workers
        return _timed(root, *args, *store)
    finally:
        cluster.close()


def _work(report: Path) -> float:
    data = json.loads(report.read_text())
    return float(sum(tc["duration"] for s in data["suites"] for tc in s["testcases"]))


def measure(testcases: int = 200) -> Table:
    table = Table(
        f"Sharding: {testcases} latency-bound testcases ({REQUESTS} requests of "
        f"{LATENCY * 1000:.0f} ms and 2 Redis commands each, Redis isolated per testcase)",
        f".venv/bin/python -m benchmarks sharding{'' if testcases == 200 else ' --quick'}",
        ["how", "parallel slots", "wall time", "ideal (work / slots)", "above ideal"],
    )
    with tempfile.TemporaryDirectory(prefix="splice-bench-shard-") as tmp, _server() as url:
        root = Path(tmp)
        write_project(root, url, testcases)
        store = ["--store", f"sqlite:///{root / 'history.db'}"]
        report = root / "one.json"
        one = _timed(root, "run", "-q", *store, "--json", str(report))
        work = _work(report)  # the testcases' own time: what parallel slots share
        durations = root / "durations.json"
        _timed(root, "shard", "durations", *store, "-o", str(durations))
        jobs4 = _timed(root, "run", "-q", "-j", "4", "--no-store")
        dask = _timed(root, "shard", "run", "--shards", "2", "-j", "4", *store)
        kept = _kept_cluster_run(root, store)
        shard_args = ["run", "-q", "-j", "4", "--no-store", "--durations", str(durations)]
        ends = _together(root, [[*shard_args, "--shard", f"{i}/2"] for i in (1, 2)])
        static = max(ends)
        plan = subprocess.run(
            [SPLICE, "shard", "plan", "--shards", "2", "--durations", str(durations), "--json"],
            cwd=root,
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=COMMAND_TIMEOUT,
        )
        planned = json.loads(plan.stdout)["imbalance"]
    rows = [("one process", 1, one), ("--jobs 4", 4, jobs4)]
    rows += [("Dask: 2 workers x -j 4", 8, dask)]
    rows += [("Dask, cluster kept up (second run): 2 workers x -j 4", 8, kept)]
    rows += [("2 static shards x -j 4", 8, static)]
    for how, slots, wall in rows:
        ideal = work / slots
        table.rows.append([how, str(slots), ms(wall), ms(ideal), f"{wall / ideal - 1:+.0%}"])
    best = min(dask, kept, static) / (work / 8) - 1
    achieved = max(ends) / (sum(ends) / 2) - 1
    table.notes.append(
        f"target: the best distributed run within {TARGET_EFFICIENCY:.0%} of the ideal; "
        f"measured {best:+.0%}: {verdict(best <= TARGET_EFFICIENCY)}"
    )
    table.notes.append(
        f"target: static shard imbalance ≤ {TARGET_IMBALANCE:.0%} with durations from history; "
        f"planned {planned:.1%}, measured {achieved:.1%} (wall times of the two shards: "
        f"{ms(ends[0])}, {ms(ends[1])}): {verdict(max(planned, achieved) <= TARGET_IMBALANCE)}"
    )
    table.notes.append(
        f"total work {ms(work)} (the testcases' own durations in the one-process run); wall "
        "times include each process's start-up, its Redis start and, for Dask, the cluster's "
        "(but in the row of a cluster already up: the cluster `splice serve --dist dask` keeps, "
        "or a scheduler `--dist dask://ADDRESS` names); one run each"
    )
    return table
