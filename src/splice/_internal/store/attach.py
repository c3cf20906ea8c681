"""Recording a run: what `run_command` adds to its event bus, in one call (and what the
pytest plugin uses without a bus, `open_recording`).

    recording = attach(bus, project.root, project.name, StoreOptions(...), warn)
    ...
    recording.finish(result)      # after the services stopped: their logs are kept too
    recording.failed_start(result, total, reason)  # or: the services did not start
    recording.close()             # always (a no-op after finish)

The quarantine gate goes first on the bus (so the console and the reporters see the run's
status after the gate), the recorder last.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice._internal.masking import Masker
from splice._internal.model.results import RunResult
from splice._internal.runner.events import EventBus
from splice._internal.store.errors import StoreError
from splice._internal.store.gate import QuarantineGate
from splice._internal.store.lite import LiteStore
from splice._internal.store.meta import detect
from splice._internal.store.recorder import Recorder
from splice._internal.store.writers import EventWriter, LocalWriter, RemoteWriter

if TYPE_CHECKING:
    from splice._internal.store.core import Store

TOKEN_ENV = "SPLICE_TOKEN"


@dataclass(frozen=True)
class StoreOptions:
    """Where a run is recorded: `splice run --store/--no-store/--report-to/--report-token`,
    pytest's `--splice-store`… (the defaults: the project's store, nothing streamed)."""

    store: str | None = None  # a store URL; None: $SPLICE_STORE_URL, else the project's
    no_store: bool = False
    report_to: str | None = None  # a `splice serve` to stream results to
    report_token: str | None = None  # its write token; None: $SPLICE_TOKEN
    shard: tuple[int, int] | None = None  # a static shard (index from 1, count) of the run

    @classmethod
    def from_cli(cls, opts: Mapping[str, Any]) -> StoreOptions:
        """From the options of `splice run` (and of the commands that record as it does)."""
        return cls(
            store=opts.get("store"),
            no_store=bool(opts.get("no_store")),
            report_to=opts.get("report_to"),
            report_token=opts.get("report_token"),
            shard=opts.get("shard_of_run"),
        )


class Recording:
    """The store side of one run: the gate, the recorder and the stores it writes to."""

    def __init__(
        self,
        gate: QuarantineGate,
        recorder: Recorder | None,
        store: Store | LiteStore | None,
        secrets: list[str] | None = None,
    ) -> None:
        self.gate = gate
        self.recorder = recorder
        self.store = store
        # credentials of the store and the server: the front end masks them everywhere
        self.secrets = secrets or []

    def finish(self, run: RunResult) -> None:
        if self.recorder is not None:
            self.recorder.finish(run)
        self.close()

    def failed_start(self, run: RunResult, total: int, reason: str) -> None:
        """Record a run whose services did not start (status error, the reason, the logs
        of `run.services`) and end it."""
        if self.recorder is not None:
            self.recorder.failed_start(run, total, reason)
        self.finish(run)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.store is not None:
            self.store.close()
            self.store = None


def attach(
    bus: EventBus,
    root: Path,
    project: str,
    opts: StoreOptions,
    warn: Callable[[str], None],
) -> Recording:
    """Open the store (unless --no-store), load the quarantine, add gate and recorder."""
    recording = open_recording(root, project, opts, warn)
    bus.listeners.insert(0, recording.gate)
    if recording.recorder is not None:
        bus.add(recording.recorder)
    return recording


def open_recording(
    root: Path,
    project: str,
    opts: StoreOptions,
    warn: Callable[[str], None],
    source: str = "run",
) -> Recording:
    """The gate and recorder of a run, from its store options (those of `splice run`; the
    pytest plugin passes its own). Its warnings never show the token or a URL's password."""
    credentials = _credentials(opts)
    masker = Masker()
    masker.add_all(credentials)
    warn = _masked(warn, masker)

    store: Store | LiteStore | None = None
    writers: list[EventWriter] = []
    quarantined: set[str] = set()
    if not opts.no_store:
        try:
            store = _open_store(opts.store, root)
        except StoreError as exc:
            if opts.store or os.environ.get("SPLICE_STORE_URL"):
                raise  # asked for by name: a broken store is an error
            warn(f"this run is not recorded: {exc.message}")  # the default: warn, run anyway
        if store is not None:
            quarantined |= _quarantine(store)
            writers.append(LocalWriter(store, warn))
    report_to = opts.report_to
    # a static shard joins the run of the server, else that of the local store
    shared: list[EventWriter] = writers
    if report_to:
        token = opts.report_token or os.environ.get(TOKEN_ENV)
        quarantined |= remote_quarantine(report_to, token, warn)
        shared = [RemoteWriter(report_to, token, warn)]
        writers = [*writers, *shared]
    recorder = None
    if writers:
        meta = detect(root, project, source=source)
        recorder = Recorder(writers, meta, quarantined, shard=opts.shard, shared=shared)
    return Recording(QuarantineGate(quarantined), recorder, store, credentials)


def _open_store(url: str | None, root: Path) -> Store | LiteStore:
    """A SQLite store through sqlite3 (`LiteStore`: SQLAlchemy is not imported), any other
    through `Store`."""
    lite = LiteStore.open(url, root)
    if lite is not None:
        return lite
    from splice._internal.store.core import Store

    return Store.open(url, root)


def _quarantine(store: Store | LiteStore) -> set[str]:
    if isinstance(store, LiteStore):
        return store.quarantine_keys()
    from splice._internal.store.quarantine import keys

    return keys(store)


def _masked(warn: Callable[[str], None], masker: Any) -> Callable[[str], None]:
    def masked(text: str) -> None:
        warn(masker.text(text))

    return masked


def _credentials(opts: StoreOptions) -> list[str]:
    """The report token, and the passwords in the URLs of the store and the server."""
    from splice._internal.runner.secrets import url_password

    token = opts.report_token or os.environ.get(TOKEN_ENV)
    urls = [opts.store, os.environ.get("SPLICE_STORE_URL"), opts.report_to]
    found = [token, *(url_password(u) for u in urls)]
    return [value for value in found if value]


def remote_quarantine(base_url: str, token: str | None, warn: Callable[[str], None]) -> set[str]:
    """The quarantine of a remote `splice serve` (empty, with a warning, if unreachable)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/api/quarantine", headers=headers, timeout=10)
        response.raise_for_status()
        return {entry["test"] for entry in response.json()}
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        warn(f"the quarantine of {base_url} could not be read ({exc}); none is applied from it")
        return set()
