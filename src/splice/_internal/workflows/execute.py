"""`splice workflow run NAME`: one environment, every job in its turn, one stored run."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from splice._internal.masking import Masker
from splice._internal.model.results import RunResult, Status, given_run_id, new_run_id
from splice._internal.project.model import Project
from splice._internal.runner.secrets import masked_command, run_masker
from splice._internal.services import owners
from splice._internal.services.reaper import LazyReaper
from splice._internal.workflows import lifecycle
from splice._internal.workflows.console import WorkflowConsole
from splice._internal.workflows.jobs import JobContext, JobHandle, JobOutcome, run_job
from splice._internal.workflows.model import Job, JobStatus, Workflow
from splice._internal.workflows.recording import WorkflowRecording, suites_of
from splice._internal.workflows.scheduler import Scheduler

EXIT_OK, EXIT_FAILED, EXIT_SERVICES, EXIT_INTERRUPTED = 0, 1, 3, 130


def run_workflow(
    project: Project,
    workflow: Workflow,
    opts: dict[str, Any],
    *,
    external: dict[str, Any],
    secret_names: set[str],
    console: Console | None = None,
) -> int:
    """Run `workflow`; the exit code: 0 every job passed, 1 one did not, 3 the shared
    services did not start, 130 interrupted."""
    out = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    masker = run_masker(project, external, secret_names | set(project.secrets))
    run = RunResult(
        id=given_run_id() or new_run_id(),
        command=masked_command(sys.argv, masker, secret_names),
        host=socket.gethostname(),
        cwd=str(Path.cwd()),
    )
    recording = None
    if not opts.get("no_store") or opts.get("report_to"):
        recording = WorkflowRecording.open(
            project.root,
            project.name,
            opts,
            lambda t: err.print(f"warning: {t}", markup=False),
            masker,
        )
        masker.add_all(recording.recording.secrets)
    view = WorkflowConsole(workflow, out)
    processes = LazyReaper()
    try:
        return _run(
            project=project,
            workflow=workflow,
            opts=opts,
            external=external,
            secret_names=secret_names,
            masker=masker,
            run=run,
            recording=recording,
            view=view,
            processes=processes,
            err=err,
        )
    finally:
        processes.close()
        if recording is not None:
            recording.close()


@contextlib.contextmanager
def _workdir(processes: LazyReaper) -> Iterator[str]:
    """The run's folder for the reports its jobs write: owner-named and watched by the
    run's reaper, so that a `splice workflow run` killed with SIGKILL (as a triggered run
    is when its server is) or forced out by a second signal leaves none behind."""
    path = owners.new_folder("workflow")
    processes.watch_dir(path)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        processes.forget_dir(path)


def _run(
    *,
    project: Project,
    workflow: Workflow,
    opts: dict[str, Any],
    external: dict[str, Any],
    secret_names: set[str],
    masker: Masker,
    run: RunResult,
    recording: WorkflowRecording | None,
    view: WorkflowConsole,
    processes: LazyReaper,
    err: Console,
) -> int:
    from splice._internal.cli.services import print_service_error
    from splice._internal.runner.interrupts import DEFAULT_GRACE, Interrupts

    listeners: list[Any] = [view]
    if recording is not None:
        listeners.append(_Stored(recording))
    cancelled_holder: list[Scheduler] = []
    grace = opts.get("term_grace")
    with _workdir(processes) as workdir:
        try:
            with lifecycle.environment(project, workflow.services(), err, masker, run.id) as shared:

                def one(job: Job, handle: JobHandle) -> JobOutcome:
                    scheduler = cancelled_holder[0]
                    ctx = JobContext(
                        project=project,
                        root=project.root,
                        workdir=Path(workdir),
                        masker=masker,
                        processes=processes,
                        cancelled=scheduler.cancelled,
                        external=external,
                        secret_names=secret_names | set(project.secrets),
                        parallel=project.run.jobs_or(opts.get("jobs")),
                    )
                    with _job_environment(job, shared, project, masker, run.id) as active:
                        if isinstance(active, JobOutcome):
                            return active
                        ctx.active, ctx.env = active, lifecycle.service_env(active)
                        return run_job(job, ctx, handle)

                scheduler = Scheduler(workflow, one, listeners)
                cancelled_holder.append(scheduler)
                run.started_at = time.time()
                if recording is not None:
                    recording.started(run, 0)
                    recording.jobs_planned(list(workflow.jobs.values()))
                clock = time.perf_counter()
                with view, Interrupts(scheduler, DEFAULT_GRACE if grace is None else grace):
                    outcomes = scheduler.run()
                run.duration = time.perf_counter() - clock
            # after the services stopped: their logs are kept by now
            run.services = masker.mask(lifecycle.summary(shared))
        except lifecycle.StartFailed as failed:
            print_service_error(failed.error, err)
            return EXIT_SERVICES
        except KeyboardInterrupt:
            err.print("interrupted while starting the services", style="yellow")
            return EXIT_INTERRUPTED
    run.suites = suites_of(outcomes)
    run.interrupted = scheduler.cancelled.is_set()
    run.status = _run_status(outcomes, run.interrupted)
    if recording is not None:
        recording.finish(run)
    view.summary(run.id if recording is not None and recording.recording.recorder else None)
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if run.status is Status.PASSED else EXIT_FAILED


@contextlib.contextmanager
def _job_environment(
    job: Job, shared: Any, project: Project, masker: Masker, run_id: str
) -> Iterator[Any]:
    """The shared environment, or the job's own copy of its services (`private: true`);
    a private copy that does not start makes the job's outcome an error."""
    if not job.private:
        yield shared
        return
    quiet = Console(stderr=True, highlight=False, quiet=True)
    wanted = set(job.services) if job.services is not None else None
    try:
        with lifecycle.environment(project, wanted, quiet, masker, f"{run_id}-{job.name}") as own:
            yield own
    except lifecycle.StartFailed as failed:
        yield JobOutcome(JobStatus.ERROR, message=f"its services did not start: {failed.error}")


class _Stored:
    """Writes each job to the store as it finishes."""

    def __init__(self, recording: WorkflowRecording) -> None:
        self.recording = recording

    def job_started(self, job: Job) -> None:
        self.recording.job_started(job)

    def job_finished(self, job: Job, outcome: JobOutcome) -> None:
        self.recording.job_finished(job, outcome)

    def interrupted(self, message: str) -> None:
        pass

    def forced_exit(self, message: str) -> None:
        self.recording.forced_exit(message)


def _run_status(outcomes: dict[str, JobOutcome], interrupted: bool) -> Status:
    if interrupted:
        return Status.INTERRUPTED
    statuses = {o.status for o in outcomes.values()}
    if statuses <= {JobStatus.PASSED}:
        return Status.PASSED
    if JobStatus.FAILED in statuses:
        return Status.FAILED
    return Status.ERROR
