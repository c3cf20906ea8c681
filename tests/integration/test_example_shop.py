"""The shop example (examples/shop) runs end to end with `splice run` and leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
# the app and the worker are started as `python -m ...`: the venv's python must come first
VENV_BIN = Path(sys.executable).parent


def _processes_mentioning(marker: str) -> list[str]:
    """Processes whose command line or environment contains `marker` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker.encode() in cmdline or marker.encode() in environ:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


@pytest.fixture
def run_temp() -> Iterator[Path]:
    """A folder for every temporary folder of the run (SPLICE_TMPDIR). Not under tmp_path:
    PostgreSQL runs as an unprivileged user, who must be able to reach its data folder,
    and pytest's base folder is private to the user running the tests."""
    path = Path(tempfile.mkdtemp(prefix="splice-shop-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_shop_example_passes_and_leaves_nothing_behind(tmp_path: Path, run_temp: Path) -> None:
    """`splice run` in examples/shop starts its five services with the local provider,
    passes every testcase, and afterwards no process and no temporary folder of the run
    remains."""
    project = tmp_path / "shop"
    # a copy, so the run's logs (.splice/) are written here and not into the repository
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".splice", "__pycache__"))
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SPLICE_TMPDIR": str(run_temp),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "splice", "run", "--json", str(report)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    data = json.loads(report.read_text())
    services = {s["name"]: s["provider"] for s in data["services"]}
    # passwords are masked, and nothing else: generated passwords never match a path or user
    assert all("/.splice/logs/" in s["log"] for s in data["services"]), data["services"]
    assert "****" not in output
    assert services == dict.fromkeys(["db", "cache", "bus", "events", "app", "worker"], "local")
    statuses = _statuses(data)
    assert sorted(statuses) == _testcases_in(project / "suites"), output
    assert set(statuses.values()) == {"passed"}, statuses

    assert list(run_temp.iterdir()) == [], "temporary folders left behind"
    # servers that rewrite their process title (redis-server) hide the marker; their
    # ports tell instead
    assert _processes_mentioning(str(run_temp)) == [], "processes of the run left behind"
    ports = {s["name"]: urlsplit(s["url"]).port for s in data["services"]}
    assert [name for name, port in ports.items() if port and _listening(port)] == []


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    """testcase id -> status, from splice's JSON report."""
    return {tc["id"]: tc["status"] for suite in report["suites"] for tc in suite["testcases"]}


def _testcases_in(folder: Path) -> list[str]:
    """Ids (`suite::testcase`) of every testcase the example's suites define."""
    ids = []
    for path in folder.glob("*.splice.yaml"):
        suite = yaml.safe_load(path.read_text())
        ids += [f"{suite['name']}::{tc['name']}" for tc in suite["testcases"]]
    return sorted(ids)
