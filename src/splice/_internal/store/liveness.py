"""Is the process that recorded a run still alive? Runs of dead processes are marked killed.

A pid alone is not enough: pids are reused, so the start time of the process is kept with
it (Linux: field 22 of /proc/PID/stat) and both must match.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HOST = socket.gethostname()
# a run of another host (streamed with --report-to) without any event for this long is
# taken for killed: the recorder sends a heartbeat every 30 seconds while a run is quiet
STALE_AFTER = 600.0


def process_start(pid: int) -> str | None:
    """An opaque marker of when `pid` started, None where the platform does not tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid: int | None, start: str | None) -> bool:
    """True when `pid` runs and, if its start marker was recorded, is the same process."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if start is None:
        return True
    now = process_start(pid)
    return now is None or now == start


def dead_runs(running: Iterable[Any], stale: set[str]) -> list[str]:
    """Ids of the `running` runs (rows with id, host, pid, pid_start) whose process is gone:
    on this host, a pid that no longer runs; elsewhere (or without a pid), a run in `stale`,
    silent for longer than its heartbeats allow."""
    return [
        row.id
        for row in running
        if (row.host == HOST and row.pid and not alive(row.pid, row.pid_start))
        or (row.id in stale and (row.host != HOST or not row.pid))
    ]
