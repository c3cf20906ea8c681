"""Which modules a `splice` command imports: it runs in a fresh interpreter that prints
`sys.modules` when the command ends, so a test can say what a command must not load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_IMPORTED = """
import runpy, sys, json
sys.argv = ["splice", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("splice", run_name="__main__")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def imported_by(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    """The exit code of `splice ARGS` run in `cwd` and the modules it had imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = json.loads(proc.stderr.strip().splitlines()[-1])
    return found["code"], set(found["modules"])


def heavy(modules: set[str], names: tuple[str, ...]) -> set[str]:
    """The modules of `modules` that belong to the packages `names` (or are one of them)."""
    return {m for m in modules if m.split(".")[0] in names or m in names}
