"""The warm pool (`splice run --warm`, `warm:` in splice.yaml) against real PostgreSQL and
Redis servers: a second run attaches to the same servers and sees none of the first run's
data, two attached runs are isolated from each other, `kill -9` of the supervisor leaves
nothing, a changed configuration restarts the pool, the idle timeout stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from splice._internal.environment.up_state import alive
from tests.support.cli import splice_cli

PROJECT = """
    name: warm
    services:
      db: {kind: postgres, database: app}
      cache: {kind: redis}
"""

# run 1 leaves a row and a key behind; a later run must see neither
WRITES = """
    name: writes
    testcases:
      - name: sees nothing of another run, then writes
        steps:
          - sql: {service: db, query: "create table if not exists t (v int)"}
          - sql: {service: db, query: "select count(*) as n from t"}
            expect: {rows: [{n: 0}]}
          - sql: {service: db, query: "insert into t values (1)"}
          - redis: {service: cache, command: [GET, k]}
            expect: {value: null}
          - redis: {service: cache, command: [SET, k, v]}
"""


def _project(root: Path, yaml: str = PROJECT, suite: str = WRITES) -> Path:
    (root / "splice.yaml").write_text(textwrap.dedent(yaml).lstrip())
    (root / "suites").mkdir(exist_ok=True)
    (root / "suites" / "w.splice.yaml").write_text(textwrap.dedent(suite).lstrip())
    return root


def _state(root: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((root / ".splice" / "up.json").read_text())
    return state


def _server_pids(root: Path) -> dict[str, int]:
    return {n: int(s["pid"]) for n, s in _state(root)["services"].items()}


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        time.sleep(0.05)


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = splice_cli(root, "run", "--no-store", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Path]:
    """A project whose warm pool is stopped (and checked gone) at the end."""
    root = _project(tmp_path)
    yield root
    pids: list[int] = []
    if (root / ".splice" / "up.json").exists():
        pids = [int(_state(root)["pid"]), *_server_pids(root).values()]
    assert splice_cli(root, "down").returncode == 0
    _wait(lambda: not any(alive(p) for p in pids), "the pool's processes stopped")


def test_second_run_attaches_and_sees_nothing_of_the_first(pool: Path) -> None:
    """Run 2 uses run 1's servers (same pids), with a fresh database and Redis database:
    the row and the key run 1 wrote are not there (its suite expects none)."""
    _run(pool, "--warm")
    first = _server_pids(pool)
    supervisor = _state(pool)["pid"]
    second = _run(pool, "--warm")
    assert _server_pids(pool) == first
    assert _state(pool)["pid"] == supervisor
    assert f"using the warm pool (pid {supervisor})" in second.stderr
    status = splice_cli(pool, "status")
    assert status.returncode == 0 and status.stdout.count("ready") == 2, status.stdout
    assert "warm pool: 0 runs attached; stops after 600s without a run" in status.stdout


BARRIER = """
    name: together
    testcases:
      - name: writes while the other run writes
        steps:
          - sql: {service: db, query: "create table if not exists t (v int)"}
          - sql: {service: db, query: "insert into t values (1)"}
          - redis: {service: cache, command: [INCR, k]}
          - exec:
              command: >-
                touch "$MINE";
                for i in $(seq 1200); do [ -e "$THEIRS" ] && exit 0; sleep 0.05; done;
                exit 1
              shell: true
          - sql: {service: db, query: "select count(*) as n from t"}
            expect: {rows: [{n: 1}]}
          - redis: {service: cache, command: [GET, k]}
            expect: {value: "1"}
"""


def test_two_attached_runs_are_isolated(pool: Path) -> None:
    """Two runs attached at once, each waiting for the other to have written: each sees
    only its own row and its own counter."""
    _project(pool, suite=BARRIER)
    procs = []
    for mine, theirs in (("a", "b"), ("b", "a")):
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "MINE": str(pool / mine),
            "THEIRS": str(pool / theirs),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "splice", "run", "--warm", "--no-store"],
                cwd=pool,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("using the warm pool" in out for out in outputs), outputs


def _shm_of(pid: int) -> set[str]:
    """The /dev/shm entries a process has mapped."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in maps.splitlines() if "/dev/shm/" in line}


