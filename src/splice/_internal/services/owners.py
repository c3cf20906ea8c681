"""Who owns each process and folder splice makes, so that none outlives its run.

Processes carry a mark. Every process splice starts for an environment (each server, and
each helper such as `cp` or `initdb`) gets `SPLICE_OWNER=<tag>` in its environment, and
its children inherit it, also the ones that leave the process group: `setsid child &`, a
daemon that forks twice, Erlang's erl_child_setup. Stopping a service stops its process
group, then every process still carrying its tag; after `kill -9` of splice the reaper
does the same for the whole environment. A tag is `<pid>.<start>.<n>...`: the owning
splice process, then one number per Resources and per process started. A splice run
inside a service of another run adds its own tag after the one it inherited, so both
runs can find the process.

Folders carry their owner in their name, `splice-<what>-o<pid>.<start>-<random>`. The
start time (clock ticks since boot, from /proc) tells a live owner from an unrelated
process that got the same pid later. At start-up, `sweep` removes the folders, and stops
the marked processes, of owners that are gone and whose reaper is gone too (both killed,
or a crash of the machine for folders outside tmpfs).

Why not a child subreaper (PR_SET_CHILD_SUBREAPER) or a cgroup: a subreaper adopts the
orphans of its descendants only while it lives, so after `kill -9` of splice they go to
init and nobody knows them; it would also make splice reap children it did not start,
taking their exit codes from `subprocess`. cgroups need a delegated hierarchy, which CI
containers and most machines do not give an ordinary user. The mark works for any user
on Linux, outlives splice, and costs one pass over /proc per stop (1-2 ms for a few
hundred processes). What it cannot see: a descendant that clears its environment
(`env -i`) or changes user to one splice cannot read; elsewhere than Linux only the
process group is stopped. A run in another pid namespace (a container) that shares this
temporary folder looks dead from here: give each its own (SPLICE_TMPDIR).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MARK = "SPLICE_OWNER"  # the environment variable holding a process's tags
REAPER_MARK = "SPLICE_REAPER_OF"  # in a reaper's environment: the owner it cleans up for
GRACE = 3.0
_PROC = Path("/proc")
_FOLDER = re.compile(r"^splice-.+-o(\d+)\.(\d+)-[a-z0-9_]+$")


def start_time(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot); None when it is not running (a zombie
    is not); "0" where there is no /proc to ask."""
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "0"
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command name: state, ppid, pgrp, ... starttime is the 20th
    return None if fields[0] in ("Z", "X") else fields[19]


def alive(pid: int, start: str) -> bool:
    """Whether the process `pid` that started at `start` still runs (a reused pid does not
    count)."""
    now = start_time(pid)
    return now is not None and (now == start or "0" in (now, start))


@dataclass(frozen=True)
class Owner:
    """A splice process, as its tags and folder names name it."""

    pid: int
    start: str

    @classmethod
    def current(cls) -> Owner:
        return cls(os.getpid(), start_time(os.getpid()) or "0")

    @classmethod
    def of_tag(cls, tag: str) -> Owner | None:
        parts = tag.split(".")
        if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            return None
        return cls(int(parts[0]), parts[1])

    @property
    def tag(self) -> str:
        return f"{self.pid}.{self.start}"

    def alive(self) -> bool:
        return alive(self.pid, self.start)


def folder_prefix(what: str) -> str:
    """The start of a temporary folder's name: what it is for, and its owner."""
    return f"splice-{what}-o{Owner.current().tag}-"


def tmp_root() -> Path:
    """Where splice's temporary folders go (and where `sweep` looks): `SPLICE_TMPDIR`, else
    the system's temporary folder."""
    return Path(os.environ.get("SPLICE_TMPDIR") or tempfile.gettempdir())


def new_folder(what: str) -> Path:
    """A new owner-named folder under `tmp_root()`: removed by its owner when done, and by
    the next run's `sweep` when its owner was killed."""
    return Path(tempfile.mkdtemp(prefix=folder_prefix(what), dir=tmp_root()))


