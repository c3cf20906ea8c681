"""Services that do not depend on each other start at the same time; a service that
depends on another starts after it is ready. Checked by what the services see of each
other while they start, not by how long the start takes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# A service that notes what was ready and that it started, then waits (20 s at most) for its peer to have
# started too before it says it is ready; it records what it saw.
SERVICE = """
import json, sys, time
from pathlib import Path

name, peer, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
# What was ready before this service started; looked at before it says it started, since
# its peer may become ready in the instant after.
seen = {"ready_before_me": sorted(p.stem for p in folder.glob("*.ready"))}
(folder / f"{name}.started").touch()
deadline = time.monotonic() + 20
while peer != "-" and not (folder / f"{peer}.started").exists() and time.monotonic() < deadline:
    time.sleep(0.01)
seen["peer_started_before_i_was_ready"] = peer == "-" or (folder / f"{peer}.started").exists()
(folder / f"{name}.json").write_text(json.dumps(seen))
(folder / f"{name}.ready").touch()
print("ready", flush=True)
time.sleep(3600)
"""


def test_independent_services_start_together_and_dependents_after(tmp_path: Path) -> None:
    """`a` and `b` (independent) each become ready only once the other has started, which
    happens only when they start in parallel; `c` (depends on `a`) starts after `a` is
    ready."""
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "service.py").write_text(SERVICE)

    def service(name: str, peer: str, extra: str = "") -> str:
        command = json.dumps([sys.executable, "service.py", name, peer, str(marks)])
        return f"  {name}:\n    kind: process\n    command: {command}\n    ready: {{log: '^ready$'}}\n{extra}"

    (tmp_path / "splice.yaml").write_text(
        "services:\n"
        + service("a", "b")
        + service("b", "a")
        + service("c", "-", "    depends_on: [a]\n")
    )
    (tmp_path / "one.splice.yaml").write_text(
        textwrap.dedent(
            """\
            name: one
            testcases:
              - name: t
                steps:
                  - exec: "true"
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "splice", "run", "one.splice.yaml", "--no-store"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = {name: json.loads((marks / f"{name}.json").read_text()) for name in "abc"}
    assert seen["a"]["peer_started_before_i_was_ready"]
    assert seen["b"]["peer_started_before_i_was_ready"]
    assert seen["a"]["ready_before_me"] == []  # neither waited for the other to be ready
    assert seen["b"]["ready_before_me"] == []
    assert "a" in seen["c"]["ready_before_me"]
