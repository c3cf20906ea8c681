"""The whole example environment (examples/shop): how long each service takes to be ready,
and the wall time of `splice run` on it, start-up, data, seven testcases and stop included.

.venv/bin/python -m benchmarks example_env
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, SPLICE, BenchError, Table

EXAMPLE = ROOT / "examples" / "shop"
COMMAND = ".venv/bin/python -m benchmarks example_env"


def _run_once(project: Path, report: Path) -> tuple[float, dict[str, float], float]:
    """(wall seconds, ready seconds per service, seconds in the testcases) of one run."""
    env = {**os.environ, "PATH": f"{Path(SPLICE).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    done = subprocess.run(
        [SPLICE, "run", "-q", "--no-store", "--json", str(report)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"the shop example failed: {(done.stdout + done.stderr)[-400:]}")
    data = json.loads(report.read_text())
    ready = {s["name"]: float(s["started_in"]) for s in data["services"]}
    return wall, ready, float(data["duration"])


def measure(runs: int = 3) -> Table:
    table = Table(
        f"The example environment: examples/shop end to end (median of {runs})",
        COMMAND,
        ["what", "median", "of the runs"],
    )
    walls: list[float] = []
    readies: dict[str, list[float]] = {}
    tests: list[float] = []
    with tempfile.TemporaryDirectory(prefix="splice-bench-shop-") as tmp:
        project = Path(tmp) / "shop"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
        for n in range(runs):
            wall, ready, duration = _run_once(project, Path(tmp) / f"run{n}.json")
            walls.append(wall)
            tests.append(duration)
            for name, seconds in ready.items():
                readies.setdefault(name, []).append(seconds)

    def row(what: str, values: list[float]) -> list[str]:
        shown = ", ".join(f"{v:.2f}" for v in values)
        return [what, f"{statistics.median(values):.2f} s", shown]

    for name, values in readies.items():
        table.rows.append(row(f"service `{name}` ready", values))
    table.rows.append(
        row(
            "the testcases (three wait for the worker's 0.5 s of work on an order "
            "(SHIP_DELAY), one for a Kafka consumer group's ~1 s join)",
            tests,
        )
    )
    table.rows.append(row("`splice run` wall time: start, data, tests, stop", walls))
    table.notes.append(
        "PostgreSQL, Redis, RabbitMQ and Kafka start in parallel, then the app and the "
        "worker; RabbitMQ's Erlang boot dominates. Servers come from this machine's Debian "
        "packages (local provider), PostgreSQL from splice's initialised-cluster cache."
    )
    return table


if __name__ == "__main__":
    print(measure().markdown())
