"""`splice run --shard I/N` in separate processes: the plan agrees across processes, each
shard runs exactly its testcases, N shards reporting to a real `splice serve` with one
run id end as one run with every testcase, and the command inside `splice k8s job`'s
manifest, run here with JOB_COMPLETION_INDEX set, runs exactly its shard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from splice._internal.shards.planner import imbalance_of
from splice._internal.store import Store
from splice._internal.store.query_runs import get_run
from tests.support.docs_blocks import check_output
from tests.support.openapi_shards import merged_coverage, openapi_project

pytestmark = pytest.mark.integration

SPLICE = [sys.executable, "-m", "splice"]


def _project(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "splice.yaml").write_text("name: shop\nsuites: ['*.splice.yaml']\n")
    for suite, count in (("orders", 5), ("users", 3)):
        lines = [f"name: {suite}", "testcases:"]
        for i in range(count):
            lines += [f"  - name: t{i}", "    steps:", '      - exec: "echo ok"']
            expected = "nope" if (suite, i) == ("users", 2) else "ok"
            lines.append(f'        expect: {{stdout: "{expected}\\n"}}')
        (root / f"{suite}.splice.yaml").write_text("\n".join(lines) + "\n")
    # a serial suite: its testcases stay together in one shard
    (root / "flow.splice.yaml").write_text(
        "name: flow\nserial: true\ntestcases:\n"
        + "".join(f'  - name: step{i}\n    steps:\n      - exec: "echo ok"\n' for i in range(3))
    )
    return root


ALL = {f"orders::t{i}" for i in range(5)} | {f"users::t{i}" for i in range(3)}
ALL |= {f"flow::step{i}" for i in range(3)}


def _splice(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full.pop("SPLICE_STORE_URL", None)
    return subprocess.run(
        [*SPLICE, *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=full,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _ran(report: Path) -> list[str]:
    data = json.loads(report.read_text())
    return [f"{s['name']}::{tc['name']}" for s in data["suites"] for tc in s["testcases"]]


def _plan(root: Path, count: int, seed: str) -> dict[str, Any]:
    done = _splice(
        root, "shard", "plan", "--shards", str(count), "--json", env={"PYTHONHASHSEED": seed}
    )
    assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


def test_shards_agree_across_processes_and_run_exactly_their_testcases(tmp_path: Path) -> None:
    """Two processes (different hash seeds) plan alike; each `--shard I/3` runs its share;
    together every testcase once, the serial suite whole in one shard."""
    root = _project(tmp_path)
    plan = _plan(root, 3, "1")
    assert _plan(root, 3, "2") == plan
    shown = _splice(root, "shard", "plan", "--shards", "2")
    assert shown.returncode == 0, shown.stderr
    check_output("sharding-plan", shown.stdout)
    ran: list[str] = []
    for i, shard in enumerate(plan["shards"], start=1):
        report = tmp_path / f"shard{i}.json"
        done = _splice(root, "run", "--shard", f"{i}/3", "--no-store", "--json", str(report))
        assert done.returncode in (0, 1), done.stderr
        assert f"shard {i}/3: {len(shard['testcases'])} of 11 testcases" in done.stdout
        assert _ran(report) == shard["testcases"]
        ran += _ran(report)
    assert sorted(ran) == sorted(ALL)
    holding = [s for s in plan["shards"] if "flow::step0" in s["testcases"]]
    assert len(holding) == 1 and {f"flow::step{i}" for i in range(3)} <= set(
        holding[0]["testcases"]
    )


def test_a_bad_shard_is_a_usage_error_with_a_hint(tmp_path: Path) -> None:
    """`--shard 3/2` exits 2 with the range and what to write, no traceback."""
    root = _project(tmp_path)
    done = _splice(root, "run", "--shard", "3/2", "--no-store")
    assert done.returncode == 2
    assert "error: --shard '3/2': the index must be from 1 to 2" in done.stderr
    assert "hint: write --shard I/N" in done.stderr
    assert "Traceback" not in done.stderr
    alone = _splice(root, "run", "--shard", "1/2", "--report-to", "http://127.0.0.1:9")
    assert alone.returncode == 2 and "without --run-id" in alone.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A real `splice serve` over its own SQLite store: (url, write token, store url)."""
    store_url = f"sqlite:///{tmp_path / 'server.db'}"
    added = _splice(tmp_path, "store", "token", "add", "ci", "--store", store_url)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[0]
    port = _free_port()
    proc = subprocess.Popen(
        [*SPLICE, "serve", "--port", str(port), "--store", store_url],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "splice serve exited"
            try:
                if httpx.get(f"{url}/api/runs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "splice serve did not answer in 60 s"
            time.sleep(0.1)  # polling a condition with a deadline, not synchronising
        yield url, token, store_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _stored(store_url: str, run_id: str) -> dict[str, Any]:
    store = Store.open(store_url)
    try:
        run = get_run(store, run_id)
    finally:
        store.close()
    assert run is not None
    return run


def test_shards_reporting_to_one_run_id_end_as_one_run(
    tmp_path: Path, server: tuple[str, str, str]
) -> None:
    """Shard 1 ends first: the run is still running; when shard 2 ends the run is finished,
    holds every testcase once, and has the worst status of the two (a failure)."""
    url, token, store_url = server
    root = _project(tmp_path / "project")
    env = {"SPLICE_TOKEN": token}
    common = ["--report-to", url, "--run-id", "ci-42", "-q"]
    first = _splice(root, "run", "--shard", "1/2", *common, env=env)
    assert first.returncode in (0, 1), first.stderr
    assert token not in first.stdout + first.stderr
    halfway = _stored(store_url, "ci-42")
    assert halfway["status"] == "running"
    # the run page's shards: the first ended, the second not started yet
    assert [s["state"] for s in halfway["shards"]] == ["finished", "pending"]
    assert halfway["shard_imbalance"] is None
    # the machine's own store keeps its shard's part as a finished run of its own
    local = _stored(f"sqlite:///{root / '.splice' / 'results.db'}", "ci-42")
    assert local["status"] != "running" and local["total"] == halfway["total"]
    common.append("--no-store")
    second = _splice(root, "run", "--shard", "2/2", *common, env=env)
    assert second.returncode in (0, 1), second.stderr
    assert {first.returncode, second.returncode} == {0, 1}  # one shard holds the failure
    run = _stored(store_url, "ci-42")
    keys = [tc["key"] for suite in run["suites"] for tc in suite["testcases"]]
    assert sorted(keys) == sorted(ALL)
    assert run["status"] == "failed"
    assert run["total"] == len(ALL)
    assert sorted(s["status"] for s in run["shards"]) == ["failed", "passed"]
    _check_shards(url, "ci-42", _plan(root, 2, "0"))
    listing = httpx.get(f"{url}/api/runs", timeout=10).json()
    runs = listing["runs"] if isinstance(listing, dict) else listing
    assert [r["id"] for r in runs] == ["ci-42"]
    again = _splice(root, "run", "--shard", "1/2", *common, env=env)  # the run is over
    assert "already finished" in again.stderr + again.stdout


def _check_shards(url: str, run_id: str, plan: dict[str, Any]) -> None:
    """GET /api/runs/{id} and the run page show each shard: where it ran, its testcases
    done of planned (the plan's), its time, and the imbalance of the shards' durations."""
    run = httpx.get(f"{url}/api/runs/{run_id}", timeout=10).json()
    shards = run["shards"]
    planned = [len(s["testcases"]) for s in plan["shards"]]
    assert [s["name"] for s in shards] == ["shard 1/2", "shard 2/2"]
    assert [(s["state"], s["done"], s["planned"]) for s in shards] == [
        ("finished", n, n) for n in planned
    ]
    assert all(s["host"] == socket.gethostname() and s["pid"] for s in shards)
    durations = [s["duration"] for s in shards]
    assert run["shard_imbalance"] == pytest.approx(imbalance_of(durations))
    page = httpx.get(f"{url}/runs/{run_id}", timeout=10).text
    for shard, count in zip(shards, planned, strict=True):
        assert f"<b>{shard['name']}</b>" in page
        assert f"{count} / {count}" in page
    assert f"imbalance <b>{run['shard_imbalance'] * 100:.1f}%</b>" in page


def test_the_k8s_job_command_runs_its_shard_with_the_job_index(tmp_path: Path) -> None:
    """The container's args from `splice k8s job`, run with JOB_COMPLETION_INDEX=I, run
    exactly shard I+1 of the plan."""
    root = _project(tmp_path)
    documented = _splice(
        root,
        *("k8s", "job", "--parallelism", "4", "--image", "registry.example/shop-tests:1.4"),
        *("--report-to", "http://splice.ci.svc:8470", "--token-secret", "splice-token"),
        *("--workdir", "/src"),
    )
    assert documented.returncode == 0, documented.stderr
    check_output("sharding-k8s-job", documented.stdout)
    made = _splice(root, "k8s", "job", "--parallelism", "2", "--image", "shop-tests:1")
    assert made.returncode == 0, made.stderr
    job = yaml.safe_load(made.stdout)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["splice"]
    plan = _plan(root, 2, "0")
    for index in (0, 1):
        report = tmp_path / f"pod{index}.json"
        env = {"JOB_COMPLETION_INDEX": str(index), "SPLICE_RUN_ID": "job-uid"}
        args = [*container["args"], "--no-store", "--json", str(report)]
        done = _splice(root, *args, env=env)
        assert done.returncode in (0, 1), done.stderr
        assert _ran(report) == plan["shards"][index]["testcases"]


def test_shards_on_one_machine_join_one_run_in_the_local_store(tmp_path: Path) -> None:
    """Without a server, shards sharing a run id and the project's store are one run too
    (the SQLite store's own writer follows the same rules)."""
    root = _project(tmp_path)
    for i in (1, 2):
        done = _splice(root, "run", "--shard", f"{i}/2", "--run-id", "local-7", "-q")
        assert done.returncode in (0, 1), done.stderr
        assert "warning" not in done.stderr, done.stderr
    run = _stored(f"sqlite:///{root / '.splice' / 'results.db'}", "local-7")
    keys = [tc["key"] for suite in run["suites"] for tc in suite["testcases"]]
    assert sorted(keys) == sorted(ALL)
    assert (run["status"], run["total"]) == ("failed", len(ALL))
    assert [(s["state"], s["planned"]) for s in run["shards"]] == [
        ("finished", s["done"]) for s in run["shards"]
    ]
    assert sum(s["done"] for s in run["shards"]) == len(ALL)
    assert run["shard_imbalance"] is not None


def test_shards_merge_their_openapi_coverage_in_the_local_store(tmp_path: Path) -> None:
    """Each shard's operation coverage adds to the run's (the SQLite store's writer): the
    union of the operations and statuses both shards hit, not the last shard's alone."""
    root = openapi_project(tmp_path / "project")
    for i in (1, 2):
        done = _splice(root, "run", "--shard", f"{i}/2", "--run-id", "cov-1", "-q")
        assert done.returncode == 0, done.stdout + done.stderr
    merged_coverage(_stored(f"sqlite:///{root / '.splice' / 'results.db'}", "cov-1"))


def test_shards_reporting_to_a_server_merge_their_openapi_coverage(
    tmp_path: Path, server: tuple[str, str, str]
) -> None:
    """The same through `--report-to` (the server's SQLAlchemy ingest)."""
    url, token, store_url = server
    root = openapi_project(tmp_path / "project")
    common = ["--report-to", url, "--run-id", "cov-2", "-q", "--no-store"]
    for i in (1, 2):
        done = _splice(root, "run", "--shard", f"{i}/2", *common, env={"SPLICE_TOKEN": token})
        assert done.returncode == 0, done.stdout + done.stderr
    merged_coverage(_stored(store_url, "cov-2"))
