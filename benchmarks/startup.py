"""Wall time of `splice run one.splice.yaml` (one GET step) from the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import SPLICE, BenchError, Table, median, ms, repeat, timed, verdict
from benchmarks.servers import running

TARGET = 0.3  # seconds
ONE_STEP = """\
name: one
testcases:
  - name: one step
    steps:
      - http: {get: "{{ base_url }}/item"}
        expect: {status: 200, json: {id: 1}}
"""


def _hyperfine(argv: list[str], runs: int, folder: Path, env: dict[str, str]) -> float:
    """Median with hyperfine (one warm-up run, no shell)."""
    hyperfine = shutil.which("hyperfine")
    assert hyperfine is not None
    out = folder / "hyperfine.json"
    command = " ".join(argv)
    options = ["-N", "--warmup", "1", "--runs", str(runs), "--export-json", str(out)]
    proc = subprocess.run(
        [hyperfine, *options, command],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise BenchError(f"hyperfine failed: {proc.stderr.strip()[-300:]}")
    return float(json.loads(out.read_text())["results"][0]["median"])


def _wall(argv: list[str], runs: int, folder: Path, env: dict[str, str]) -> float:
    if shutil.which("hyperfine"):
        return _hyperfine(argv, runs, folder, env)
    timed(argv, env=env)  # warm-up: the first run pays for cold file caches
    return median(repeat(lambda: timed(argv, env=env), runs, budget=60.0))


def measure(runs: int) -> Table:
    tool = "hyperfine" if shutil.which("hyperfine") else "subprocess timing (no hyperfine)"
    table = Table(
        f"Start-up: wall time of a one-step suite from the command line (median of {runs})",
        ".venv/bin/python -m benchmarks startup",
        ["command", "median wall time", "what it shows"],
    )
    with running("fast") as url, tempfile.TemporaryDirectory(prefix="splice-bench-") as tmp:
        suite = Path(tmp) / "one.splice.yaml"
        suite.write_text(ONE_STEP, encoding="utf-8")
        run = [SPLICE, "run", str(suite), "--var", f"base_url={url}"]
        no_pyc = {"PYTHONDONTWRITEBYTECODE": "1"}
        rows = [
            ([sys.executable, "-c", "pass"], {}, "the interpreter alone"),
            ([sys.executable, "-c", "import splice.cli.main"], {}, "importing splice's CLI"),
            ([SPLICE, "--version"], {}, "the console script, no suite"),
            (run, no_pyc, "same run, bytecode never cached (PYTHONDONTWRITEBYTECODE=1)"),
            (run, {}, "**the measured target**"),
            (
                [*run, "--no-store"],
                {},
                "same run, not recorded: the results store (SQLAlchemy) is not imported",
            ),
        ]
        results = {}
        for argv, env, what in rows:
            results[what] = _wall(argv, runs, Path(tmp), env)
            shown = " ".join(Path(a).name if a.startswith("/") else a for a in argv)
            shown = shown.replace(url, "URL")
            table.rows.append([f"`{shown}`", ms(results[what]), what])
    wall = results["**the measured target**"]
    table.notes.append(f"target: ≤ 0.3 s; measured {ms(wall)}: {verdict(wall <= TARGET)}")
    table.notes.append(f"timed with {tool}, one warm-up run first")
    return table
