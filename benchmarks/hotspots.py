"""Where splice spends a step's time: profiles an in-process run of N sequential steps.

    .venv/bin/pip install pyinstrument
    .venv/bin/python -m benchmarks.hotspots [N]

Testcases run in worker threads, so the profiler is started inside the worker that
runs the testcase, not around the whole run. Not part of `python -m benchmarks`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from pyinstrument import Profiler

from benchmarks.servers import running
from benchmarks.step_overhead import write_suite
from splice._internal.runner import suite_session as run_module
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    profiler = Profiler(interval=0.0005)
    original = run_module.run_testcase

    def profiled(*args: Any, **kwargs: Any) -> Any:
        profiler.start()
        try:
            return original(*args, **kwargs)
        finally:
            profiler.stop()

    run_module.run_testcase = profiled
    with running("fast") as url, tempfile.TemporaryDirectory(prefix="splice-bench-") as tmp:
        suites, _ = load_all([write_suite(Path(tmp) / "steps.splice.yaml", n)])
        result = Runner(suites, RunOptions(external={"base_url": url}), EventBus()).run()
    print(f"{n} steps: {result.status.value} in {result.duration:.3f} s")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
