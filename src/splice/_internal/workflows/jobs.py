"""How each kind of job runs, and what it hands back: its testcases (as suites), its log,
its status and, when it did not pass, why.

A `suites:` job runs in this process, with the runner `splice run` uses. A `pytest:` job is
a pytest session in a child process with splice's plugin writing splice's JUnit (every
attempt of a retried suite testcase kept); a `command:` job is any program whose JUnit
reports are imported. Children run in their own process group, watched by the reaper, so
a timeout, Ctrl-C or a kill -9 of splice leaves none behind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.masking import Masker
from splice._internal.model.results import Status, SuiteResult, TestcaseResult
from splice._internal.runner.events import EventBus
from splice._internal.services.reaper import LazyReaper
from splice._internal.workflows.model import Job, JobKind, JobStatus

STOP_GRACE = 5.0  # seconds a child has after SIGTERM before SIGKILL


@dataclass
class JobOutcome:
    status: JobStatus
    suites: list[SuiteResult] = field(default_factory=list)
    message: str = ""  # why it did not pass (or was skipped)
    log: str = ""  # the output of its program(s), masked
    attempts: int = 1
    duration: float = 0.0

    @property
    def testcases(self) -> list[TestcaseResult]:
        return [tc for suite in self.suites for tc in suite.testcases]


@dataclass
class JobContext:
    """What a job runs with: the project folder, the environment, the secrets' masker."""

    project: Any  # the Project
    root: Path
    workdir: Path  # the run's folder for reports the job writes (removed afterwards)
    masker: Masker
    processes: LazyReaper
    cancelled: threading.Event
    env: dict[str, str] = field(default_factory=dict)  # services as SPLICE_* variables
    active: Any = None  # the job's ActiveServices
    bus: EventBus | None = None  # where a suites job's testcase events go
    external: dict[str, Any] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)
    parallel: int = 1  # --jobs inside a suites job


class JobHandle:
    """Stops a running job from another thread (interrupt or timeout)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._runner: Any = None
        self.stopped = threading.Event()
        self.timed_out = False

    def attach(self, proc: subprocess.Popen[bytes] | None = None, runner: Any = None) -> None:
        with self._lock:
            self._proc, self._runner = proc, runner
            if self.stopped.is_set():
                self._stop_now()

    def stop(self, timed_out: bool = False) -> None:
        with self._lock:
            self.timed_out = self.timed_out or timed_out
            self.stopped.set()
            self._stop_now()

    def _stop_now(self) -> None:
        if self._runner is not None:
            cause = "job timeout" if self.timed_out else "workflow stopping"
            self._runner.interrupt(cause, "its teardowns run")
        if self._proc is not None and self._proc.poll() is None:
            _signal_group(self._proc.pid, signal.SIGTERM)
            proc = self._proc

            def kill_later() -> None:
                try:
                    proc.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)

            threading.Thread(target=kill_later, daemon=True).start()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_job(job: Job, ctx: JobContext, handle: JobHandle) -> JobOutcome:
    """Run `job` to its end: its retries, its timeout; never raises for the job's own faults."""
    started = time.perf_counter()
    timer = None
    if job.timeout is not None:
        timer = threading.Timer(job.timeout, lambda: handle.stop(timed_out=True))
        timer.daemon = True
        timer.start()
    try:
        outcome = _attempts(job, ctx, handle)
    finally:
        if timer is not None:
            timer.cancel()
    if handle.timed_out:
        outcome.status = JobStatus.ERROR
        outcome.message = f"timed out after {job.timeout:g} s (`timeout:`)"
    elif handle.stopped.is_set() and not outcome.status.ok:
        outcome.status = JobStatus.INTERRUPTED
        outcome.message = outcome.message or "stopped: the workflow was interrupted"
    outcome.duration = time.perf_counter() - started
    return outcome


def _attempts(job: Job, ctx: JobContext, handle: JobHandle) -> JobOutcome:
    if job.kind is JobKind.SUITES:  # a suite's testcases are retried one by one instead
        return _suites(job, ctx, handle)
    logs: list[str] = []
    outcome = JobOutcome(JobStatus.ERROR)
    for attempt in range(1, job.retries + 2):
        outcome = (
            _pytest(job, ctx, handle, attempt)
            if job.kind is JobKind.PYTEST
            else (_command(job, ctx, handle, attempt))
        )
        header = f"--- attempt {attempt} ---\n" if job.retries else ""
        logs.append(header + outcome.log)
        outcome.attempts = attempt
        if outcome.status.ok or handle.stopped.is_set() or ctx.cancelled.is_set():
            break
    outcome.log = "".join(logs)
    return outcome


def _suites(job: Job, ctx: JobContext, handle: JobHandle) -> JobOutcome:
    from splice._internal.errors import SuiteError, UsageError
    from splice._internal.reporting.diagnostics import render_diagnostics
    from splice._internal.workflows.lifecycle import load_suites, suite_runner

    project = ctx.project
    try:
        suites = load_suites(project, list(job.suites))
    except SuiteError as exc:
        return JobOutcome(JobStatus.ERROR, message=render_diagnostics(exc.diagnostics))
    except UsageError as exc:
        return JobOutcome(JobStatus.ERROR, message=f"{exc.message} ({', '.join(job.suites)})")
    runner = suite_runner(
        suites,
        job.keywords,
        job.tags,
        active=ctx.active,
        bus=ctx.bus or EventBus(),
        masker=ctx.masker,
        retries=job.retries,
        jobs=ctx.parallel,
        external={**ctx.external, "matrix": dict(job.matrix)},
        secret_names=ctx.secret_names,
    )
    if runner is None:
        return JobOutcome(JobStatus.ERROR, message="no testcase matches the job's `k:`/`tags:`")
    handle.attach(runner=runner)
    result = runner.run()
    handle.attach()
    status = JobStatus.INTERRUPTED if result.interrupted else _status(result.status)
    return JobOutcome(status, suites=result.suites, message=_failed_message(result.suites))


