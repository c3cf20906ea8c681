"""Ports, temporary folders and processes of one environment, none of them left behind.

Ports: two splice runs on one machine must never pick the same port between choosing it
and the server binding it. A port is reserved by binding a Linux abstract socket named
after it (`\0splice-port-N`: no file, released by the kernel when the holder exits, even
when killed), after checking it can be bound; the reservation is held while the service
runs. Elsewhere a flock on `<tmp>/splice-ports/N.lock` does the same.

Processes and folders: each carries its owner (`splice._internal.services.owners`), so that stopping
a service also stops the children that left its process group, the reaper can stop
helpers after `kill -9` of splice, and the first environment of a process sweeps away
what runs that died with their reaper left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from splice._internal.services import owners
from splice._internal.services.reaper import Reaper, forget_faketime_memory

PORT_RANGE = (20000, 32000)  # below Linux's default ephemeral range (32768-60999)
_SERIAL = itertools.count(1)  # tells apart the Resources of one process


def cache_root() -> Path:
    """Where initialised clusters and other slow-to-make things are kept between runs."""
    if os.environ.get("SPLICE_CACHE_DIR"):
        return Path(os.environ["SPLICE_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "splice"


def _tmp_root() -> Path:
    return owners.tmp_root()


def fast_tmp_root() -> Path:
    """tmpfs when available (PostgreSQL starts 5-10x faster there), else the temp dir."""
    shm = Path("/dev/shm")
    if not os.environ.get("SPLICE_TMPDIR") and shm.is_dir() and os.access(shm, os.W_OK):
        stat = os.statvfs(shm)
        if stat.f_bavail * stat.f_frsize > 512 * 1024 * 1024:
            return shm
    return _tmp_root()


class Resources:
    """Everything an environment allocates, announced to the reaper as it is created."""

    def __init__(self, reaper: Reaper | None = None) -> None:
        self.reaper = reaper
        self._lock = threading.Lock()
        self._port_locks: dict[int, socket.socket | IO[bytes]] = {}
        self._groups: dict[int, subprocess.Popen[bytes]] = {}
        self._marks: dict[int, str] = {}  # the tag of each spawned group's processes
        self._dirs: list[Path] = []
        self.tag = f"{owners.Owner.current().tag}.{next(_SERIAL)}"
        self._spawned = itertools.count(1)
        owners.sweep([_tmp_root(), fast_tmp_root()])
        if reaper:
            reaper.watch_mark(self.tag)

    # ports -----------------------------------------------------------------------------
    def port(self) -> int:
        """A free TCP port on 127.0.0.1, reserved against other splice processes."""
        for _ in range(200):
            candidate = random.randint(*PORT_RANGE)
            if candidate in self._port_locks or not _bindable(candidate):
                continue
            handle = _reserve(candidate)
            if handle is None:
                continue
            with self._lock:
                self._port_locks[candidate] = handle
            return candidate
        raise RuntimeError("no free TCP port found in 200 tries")

    def release_port(self, port: int) -> None:
        with self._lock:
            handle = self._port_locks.pop(port, None)
        if handle is not None:
            handle.close()

    # folders ---------------------------------------------------------------------------
    def tempdir(self, prefix: str, *, fast: bool = False) -> Path:
        root = fast_tmp_root() if fast else _tmp_root()
        path = Path(tempfile.mkdtemp(prefix=owners.folder_prefix(prefix), dir=root))
        with self._lock:
            self._dirs.append(path)
        if self.reaper:
            self.reaper.watch_dir(path)
        return path

    def remove_dir(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        with self._lock:
            if path in self._dirs:
                self._dirs.remove(path)
        if self.reaper:
            self.reaper.forget_dir(path)

    # processes -------------------------------------------------------------------------
    def helper_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a helper command (`cp`, `initdb`): `env` (default: this
        process's) marked, so that the reaper stops it when splice is killed mid-way."""
        return owners.marked(env, f"{self.tag}.0")

    def spawn(
        self,
        args: Sequence[str] | str,
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | int | None = None,
        shell: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start a server in its own process group, output to `log`, tracked by the reaper;
        it and every process it starts carry a tag of their own."""
        log.parent.mkdir(parents=True, exist_ok=True)
        mark = f"{self.tag}.{next(self._spawned)}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=owners.marked(env, mark),
                cwd=cwd,
                start_new_session=True,
                shell=shell,
                user=user,
            )
        with self._lock:
            self._groups[proc.pid] = proc
            self._marks[proc.pid] = mark
        if self.reaper:
            self.reaper.watch_group(proc.pid)
        return proc

    def stop(
        self, proc: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, grace: float = 5.0
    ) -> None:
        """Stop a spawned server and its children (signal, then SIGKILL after `grace`): its
        process group first, then what still carries its tag (children that left the
        group, such as `setsid child &`).

        Waits on the process itself rather than polling its group: an exited leader
        stays a zombie member of the group until it is reaped, which only we can do.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
            os.killpg(proc.pid, signal.SIGCONT)  # a stopped process must run to see it
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        # children that outlive the leader, or a leader that ignored the signal
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        with self._lock:
            mark = self._marks.pop(proc.pid, None)
        if mark is not None:
            owners.stop_marked(mark, sig=sig, grace=grace)
        forget_faketime_memory(proc.pid)  # left by a `clock: true` service (as the reaper does)
        with self._lock:
            self._groups.pop(proc.pid, None)
        if self.reaper:
            self.reaper.forget_group(proc.pid)

    def close(self) -> None:
        """Stop every process still running and remove every folder, in reverse order."""
        with self._lock:
            procs = list(self._groups.values())
        threads = [threading.Thread(target=self.stop, args=(p,)) for p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        owners.stop_marked(self.tag)  # helpers, and anything else of this environment
        for path in reversed(list(self._dirs)):
            self.remove_dir(path)
        for port in list(self._port_locks):
            self.release_port(port)


def _reserve(port: int) -> socket.socket | IO[bytes] | None:
    """Hold a machine-wide reservation of `port`, or None when another process holds it."""
    if sys.platform.startswith("linux"):
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0splice-port-{port}")
        except OSError:
            lock.close()
            return None
        return lock
    folder = _tmp_root() / "splice-ports"
    folder.mkdir(mode=0o777, exist_ok=True)
    handle = (folder / f"{port}.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
