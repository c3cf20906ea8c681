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


def _run_once(project: Path, report: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(seconds per phase, ready seconds per service) of one run: the phases are the wall
    time, the start (splice's imports, the services, the data: up to the first testcase),
    the testcases, and what follows them (every service stopped, the reports, the exit)."""
    env = {**os.environ, "PATH": f"{Path(SPLICE).parent}{os.pathsep}{os.environ['PATH']}"}
    launched = time.time()
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
    before = float(data["started_at"]) - launched
    tests = float(data["duration"])
    phases = {"wall": wall, "start": before, "tests": tests, "after": wall - before - tests}
    return phases, ready


def measure(runs: int = 3) -> Table:
    table = Table(
        f"The example environment: examples/shop end to end (median of {runs})",
        COMMAND,
        ["what", "median", "best", "of the runs"],
    )
    phases: dict[str, list[float]] = {}
    readies: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="splice-bench-shop-") as tmp:
        project = Path(tmp) / "shop"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
        for n in range(runs):
            phase, ready = _run_once(project, Path(tmp) / f"run{n}.json")
            for name, seconds in phase.items():
                phases.setdefault(name, []).append(seconds)
            for name, seconds in ready.items():
                readies.setdefault(name, []).append(seconds)

    def row(what: str, values: list[float]) -> list[str]:
        shown = ", ".join(f"{v:.2f}" for v in values)
        return [what, f"{statistics.median(values):.2f} s", f"{min(values):.2f} s", shown]

    for name, values in readies.items():
        table.rows.append(row(f"service `{name}` ready", values))
    table.rows += [
        row(
            "start: splice's imports, the services, the data (until the first testcase)",
            phases["start"],
        ),
        row(
            "the testcases (three wait for the worker's 0.5 s of work on an order "
            "(SHIP_DELAY), one for a Kafka consumer group's ~1 s join)",
            phases["tests"],
        ),
        row("after the testcases: every service stopped, the reports, the exit", phases["after"]),
        row("`splice run` wall time: start, data, tests, stop", phases["wall"]),
    ]
    table.notes.append(
        "PostgreSQL, Redis, RabbitMQ and Kafka start in parallel, then the app and the "
        "worker (both need RabbitMQ, the slowest); RabbitMQ's Erlang boot dominates the "
        "start. Servers come from this machine's Debian packages (local provider), "
        "PostgreSQL from splice's initialised-cluster cache. The drivers of the suites' "
        "steps are imported while the services start. The machine is shared (see the "
        "load average below), so `best` is shown beside the median."
    )
    table.notes.append(
        "The consumer group's join is Tansu's: its JoinGroup answers a new group's first "
        "member after a 1 s pause whatever the session timeout (a shorter one only makes "
        "the member time out and join again)."
    )
    return table


if __name__ == "__main__":
    print(measure().markdown())
