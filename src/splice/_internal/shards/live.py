"""The live view of a Dask run's shards: what the client hears of each shard while it
runs (queued, running on which worker since when, testcases done so far, rerun after its
worker was lost), kept in the store as `shard-progress` artifacts (`store.shard_runs`)
for the run page to read.

The back end calls a `ShardWatcher` from its own threads (Dask's event loop); a
`ShardBoard` only notes what changed, and a thread of its own writes the changes every
`FLUSH` seconds, so a shard of many quick testcases costs a row per flush, not one per
testcase, and a slow store never holds up the client's event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from splice._internal.store.shard_runs import ShardOf, ShardState, progress_item

FLUSH = 0.5  # seconds between writes of the shards' changes (the run page polls every 2 s)

Write = Callable[[list[dict[str, Any]]], None]


class ShardWatcher(Protocol):
    """What a back end reports of its shards as they run (`index` from 0)."""

    def shard_started(self, index: int, worker: str, host: str, pid: int | None) -> None:
        """The shard began on `worker` (its address), the first time or again."""

    def shard_progress(self, index: int, done: int) -> None:
        """`done` of the shard's testcases have finished so far."""

    def worker_lost(self, index: int, worker: str) -> None:
        """`worker`, running the shard, is gone; the scheduler will run it again."""


@dataclass
class _Shard:
    planned: int
    state: ShardState
    since: float
    worker: str = ""
    host: str = ""
    pid: int | None = None
    done: int = 0
    starts: int = 0
    message: str = ""
    changed: bool = True
    ended: bool = False

    def item(self, shard: ShardOf) -> dict[str, Any]:
        return progress_item(
            shard,
            self.state,
            since=self.since,
            worker=self.worker,
            host=self.host,
            pid=self.pid,
            done=self.done,
            planned=self.planned,
            starts=max(1, self.starts),
            message=self.message,
        )


class ShardBoard:
    """The shards of one run as last heard, written through `write` as they change.

    Entering writes every shard as queued (since `started`, the run's start) and starts
    the writing thread; leaving writes what is left and stops it."""

    def __init__(self, planned: list[int], write: Write, started: float) -> None:
        self._shards = [_Shard(n, ShardState.QUEUED, started) for n in planned]
        self._write = write
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="splice-shard-board", daemon=True)

    def __enter__(self) -> ShardBoard:
        self.flush()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def shard_started(self, index: int, worker: str, host: str, pid: int | None) -> None:
        with self._lock:
            shard = self._get(index)
            if shard is None:
                return
            shard.starts += 1
            rerun = shard.starts > 1 or shard.state is ShardState.RERUN
            shard.state = ShardState.RERUN if rerun else ShardState.RUNNING
            shard.since, shard.worker, shard.host, shard.pid = time.time(), worker, host, pid
            shard.done, shard.changed = 0, True

    def shard_progress(self, index: int, done: int) -> None:
        with self._lock:
            shard = self._get(index)
            if shard is not None and done != shard.done:
                shard.done, shard.changed = done, True

    def worker_lost(self, index: int, worker: str) -> None:
        with self._lock:
            shard = self._get(index)
            if shard is None or (shard.worker and shard.worker != worker):
                return  # it already began again elsewhere: that news is newer
            shard.state, shard.since, shard.done = ShardState.RERUN, time.time(), 0
            shard.message = f"its worker {worker} was lost"
            shard.worker, shard.changed = "", True

    def ended(self, index: int) -> None:
        """The shard's end is kept (`shard-end`): nothing more to write for it."""
        with self._lock:
            shard = self._get(index)
            if shard is not None:
                shard.ended = True

    def starts(self, index: int) -> int:
        """How many times the shard was heard to begin (a rerun begins twice)."""
        with self._lock:
            return self._shards[index].starts if 0 <= index < len(self._shards) else 0

    def flush(self) -> None:
        with self._lock:
            count = len(self._shards)
            items = [
                s.item(ShardOf(i + 1, count))
                for i, s in enumerate(self._shards)
                if s.changed and not s.ended
            ]
            for shard in self._shards:
                shard.changed = False
        if items:
            self._write(items)

    def _get(self, index: int) -> _Shard | None:
        if 0 <= index < len(self._shards) and not self._shards[index].ended:
            return self._shards[index]
        return None

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH):
            self.flush()
