"""`splice serve --project --dist dask[:ADDRESS]`: triggered suite runs go to a real Dask
cluster as `splice shard run`, one stored run under the trigger's id; the server's own
local cluster goes when the server does; a scheduler nobody answers, or `--dist` without
`--project`, is a usage error when the server starts."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.shards.dask import PRELOAD
from tests.support.cli import splice_cli
from tests.support.docs_blocks import check_output
from tests.support.trigger_server import Served, alive, free_port, project, serve, until

pytest.importorskip("distributed", reason="install splice[dask]")
pytestmark = pytest.mark.integration

_DONE_ON = re.compile(r"shard (\d)/2 done on \S+ pid (\d+)")


# a LocalCluster of two worker processes in a process of its own (distributed's sockets
# would outlive a cluster closed inside the test process); it prints its scheduler's address
# and the workers' pids, and closes when its standard input does
CLUSTER = f"""
import logging, os, sys
import distributed

if __name__ == "__main__":
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.ERROR, preload=[{PRELOAD!r}])
    client = distributed.Client(cluster)
    pids = sorted(client.run(os.getpid).values())
    print(cluster.scheduler_address, *pids, flush=True)
    sys.stdin.read()
    client.close()
    cluster.close()
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, set[int]]]:
    """A real LocalCluster of two worker processes: its scheduler's address and their pids."""
    folder = tmp_path_factory.mktemp("dask")
    script = folder / "cluster.py"
    script.write_text(CLUSTER)
    # Dask's scratch folder (else `dask-scratch-space` in /tmp, left after the test)
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(folder)}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        address, *pids = proc.stdout.readline().split()
        assert address.startswith("tcp://") and len(pids) == 2, (address, pids)
        yield address, {int(pid) for pid in pids}
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert not any(alive(int(pid)) for pid in pids)


def _shards_of(served: Served, trigger_id: str) -> dict[str, Any]:
    """Run the smoke suite through the API to its end; its answer and the shards' pids."""
    done = served.until_done(trigger_id)
    assert done["status"] == "passed", done["log"]
    pids = {int(pid) for _, pid in _DONE_ON.findall("\n".join(done["log"]))}
    run = served.stored(trigger_id)
    assert run is not None and run["source"] == "shards" and run["status"] == "passed"
    names = sorted(tc["name"] for s in run["suites"] for tc in s["testcases"])
    assert names == ["an untagged check", "the home page answers"]
    assert [s["state"] for s in run["shards"]] == ["finished", "finished"]
    return {"done": done, "pids": pids, "run": run}


def test_triggered_suites_run_as_shards_on_the_given_scheduler(
    tmp_path: Path, cluster: tuple[str, set[int]]
) -> None:
    """`--dist dask://HOST:PORT`: a triggered suite run is `splice shard run` in two shards,
    each on a worker of that cluster, stored as one run under the trigger's id; a workflow
    still runs on the server's machine."""
    address, workers = cluster
    given = address.replace("tcp://", "dask://")
    with serve(project(tmp_path / "shop"), "--dist", given, "--dist-shards", "2") as served:
        started = served.post("/api/suites/runs", {"suites": ["suites/smoke.splice.yaml"]})
        assert started.status_code == 202, started.text
        shards = _shards_of(served, started.json()["id"])
        assert len(shards["pids"]) == 2 and shards["pids"] <= workers, shards["done"]["log"]
        flow = served.post("/api/workflows/red/runs").json()
        ended = served.until_done(flow["id"])
        stored = served.stored(flow["id"])
        assert ended["status"] == "failed" and stored is not None
        assert stored["source"] == "workflow"


def test_the_server_s_own_cluster_runs_them_and_goes_with_it(tmp_path: Path) -> None:
    """`--dist dask`: the server starts a local cluster of --dist-shards workers; triggered
    suites run on its workers (neither the server nor the run's process); when the server
    stops, so do they."""
    with serve(project(tmp_path / "shop"), "--dist", "dask", "--dist-shards", "2") as served:
        started = served.post("/api/suites/runs", {"suites": ["suites/smoke.splice.yaml"]})
        assert started.status_code == 202, started.text
        shards = _shards_of(served, started.json()["id"])
        pids = shards["pids"]
        assert len(pids) == 2 and served.proc.pid not in pids
        assert all(alive(pid) for pid in pids)  # kept for the next run
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=120) in (0, -signal.SIGTERM)
        until(lambda: not any(alive(pid) for pid in pids), "the cluster's workers to stop")


SLOW = """
name: slow
testcases:
  - name: waits
    steps: [{exec: "sleep 3"}]
  - name: waits too
    steps: [{exec: "sleep 3"}]
"""


def test_a_stopped_dask_run_is_interrupted_and_leaves_no_folder(tmp_path: Path) -> None:
    """`DELETE /api/triggers/{id}` of a suite run on the server's cluster: `splice shard
    run` takes the SIGTERM as an interrupt, so the trigger and its stored run are
    `interrupted` (exit 130), and no temporary folder is left once the server stops."""
    root = project(tmp_path / "shop")
    (root / "suites" / "slow.splice.yaml").write_text(SLOW)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch), "SPLICE_TMPDIR": str(scratch)}
    with serve(root, "--dist", "dask", env=env) as served:
        started = served.post("/api/suites/runs", {"suites": ["suites/slow.splice.yaml"]})
        trigger_id = started.json()["id"]
        until(lambda: served.stored(trigger_id), "the run to be stored")
        stop = httpx.delete(
            f"{served.url}/api/triggers/{trigger_id}",
            headers={"Authorization": f"Bearer {served.token}"},
            timeout=30,
        )
        assert stop.status_code == 202, stop.text
        done = served.until_done(trigger_id)
        assert (done["status"], done["exit_code"]) == ("interrupted", 130), done["log"]
        assert done["reason"] == "stopped through the API"
        run = served.stored(trigger_id)
        assert run is not None and run["status"] == "interrupted"
    with contextlib.suppress(AssertionError):
        until(lambda: not any(scratch.iterdir()), "the temporary folders to be removed")
    left = sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*"))
    assert not left, "\n".join(left)


def _serve_fails(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return splice_cli(root, "serve", "--port", str(free_port()), *args, columns=200)


def test_a_dist_the_server_cannot_use_is_a_usage_error_at_start(tmp_path: Path) -> None:
    """An unreachable scheduler, an unknown back end and `--dist` without `--project` each
    stop `splice serve` at once with exit 2, the reason and a hint (as cli.md shows)."""
    root = project(tmp_path / "shop")
    away = _serve_fails(root, "--project", ".", "--dist", "dask:tcp://127.0.0.1:9")
    assert away.returncode == 2, away.stdout + away.stderr
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in away.stderr
    assert "`--dist dask` starts a local cluster" in away.stderr
    assert "Traceback" not in away.stderr
    check_output("cli-serve-dist-away", away.stderr)
    unknown = _serve_fails(root, "--project", ".", "--dist", "spark")
    assert unknown.returncode == 2 and "unknown shard back end 'spark'" in unknown.stderr
    assert "--dist dask:tcp://HOST:8786" in unknown.stderr
    alone = _serve_fails(root, "--dist", "dask")
    assert alone.returncode == 2 and "--dist needs --project" in alone.stderr
