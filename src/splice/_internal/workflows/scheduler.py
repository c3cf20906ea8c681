"""The jobs of one workflow run, in the order their `needs` allow, in parallel threads.

A job starts when every job it needs has passed; when one of them did not, it is skipped
with the reason. `interrupt` (the first Ctrl-C or SIGTERM, through `cli/interrupts.py`)
stops the running jobs (a suites job's runner is interrupted so its teardowns run; a
child process gets SIGTERM, then SIGKILL) and skips the jobs not started; `force` exits at
once, after telling the listeners, and the reaper stops what is left.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from splice._internal.workflows.jobs import JobHandle, JobOutcome
from splice._internal.workflows.model import Job, JobStatus, Workflow

FORCE_NOTIFY_TIMEOUT = 3.0


class WorkflowListener(Protocol):
    def job_started(self, job: Job) -> None: ...
    def job_finished(self, job: Job, outcome: JobOutcome) -> None: ...
    def interrupted(self, message: str) -> None: ...
    def forced_exit(self, message: str) -> None: ...


RunJob = Callable[[Job, JobHandle], JobOutcome]


class Scheduler:
    """Runs a workflow's DAG; `started`, `interrupt` and `force` are what `Interrupts` calls."""

    def __init__(
        self, workflow: Workflow, run_job: RunJob, listeners: list[WorkflowListener]
    ) -> None:
        self.workflow = workflow
        self.run_job = run_job
        self.listeners = listeners
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.outcomes: dict[str, JobOutcome] = {}
        self._handles: dict[str, JobHandle] = {}
        self._lock = threading.RLock()

    def _emit(self, event: str, *args: object) -> None:
        with self._lock:
            for listener in self.listeners:
                getattr(listener, event)(*args)

    def interrupt(self, cause: str = "Ctrl-C", then: str = "press Ctrl-C again to force") -> bool:
        if self.cancelled.is_set():
            return False
        self.cancelled.set()
        self._emit("interrupted", f"stopping ({cause}): stopping running jobs; {then}")
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            handle.stop()
        return True

    def force(self, why: str) -> None:
        message = f"{why}: forced exit; teardowns skipped, the reaper stops services"
        thread = threading.Thread(target=self._emit, args=("forced_exit", message), daemon=True)
        thread.start()
        thread.join(FORCE_NOTIFY_TIMEOUT)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(130)

    def run(self) -> dict[str, JobOutcome]:
        """Every job's outcome, in the workflow's order."""
        self.started.set()
        jobs = self.workflow.jobs
        waiting = dict(jobs)
        running: dict[Future[JobOutcome], Job] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(jobs)), thread_name_prefix="job") as pool:
            while waiting or running:
                for name, job in list(waiting.items()):
                    if self.cancelled.is_set():
                        self._skip(job, "the workflow was interrupted before it started")
                    elif blocked := [n for n in job.needs if self._done_badly(n)]:
                        first = blocked[0]
                        status = self.outcomes[first].status.value
                        self._skip(job, f"needs {first!r}, which {_verb(status)}")
                    elif all(n in self.outcomes for n in job.needs):
                        handle = JobHandle()
                        with self._lock:
                            self._handles[name] = handle
                        self._emit("job_started", job)
                        running[pool.submit(self.run_job, job, handle)] = job
                    else:
                        continue
                    del waiting[name]
                if not running:
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    outcome = future.result()
                    with self._lock:
                        self._handles.pop(job.name, None)
                        self.outcomes[job.name] = outcome
                    self._emit("job_finished", job, outcome)
        return {name: self.outcomes[name] for name in jobs}

    def _done_badly(self, name: str) -> bool:
        outcome = self.outcomes.get(name)
        return outcome is not None and not outcome.status.ok

    def _skip(self, job: Job, reason: str) -> None:
        outcome = JobOutcome(JobStatus.SKIPPED, message=reason, attempts=0)
        self.outcomes[job.name] = outcome
        self._emit("job_finished", job, outcome)


def _verb(status: str) -> str:
    return {
        "failed": "failed",
        "error": "could not run",
        "skipped": "was skipped",
        "interrupted": "was interrupted",
    }.get(status, status)
