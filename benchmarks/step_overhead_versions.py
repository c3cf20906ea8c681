"""Per-step overhead of this tree beside a reference commit, in one run.

The same suites (N sequential HTTP steps, and 1 step) run through each tree's runner in
a child process of its own (`PYTHONPATH` at that tree's `src/`), against one local
server; runs of the two trees alternate (in turn first) so that the machine's noise
falls on both. The
cost of a step is (t(N) - t(1)) / (N - 1), as in `step_overhead`.

    .venv/bin/python -m benchmarks step_overhead_versions          # against `main`
    SPLICE_BENCH_REF=a85ada7 .venv/bin/python -m benchmarks step_overhead_versions
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from benchmarks.common import ROOT, BenchError, Table, median
from benchmarks.servers import running
from benchmarks.step_overhead import write_suite

REF_ENV = "SPLICE_BENCH_REF"

# Runs in the child: only names that both trees have (the runner's own API).
_CHILD = """
import sys, time
from pathlib import Path
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions

url, *paths = sys.argv[1:]
for path in paths:
    suites, problems = load_all([Path(path)])
    assert not problems, problems
    start = time.perf_counter()
    result = Runner(suites, RunOptions(external={"base_url": url}), EventBus()).run()
    elapsed = time.perf_counter() - start
    assert result.status.value == "passed", result.status
    print(elapsed)
"""


def _export(ref: str, folder: Path) -> Path:
    """The source tree of `ref` (git archive), unpacked into `folder`."""
    try:
        archive = subprocess.run(
            ["git", "archive", ref, "src"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"git archive {ref}: {exc.stderr.decode().strip()}") from exc
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def _run(src: Path, url: str, paths: list[Path]) -> list[float]:
    """Seconds each suite of `paths` took to run, in a child on the tree at `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"runner of {src} failed: {done.stderr.strip()[-300:]}")
    return [float(line) for line in done.stdout.split()]


def measure(n: int, runs: int) -> Table:
    ref = os.environ.get(REF_ENV, "main")
    table = Table(
        f"Per-step overhead, this tree beside {ref}: GET + status + 3 JSON checks, N={n}",
        f"{REF_ENV}={ref} .venv/bin/python -m benchmarks step_overhead_versions",
        ["tree", "ms/step (median)", "runs", "vs reference"],
    )
    with (
        running("fast") as url,
        tempfile.TemporaryDirectory(prefix="splice-bench-versions-") as tmp,
    ):
        folder = Path(tmp)
        trees = {ref: _export(ref, folder / "ref"), "this tree": ROOT / "src"}
        big = write_suite(folder / "big.splice.yaml", n)
        one = write_suite(folder / "one.splice.yaml", 1)
        costs: dict[str, list[float]] = {name: [] for name in trees}
        order = list(trees.items())
        for _ in range(runs):
            for name, src in order:  # alternate: noise falls on both trees
                t_big, t_one = _run(src, url, [big, one])
                costs[name].append((t_big - t_one) / (n - 1))
            order.reverse()  # and neither always goes first
    reference = median(costs[ref])
    for name, values in costs.items():
        cost = median(values)
        change = "" if name == ref else f"{(cost / reference - 1) * 100:+.1f}%"
        table.rows.append([name, f"{cost * 1000:.3f}", str(len(values)), change])
    table.notes.append(
        "each run is a fresh interpreter per tree; t(N) and t(1) are Runner.run of a loaded "
        "suite, so start-up and loading cancel out"
    )
    return table


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300, 7).markdown())
