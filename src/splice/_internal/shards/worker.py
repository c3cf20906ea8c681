"""One shard, run in whatever process the back end gives it (a Dask worker, a CI job):
the project loaded again from its file, the shard's own environment started (private
services; `external` ones shared), only the shard's testcases run, the results returned.

The function and its arguments are plain data, so any back end can ship them. A back end
that can carry messages back while the shard runs passes `report`: it hears the shard
start (where, which attempt) and each testcase finish (`Progress`)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from splice._internal.model.results import SuiteResult, TestcaseResult
from splice._internal.runner.events import EventBus, RunListener
from splice._internal.shards.static import shard_suites

# a message to the client: {"shard", "event": "started", "worker", "host", "pid"} once the
# shard began, then {"shard", "event": "done", "done"} as each of its testcases finishes
Report = Callable[[dict[str, Any]], None]


@dataclass
class ShardTask:
    index: int
    project_file: str | None  # splice.yaml, or None for a project without one
    cwd: str
    paths: list[str]  # what `splice run` was given
    keys: list[str]  # the shard's testcases, `suite::testcase`
    jobs: int = 1
    retries: int = 0
    external: dict[str, Any] = field(default_factory=dict)
    secret_names: list[str] = field(default_factory=list)
    starts_file: str | None = None  # each attempt appends a line (a rerun shows as two)


@dataclass
class ShardResult:
    index: int
    suites: list[SuiteResult]
    host: str
    pid: int
    duration: float
    services: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""  # the environment did not start: why
    openapi: list[dict[str, Any]] = field(default_factory=list)  # its operation coverage


class Progress(RunListener):
    """Tells `report` how many of the shard's testcases have finished (from the runner's
    threads: `-j` runs several at once)."""

    def __init__(self, index: int, report: Report) -> None:
        self.index = index
        self.report = report
        self.done = 0
        self._lock = threading.Lock()

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        with self._lock:
            self.done += 1
            done = self.done
        _send(self.report, {"shard": self.index, "event": "done", "done": done})


def _send(report: Report, message: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # the live view is never worth a shard's results
        report(message)


def run_shard(task: ShardTask, report: Report | None = None, worker: str = "") -> ShardResult:
    """Run one shard to its end and return its results (never raises for test faults);
    `report` hears its progress, `worker` names where it runs (a Dask worker's address)."""
    from splice._internal.project.loader import load_project
    from splice._internal.runner.secrets import run_masker
    from splice._internal.workflows import lifecycle

    started = time.perf_counter()
    if task.starts_file:
        # the client's folder: on another machine it is not there, and the client counts
        # the starts it hears of instead (`report`)
        with contextlib.suppress(OSError), Path(task.starts_file).open("a") as handle:
            handle.write(f"{socket.gethostname()} {os.getpid()}\n")
    bus = EventBus()
    if report is not None:
        where = {"worker": worker, "host": socket.gethostname(), "pid": os.getpid()}
        _send(report, {"shard": task.index, "event": "started", **where})
        bus.add(Progress(task.index, report))
    os.chdir(task.cwd)
    project = load_project(Path(task.project_file) if task.project_file else None)
    suites = shard_suites(
        lifecycle.load_suites(project, list(task.paths), root=Path(task.cwd)), set(task.keys)
    )
    masker = run_masker(project, task.external, set(task.secret_names))
    monitor = None
    if project.openapi:  # as `splice run`: steps checked against the documents, coverage kept
        from splice._internal.contracts.openapi_steps import OpenApiMonitor, load_documents

        monitor = OpenApiMonitor(load_documents(project.openapi))
    quiet = Console(stderr=True, quiet=True)
    result = ShardResult(task.index, [], socket.gethostname(), os.getpid(), 0.0)
    run_id = f"shard{task.index}-{os.getpid()}"
    try:
        with lifecycle.environment(project, None, quiet, masker, run_id) as active:
            runner = lifecycle.suite_runner(
                suites,
                [],
                [],
                active=active,
                bus=bus,
                masker=masker,
                retries=task.retries,
                jobs=task.jobs,
                external=dict(task.external),
                secret_names=set(task.secret_names) | set(project.secrets),
            )
            if runner is not None:
                if monitor is not None:
                    monitor.attach(active.builtins, runner.options.hooks)
                result.suites = runner.run().suites
                if monitor is not None:
                    result.openapi = monitor.coverage()
        result.services = masker.mask(lifecycle.summary(active))
    except lifecycle.StartFailed as failed:
        result.error = masker.text(str(failed.error))
    result.duration = time.perf_counter() - started
    return result
