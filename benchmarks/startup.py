"""Wall time of splice's commands from the command line, beside the floors they are held to.

A one-step HTTP suite recorded in the default store is held to 1.5x `python -c "import
httpx, yaml"` (the libraries it cannot do without); `splice --version` and `splice check`
of one suite to 1.3x `python -c "import yaml"`. The machine is shared, so the commands are
timed in interleaved rounds (each round runs every command once) and each gets the median
of its rounds: a burst of load then slows every command alike, and the ratios hold.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchmarks.common import SPLICE, Table, median, ms, timed, verdict
from benchmarks.servers import running

RUN_RATIO = 1.5  # of `import httpx, yaml`
LIGHT_RATIO = 1.3  # of `import yaml`
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
        f"Start-up: wall time from the command line (median of {runs} interleaved rounds)",
        ".venv/bin/python -m benchmarks startup",
        ["command", "median wall time", "ratio to its floor", "what it shows"],
    )
    with running("fast") as url, tempfile.TemporaryDirectory(prefix="splice-bench-") as tmp:
        folder = Path(tmp)
        (folder / "one.splice.yaml").write_text(ONE_STEP, encoding="utf-8")
        var = ["--var", f"base_url={url}"]
        run = [SPLICE, "run", "one.splice.yaml", *var]
        # the default store: .splice/results.db of the current folder, not $SPLICE_STORE_URL
        env = {k: v for k, v in os.environ.items() if k != "SPLICE_STORE_URL"}
        # a cold start: no bytecode cached (an empty cache folder, never written to)
        empty = folder / "no-pycache"
        empty.mkdir()
        no_pyc = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty)}
        rows: list[tuple[str, list[str], dict[str, str], str, str]] = [
            ("pass", [sys.executable, "-c", "pass"], env, "", "the interpreter alone"),
            ("yaml", [sys.executable, "-c", "import yaml"], env, "", "floor of --version, check"),
            (
                "httpx",
                [sys.executable, "-c", "import httpx, yaml"],
                env,
                "",
                "floor of a run",
            ),
            ("version", [SPLICE, "--version"], env, "yaml", "the console script, no suite"),
            ("check", [SPLICE, "check", "one.splice.yaml", *var], env, "yaml", "one suite"),
            ("run", run, env, "httpx", "**the target**: recorded in the default SQLite store"),
            ("no-store", [*run, "--no-store"], env, "httpx", "same run, not recorded"),
            ("cold", run, no_pyc, "httpx", "same run, bytecode never cached"),
        ]
        for _, argv, environ, _, _ in rows:  # warm-up; also creates the store
            timed(argv, cwd=folder, env=environ)
        times: dict[str, list[float]] = {name: [] for name, *_ in rows}
        for _ in range(runs):
            for name, argv, environ, _, _ in rows:
                times[name].append(timed(argv, cwd=folder, env=environ))
        medians = {name: median(values) for name, values in times.items()}
        for name, argv, _, floor, what in rows:
            shown = " ".join(Path(a).name if a.startswith("/") else a for a in argv)
            shown = shown.replace(url, "URL")
            if name == "cold":
                shown = f"(no bytecode cache) {shown}"
            ratio = f"{medians[name] / medians[floor]:.2f}x" if floor else ""
            table.rows.append([f"`{shown}`", ms(medians[name]), ratio, what])
    for name, floor, target in (
        ("run", "httpx", RUN_RATIO),
        ("version", "yaml", LIGHT_RATIO),
        ("check", "yaml", LIGHT_RATIO),
    ):
        factor = medians[name] / medians[floor]
        table.notes.append(
            f"target: `{name}` ≤ {target}x `{floor}` floor; measured {factor:.2f}x: "
            f"{verdict(factor <= target)}"
        )
    table.notes.append(
        "timed with subprocess timing, one warm-up round first; the store (created by the "
        "warm-up) is opened with sqlite3, so SQLAlchemy is not imported (`store.lite`)"
    )
    return table
