"""Runs started from outside (`POST /api/workflows/{name}/runs`, `POST /api/suites/runs`):
a bounded queue in front of at most `max_concurrent` child processes.

Each triggered run is `splice workflow run NAME` or `splice run ...` in the server's project
folder, as a child process in its own process group: the code path of the CLI, not a copy
of it; the server stays responsive and can stop it. The child records into the server's
store (`SPLICE_STORE_URL`, never on its command line) under the run id the server gave it
(`SPLICE_RUN_ID`), with the trigger's branch, commit, CI URL and environment
(`SPLICE_BRANCH`, `SPLICE_COMMIT`, `SPLICE_CI_URL`, `SPLICE_ENVIRONMENT`, read by
`store.meta.detect`). Webhooks (`run.finished`, `run.failed`) follow from the store.

The queue lives in the server's memory: `stop` (the server shutting down) cancels what is
queued and stops what runs (SIGTERM to its group, SIGKILL after `stop_grace`); a reaper
watches the children, so a server killed with SIGKILL leaves none behind either.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from splice._internal.model.results import RUN_ID_ENV, new_run_id
from splice._internal.services.reaper import LazyReaper

LOG_LINES = 200  # lines of a child's output kept for `GET /api/triggers/{id}`
KEPT = 500  # finished triggers remembered
RETRY_AFTER = 30  # seconds a client is told to wait when the queue is full


class TriggerState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # could not run: services did not start, a mistake in the suites
    INTERRUPTED = "interrupted"  # stopped while running (server shutdown, cancel)
    CANCELLED = "cancelled"  # stopped before it started

    @property
    def done(self) -> bool:
        return self not in (TriggerState.QUEUED, TriggerState.RUNNING)


# exit codes of `splice run` and `splice workflow run` (cli/main.py, workflows/execute.py)
_BY_EXIT = {0: TriggerState.PASSED, 1: TriggerState.FAILED, 130: TriggerState.INTERRUPTED}


@dataclass(frozen=True)
class TriggerSettings:
    """`splice serve --project DIR --max-concurrent-runs N --queue-size M`."""

    project: Path
    store_url: str
    max_concurrent: int = 1
    queue_size: int = 10
    stop_grace: float = 30.0  # seconds a stopped child has for its teardowns
    python: str = sys.executable


@dataclass(frozen=True)
class RunMetadata:
    branch: str = ""
    commit: str = ""
    environment: str = ""
    ci_url: str = ""


@dataclass
class Trigger:
    id: str  # also the id of its run in the store
    kind: str  # workflow or suites
    target: str  # the workflow's name, or the suites' description
    argv: list[str]
    meta: RunMetadata
    state: TriggerState = TriggerState.QUEUED
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    proc: subprocess.Popen[bytes] | None = None
    stop_requested: bool = False

    def as_dict(self, position: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "status": self.state.value,
            "position": position,
            "branch": self.meta.branch,
            "commit": self.meta.commit,
            "environment": self.meta.environment,
            "ci_url": self.meta.ci_url,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "log": list(self.log),
        }


class QueueFull(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class TriggerQueue:
    """Triggered runs: `submit` queues one (or raises QueueFull), workers run them."""

    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self._pending: collections.deque[Trigger] = collections.deque()
        self._known: collections.OrderedDict[str, Trigger] = collections.OrderedDict()
        self._running: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._reaper = LazyReaper()

    def start(self) -> None:
        for n in range(self.settings.max_concurrent):
            worker = threading.Thread(target=self._work, name=f"splice-trigger-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def submit(self, kind: str, target: str, args: list[str], meta: RunMetadata) -> Trigger:
        argv = [self.settings.python, "-m", "splice", *args]
        with self._cond:
            if self._stopping:
                raise QueueFull("the server is shutting down", RETRY_AFTER)
            idle = self.settings.max_concurrent - len(self._running)
            if len(self._pending) >= self.settings.queue_size + max(0, idle):
                raise QueueFull(
                    f"the queue is full: {len(self._running)} runs running and "
                    f"{len(self._pending)} waiting (--queue-size {self.settings.queue_size})",
                    RETRY_AFTER,
                )
            trigger = Trigger(new_run_id(), kind, target, argv, meta)
            self._pending.append(trigger)
            self._known[trigger.id] = trigger
            while len(self._known) > KEPT + self.settings.queue_size:
                oldest = next(iter(self._known.values()))
                if not oldest.state.done:
                    break
                self._known.popitem(last=False)
            self._cond.notify()
        return trigger

    def view(self, trigger_id: str) -> dict[str, Any] | None:
        """The trigger as the API shows it, with its place in the queue (`position`, 1:
        next; None when not waiting); None for an unknown id."""
        with self._cond:
            trigger = self._known.get(trigger_id)
            if trigger is None:
                return None
            position = None
            if trigger.state is TriggerState.QUEUED:
                position = next(i for i, t in enumerate(self._pending, 1) if t is trigger)
            return trigger.as_dict(position)

    def cancel(self, trigger_id: str) -> Trigger | None:
        """Cancel a queued trigger or stop a running one (its teardowns run)."""
        with self._cond:
            trigger = self._known.get(trigger_id)
            if trigger is None or trigger.state.done:
                return trigger
            if trigger.state is TriggerState.QUEUED:
                self._pending.remove(trigger)
                self._end(trigger, TriggerState.CANCELLED)
                return trigger
            trigger.stop_requested = True
            proc = trigger.proc
        if proc is not None:
            _signal(proc, signal.SIGTERM)
        return trigger

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {"running": len(self._running), "queued": len(self._pending)}

    def stop(self) -> None:
        """Cancel the queued runs, stop the running ones; return when no child is left."""
        with self._cond:
            self._stopping = True
            while self._pending:
                self._end(self._pending.popleft(), TriggerState.CANCELLED)
            running = [t for t in self._known.values() if t.state is TriggerState.RUNNING]
            for trigger in running:
                trigger.stop_requested = True
            self._cond.notify_all()
        for trigger in running:
            if trigger.proc is not None:
                _signal(trigger.proc, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_grace
        for trigger in running:
            proc = trigger.proc
            if proc is None:
                continue
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
        for worker in self._workers:
            worker.join(timeout=10)
        self._reaper.close()

    def _end(self, trigger: Trigger, state: TriggerState) -> None:
        trigger.state = state
        trigger.finished_at = time.time()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                trigger = self._pending.popleft()
                trigger.state = TriggerState.RUNNING
                trigger.started_at = time.time()
                self._running.add(trigger.id)
            try:
                self._run(trigger)
            finally:
                with self._cond:
                    self._running.discard(trigger.id)

    def _run(self, trigger: Trigger) -> None:
        try:
            proc = subprocess.Popen(
                trigger.argv,
                cwd=self.settings.project,
                env=self._env(trigger),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            with self._cond:
                trigger.log.append(f"the run could not start: {exc}")
                self._end(trigger, TriggerState.ERROR)
            return
        self._reaper.watch_group(proc.pid)
        with self._cond:
            trigger.proc = proc
            stop_now = trigger.stop_requested
        if stop_now:  # stopped in the instant between taking it and starting it
            _signal(proc, signal.SIGTERM)
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._cond:  # `view` reads the log from other threads
                    trigger.log.append(line)
        code = proc.wait()
        # what the child left in its group (a stray grandchild) goes with it
        _signal(proc, signal.SIGKILL)
        self._reaper.forget_group(proc.pid)
        with self._cond:
            trigger.exit_code = code
            state = _BY_EXIT.get(code, TriggerState.ERROR)
            if trigger.stop_requested and state is not TriggerState.PASSED:
                state = TriggerState.INTERRUPTED
            self._end(trigger, state)

    def _env(self, trigger: Trigger) -> dict[str, str]:
        env = dict(os.environ)
        # the server's own token and CI identity are not the triggered run's
        for name in ("SPLICE_TOKEN", "SPLICE_BRANCH", "SPLICE_COMMIT", "SPLICE_CI_URL"):
            env.pop(name, None)
        env.update(
            {
                RUN_ID_ENV: trigger.id,
                "SPLICE_STORE_URL": self.settings.store_url,
                "PYTHONUNBUFFERED": "1",
                "NO_COLOR": "1",
                "COLUMNS": "120",
            }
        )
        given = {
            "SPLICE_BRANCH": trigger.meta.branch,
            "SPLICE_COMMIT": trigger.meta.commit,
            "SPLICE_CI_URL": trigger.meta.ci_url,
            "SPLICE_ENVIRONMENT": trigger.meta.environment,
        }
        env.update({k: v for k, v in given.items() if v})
        return env


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
