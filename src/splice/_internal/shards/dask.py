"""Shards as tasks on Dask distributed: a LocalCluster of worker processes on this machine
by default, or an existing scheduler (`dask:tcp://host:8786`), so dask-kubernetes,
dask-jobqueue and SSH clusters work unchanged.

Each shard is one task. A worker that dies mid-shard loses nothing for good: the
scheduler runs the task again on another worker (Dask's own rescheduling of a lost
worker's tasks), the shard's results come from that run, and the run records that the
shard ran more than once. A shard whose task keeps killing workers (Dask's
`allowed-failures`, 3 by default) is reported as an error with its testcases named.

While the shards run, each reports to the client through Dask's structured events: the
task logs an event (`Worker.log_event`) on a topic of the run's own when it starts (its
worker's address, host and pid) and as each testcase finishes, and the client, subscribed
to that topic (`Client.subscribe_topic`), tells its `ShardWatcher`. The scheduler's own
`remove-worker` event (topic `all`) names the tasks a lost worker was processing: those
shards are to run again.

Starting a local cluster takes seconds (a scheduler, worker processes that import dask
and splice), so it starts in the background when the `with` block opens, while the
caller plans the shards; `run` waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from splice._internal.errors import UsageError
from splice._internal.model.durations import parse_duration
from splice._internal.services import owners
from splice._internal.shards.live import ShardWatcher
from splice._internal.shards.worker import ShardResult, ShardTask, run_shard

CONNECT_TIMEOUT = "10s"  # to an existing scheduler; SPLICE_DASK_CONNECT_TIMEOUT overrides
# imported by each local worker as it starts, not when its first shard arrives
PRELOAD = "splice._internal.shards.worker"
INSTALL = "pip install 'splice[dask]'"


def connect_timeout() -> float:
    """Seconds to wait for an existing scheduler: `SPLICE_DASK_CONNECT_TIMEOUT` (a
    duration, `30s`) or 10 s; a bad value is a usage error, not Dask's traceback."""
    raw = os.environ.get("SPLICE_DASK_CONNECT_TIMEOUT", CONNECT_TIMEOUT)
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise UsageError(
            f"SPLICE_DASK_CONNECT_TIMEOUT: {exc}", "write a duration such as 30s or 1m"
        ) from None
    if seconds <= 0:
        raise UsageError(
            f"SPLICE_DASK_CONNECT_TIMEOUT must be above zero, got {raw!r}", "for example 30s"
        )
    return seconds


class ShardLost(Exception):
    def __init__(self, task: ShardTask, reason: str) -> None:
        super().__init__(reason)
        self.task = task
        self.reason = reason


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise UsageError("sharding on Dask needs dask and distributed", INSTALL) from exc
    return distributed


def run_reporting(task: ShardTask, topic: str) -> ShardResult:
    """`run_shard` in a Dask task, its progress logged as events on `topic`."""
    worker = _distributed().get_worker()

    def report(message: dict[str, Any]) -> None:
        worker.log_event(topic, message)  # thread-safe: sent from the worker's event loop

    return run_shard(task, report, worker=str(worker.address))


def _listen(
    keys: dict[str, int], watcher: ShardWatcher
) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """The handlers of the run's topic and of the scheduler's `all` (each event a
    `(timestamp, message)` pair, on the client's event loop: they only pass it on)."""

    def heard(event: Any) -> None:
        message = event[1] if isinstance(event, tuple | list) and len(event) == 2 else None
        if not isinstance(message, dict) or not isinstance(message.get("shard"), int):
            return
        index = message["shard"]
        if message.get("event") == "started":
            pid = message.get("pid")
            watcher.shard_started(
                index,
                str(message.get("worker") or ""),
                str(message.get("host") or ""),
                pid if isinstance(pid, int) else None,
            )
        elif message.get("event") == "done" and isinstance(message.get("done"), int):
            watcher.shard_progress(index, message["done"])

    def scheduler(event: Any) -> None:
        message = event[1] if isinstance(event, tuple | list) and len(event) == 2 else None
        if not isinstance(message, dict) or message.get("action") != "remove-worker":
            return
        for key in message.get("processing-tasks") or ():
            if key in keys:
                watcher.worker_lost(keys[key], str(message.get("worker") or ""))

    return heard, scheduler


def scratch_folder() -> Path:
    """A folder for a local cluster's scheduler and workers (Dask's `local_directory`),
    owner-named, so that a later splice run sweeps it away if its owner was killed."""
    return owners.new_folder("dask")


