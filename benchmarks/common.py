"""What every benchmark shares: result tables, bounded repetition, timed commands."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv running the benchmarks: .venv/bin
SPLICE = str(BIN / "splice")
COMMAND_TIMEOUT = 300.0  # no single command may take longer than this


class BenchError(Exception):
    """A benchmark could not measure (a tool failed); the message says why."""


@dataclass
class Table:
    """One benchmark's results, as printed and as written to BENCHMARKS.md."""

    title: str
    command: str  # reproduces this table
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"Reproduce: `{self.command}`", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def repeat(fn: Callable[[], float], runs: int, budget: float) -> list[float]:
    """Up to `runs` results of `fn`, stopping early (after at least one) past `budget` s."""
    results: list[float] = []
    start = time.perf_counter()
    for _ in range(runs):
        results.append(fn())
        if time.perf_counter() - start > budget:
            break
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(
    argv: list[str],
    *,
    cwd: Path = ROOT,
    timeout: float = COMMAND_TIMEOUT,
    env: dict[str, str] | None = None,
) -> float:
    """Seconds the command took; BenchError when it fails or runs past `timeout`.

    `env` adds to (or overrides) this process's environment.
    """
    environ = {**os.environ, **(env or {})}
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, check=False, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{Path(argv[0]).name} ran past {timeout:g}s") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise BenchError(f"{Path(argv[0]).name} exited {proc.returncode}: " + " / ".join(tail))
    return elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"
