"""`splice shard run` on a real Dask LocalCluster of two worker processes: the shards are
merged into one stored run; a worker killed mid-shard has its shard rerun elsewhere, and
the run records that it happened; an unreachable scheduler is a usage error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from splice._internal.shards.planner import imbalance_of
from splice._internal.store import Store
from splice._internal.store.query_runs import get_run
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
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("SPLICE_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )


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
