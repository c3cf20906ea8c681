"""One workflow run, one run in the store: every job's testcases, its log, its artifacts.

Testcases are written as each job finishes, so the dashboard shows the run filling in. A
job's log (its program's output, or why it was skipped) is kept as an artifact of kind
`job-log` named after the job; the files its `artifacts:` globs match are copied to
`.splice/artifacts/<run id>/<job>/` and their text (the last 256 KiB) stored as artifacts of
kind `artifact`, which the run's page in the dashboard lists with the service logs.
"""

from __future__ import annotations

import glob
import json
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splice._internal.masking import Masker
from splice._internal.model.results import RunResult, SuiteResult
from splice._internal.store import stream
from splice._internal.store.attach import Recording, StoreOptions, open_recording
from splice._internal.store.query_jobs import JOB_KIND
from splice._internal.workflows.jobs import JobOutcome
from splice._internal.workflows.model import Job

ARTIFACT_DIR = Path(".splice") / "artifacts"


class WorkflowRecording:
    def __init__(self, recording: Recording, root: Path, masker: Masker) -> None:
        self.recording = recording
        self.root = root
        self.masker = masker
        self.run_id: str | None = None
        self._started: dict[str, float] = {}
        self._host = socket.gethostname()

    @classmethod
    def open(
        cls,
        root: Path,
        project: str,
        opts: dict[str, Any],
        warn: Callable[[str], None],
        masker: Masker,
    ) -> WorkflowRecording:
        return cls(
            open_recording(root, project, StoreOptions.from_cli(opts), warn, source="workflow"),
            root,
            masker,
        )

    @property
    def _recorder(self) -> Any:
        return self.recording.recorder

    def started(self, run: RunResult, total: int) -> None:
        self.run_id = run.id
        if self._recorder is not None:
            self._recorder.run_started(run, total)

    def jobs_planned(self, jobs: list[Job]) -> None:
        """Every job as pending, so the dashboard shows what is left from the start."""
        self._states([self._state(job, "pending") for job in jobs])

    def job_started(self, job: Job) -> None:
        self._started[job.name] = time.time()
        self._states([self._state(job, "running")])

    def _state(self, job: Job, status: str, **more: Any) -> dict[str, Any]:
        body = {
            "status": status,
            "kind": job.kind.value,
            "needs": job.needs,
            "started_at": self._started.get(job.name),
            "worker": self._host if job.name in self._started else "",
            **more,
        }
        content = self.masker.text(json.dumps(body))
        return {"kind": JOB_KIND, "name": job.name, "content": content, "size": len(content)}

    def _states(self, items: list[dict[str, Any]]) -> None:
        if self._recorder is not None and self.run_id is not None and items:
            self._recorder.artifacts(items)

    def job_finished(self, job: Job, outcome: JobOutcome) -> list[Path]:
        """Write the job's testcases, log, artifacts and state; return the artifact files kept."""
        kept = self.keep_artifacts(job)
        recorder = self._recorder
        if recorder is None or self.run_id is None:
            return kept
        state = self._state(
            job,
            outcome.status.value,
            duration=outcome.duration if job.name in self._started else None,
            testcases=len(outcome.testcases),
            message=outcome.message,
        )
        for suite in outcome.suites:
            for testcase in suite.testcases:
                recorder.testcase_finished(suite, testcase)
            recorder.suite_finished(suite)
        items = [_log_item(job, outcome)]
        for path in kept:
            items.append(_file_item(job, path, self.masker))
        items.append(state)
        recorder.artifacts(items)
        return kept

    def keep_artifacts(self, job: Job) -> list[Path]:
        if not job.artifacts or self.run_id is None:
            return []
        folder = self.root / ARTIFACT_DIR / self.run_id / _safe(job.name)
        kept: list[Path] = []
        for pattern in job.artifacts:
            for match in sorted(glob.glob(str(self.root / pattern), recursive=True)):  # noqa: PTH207
                source = Path(match)
                if not source.is_file():
                    continue
                try:
                    relative = source.resolve().relative_to(self.root.resolve())
                except ValueError:  # outside the project: kept by its name alone
                    relative = Path(source.name)
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                kept.append(target)
        return kept

    def finish(self, run: RunResult) -> None:
        if self._recorder is not None:
            self._recorder.run_finished(run)
        self.recording.finish(run)

    def close(self) -> None:
        self.recording.close()

    def forced_exit(self, message: str) -> None:
        if self._recorder is not None:
            self._recorder.forced_exit(message)


def _log_item(job: Job, outcome: JobOutcome) -> dict[str, Any]:
    head = f"{job.name}: {outcome.status.value}"
    if outcome.message:
        head += f" — {outcome.message}"
    content = head + "\n" + outcome.log
    content = content[-stream.ARTIFACT_LIMIT :]
    return {"kind": "job-log", "name": job.name, "content": content, "size": len(content)}


def _file_item(job: Job, path: Path, masker: Masker) -> dict[str, Any]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - stream.ARTIFACT_LIMIT))
        content = masker.text(handle.read().decode("utf-8", "replace"))
    name = f"{job.name}: {path.name}"
    return {"kind": "artifact", "name": name, "content": content, "size": size}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=[]," else "_" for c in name)


def suites_of(outcomes: dict[str, JobOutcome]) -> list[SuiteResult]:
    return [suite for outcome in outcomes.values() for suite in outcome.suites]
