"""`./dev` says what it is doing while it makes the virtual environment (about a minute)."""

from __future__ import annotations

import re
from pathlib import Path

BOOTSTRAP = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap.sh"


def test_bootstrap_announces_each_slow_step_before_it_runs() -> None:
    """Creating .venv and installing into it are each preceded by a message on stderr."""
    lines = BOOTSTRAP.read_text().splitlines()
    slow = [i for i, line in enumerate(lines) if re.search(r"-m venv|pip install", line)]
    assert slow
    for i in slow:
        before = "\n".join(lines[max(0, i - 3) : i + 1])
        assert re.search(r'echo "splice: [^"]+" >&2', before), lines[i]
