"""`splice shard run`: plan the shards, run them on a back end, merge them into one run
that streams into the store as shards finish."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from splice._internal.model.openapi_coverage import merge_all
from splice._internal.model.results import (
    AttemptResult,
    Failure,
    FailureKind,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
    given_run_id,
    new_run_id,
)
from splice._internal.model.suite import Suite
from splice._internal.project.model import Project
from splice._internal.services import owners
from splice._internal.shards.dask import DaskBackend, ShardLost
from splice._internal.shards.live import ShardBoard
from splice._internal.shards.planner import Shard, imbalance, plan
from splice._internal.shards.worker import ShardResult, ShardTask


def parse_on(value: str, option: str = "--on") -> str | None:
    """`dask` → None (a local cluster); `dask:ADDRESS` → the scheduler's address, and
    `dask://HOST:PORT` → `tcp://HOST:PORT`."""
    kind, _, address = value.partition(":")
    if kind != "dask":
        raise_unknown(value, option)
    if address.startswith("//"):
        address = f"tcp:{address}"
    return address or None


def raise_unknown(value: str, option: str = "--on") -> None:
    from splice._internal.errors import UsageError

    raise UsageError(
        f"unknown shard back end {value!r}",
        f"use `{option} dask` (a local cluster) or `{option} dask:tcp://HOST:8786`",
    )


def durations(project: Project, opts: dict[str, Any], keys: list[str]) -> dict[str, float]:
    """Recorded median durations, or none (then the plan splits by counts)."""
    if opts.get("no_store"):
        return {}
    from splice._internal.store.core import Store
    from splice._internal.store.errors import StoreError
    from splice._internal.store.query_durations import median_durations

    try:
        store = Store.open(opts.get("store"), project.root)
    except StoreError:
        return {}
    try:
        return median_durations(store, keys)
    finally:
        store.close()


def run_shards(
    project: Project,
    suites: list[Suite],
    opts: dict[str, Any],
    *,
    external: dict[str, Any],
    secret_names: set[str],
    paths: list[str],
    console: Console | None = None,
) -> RunResult:
    keys = [f"{s.name}::{tc.name}" for s in suites for tc in s.testcases]
    address = parse_on(opts["on"])
    workers = max(1, min(int(opts["shards"]), len(keys)))
    # the cluster starts (or the scheduler is reached) while the store is read and the
    # shards planned; the run is stored before the cluster's second of closing
    with DaskBackend(address, workers) as backend:
        return _run_on(
            backend,
            project,
            suites,
            opts,
            keys,
            external=external,
            secret_names=secret_names,
            paths=paths,
            out=console or Console(highlight=False),
        )


def _run_on(
    backend: DaskBackend,
    project: Project,
    suites: list[Suite],
    opts: dict[str, Any],
    keys: list[str],
    *,
    external: dict[str, Any],
    secret_names: set[str],
    paths: list[str],
    out: Console,
) -> RunResult:
    history = durations(project, opts, keys)
    shards = plan(suites, history, opts["shards"])
    known = "recorded durations" if history else "counts (no history)"
    out.print(
        f"{len(keys)} testcases in {len(shards)} shards by {known}; "
        f"expected imbalance {imbalance(shards) * 100:.0f}%",
        markup=False,
    )
    run = RunResult(
        id=given_run_id() or new_run_id(),  # given: started by `splice serve`
        command=list(sys.argv),
        host=socket.gethostname(),
        cwd=str(Path.cwd()),
    )
    recording = _recording(project, opts)
    recorder = recording.recorder if recording is not None else None
    run.started_at = time.time()
    clock = time.perf_counter()
    # each shard as the client hears of it, into the store while it runs (the run page)
    planned = [sum(len(u.testcases) for u in s.units) for s in shards]
    board = (
        ShardBoard(planned, recorder.artifacts, run.started_at) if recorder is not None else None
    )
    ends = _Ends(shards, out, recorder, board)
    results, lost = ends.results, ends.lost
    # from before the run is stored: from then on SIGTERM ends it as interrupted
    with _term_as_interrupt():
        try:
            if recorder is not None:
                recorder.run_started(run, len(keys))
            with (
                # owner-named: what a `kill -9` of this process leaves, the next run sweeps
                _owned_folder("shards") as tmp,
                board or contextlib.nullcontext(),
            ):
                ends.tasks = [
                    _task(
                        s,
                        project=project,
                        opts=opts,
                        external=external,
                        secret_names=secret_names,
                        paths=paths,
                        tmp=tmp,
                    )
                    for s in shards
                ]
                backend.run(ends.tasks, ends.done, ends.gone, board)
        except KeyboardInterrupt:
            run.interrupted = True
            out.print(
                f"interrupted (Ctrl-C or SIGTERM): {len(results)} of {len(shards)} shards "
                "had finished; the others' testcases are not run",
                style="yellow",
                markup=False,
            )
    run.duration = time.perf_counter() - clock
    run.suites = _merged(suites, results, lost, shards)
    if recorder is not None and lost:
        _record_lost(recorder, run, lost)
    run.status = _status(run, lost)
    run.services = [e for r in results.values() for e in r.services]
    run.openapi = merge_all(r.openapi for r in results.values())  # every shard's operations
    if recording is not None:
        if recorder is not None:
            recorder.run_finished(run)
        recording.finish(run)
        out.print(f"stored as run {run.id}", style="dim", markup=False)
    return run


class _Ends:
    """What becomes of each shard as the back end hears it end: a line on the console, its
    results and end into the store at once (the dashboard shows the run filling in)."""

    def __init__(
        self, shards: list[Shard], out: Console, recorder: Any, board: ShardBoard | None
    ) -> None:
        self.shards, self.out, self.recorder, self.board = shards, out, recorder, board
        self.tasks: list[ShardTask] = []
        self.results: dict[int, ShardResult] = {}
        self.lost: list[ShardLost] = []

    def done(self, result: ShardResult) -> None:
        self.results[result.index] = result
        heard = self.board.starts(result.index) if self.board is not None else 0
        starts = max(_starts(self.tasks[result.index]), heard)
        note = f", run {starts} times (a worker was lost)" if starts > 1 else ""
        count = sum(len(s.testcases) for s in result.suites)
        line = f"shard {result.index + 1}/{len(self.shards)} done on {result.host} pid "
        self.out.print(f"{line}{result.pid}: {count} testcases, {result.duration:.1f} s{note}")
        if result.error:
            self.out.print(f"  its services did not start: {result.error}", markup=False)
        if self.board is not None:
            self.board.ended(result.index)
        if self.recorder is not None:
            _record(self.recorder, result, starts)
            self.recorder.artifacts(_shard_ended(result, self.shards, starts, count))

    def gone(self, failure: ShardLost) -> None:
        self.lost.append(failure)
        index = failure.task.index
        self.out.print(f"shard {index + 1} lost: {failure.reason}", markup=False)
        if self.board is not None:
            self.board.ended(index)
        if self.recorder is not None:
            self.recorder.artifacts([_shard_lost(failure, len(self.shards))])


@contextlib.contextmanager
def _owned_folder(what: str) -> Iterator[str]:
    path = owners.new_folder(what)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _record_lost(recorder: Any, run: RunResult, lost: list[ShardLost]) -> None:
    """The lost shards' testcases, as errors."""
    keys = _lost_keys(lost)
    for suite in run.suites:
        for tc in suite.testcases:
            if tc.status is Status.ERROR and tc.id in keys:
                recorder.testcase_finished(suite, tc)