def local_cluster(workers: int, directory: Path) -> Any:
    """A LocalCluster of `workers` processes (one thread each) that import splice's worker
    module as they start, keeping their files in `directory` (Dask's own scratch folder too,
    which it would otherwise leave in the temporary folder)."""
    distributed = _distributed()
    import dask

    with dask.config.set({"temporary-directory": str(directory)}):
        return distributed.LocalCluster(
            n_workers=workers,
            local_directory=str(directory),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            preload=[PRELOAD],
        )


def connect(address: str, option: str = "--on") -> Any:
    """A client of the scheduler at `address`; a usage error when it does not answer
    within `connect_timeout()`."""
    wait = connect_timeout()
    try:
        return _distributed().Client(address, timeout=wait)
    except (OSError, TimeoutError) as exc:
        raise UsageError(
            f"cannot reach the Dask scheduler at {address!r} within {wait:g}s: {exc}",
            "start it (`dask scheduler`) or check the address; without one, "
            f"`{option} dask` starts a local cluster",
        ) from exc


class KeptCluster:
    """The Dask cluster of a long-lived process (`splice serve --dist dask[:ADDRESS]`),
    whose runs are each given its address (`splice shard run --on dask:ADDRESS`): a
    LocalCluster it starts and closes, or an existing scheduler, checked to answer."""

    def __init__(self, address: str | None, workers: int, option: str = "--dist") -> None:
        self.cluster: Any = None
        self.folder: Path | None = None
        if address is None:
            self.folder = scratch_folder()
            self.cluster = local_cluster(workers, self.folder)
            self.address: str = self.cluster.scheduler_address
        else:
            connect(address, option).close()
            self.address = address

    def close(self) -> None:
        """Close the local cluster (its workers stop) and remove its folder; again: nothing."""
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class DaskBackend:
    """A Dask client for the duration of a `with` block (and the cluster it started).
    Entering starts connecting in the background; `run` waits for it, and leaving
    closes whatever was started, also when the block ends before `run`."""

    def __init__(self, address: str | None, workers: int) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None
        self.folder: Path | None = None
        self._opening: Future[None] | None = None

    def __enter__(self) -> DaskBackend:
        _distributed()  # a missing install is an error at once, not in the background
        pool = ThreadPoolExecutor(1, thread_name_prefix="splice-dask-start")
        self._opening = pool.submit(self._open)
        pool.shutdown(wait=False)
        return self

    def _ready(self) -> None:
        if self._opening is None:
            raise RuntimeError("DaskBackend.run outside its `with` block")
        self._opening.result()  # the cluster's or the connection's error, as raised

    def _open(self) -> None:
        if self.address is None:
            self.folder = scratch_folder()
            self.cluster = local_cluster(self.workers, self.folder)
            self.client = _distributed().Client(self.cluster)
            return
        self.client = connect(self.address)

    def __exit__(self, *exc: object) -> None:
        if self._opening is not None:
            with contextlib.suppress(Exception):  # raised to the caller by `run` already
                self._opening.result()  # close what it started, not half of it
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def run(
        self,
        tasks: list[ShardTask],
        on_result: Callable[[ShardResult], None],
        on_lost: Callable[[ShardLost], None],
        watcher: ShardWatcher | None = None,
    ) -> None:
        """Run every shard; call `on_result` as each finishes (in finishing order), and
        tell `watcher` what is heard of them before."""
        self._ready()
        distributed = _distributed()
        tag = uuid.uuid4().hex[:8]
        topic = f"splice-shards-{tag}"
        keys = {f"splice-shard-{task.index}-{tag}": task.index for task in tasks}
        if watcher is not None:  # subscribed before any task can start: none is missed
            heard, scheduler = _listen(keys, watcher)
            self.client.subscribe_topic(topic, heard)
            self.client.subscribe_topic("all", scheduler)
        futures = {
            self.client.submit(run_reporting, task, topic, key=key, retries=1, pure=False): task
            for key, task in zip(keys, tasks, strict=True)
        }
        try:
            for future in distributed.as_completed(list(futures)):
                task = futures[future]
                try:
                    on_result(future.result())
                except distributed.KilledWorker as exc:
                    on_lost(ShardLost(task, f"its workers died {exc}"))
                except Exception as exc:  # noqa: BLE001 - a fault inside the shard, reported
                    on_lost(ShardLost(task, f"{type(exc).__name__}: {exc}"))
        finally:
            for future in futures:
                future.cancel()
            if watcher is not None:
                for name in (topic, "all"):
                    with contextlib.suppress(Exception):  # the client may be closing
                        self.client.unsubscribe_topic(name)
