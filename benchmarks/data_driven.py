"""Data-driven testcases: a testcase with a 1,000-row `foreach` (one HTTP step each) beside
1,000 testcases written out, loaded and run through splice's runner in one process.

Both suites make the same testcases, so the row table should cost nothing extra per row:
the rows are expanded once when the suite loads and share their parsed steps.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import BenchError, Table, median, verdict
from benchmarks.servers import running
from splice._internal.model.results import Status
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions

STEP = (
    '      - http: {get: "{{ base_url }}/item?n={{ n }}"}\n'
    "        expect: {status: 200, json: {id: 1, name: widget}}\n"
)


def write_rows(folder: Path, n: int) -> Path:
    (folder / "rows.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(n)))
    path = folder / "rows.splice.yaml"
    path.write_text(
        "name: rows\ntestcases:\n  - name: row {{ n }}\n    foreach: {file: rows.csv}\n"
        "    steps:\n" + STEP
    )
    return path


def write_written_out(folder: Path, n: int) -> Path:
    path = folder / "written.splice.yaml"
    cases = "".join(
        f"  - name: row {i}\n    vars: {{n: '{i}'}}\n    steps:\n" + STEP for i in range(n)
    )
    path.write_text("name: written\ntestcases:\n" + cases)
    return path


def _load_and_run(path: Path, url: str, n: int) -> tuple[float, float]:
    """(load seconds, run seconds) of one suite of `n` testcases."""
    start = time.perf_counter()
    suites, problems = load_all([path])
    loaded = time.perf_counter()
    if problems:
        raise BenchError(f"splice cannot load {path.name}: {problems[0].message}")
    result = Runner(suites, RunOptions(external={"base_url": url}), EventBus()).run()
    done = time.perf_counter()
    if result.status != Status.PASSED or len(result.testcases()) != n:
        raise BenchError(f"{path.name}: {result.status.value}, {len(result.testcases())} testcases")
    return loaded - start, done - loaded


def measure(n: int = 1000, runs: int = 3) -> Table:
    table = Table(
        f"Data-driven testcases: a {n:,}-row `foreach` beside {n:,} written-out testcases",
        ".venv/bin/python -m benchmarks data_driven",
        ["suite", "load ms/testcase", "run ms/testcase", "total ms/testcase"],
    )
    with tempfile.TemporaryDirectory(prefix="splice-bench-rows-") as tmp, running("fast") as url:
        folder = Path(tmp)
        suites = {
            f"`foreach` over a {n:,}-line CSV": write_rows(folder, n),
            f"{n:,} testcases written out": write_written_out(folder, n),
        }
        for path in suites.values():
            _load_and_run(path, url, n)  # warm-up: imports, connections, caches
        # alternated, so the machine's noise falls on both alike
        timings: dict[str, list[tuple[float, float]]] = {label: [] for label in suites}
        for _ in range(runs):
            for label, path in suites.items():
                timings[label].append(_load_and_run(path, url, n))
        totals: dict[str, float] = {}
        for label, found in timings.items():
            load = median([t[0] for t in found]) / n
            run = median([t[1] for t in found]) / n
            totals[label] = load + run
            table.rows.append(
                [label, f"{load * 1e3:.3f}", f"{run * 1e3:.3f}", f"{(load + run) * 1e3:.3f}"]
            )
    rows, written = totals.values()
    table.notes.append(
        f"target: a row costs no more than a written-out testcase (within 10% noise); "
        f"measured {rows / written:.2f}×: {verdict(rows <= written * 1.1)}"
    )
    table.notes.append(
        f"median of {runs} alternated runs after one warm-up each, in one process, one job"
    )
    return table
