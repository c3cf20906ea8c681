"""Is the process that recorded a run still alive? Runs of dead processes are marked killed.

A pid alone is not enough: pids are reused, so the start time of the process is kept with
it (Linux: field 22 of /proc/PID/stat) and both must match.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()


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
