"""Owners of processes and folders (services/owners.py): marks, liveness by pid and start
time, and the start-up sweep of what runs that died left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from splice._internal.services import owners

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed at the end if the test did not stop them."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _sleeper(tag: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env=owners.marked(None, tag)
    )


def _gone(proc: subprocess.Popen[bytes], timeout: float = 10) -> bool:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_liveness_tells_a_reused_pid_apart() -> None:
    """This process is alive with its own start time, not with another one; an exited
    process is not alive."""
    me = owners.Owner.current()
    assert me.alive()
    assert not owners.Owner(me.pid, str(int(me.start) + 1)).alive()
    assert not owners.alive(_dead_pid(), me.start)


def test_marks_add_to_what_a_process_inherited() -> None:
    """A tag is added after an inherited one, so an outer run still finds the process."""
    env = owners.marked({"PATH": "/bin", owners.MARK: "1.2.3"}, "4.5.6")
    assert env[owners.MARK] == "1.2.3,4.5.6"
    assert owners.MARK not in owners.unmarked(env)


def test_folders_of_dead_owners_are_swept_and_others_kept(tmp_path: Path) -> None:
    """A folder whose owner died, or whose pid now belongs to another process, is removed;
    the folders of a live owner and folders that are not splice's stay."""
    me = owners.Owner.current()
    dead = tmp_path / f"splice-pg-o{_dead_pid()}.{me.start}-abc123de"
    reused = tmp_path / f"splice-env-o{me.pid}.{int(me.start) + 1}-abc123de"
    mine = Path(f"{tmp_path}/{owners.folder_prefix('redis')}abc123de")
    other = tmp_path / "splice-something-else"
    for folder in (dead, reused, mine, other):
        (folder / "data").mkdir(parents=True)
    removed = owners.sweep([tmp_path], force=True)
    assert sorted(removed) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert mine.is_dir() and other.is_dir()


def test_processes_of_dead_owners_are_stopped_by_the_sweep(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    """A process tagged by an owner that died (and has no reaper) is stopped at start-up;
    one also tagged by a live owner is left to it."""
    start = owners.Owner.current().start
    orphan = _sleeper(f"{_dead_pid()}.{start}.1.1")
    nested = _sleeper(f"{_dead_pid()}.{start}.1.1,{owners.Owner.current().tag}.99.1")
    sleepers += [orphan, nested]
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and len([p for p in owners.scan() if p.pid in (orphan.pid, nested.pid)]) < 2
    ):
        time.sleep(0.01)  # until both have exec'd with their environment
    owners.sweep([tmp_path], force=True)
    assert _gone(orphan)
    assert nested.poll() is None


def test_stop_marked_stops_every_process_under_a_prefix(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    """Processes carrying a tag under the prefix are stopped, the others are not."""
    base = f"{owners.Owner.current().tag}.{os.getpid()}"
    inside, outside = _sleeper(f"{base}.1"), _sleeper(f"{base}1.1")
    sleepers += [inside, outside]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(p.pid == inside.pid for p in owners.scan()):
        time.sleep(0.01)
    assert owners.stop_marked(base) == 1
    assert _gone(inside)
    assert outside.poll() is None