def _status(status: Status) -> JobStatus:
    if status.ok:
        return JobStatus.PASSED
    return JobStatus.INTERRUPTED if status is Status.INTERRUPTED else JobStatus.FAILED


def _failed_message(suites: list[SuiteResult]) -> str:
    bad = [tc for s in suites for tc in s.testcases if not tc.status.ok]
    if not bad:
        return ""
    return f"{len(bad)} testcase{'s' if len(bad) != 1 else ''} did not pass"


def _pytest(job: Job, ctx: JobContext, handle: JobHandle, attempt: int) -> JobOutcome:
    report = ctx.workdir / f"{_safe(job.name)}-{attempt}.pytest.xml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        *job.pytest,
        f"--splice-junit={report}",
        "--splice-no-store",
        "-p",
        "no:cacheprovider",
    ]
    code, log, problem = _spawn(argv, False, job, ctx, handle)
    if problem:
        return JobOutcome(JobStatus.ERROR, message=problem, log=log)
    suites, problem = _read_junit([report])
    if problem:  # pytest ended before the plugin wrote its report: a usage error
        return JobOutcome(JobStatus.ERROR, message=f"pytest exited {code}: {problem}", log=log)
    if code == 5:
        return JobOutcome(JobStatus.ERROR, suites, "pytest collected no tests", log)
    if code not in (0, 1):
        return JobOutcome(JobStatus.ERROR, suites, f"pytest exited {code}", log)
    return _judged(suites, code, log, "pytest")


def _command(job: Job, ctx: JobContext, handle: JobHandle, attempt: int) -> JobOutcome:
    started = time.time()
    code, log, problem = _spawn(job.command, job.shell, job, ctx, handle)
    if problem:
        return JobOutcome(JobStatus.ERROR, message=problem, log=log)
    if not job.junit:
        status = JobStatus.PASSED if code == 0 else JobStatus.FAILED
        return JobOutcome(status, message="" if code == 0 else f"exited {code}", log=log)
    files: list[Path] = []
    for pattern in job.junit:
        matches = [
            Path(m)
            for m in sorted(glob.glob(str(ctx.root / pattern), recursive=True))  # noqa: PTH207
            if Path(m).stat().st_mtime >= started - 1  # this attempt's, not an old run's
        ]
        if not matches:
            message = f"no JUnit report matches {pattern!r} (relative to {ctx.root})"
            if code != 0:
                message += f"; the command exited {code}"
            return JobOutcome(JobStatus.ERROR, message=message, log=log)
        files.extend(matches)
    suites, problem = _read_junit(files)
    if problem:
        return JobOutcome(JobStatus.ERROR, message=problem, log=log)
    return _judged(suites, code, log, "the command")


def _judged(suites: list[SuiteResult], code: int, log: str, what: str) -> JobOutcome:
    bad = _failed_message(suites)
    if bad:
        return JobOutcome(JobStatus.FAILED, suites, bad, log)
    if code != 0:
        return JobOutcome(JobStatus.FAILED, suites, f"{what} exited {code}", log)
    return JobOutcome(JobStatus.PASSED, suites, "", log)


def _read_junit(files: list[Path]) -> tuple[list[SuiteResult], str]:
    from splice._internal.store.errors import BadImport
    from splice._internal.store.importing import junit_run

    suites: list[SuiteResult] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return suites, f"cannot read the JUnit report {str(path)!r}: {exc.strerror}"
        try:
            suites.extend(junit_run(data, str(path)).suites)
        except BadImport as exc:
            return suites, f"{path}: {exc}"
    return suites, ""


def _spawn(
    argv: list[str], shell: bool, job: Job, ctx: JobContext, handle: JobHandle
) -> tuple[int, str, str]:
    """(exit code, masked output, problem) of one program run in its own process group."""
    env = {**os.environ, **ctx.env, **job.env}
    for key, value in job.matrix.items():
        env[f"SPLICE_MATRIX_{key}".upper().replace("-", "_")] = value
    try:
        proc = subprocess.Popen(
            argv[0] if shell else argv,
            shell=shell,
            cwd=ctx.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        return 127, "", f"command not found: {argv[0]!r} (searched PATH, from {ctx.root})"
    except PermissionError:
        return 126, "", f"command is not executable: {argv[0]!r}"
    ctx.processes.watch_group(proc.pid)
    handle.attach(proc=proc)
    try:
        out, _ = proc.communicate()
    finally:
        handle.attach()
        ctx.processes.forget_group(proc.pid)
        _signal_group(proc.pid, signal.SIGKILL)  # what it left behind in its group
    log = ctx.masker.text(out.decode("utf-8", "replace"))
    if shell and proc.returncode == 127 and "not found" in log:
        return 127, log, f"command not found: {argv[0]!r} (the shell says: {log.strip()[-200:]})"
    return proc.returncode, log, ""


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
