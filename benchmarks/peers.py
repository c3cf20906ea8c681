"""Peer tools measured like splice: Tavern (pytest plugin) and Postman's newman.

Tavern goes into its own venv, benchmarks/.venv (ignored by git through `.venv/`, kept
between runs); newman into a temporary npm prefix that is removed afterwards. A tool
that does not install is skipped with a notice.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.common import ROOT, BenchError, median, repeat, timed

TAVERN_VENV = ROOT / "benchmarks" / ".venv"
INSTALL_TIMEOUT = 300.0

Result = tuple[str, float | None, str]


def _notice(message: str) -> None:
    print(f"  notice: {message}", file=sys.stderr, flush=True)


def _install(argv: list[str], what: str) -> bool:
    try:
        proc = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _notice(f"{what} did not install ({exc}); skipped")
        return False
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        _notice(f"{what} did not install ({' '.join(last)}); skipped")
        return False
    return True


def _tavern_python() -> Path | None:
    python = TAVERN_VENV / "bin" / "python"
    check = [str(python), "-c", "import tavern._core.pytest"]  # its plugin loads
    if python.exists() and subprocess.run(check, check=False, capture_output=True).returncode == 0:
        return python
    print("  installing tavern into benchmarks/.venv (once)...", file=sys.stderr, flush=True)
    make_venv = [sys.executable, "-m", "venv", str(TAVERN_VENV)]
    if not python.exists() and not _install(make_venv, "a venv"):
        return None
    # Tavern 3.7 imports _pytest.python_api, which pytest 9 removed
    if not _install([str(python), "-m", "pip", "install", "-q", "tavern", "pytest<9"], "tavern"):
        return None
    return python


def _tavern_file(folder: Path, url: str, n: int) -> Path:
    stage = {
        "name": "get item",
        "request": {"url": "{base_url}", "method": "GET"},
        "response": {"status_code": 200, "json": {"id": 1, "name": "widget", "price": 9.5}},
    }
    test = {
        "test_name": f"{n} steps",
        "strict": ["json:off"],  # partial match of the body, as splice's `expect` does
        "includes": [{"name": "vars", "description": "vars", "variables": {"base_url": url}}],
        "stages": [stage] * n,
    }
    path = folder / f"test_steps_{n}.tavern.yaml"
    path.write_text(json.dumps(test), encoding="utf-8")  # JSON is YAML
    return path


def _newman_collection(folder: Path, url: str, n: int) -> Path:
    script = [
        "pm.test('checks', function () {",
        "  pm.response.to.have.status(200);",
        "  const j = pm.response.json();",
        "  pm.expect(j.id).to.eql(1);",
        "  pm.expect(j.name).to.eql('widget');",
        "  pm.expect(j.price).to.eql(9.5);",
        "});",
    ]
    item = {
        "name": "get item",
        "request": {"method": "GET", "url": "{{base_url}}"},
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}],
    }
    collection = {
        "info": {
            "name": "steps",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "variable": [{"key": "base_url", "value": url}],
        "item": [item] * n,
    }
    path = folder / f"steps_{n}.postman_collection.json"
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def _per_step(
    command: Callable[[int], list[str]], cwd: Path, n: int, runs: int, budget: float
) -> float:
    big = median(repeat(lambda: timed(command(n), cwd=cwd), runs, budget))
    one = median(repeat(lambda: timed(command(1), cwd=cwd), runs, budget))
    return (big - one) / (n - 1)


def tavern(url: str, folder: Path, n: int, runs: int, budget: float) -> Result:
    how = "`pytest -q` on a .tavern.yaml, (t(N)-t(1))/(N-1)"
    python = _tavern_python()
    if python is None:
        return "tavern", None, how + "; did not install"
    files = {k: _tavern_file(folder, url, k) for k in (1, n)}
    tmp = str(folder)
    pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp]
    try:
        measured = _per_step(lambda k: [*pytest, str(files[k])], folder, n, runs, budget)
    except BenchError as exc:
        _notice(f"tavern failed: {exc}; skipped")
        return "tavern", None, how + "; failed, see the console"
    return "tavern", measured, how


def newman(url: str, folder: Path, n: int, runs: int, budget: float) -> Result:
    how = "`newman run --silent`, (t(N)-t(1))/(N-1)"
    npm = shutil.which("npm")
    if npm is None:
        _notice("npm not found; newman skipped")
        return "newman", None, how + "; npm not found"
    with tempfile.TemporaryDirectory(prefix="splice-bench-newman-") as prefix:
        print("  installing newman into a temporary npm prefix...", file=sys.stderr, flush=True)
        argv = [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--silent", "newman"]
        if not _install(argv, "newman"):
            return "newman", None, how + "; did not install"
        binary = str(Path(prefix) / "node_modules" / ".bin" / "newman")
        files = {k: _newman_collection(folder, url, k) for k in (1, n)}
        try:
            measured = _per_step(
                lambda k: [binary, "run", str(files[k]), "--silent"], folder, n, runs, budget
            )
        except BenchError as exc:
            _notice(f"newman failed: {exc}; skipped")
            return "newman", None, how + "; failed, see the console"
    return "newman", measured, how


def measure_all(url: str, folder: Path, n: int, runs: int, budget: float) -> Iterator[Result]:
    yield tavern(url, folder, n, runs, budget)
    yield newman(url, folder, n, runs, budget)