def marked(env: Mapping[str, str] | None, tag: str) -> dict[str, str]:
    """`env` (default: this process's) with `tag` added to its mark."""
    out = dict(os.environ if env is None else env)
    inherited = out.get(MARK)
    out[MARK] = f"{inherited},{tag}" if inherited else tag
    return out


def unmarked(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) without any mark."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != MARK}


@dataclass(frozen=True)
class Marked:
    """A running process with a mark (or a reaper)."""

    pid: int
    start: str
    tags: tuple[str, ...]
    reaper_of: str | None = None


def scan() -> list[Marked]:
    """Every process this user may inspect that carries a mark or is a reaper."""
    if not _PROC.is_dir():
        return []
    found = []
    needles = (f"{MARK}=".encode(), f"{REAPER_MARK}=".encode())
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:  # gone meanwhile, a kernel thread, or not ours to read
            continue
        if needles[0] not in environ and needles[1] not in environ:
            continue
        values = dict(item.split(b"=", 1) for item in environ.split(b"\0") if b"=" in item)
        start = start_time(int(entry.name))
        if start is None:
            continue
        tags = values.get(needles[0][:-1], b"").decode(errors="replace")
        reaper = values.get(needles[1][:-1])
        found.append(
            Marked(
                int(entry.name),
                start,
                tuple(t for t in tags.split(",") if t),
                reaper.decode(errors="replace") if reaper else None,
            )
        )
    return found


def carries(process: Marked, prefix: str) -> bool:
    """Whether the process carries `prefix` or a tag under it."""
    return any(t == prefix or t.startswith(f"{prefix}.") for t in process.tags)


def stop_marked(prefix: str, *, sig: int = signal.SIGTERM, grace: float = GRACE) -> int:
    """Stop every process carrying `prefix` (signal, SIGKILL after `grace`); again for
    those they started meanwhile. The number of processes stopped."""
    stopped = 0
    for _ in range(3):
        targets = [p for p in scan() if carries(p, prefix)]
        if not targets:
            break
        stopped += len(targets)
        stop_processes([(p.pid, p.start) for p in targets], sig=sig, grace=grace)
    return stopped


def stop_processes(
    targets: list[tuple[int, str]], *, sig: int = signal.SIGTERM, grace: float = GRACE
) -> None:
    """Signal each (pid, start time) that still runs, wait up to `grace`, SIGKILL the rest."""
    for pid, start in targets:
        if alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
                os.kill(pid, signal.SIGCONT)  # a stopped process must run to see it
    deadline = time.monotonic() + grace
    left = targets
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [t for t in left if alive(*t)]
    for pid, start in left:
        if alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


_swept: set[int] = set()  # the pids that swept (a forked child sweeps again)


def sweep(roots: Iterable[Path], *, force: bool = False) -> list[Path]:
    """Once per process: stop the processes and remove the folders of splice owners that
    are gone and have no reaper left. The folders removed."""
    if os.getpid() in _swept and not force:
        return []
    _swept.add(os.getpid())
    stale: dict[Owner, list[Path]] = {}
    for root in dict.fromkeys(roots):
        with contextlib.suppress(OSError), os.scandir(root) as entries:
            for entry in entries:
                match = _FOLDER.match(entry.name)
                if match:
                    owner = Owner(int(match.group(1)), match.group(2))
                    if not owner.alive():
                        stale.setdefault(owner, []).append(Path(entry.path))
    processes = scan()
    reaping = {p.reaper_of for p in processes if p.reaper_of}
    gone: dict[str, bool] = {}

    def orphaned(tag: str) -> bool:
        owner = Owner.of_tag(tag)
        if owner is None:
            return False
        if owner.tag not in gone:
            gone[owner.tag] = owner.tag not in reaping and not owner.alive()
        return gone[owner.tag]

    victims = [p for p in processes if p.tags and all(orphaned(t) for t in p.tags)]
    if victims:
        stop_processes([(p.pid, p.start) for p in victims])
    removed = []
    for owner, folders in stale.items():
        if owner.tag in reaping:
            continue  # its reaper is still cleaning up
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