@contextlib.contextmanager
def _term_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling the job, `splice serve` stopping a triggered run) ends the
    run as Ctrl-C does: the shards' results so far are merged and stored as `interrupted`,
    the temporary folder removed, instead of the process dying where it stands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _recording(project: Project, opts: dict[str, Any]) -> Any:
    if opts.get("no_store") and not opts.get("report_to"):
        return None
    from splice._internal.store.attach import StoreOptions, open_recording

    warn = Console(stderr=True).print
    return open_recording(
        project.root, project.name, StoreOptions.from_cli(opts), warn, source="shards"
    )


def _record(recorder: Any, result: ShardResult, starts: int) -> None:
    """A finished shard's testcases into the store."""
    for suite in result.suites:
        for tc in suite.testcases:
            recorder.testcase_finished(suite, tc)
        recorder.suite_finished(suite)
    if starts > 1:
        recorder.artifacts([_note(result.index, f"ran {starts} times (a worker was lost)")])


def _shard_ended(
    result: ShardResult, shards: list[Shard], starts: int, done: int
) -> list[dict[str, Any]]:
    """A finished Dask shard: the worker's host and pid, its time and testcases done."""
    from splice._internal.store.shard_runs import ShardOf, end_item, start_item

    now = time.time()
    shard = ShardOf(result.index + 1, len(shards))
    planned = sum(len(u.testcases) for u in shards[result.index].units)
    began = {"host": result.host, "pid": result.pid, "started_at": now - result.duration}
    ok = not result.error and all(tc.status.ok for s in result.suites for tc in s.testcases)
    end = {"duration": result.duration, "finished_at": now, "shard": {"done": done}}
    return [
        start_item(shard, {**began, "total": planned}, now),
        end_item(shard, "passed" if ok else "failed", end, now, starts=starts),
    ]


