"""The warm pool: a one-step suite of a project with PostgreSQL, Redis and RabbitMQ, run
with `--warm` after a first run left the servers up, beside the same suite run with
`--no-store` in a folder with no services at all (the floor: what a run costs when
there is no environment to bring up). Target: within 2x.

    .venv/bin/python -m benchmarks warm_pool

Both are timed from the command line in interleaved rounds (each round runs each once)
and both skip the store, so the ratio is the price of attaching: taking a lease, a
database cloned from a template, a vhost, a Redis database, and giving them back.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SPLICE, Table, median, ms, timed, verdict
from benchmarks.servers import running

COMMAND = ".venv/bin/python -m benchmarks warm_pool"
RATIO = 2.0
PROJECT = """\
name: warm-bench
services:
  db: {kind: postgres, database: app}
  cache: {kind: redis}
  bus: {kind: rabbitmq}
"""
ONE_STEP = """\
name: one
testcases:
  - name: one step
    steps:
      - http: {get: "{{ base_url }}/item"}
        expect: {status: 200, json: {id: 1}}
"""


def measure(runs: int) -> Table:
    table = Table(
        f"Warm pool: a second run attaches instead of starting servers (median of {runs} "
        "interleaved rounds)",
        COMMAND,
        ["command", "median wall time", "ratio to the floor", "what it shows"],
    )
    with (
        running("fast") as url,
        tempfile.TemporaryDirectory(prefix="splice-bench-warm-") as tmp,
    ):
        warm, bare, cold_dir = Path(tmp) / "warm", Path(tmp) / "bare", Path(tmp) / "cold"
        for folder in (warm, bare, cold_dir):
            folder.mkdir()
            (folder / "one.splice.yaml").write_text(ONE_STEP, encoding="utf-8")
        for folder in (warm, cold_dir):
            (folder / "splice.yaml").write_text(PROJECT, encoding="utf-8")
        argv = [SPLICE, "run", "one.splice.yaml", "--var", f"base_url={url}", "--no-store"]
        try:
            first = timed([*argv, "--warm"], cwd=warm)
            cold = timed(argv, cwd=cold_dir)  # no pool in that folder
            timed(argv, cwd=bare)  # warm-up of the floor
            times: dict[str, list[float]] = {"warm": [], "bare": []}
            for _ in range(runs):
                times["warm"].append(timed([*argv, "--warm"], cwd=warm))
                times["bare"].append(timed(argv, cwd=bare))
        finally:
            timed([SPLICE, "down"], cwd=warm)
        medians = {name: median(values) for name, values in times.items()}
    factor = medians["warm"] / medians["bare"]
    rows = [
        ("`splice run --no-store` (no services)", medians["bare"], "the floor"),
        (
            "`splice run --no-store --warm` (PostgreSQL, Redis, RabbitMQ)",
            medians["warm"],
            "**the target**: attached to the pool the first run left",
        ),
        ("the first `--warm` run", first, "starts the pool, then attaches (one run)"),
        ("`splice run --no-store` (same project)", cold, "starts and stops the servers (one run)"),
    ]
    for shown, seconds, what in rows:
        table.rows.append([shown, ms(seconds), f"{seconds / medians['bare']:.2f}x", what])
    table.notes.append(
        f"target: a `--warm` run ≤ {RATIO:g}x the floor; measured {factor:.2f}x: "
        f"{verdict(factor <= RATIO)}"
    )
    table.notes.append(
        f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')}; the step is an HTTP "
        "GET against a local server in both, so only the environment differs"
    )
    return table


if __name__ == "__main__":
    print(measure(runs=5).markdown())
