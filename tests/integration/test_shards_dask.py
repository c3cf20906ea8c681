"""`splice shard run` on a real Dask LocalCluster of two worker processes: the shards are
merged into one stored run; a worker killed mid-shard has its shard rerun elsewhere, and
the run records that it happened; the dashboard follows each shard while it runs (its
worker, state, testcases done so far); an unreachable scheduler is a usage error."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.shards.planner import imbalance_of
from splice._internal.store import Store
from splice._internal.store.query_runs import get_run
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer
from tests.support.cli import cli_env, splice_cli, takes_ctrl_c
from tests.support.openapi_shards import merged_coverage, openapi_project

pytest.importorskip("distributed", reason="install splice[dask]")
pytestmark = pytest.mark.integration


def _suite(root: Path, name: str, count: int, first_step: str = "") -> None:
    lines = [f"name: {name}", "testcases:"]
    for i in range(count):
        lines += [f"  - name: t{i}", "    steps:"]
        if i == 0 and first_step:
            lines.append(f"      - exec: {first_step}")
        lines.append('      - exec: "echo ok"')
        lines.append('        expect: {stdout: "ok\\n"}')
    (root / f"{name}.splice.yaml").write_text("\n".join(lines) + "\n")


def _splice(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return splice_cli(root, *args, columns=200, timeout=240)


def _stored(root: Path, output: str) -> dict[str, Any]:
    found = re.search(r"stored as run (\w+)", output)
    assert found, output
    store = Store.open(None, root)
    try:
        run = get_run(store, found.group(1))
    finally:
        store.close()
    assert run is not None
    return run


def test_two_shards_on_a_local_cluster_are_one_run(tmp_path: Path) -> None:
    """Ten testcases over two worker processes: each shard ran in its own process, and
    the store holds one run with all ten; the second run plans from recorded durations."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _suite(tmp_path, "a", 6)
    _suite(tmp_path, "b", 4)
    result = _splice(tmp_path, "shard", "run", "--shards", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 testcases in 2 shards by counts (no history)" in result.stdout
    pids = set(re.findall(r"done on \S+ pid (\d+)", result.stdout))
    assert len(pids) == 2, result.stdout
    run = _stored(tmp_path, result.stdout)
    assert run["status"] == "passed" and run["source"] == "shards"
    names = sorted(f"{s['name']}::{tc['name']}" for s in run["suites"] for tc in s["testcases"])
    assert names == sorted([*(f"a::t{i}" for i in range(6)), *(f"b::t{i}" for i in range(4))])
    # the run page's shards: the worker process of each, its testcases, the imbalance
    shards = run["shards"]
    assert [(s["name"], s["state"], s["status"]) for s in shards] == [
        ("shard 1/2", "finished", "passed"),
        ("shard 2/2", "finished", "passed"),
    ]
    assert {str(s["pid"]) for s in shards} == pids
    assert [s["done"] for s in shards] == [s["planned"] for s in shards] == [5, 5]
    durations = [s["duration"] for s in shards]
    assert run["shard_imbalance"] == pytest.approx(imbalance_of(durations))
    again = _splice(tmp_path, "shard", "run", "--shards", "2")
    assert "by recorded durations" in again.stdout, again.stdout


def test_splice_run_dist_is_shard_run_with_its_reports(tmp_path: Path) -> None:
    """`splice run --dist dask --dist-shards 2`: the same run as `splice shard run`, and
    the reports `splice run` writes, of every testcase of every shard."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _suite(tmp_path, "a", 3)
    _suite(tmp_path, "b", 2)
    result = _splice(
        tmp_path,
        "run",
        "--dist",
        "dask",
        "--dist-shards",
        "2",
        "--junit",
        "out.xml",
        "--html",
        "r.html",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 testcases in 2 shards" in result.stdout
    assert len(set(re.findall(r"done on \S+ pid (\d+)", result.stdout))) == 2, result.stdout
    assert "JUnit report: out.xml" in result.stdout and "HTML report: r.html" in result.stdout
    run = _stored(tmp_path, result.stdout)
    assert run["status"] == "passed" and run["source"] == "shards"
    junit = (tmp_path / "out.xml").read_text()
    assert junit.count("<testcase ") == 5 and 'failures="0"' in junit
    page = (tmp_path / "r.html").read_text()
    assert f"<title>splice passed · {run['id']}" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dist", "dask", "--shard", "1/2"), "--shard does not go with --dist"),
        (("--dist", "dask", "--warm"), "--warm does not go with --dist"),
        (("--dist", "dask", "-x"), "-x does not go with --dist"),
        (("--dist", "dask", "--contracts"), "--contracts does not go with --dist"),
        (("--dist", "spark"), "unknown shard back end 'spark'"),
    ],
    ids=["static-shard", "warm", "fail-fast", "contracts", "unknown-back-end"],
)
def test_splice_run_dist_refuses_what_shards_cannot_honour(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """An option a run in shards would drop is a usage error with a hint, before any
    cluster starts; an unknown back end names `--dist` in its hint."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _suite(tmp_path, "a", 1)
    result = _splice(tmp_path, "run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "hint:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if "spark" in args:
        assert "`--dist dask`" in result.stderr, result.stderr


def test_dask_shards_check_openapi_steps_and_merge_their_coverage(tmp_path: Path) -> None:
    """Each worker checks its http steps against the document and keeps its coverage;
    the stored run has the union of both shards' operations and statuses."""
    root = openapi_project(tmp_path / "project")
    result = _splice(root, "shard", "run", "--shards", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    merged_coverage(_stored(root, result.stdout))


KILL_WORKER = """
import os, signal, time
from pathlib import Path

marker = Path({marker!r})
if not marker.exists():
    marker.touch()
    pid = os.getppid()
    while pid > 1:  # the nearest ancestor that multiprocessing spawned: the Dask worker
        if b"spawn_main" in Path(f"/proc/{{pid}}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
            time.sleep(5)
            break
        pid = int(Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[1])
"""


def test_a_worker_killed_mid_shard_has_its_shard_rerun(tmp_path: Path) -> None:
    """The first testcase kills its worker process (kill -9) the first time it runs; Dask
    runs the shard again on a fresh worker, every testcase passes, and the run says so."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    marker = tmp_path / "killed-once"
    (tmp_path / "kill_worker.py").write_text(KILL_WORKER.format(marker=str(marker)))
    _suite(tmp_path, "a", 4, first_step=f"[{sys.executable}, kill_worker.py]")
    result = _splice(tmp_path, "shard", "run", "--shards", "2")
    assert marker.exists()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run 2 times (a worker was lost)" in result.stdout
    run = _stored(tmp_path, result.stdout)
    assert run["status"] == "passed"
    assert sum(len(s["testcases"]) for s in run["suites"]) == 4
    notes = [log["content"] for log in run["logs"] if log["kind"] == "shard"]
    assert notes and "a worker was lost" in notes[0]
    assert sorted(s["starts"] for s in run["shards"]) == [1, 2]
    assert [s["state"] for s in run["shards"]] == ["finished", "finished"]


def test_an_unreachable_scheduler_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--on dask:tcp://127.0.0.1:9` fails within the connect timeout, naming the address
    and the timeout; a bad SPLICE_DASK_CONNECT_TIMEOUT is a usage error of its own."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _suite(tmp_path, "a", 2)
    args = ("shard", "run", "--on", "dask:tcp://127.0.0.1:9", "--no-store")
    monkeypatch.setenv("SPLICE_DASK_CONNECT_TIMEOUT", "1500ms")
    result = _splice(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1.5s" in result.stderr
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("SPLICE_DASK_CONNECT_TIMEOUT", "soon")
    result = _splice(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "SPLICE_DASK_CONNECT_TIMEOUT: expected a duration" in result.stderr
    assert "Traceback" not in result.stderr


def _slow_suite(root: Path, count: int, first_step: str = "") -> None:
    """`count` testcases of a second each: a shard runs long enough to be seen running."""
    lines = ["name: slow", "testcases:"]
    for i in range(count):
        lines += [f"  - name: t{i}", "    steps:"]
        if i == 0 and first_step:
            lines.append(f"      - exec: {first_step}")
        lines.append('      - exec: "sleep 1"')
    (root / "slow.splice.yaml").write_text("\n".join(lines) + "\n")


class Watched:
    """`splice shard run` in the background, its run followed through the dashboard (the
    JSON API and the run page over the project's store) until it exits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[dict[str, Any]] = []  # every shard of every poll while it ran
        self.pages: list[str] = []
        self.run_id = ""

    def follow(self, on_page: Any, *args: str) -> subprocess.CompletedProcess[str]:
        store = Store.open(None, self.root)  # migrated before the run opens it
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        env.pop("SPLICE_STORE_URL", None)
        out = self.root / "out.txt"
        try:
            with (
                BackgroundServer(create_app(store, background=False)) as server,
                out.open("w") as sink,
            ):
                proc = subprocess.Popen(
                    [sys.executable, "-m", "splice", "shard", "run", "--shards", "2", *args],
                    cwd=self.root,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
                try:
                    self._poll(server.url, proc, on_page)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait(timeout=60)
        finally:
            store.close()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(), "")

    def _poll(self, url: str, proc: subprocess.Popen[bytes], on_page: Any) -> None:
        deadline = time.monotonic() + 240
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the sharded run did not end in 240 s"
            if not self.run_id:
                running = httpx.get(f"{url}/api/runs?status=running", timeout=10).json()
                self.run_id = running["runs"][0]["id"] if running["runs"] else ""
            if self.run_id:
                run = httpx.get(f"{url}/api/runs/{self.run_id}", timeout=10).json()
                if run["status"] == "running":
                    self.seen.extend(run["shards"])
                    page = httpx.get(f"{url}/runs/{self.run_id}", timeout=10).text
                    if on_page(page):
                        self.pages.append(page)
            time.sleep(0.05)  # polling a condition with a deadline, not synchronising

    def progress(self) -> list[tuple[str, str]]:
        """(shard, state) of each `shard-progress` the run kept, in the order kept."""
        with sqlite3.connect(self.root / ".splice" / "results.db") as conn:
            rows = conn.execute(
                "SELECT name, content FROM artifacts WHERE run_id = ? AND kind = ? ORDER BY id",
                (self.run_id, "shard-progress"),
            ).fetchall()
        return [(name, json.loads(content)["state"]) for name, content in rows]


def _shard_rows(page: str) -> str:
    return page.split('<table class="shards">', 1)[1].split("</table>", 1)[0]


def test_the_run_page_shows_each_dask_shard_while_it_runs(tmp_path: Path) -> None:
    """While the run goes on, the store, `GET /api/runs/{id}` and the run page show a shard
    running on its worker (address, host, pid) with some but not all of its testcases
    done; each shard was queued first; afterwards all are done, with their workers, the
    critical path and the imbalance."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _slow_suite(tmp_path, 8)
    watched = Watched(tmp_path)

    def live(page: str) -> bool:  # a page with a shard running on a worker, partly done
        rows = _shard_rows(page)
        return "s-running" in rows and "tcp://" in rows and "so far" in rows

    result = watched.follow(live)
    assert result.returncode == 0, result.stdout
    partly = [
        s
        for s in watched.seen
        if s["state"] == "running" and 0 < s["done"] < s["planned"] and s["since"]
    ]
    assert partly, watched.seen
    assert all(s["worker"].startswith("tcp://") and s["pid"] for s in partly)
    assert {s["host"] for s in partly} == {socket.gethostname()}
    assert watched.pages, "no page showed a shard running on its worker"
    kept = watched.progress()
    for name in ("shard 1/2", "shard 2/2"):
        states = [state for shard, state in kept if shard == name]
        assert states[0] == "queued" and "running" in states, kept
        assert "rerun" not in states
    run = _stored(tmp_path, result.stdout)
    shards = run["shards"]
    assert [(s["state"], s["status"], s["done"], s["planned"]) for s in shards] == [
        ("finished", "passed", 4, 4),
        ("finished", "passed", 4, 4),
    ]
    assert all(s["worker"].startswith("tcp://") for s in shards)
    assert {s["name"]: s["worker"] for s in partly} == {
        s["name"]: s["worker"] for s in shards if s["name"] in {p["name"] for p in partly}
    }
    critical = run["shard_critical"]
    assert critical["name"] == max(shards, key=lambda s: s["finished_at"])["name"]
    assert critical["total"] >= critical["ran"] > 0
    assert run["shard_imbalance"] is not None


def test_a_shard_whose_worker_is_killed_shows_as_rerun_while_it_runs_again(
    tmp_path: Path,
) -> None:
    """The first testcase kills its worker (kill -9) the first time: the dashboard shows
    the shard rerun while it runs again, then done, having run twice."""
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    marker = tmp_path / "killed-once"
    (tmp_path / "kill_worker.py").write_text(KILL_WORKER.format(marker=str(marker)))
    _slow_suite(tmp_path, 6, first_step=f"[{sys.executable}, kill_worker.py]")
    watched = Watched(tmp_path)
    result = watched.follow(lambda page: "s-rerun" in _shard_rows(page))
    assert marker.exists()
    assert result.returncode == 0, result.stdout
    assert any(s["state"] == "rerun" for s in watched.seen), watched.seen
    assert watched.pages, "no page showed a shard rerun"
    assert any(state == "rerun" for _, state in watched.progress())
    run = _stored(tmp_path, result.stdout)
    assert sorted(s["starts"] for s in run["shards"]) == [1, 2]
    assert [s["state"] for s in run["shards"]] == ["finished", "finished"]
    assert sum(s["done"] for s in run["shards"]) == 6


def test_a_shard_waiting_for_a_worker_is_queued_then_runs(tmp_path: Path) -> None:
    """Two shards on a scheduler with one worker (`--on dask:ADDRESS`): while the first
    runs, the other is queued, waiting for a worker, on the page too; then it runs on the
    same worker, and it is the critical path, having waited."""
    pytest.importorskip("distributed")
    (tmp_path / "splice.yaml").write_text("name: sharded\n")
    _slow_suite(tmp_path, 6)
    watched = Watched(tmp_path)
    from splice._internal.shards.dask import local_cluster

    (tmp_path / "dask").mkdir()
    cluster = local_cluster(1, tmp_path / "dask")  # its files (Dask's scratch too) in there
    try:
        result = watched.follow(
            lambda page: "s-queued" in _shard_rows(page) and "waiting for a worker" in page,
            "--on",
            f"dask:{cluster.scheduler_address}",
        )
    finally:
        cluster.close()
    assert result.returncode == 0, result.stdout
    both = [
        (shards[0], shards[1])
        for shards in zip(watched.seen[::2], watched.seen[1::2], strict=True)
        if {shards[0]["state"], shards[1]["state"]} == {"running", "queued"}
    ]
    assert both, watched.seen
    waiting = {b["name"] if b["state"] == "queued" else a["name"] for a, b in both}
    assert len(waiting) == 1
    assert watched.pages, "no page showed a shard waiting for a worker"
    run = _stored(tmp_path, result.stdout)
    assert [(s["state"], s["done"]) for s in run["shards"]] == [("finished", 3)] * 2
    assert len({s["worker"] for s in run["shards"]}) == 1
    critical = run["shard_critical"]
    assert critical["name"] == waiting.pop()
    assert critical["waited"] > 0


def _descendants(pid: int) -> set[int]:
    """The processes below `pid` now (its children, theirs, ...)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.parametrize("own_tmp", [False, True], ids=["system-tmp", "SPLICE_TMPDIR"])
def test_kill_9_of_a_shard_run_leaves_no_worker_and_its_folders_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_tmp: bool
) -> None:
    """`kill -9` of `splice shard run` while its shards run: the local cluster's worker
    processes go with it, and the folders it made (its own, Dask's scratch) carry its name,
    so the next splice run that starts a service removes them, in SPLICE_TMPDIR too."""
    if own_tmp:
        (tmp_path / "t").mkdir()
        monkeypatch.setenv("SPLICE_TMPDIR", str(tmp_path / "t"))

    (tmp_path / "splice.yaml").write_text("name: killed\n")
    _slow_suite(tmp_path, 6)
    env = cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "shard", "run", "--shards", "2", "--no-store"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    tmp = tmp_path / "t" if own_tmp else Path(tempfile.gettempdir())
    deadline = time.monotonic() + 120
    mine: list[Path] = []
    while time.monotonic() < deadline and len(mine) < 2:
        mine = sorted(tmp.glob(f"splice-*-o{proc.pid}.*"))
        time.sleep(0.1)
    assert [p.name.split("-o")[0] for p in mine] == ["splice-dask", "splice-shards"], mine
    while time.monotonic() < deadline and len(_descendants(proc.pid)) < 4:
        time.sleep(0.1)  # the nannies and their workers
    workers = _descendants(proc.pid)
    assert workers, "no worker process started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{w}").exists() for w in workers), workers
    later = tmp_path / "later"
    later.mkdir()
    (later / "splice.yaml").write_text("name: later\nservices:\n  cache: {kind: redis}\n")
    (later / "a.splice.yaml").write_text(
        "name: a\ntestcases:\n  - name: p\n    steps:\n      - redis: {command: [PING]}\n"
    )
    done = _splice(later, "run", "--no-store", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [p for p in mine if p.exists()], mine


def test_ctrl_c_of_a_run_in_shards_says_so_and_stores_it_interrupted(tmp_path: Path) -> None:
    """SIGINT while the shards run: exit 130, a line saying how many shards had finished,
    and the run stored as interrupted."""
    (tmp_path / "splice.yaml").write_text("name: stopped\n")
    _slow_suite(tmp_path, 6)
    env = cli_env(200)
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--dist", "dask", "--dist-shards", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=takes_ctrl_c,  # noqa: PLW1509
    )
    assert proc.stdout is not None
    with proc.stdout:
        first = proc.stdout.readline()  # the plan: printed once the shards are about to go
        assert "6 testcases in 2 shards" in first, first
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
    assert proc.wait(timeout=120) == 130, first + rest
    assert re.search(r"interrupted \(Ctrl-C or SIGTERM\): [0-2] of 2 shards had finished", rest)
    run = _stored(tmp_path, rest)
    assert run["status"] == "interrupted", run["status"]
