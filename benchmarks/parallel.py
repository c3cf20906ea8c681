"""`--jobs 4` against `--jobs 1` on 50 testcases x 4 steps, with 20 ms per request."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from benchmarks.common import SPLICE, Table, median, ms, repeat, timed, verdict
from benchmarks.servers import SLOW_DELAY, running

TARGET = 2.5  # speed-up of --jobs 4 over --jobs 1
TESTCASES, STEPS = 50, 4


def write_suite(path: Path) -> Path:
    lines = ["name: parallel", "testcases:"]
    for i in range(TESTCASES):
        lines += [f"  - name: testcase {i}", "    steps:"]
        lines += [
            '      - http: {get: "{{ base_url }}/item"}\n'
            "        expect: {status: 200, json: {id: 1, name: widget}}"
        ] * STEPS
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(runs: int) -> Table:
    requests = TESTCASES * STEPS
    table = Table(
        f"Parallel testcases: {TESTCASES} testcases x {STEPS} steps, "
        f"server sleeps {SLOW_DELAY * 1000:.0f} ms per request",
        ".venv/bin/python -m benchmarks parallel",
        ["jobs", "median wall time", "ideal (requests only)", "speed-up vs --jobs 1"],
    )
    with running("slow") as url, tempfile.TemporaryDirectory(prefix="splice-bench-") as tmp:
        suite = write_suite(Path(tmp) / "parallel.splice.yaml")
        times = {}
        for jobs in (1, 2, 4):
            argv = [SPLICE, "run", "-q", "-j", str(jobs), "--var", f"base_url={url}", str(suite)]
            times[jobs] = median(repeat(functools.partial(timed, argv), runs, budget=90.0))
            ideal = requests * SLOW_DELAY / jobs
            speedup = times[1] / times[jobs]
            table.rows.append([str(jobs), ms(times[jobs]), ms(ideal), f"{speedup:.2f}x"])
    speedup = times[1] / times[4]
    table.notes.append(
        f"target: --jobs 4 ≥ 2.5x --jobs 1; measured {speedup:.2f}x: {verdict(speedup >= TARGET)}"
    )
    table.notes.append(f"median of up to {runs} runs of `splice run -q` each, start-up included")
    return table
