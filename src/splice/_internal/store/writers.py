"""Background writers of event batches: into a local store, or to a remote `splice serve`.

The runner's threads only queue events; a writer thread batches whatever has queued since
its last write, so a slow disk or network never holds up a testcase. A writer that fails
for good warns once and drops further events: recording must never fail a run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from splice._internal.store.errors import IngestError
from splice._internal.store.lite import LiteStore

if TYPE_CHECKING:
    from splice._internal.store.core import Store

HEARTBEAT = 30.0  # seconds between heartbeats of a quiet run (see liveness.STALE_AFTER)
MAX_BATCH = 2000  # events per write
# after the first event of a batch, a writer gathers what follows for this long: a live run
# emits an event or two per testcase, and one transaction per event would cost several
# times the writing of its rows (a run's end, and closing, are written at once)
GATHER = 0.05
_CLOSE = object()

Warn = Callable[[str], None]


class EventWriter:
    """Queue plus thread; subclasses implement `write(batch)`."""

    name = "writer"

    def __init__(self, warn: Warn) -> None:
        self.warn = warn
        self.failed = False
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"splice-{self.name}", daemon=True)
        self._run_id: str | None = None
        self._ended = False
        self._started = False

    def put(self, event: dict[str, Any]) -> None:
        if self.failed:
            return
        if not self._started:
            self._started = True
            self._thread.start()
        if event["event"] == "run_started":
            self._run_id = event["run_id"]
        elif event["event"] == "run_finished":
            self._ended = True
        self._queue.put(event)

    def close(self, timeout: float) -> bool:
        """Write what is queued and stop; False when that did not finish within `timeout`."""
        if not self._started:
            return True
        self._queue.put(_CLOSE)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def write(self, batch: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        closing = False
        while not closing:
            try:
                first = self._queue.get(timeout=HEARTBEAT)
            except queue.Empty:
                if self._run_id and not self._ended and not self.failed:
                    self._write([{"event": "heartbeat", "run_id": self._run_id}])
                continue
            batch, closing = self._gather(first)
            if batch and not self.failed:
                self._write(batch)

    def _gather(self, first: Any) -> tuple[list[dict[str, Any]], bool]:
        """The batch that begins with `first`: the events queued within `GATHER` seconds,
        up to the run's end or `MAX_BATCH`; and whether the writer is to close."""
        batch: list[dict[str, Any]] = []
        item = first
        deadline = time.monotonic() + GATHER
        while True:
            if item is _CLOSE:
                return batch, True
            batch.append(item)
            if len(batch) >= MAX_BATCH or item["event"] == "run_finished":
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return batch, False
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    return batch, False

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            self.write(batch)
        except Exception as exc:  # noqa: BLE001 - reported once; the run goes on
            self.failed = True
            self.warn(f"results are no longer recorded ({self.name}): {exc}")


class LocalWriter(EventWriter):
    """Writes batches into a store through one `Ingest` (one `LiteIngest` for a `LiteStore`)."""

    name = "store"

    def __init__(self, store: Store | LiteStore, warn: Warn) -> None:
        super().__init__(warn)
        self.ingest: Any
        if isinstance(store, LiteStore):  # the default SQLite store: sqlite3, no SQLAlchemy
            from splice._internal.store.lite_ingest import LiteIngest

            self.ingest = LiteIngest(store)
        else:
            from splice._internal.store.ingest import Ingest

            self.ingest = Ingest(store)

    def write(self, batch: list[dict[str, Any]]) -> None:
        self.ingest.apply(batch)


class RemoteWriter(EventWriter):
    """POSTs batches to `BASE/api/runs/{id}/events`, retrying while the server is away."""

    name = "report-to"

    def __init__(
        self, base_url: str, token: str | None, warn: Warn, patience: float = 60.0
    ) -> None:
        import httpx

        super().__init__(warn)
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(headers=headers, timeout=30.0)
        self.patience = patience

    def write(self, batch: list[dict[str, Any]]) -> None:
        import httpx

        run_id = batch[0]["run_id"]
        url = f"{self.base_url}/api/runs/{run_id}/events"
        deadline = time.monotonic() + self.patience
        delay = 0.5
        while True:
            try:
                response = self.client.post(url, json={"events": batch})
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return
                if response.status_code in (401, 403):
                    raise IngestError(
                        f"{self.base_url} refused the token (HTTP {response.status_code}); "
                        "set SPLICE_TOKEN to a write token of that server",
                        response.status_code,
                    )
                if response.status_code < 500 and response.status_code != 429:
                    raise IngestError(
                        f"{self.base_url} rejected the results: HTTP {response.status_code} "
                        f"{response.text[:300]}",
                        response.status_code,
                    )
                problem = f"HTTP {response.status_code}"
            if time.monotonic() + delay > deadline:
                raise IngestError(f"{self.base_url} did not take the results: {problem}", 503)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)

    def close(self, timeout: float) -> bool:
        done = super().close(timeout)
        self.client.close()
        return done