def _shard_lost(failure: ShardLost, count: int) -> dict[str, Any]:
    from splice._internal.store.shard_runs import ShardOf, end_item

    shard = ShardOf(failure.task.index + 1, count)
    return end_item(shard, "error", {}, time.time(), lost=failure.reason)


def _status(run: RunResult, lost: list[ShardLost]) -> Status:
    if run.interrupted:
        return Status.INTERRUPTED
    ok = all(tc.status.ok for tc in run.testcases()) and not lost
    return Status.PASSED if ok else Status.FAILED


def _task(
    shard: Shard,
    *,
    project: Project,
    opts: dict[str, Any],
    external: dict[str, Any],
    secret_names: set[str],
    paths: list[str],
    tmp: str,
) -> ShardTask:
    starts = Path(tmp) / f"shard-{shard.index}.starts"
    return ShardTask(
        index=shard.index,
        project_file=str(project.path) if project.path else None,
        cwd=str(Path.cwd()),
        paths=list(paths),
        keys=sorted(shard.keys),
        jobs=project.run.jobs_or(opts.get("jobs")),
        retries=project.run.retries_or(opts.get("retries")),
        external=dict(external),
        secret_names=sorted(secret_names),
        starts_file=str(starts),
    )


def _starts(task: ShardTask) -> int:
    try:
        return len(Path(task.starts_file or "").read_text().splitlines())
    except OSError:
        return 1


def _note(index: int, text: str) -> dict[str, Any]:
    content = f"shard {index + 1}: {text}"
    return {"kind": "shard", "name": f"shard {index + 1}", "content": content, "size": len(content)}


def _lost_keys(lost: list[ShardLost]) -> set[str]:
    return {key for failure in lost for key in failure.task.keys}


def _merged(
    suites: list[Suite],
    results: dict[int, ShardResult],
    lost: list[ShardLost],
    shards: list[Shard],
) -> list[SuiteResult]:
    """One SuiteResult per suite, testcases in written order, whatever shard ran them; a
    lost shard's testcases are errors naming why."""
    done: dict[str, TestcaseResult] = {}
    parts: dict[str, SuiteResult] = {}
    for result in results.values():
        for ran in result.suites:
            parts.setdefault(ran.name, ran)
            for tc in ran.testcases:
                done[tc.id] = tc
    reasons = {key: f.reason for f in lost for key in f.task.keys}
    out = []
    for suite in suites:
        merged = SuiteResult(suite.name, suite.path)
        part = parts.get(suite.name)
        if part is not None:
            merged.started_at = part.started_at
            merged.setup, merged.teardown = part.setup, part.teardown
        for written in suite.testcases:
            key = f"{suite.name}::{written.name}"
            if key in done:
                merged.testcases.append(done[key])
            elif key in reasons:
                merged.testcases.append(_lost(suite, written.name, reasons[key]))
        if merged.testcases:
            worst = [t.status for t in merged.testcases]
            merged.status = Status.PASSED if all(s.ok for s in worst) else Status.FAILED
            out.append(merged)
    return out


def _lost(suite: Suite, name: str, reason: str) -> TestcaseResult:
    failure = Failure(FailureKind.ERROR, f"its shard was lost: {reason}")
    step = StepResult(0, "shard", "shard", Phase.TEST, Status.ERROR, failures=[failure])
    span = next((tc.span for tc in suite.testcases if tc.name == name), None)
    line = span.line if span else 0
    tc = TestcaseResult(suite.name, name, suite.path, line, status=Status.ERROR)
    tc.attempts = [AttemptResult(1, Status.ERROR, steps=[step])]
    return tc