def test_kill_9_of_the_supervisor_leaves_nothing_and_the_next_run_starts_afresh(
    pool: Path,
) -> None:
    """After `kill -9` of the supervisor its reaper stops every server and removes their
    folders and shared memory; the next `--warm` run starts a new pool without error."""
    _run(pool, "--warm")
    state = _state(pool)
    supervisor = int(state["pid"])
    servers = list(_server_pids(pool).values())
    folders = {Path(s["log"]).parent for s in state["services"].values()}
    shm = set().union(*(_shm_of(p) for p in servers))
    # the folders of the supervisor's servers and helpers carry its pid (services.owners)
    shm |= {str(p) for p in Path("/dev/shm").glob(f"splice-*-o{supervisor}.*")}
    assert folders and all(f.is_dir() for f in folders)
    if any(str(f).startswith("/dev/shm/") for f in folders):
        assert shm, "servers in /dev/shm, but no entry of theirs found"
    os.kill(supervisor, signal.SIGKILL)
    _wait(lambda: not any(alive(p) for p in (supervisor, *servers)), "the servers stopped")
    _wait(lambda: not any(f.exists() for f in folders), "their folders removed")
    _wait(lambda: not any(Path(s).exists() for s in shm), "their /dev/shm entries removed")
    _run(pool, "--warm")
    assert int(_state(pool)["pid"]) != supervisor
    assert set(_server_pids(pool).values()).isdisjoint(servers)


def test_a_changed_service_configuration_restarts_the_pool(pool: Path) -> None:
    """A pool started for another configuration is stopped, not attached to."""
    _run(pool, "--warm")
    old = int(_state(pool)["pid"])
    old_servers = list(_server_pids(pool).values())
    changed = PROJECT.replace("cache: {kind: redis}", "cache: {kind: redis, databases: 8}")
    _project(pool, yaml=changed)
    _run(pool, "--warm")
    assert int(_state(pool)["pid"]) != old
    assert not alive(old)
    _wait(lambda: not any(alive(p) for p in old_servers), "the old servers stopped")


def test_the_idle_timeout_stops_the_pool(tmp_path: Path) -> None:
    """`warm: {idle: 1s}` in splice.yaml: a plain `splice run` uses a pool, which stops
    itself and its servers once no run has been attached for a second."""
    root = _project(tmp_path, PROJECT + "    warm: {idle: 1s}\n")
    try:
        _run(root)
        supervisor = int(_state(root)["pid"])
        servers = list(_server_pids(root).values())
        assert _state(root)["warm"]["idle"] == 1.0
        _wait(lambda: not any(alive(p) for p in (supervisor, *servers)), "the pool stopped")
        assert splice_cli(root, "status").stdout.strip() == "nothing is up"
        assert not list((root / ".splice" / "warm").glob("*.ready"))  # shares made ahead
    finally:
        splice_cli(root, "down")


def test_no_warm_overrides_the_project_setting(tmp_path: Path) -> None:
    """`--no-warm` starts and stops the services as a run without a pool does."""
    root = _project(tmp_path, PROJECT + "    warm: true\n")
    _run(root, "--no-warm")
    assert not (root / ".splice" / "up.json").exists()


RABBIT = """
    name: warm-bus
    services:
      bus: {kind: rabbitmq}
"""

VHOST = """
    name: vhost
    testcases:
      - name: notes its vhost and declares a queue in it
        steps:
          - exec: {command: "echo '{{ services.bus.vhost }}' >> vhosts.txt", shell: true}
          - amqp: {service: bus, declare: {queues: [mine]}}
"""


def test_rabbitmq_runs_get_a_vhost_of_their_own(tmp_path: Path) -> None:
    """Two warm runs on one RabbitMQ node (same pid), each in a vhost of its own, not the
    node's default one."""
    root = _project(tmp_path, RABBIT, VHOST)
    try:
        _run(root, "--warm")
        node = _server_pids(root)
        _run(root, "--warm")
        assert _server_pids(root) == node
        vhosts = (root / "suites" / "vhosts.txt").read_text().split()  # beside the suite
        assert len(vhosts) == 2 and len(set(vhosts)) == 2 and "/" not in vhosts, vhosts
    finally:
        pid = int(_state(root)["pid"]) if (root / ".splice" / "up.json").exists() else 0
        splice_cli(root, "down")
        _wait(lambda: not pid or not alive(pid), "the pool stopped")


def test_the_python_api_attaches_too(pool: Path) -> None:
    """`splice.run(warm=True)` attaches to the pool `splice run --warm` left, with a share
    of its own (its suite expects none of the first run's row and key)."""
    import splice

    _run(pool, "--warm")
    servers = _server_pids(pool)
    result = splice.run([pool / "suites"], project=pool / "splice.yaml", warm=True)
    assert result.status.value == "passed", result.testcases()[0].attempts[0].steps
    assert _server_pids(pool) == servers
