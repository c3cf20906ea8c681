"""Shards as tasks on Dask distributed: a LocalCluster of worker processes on this machine
by default, or an existing scheduler (`dask:tcp://host:8786`), so dask-kubernetes,
dask-jobqueue and SSH clusters work unchanged.

Each shard is one task. A worker that dies mid-shard loses nothing for good: the
scheduler runs the task again on another worker (Dask's own rescheduling of a lost
worker's tasks), the shard's results come from that run, and the run records that the
shard ran more than once. A shard whose task keeps killing workers (Dask's
`allowed-failures`, 3 by default) is reported as an error with its testcases named.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from splice._internal.errors import UsageError
from splice._internal.shards.worker import ShardResult, ShardTask, run_shard

CONNECT_TIMEOUT = "10s"
INSTALL = "pip install 'splice[dask]'"


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


class DaskBackend:
    """A Dask client for the duration of a `with` block (and the cluster it started)."""

    def __init__(self, address: str | None, workers: int) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> DaskBackend:
        distributed = _distributed()
        if self.address is None:
            self.cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = distributed.Client(self.cluster)
            return self
        try:
            self.client = distributed.Client(self.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {self.address!r} within "
                f"{CONNECT_TIMEOUT}: {exc}",
                "start it (`dask scheduler`) or check the address; without one, "
                "`--on dask` starts a local cluster",
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(
        self,
        tasks: list[ShardTask],
        on_result: Callable[[ShardResult], None],
        on_lost: Callable[[ShardLost], None],
    ) -> None:
        """Run every shard; call `on_result` as each finishes (in finishing order)."""
        distributed = _distributed()
        tag = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(run_shard, task, key=f"splice-shard-{task.index}-{tag}",
                               retries=1, pure=False): task
            for task in tasks
        }  # fmt: skip
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
