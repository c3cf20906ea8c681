"""The reaper: stops every server and removes every temporary folder splice started,
even when splice itself is killed with SIGKILL.

Like Testcontainers' Ryuk, without Docker: a small watchdog process reads a pipe whose
only writer is the splice process. splice announces each process group and folder it
creates (`pgid N`, `dir PATH`) and what it cleaned up itself (`-pgid N`, `-dir PATH`),
and the tag its processes carry (`mark TAG`, see `splice._internal.services.owners`). When the pipe
closes, whether splice exited or was killed, the reaper stops what is left (SIGTERM, then
SIGKILL after a grace period): the process groups, then every process carrying a tag,
also the helpers (`cp` copying a data folder) and children that left their group. Only
then does it remove the folders, so no process is still writing into them.

Run as `python -m splice._internal.services.reaper`; the pipe is its standard input.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from splice._internal.services import owners

GRACE = 3.0  # seconds between SIGTERM and SIGKILL


def _alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped by
    init do not count: they hold nothing)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(pgid: int, grace: float = GRACE, sig: int = signal.SIGTERM) -> None:
    """Signal a process group, wait up to `grace`, then SIGKILL what remains."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
        os.killpg(pgid, signal.SIGCONT)  # a stopped process must run to see the signal
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pgid):
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def forget_faketime_memory(pid: int) -> None:
    """Remove the shared memory libfaketime made for the process `pid` (shared with its
    children). libfaketime removes it only when that process exits normally, which a
    stopped service does not, so a `clock: true` service would leave files in /dev/shm."""
    for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
        with contextlib.suppress(OSError):
            (Path("/dev/shm") / name).unlink()


def main() -> None:
    """Read announcements until the pipe closes, then clean up what is left."""
    # the reaper must outlive a Ctrl-C aimed at splice's process group
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: dict[int, None] = {}
    dirs: dict[str, None] = {}
    marks: dict[str, None] = {}
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        kind, _, value = line.partition(" ")
        if kind == "pgid":
            groups[int(value)] = None
        elif kind == "-pgid":
            groups.pop(int(value), None)
        elif kind == "dir":
            dirs[value] = None
        elif kind == "-dir":
            dirs.pop(value, None)
        elif kind == "mark":
            marks[value] = None
    threads = [threading.Thread(target=stop_group, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for mark in marks:  # what left its group, and helpers that had none of their own
        owners.stop_marked(mark, grace=GRACE)
    for g in groups:  # a group's leader is the service splice started
        forget_faketime_memory(g)
    for d in reversed(list(dirs)):
        shutil.rmtree(d, ignore_errors=True)


class Reaper:
    """The splice side: starts the watchdog and announces resources to it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()  # not inheritable (PEP 446): children never hold it
        env = owners.unmarked()  # not stopped by the run that may have started this one
        env[owners.REAPER_MARK] = owners.Owner.current().tag  # `owners.sweep` waits for it
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "splice._internal.services.reaper"],
            env=env,
            stdin=read_fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in splice's process group: Ctrl-C must not hit it
            close_fds=True,
        )
        os.close(read_fd)
        self._pipe = os.fdopen(write_fd, "w", buffering=1)
        self._lock = threading.Lock()

    def _say(self, line: str) -> None:
        with self._lock:
            if not self._pipe.closed:
                self._pipe.write(line + "\n")

    def watch_group(self, pgid: int) -> None:
        self._say(f"pgid {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._say(f"-pgid {pgid}")

    def watch_dir(self, path: Path) -> None:
        self._say(f"dir {path}")

    def forget_dir(self, path: Path) -> None:
        self._say(f"-dir {path}")

    def watch_mark(self, tag: str) -> None:
        self._say(f"mark {tag}")

    def close(self, wait: bool = True) -> None:
        """Close the pipe: the reaper cleans whatever was not forgotten, then exits."""
        with self._lock:
            if not self._pipe.closed:
                self._pipe.close()
        if wait:
            try:
                self._proc.wait(timeout=GRACE + 5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    @property
    def pid(self) -> int:
        return self._proc.pid


if __name__ == "__main__":
    main()


class LazyReaper:
    """A Reaper started on first use, so runs that spawn no process pay nothing for it.

    The runner hands it to executors (`StepContext.processes`) that start commands. Folders
    given to `watch_dir` are announced once the reaper runs (a process was started); until
    then only their owner-named folder (`owners.folder_prefix`) lets a later `sweep` find
    them.
    """

    def __init__(self) -> None:
        self._reaper: Reaper | None = None
        self._dirs: list[Path] = []
        self._lock = threading.Lock()

    def watch_group(self, pgid: int) -> None:
        with self._lock:
            if self._reaper is None:
                self._reaper = Reaper()
                for path in self._dirs:
                    self._reaper.watch_dir(path)
        self._reaper.watch_group(pgid)

    def forget_group(self, pgid: int) -> None:
        if self._reaper is not None:
            self._reaper.forget_group(pgid)

    def watch_dir(self, path: Path) -> None:
        with self._lock:
            self._dirs.append(path)
            if self._reaper is not None:
                self._reaper.watch_dir(path)

    def forget_dir(self, path: Path) -> None:
        with self._lock:
            if path in self._dirs:
                self._dirs.remove(path)
            if self._reaper is not None:
                self._reaper.forget_dir(path)

    def close(self) -> None:
        with self._lock:
            if self._reaper is not None:
                self._reaper.close()
                self._reaper = None
