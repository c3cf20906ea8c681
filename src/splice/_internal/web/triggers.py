"""Runs started from outside (`POST /api/workflows/{name}/runs`, `POST /api/suites/runs`):
a bounded queue in front of at most `max_concurrent` child processes.

Each triggered run is `splice workflow run NAME` or `splice run ...` in the server's project
folder, as a child process in its own process group: the code path of the CLI, not a copy
of it; the server stays responsive and can stop it. The child records into the server's
store (`SPLICE_STORE_URL`, never on its command line) under the run id the server gave it
(`SPLICE_RUN_ID`), with the trigger's branch, commit, CI URL and environment
(`SPLICE_BRANCH`, `SPLICE_COMMIT`, `SPLICE_CI_URL`, `SPLICE_ENVIRONMENT`, read by
`store.meta.detect`). Webhooks (`run.finished`, `run.failed`) follow from the store.

The queue is in the server's memory and written through to the store's `triggers` table
(`store.trigger_rows`). `stop` (the server shutting down) leaves what is queued queued and
stops what runs (SIGTERM to its group, SIGKILL after `stop_grace`); a reaper watches the
children, so a server killed with SIGKILL leaves none behind either. `start` takes over what
a server of the same project left: its queued triggers wait again, in their order, and its
running ones are interrupted, with their runs, saying that the server stopped.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from splice._internal.model.results import RUN_ID_ENV, new_run_id
from splice._internal.services.reaper import LazyReaper, stop_group
from splice._internal.store import trigger_rows
from splice._internal.store.core import Store
from splice._internal.store.errors import StoreError
from splice._internal.store.liveness import HOST, alive, process_start
from splice._internal.web.trigger_model import RunMetadata, Trigger, TriggerState, row_answer

__all__ = ["QueueFull", "RunMetadata", "Trigger", "TriggerQueue", "TriggerSettings", "TriggerState"]

KEPT = 500  # finished triggers remembered (with their output); older ones: their rows
RETRY_AFTER = 30  # seconds a client is told to wait when the queue is full
_STORE_ERRORS = (SQLAlchemyError, StoreError)

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
    # `--dist`: the Dask scheduler triggered suite runs go to, as `splice shard run`
    dist: str | None = None
    dist_shards: int = 2


class QueueFull(Exception):
    """The trigger was not taken: 429 (the queue is full) or 503 (shutting down, or the
    store cannot be written)."""

    def __init__(self, message: str, retry_after: int, status: int = 429) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.status = status


def stopped_reason(pid: int) -> str:
    return f"the server stopped while it ran (pid {pid})"


class TriggerQueue:
    """Triggered runs: `submit` queues one (or raises QueueFull), workers run them, the
    store keeps every change (`store.trigger_rows`)."""

    def __init__(self, settings: TriggerSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        me = os.getpid()
        self.owner = trigger_rows.Owner(str(settings.project), me, process_start(me))
        self._pending: collections.deque[Trigger] = collections.deque()
        self._known: collections.OrderedDict[str, Trigger] = collections.OrderedDict()
        self._running: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._reaper = LazyReaper()
        self._recovered = False

    def recover(self) -> None:
        """Take over what a stopped server of this project left (once): `splice serve`
        calls it before it listens, so a store that fails here is an error message, not
        a traceback of the web server's start-up."""
        if not self._recovered:
            self._recover()
            self._recovered = True

    def start(self) -> None:
        """Take over what a stopped server of this project left, then start the workers."""
        self.recover()
        for n in range(self.settings.max_concurrent):
            worker = threading.Thread(target=self._work, name=f"splice-trigger-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def submit(self, kind: str, target: str, args: list[str], meta: RunMetadata) -> Trigger:
        with self._cond:
            if self._stopping:
                raise QueueFull("the server is shutting down", RETRY_AFTER, 503)
            idle = self.settings.max_concurrent - len(self._running)
            if len(self._pending) >= self.settings.queue_size + max(0, idle):
                raise QueueFull(
                    f"the queue is full: {len(self._running)} runs running and "
                    f"{len(self._pending)} waiting (--queue-size {self.settings.queue_size})",
                    RETRY_AFTER,
                )
            trigger = Trigger(new_run_id(), kind, target, args, meta)
            try:  # in the store before a worker can take it
                trigger_rows.add(self.store, trigger.columns(), self.owner)
            except _STORE_ERRORS as exc:
                raise QueueFull(
                    f"the results store cannot be written ({type(exc).__name__})", RETRY_AFTER, 503
                ) from exc
            self._queue(trigger)
            self._cond.notify()
        return trigger

    def view(self, trigger_id: str) -> dict[str, Any] | None:
        """The trigger as the API shows it, with its place in the queue (`position`, 1:
        next; None when not waiting); from the store when this server does not hold it
        (ran under a server before a restart, or long ago); None for an unknown id."""
        with self._cond:
            trigger = self._known.get(trigger_id)
            if trigger is not None:
                return trigger.as_dict(self._position(trigger))
        row = trigger_rows.get(self.store, trigger_id)
        return None if row is None else row_answer(row)

    def listing(self, states: list[str], limit: int) -> list[dict[str, Any]]:
        """The project's triggers from the store, newest first, with their queue places."""
        rows = trigger_rows.listing(self.store, self.owner.project, states, limit)
        answers = []
        with self._cond:
            for row in rows:
                held = self._known.get(row["id"])
                answer = row_answer(row) if held is None else held.as_dict(self._position(held))
                answer.pop("log")
                answer.pop("log_note")
                answers.append(answer)
        return answers

    def cancel(self, trigger_id: str) -> Trigger | None:
        """Cancel a queued trigger or stop a running one (its teardowns run)."""
        with self._cond:
            trigger = self._known.get(trigger_id)
            if trigger is None or trigger.state.done:
                return trigger
            if trigger.state is TriggerState.QUEUED:
                self._pending.remove(trigger)
                trigger.reason = "cancelled through the API before it started"
                self._end(trigger, TriggerState.CANCELLED)
                ended = True
            else:
                trigger.stop_requested = True
                trigger.reason = "stopped through the API"
                ended = False
            proc = trigger.proc
        if ended:
            self._record_end(trigger)
        elif proc is not None:
            _signal(proc, signal.SIGTERM)
        return trigger

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {"running": len(self._running), "queued": len(self._pending)}

    def stop(self) -> None:
        """Stop the running runs and return when no child is left. The queued ones stay
        queued in the store, for the next server of the project."""
        with self._cond:
            self._stopping = True
            running = [t for t in self._known.values() if t.state is TriggerState.RUNNING]
            for trigger in running:
                trigger.stop_requested = True
                trigger.reason = stopped_reason(self.owner.pid)
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

    def _recover(self) -> None:
        """Requeue the queued triggers of a gone server, in their order; interrupt its
        running ones (stopping a child its reaper has not stopped yet) and their runs."""
        left = trigger_rows.left_behind(self.store, self.owner.project)
        reasons: dict[str, str] = {}
        waiting: list[Trigger] = []
        for row in left:
            if row["state"] == TriggerState.QUEUED and row["args"] is None:
                reasons[row["id"]] = "its arguments in the store are not a JSON list: not run"
                continue
            if row["state"] == TriggerState.QUEUED:
                waiting.append(Trigger.from_row(row))
                continue
            if row["host"] == HOST and row["pid"] and alive(row["pid"], row["pid_start"]):
                stop_group(row["pid"])
            reasons[row["id"]] = stopped_reason(row["server_pid"] or 0)
        trigger_rows.interrupt(self.store, reasons, time.time())
        trigger_rows.take_over(self.store, [t.id for t in waiting], self.owner)
        with self._cond:
            for trigger in waiting:
                trigger.log.append(
                    f"requeued by splice serve (pid {self.owner.pid}): the server that took it "
                    "stopped before it started"
                )
                self._queue(trigger)

    def _queue(self, trigger: Trigger) -> None:
        self._pending.append(trigger)
        self._known[trigger.id] = trigger
        while len(self._known) > KEPT + self.settings.queue_size:
            oldest = next(iter(self._known.values()))
            if not oldest.state.done:
                break
            self._known.popitem(last=False)

    def _position(self, trigger: Trigger) -> int | None:
        if trigger.state is not TriggerState.QUEUED:
            return None
        return next((i for i, t in enumerate(self._pending, 1) if t is trigger), None)

    def _end(self, trigger: Trigger, state: TriggerState) -> None:
        trigger.state = state
        trigger.finished_at = time.time()

    def _write(self, trigger: Trigger, **values: Any) -> None:
        """Write a change through to the store; a store that fails is noted in the log
        (the run goes on: the child records into the same store and says so itself)."""
        try:
            trigger_rows.change(self.store, trigger.id, **values)
        except _STORE_ERRORS as exc:
            with self._cond:
                trigger.log.append(f"splice serve: could not record the trigger's state: {exc}")

    def _record_end(self, trigger: Trigger) -> None:
        self._write(
            trigger,
            state=trigger.state.value,
            finished_at=trigger.finished_at,
            exit_code=trigger.exit_code,
            reason=trigger.reason,
        )

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
                self._record_end(trigger)

    def _run(self, trigger: Trigger) -> None:
        try:
            proc = subprocess.Popen(
                [self.settings.python, "-m", "splice", *self._command(trigger)],
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
                trigger.reason = f"the run could not start: {exc}"
                self._end(trigger, TriggerState.ERROR)
            return
        self._reaper.watch_group(proc.pid)
        self._write(
            trigger,
            state=TriggerState.RUNNING.value,
            started_at=trigger.started_at,
            pid=proc.pid,
            pid_start=process_start(proc.pid),
        )
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
            if state is TriggerState.PASSED:
                trigger.reason = ""
            self._end(trigger, state)

    def _command(self, trigger: Trigger) -> list[str]:
        """The arguments of `splice`: as stored, or for suites with `--dist` the same
        selection as `splice shard run` on the server's cluster (the cluster of the server
        that runs it: a requeued trigger goes to this server's)."""
        args, dist = trigger.args, self.settings.dist
        if trigger.kind == "suites" and dist and args[:1] == ["run"]:
            shards = str(self.settings.dist_shards)
            return ["shard", "run", "--on", f"dask:{dist}", "--shards", shards, *args[1:]]
        return args

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
