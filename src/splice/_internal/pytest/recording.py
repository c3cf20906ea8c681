"""A pytest session recorded in the results store, as `splice run` records its runs.

Live: the run starts in the store when the tests start, each test is written when its
teardown ends, and the run's end when the session ends (as `interrupted` after Ctrl-C; a
session killed outright is marked `killed` by the next store that opens). The quarantine
is honoured as by `splice run`: when every failure is of a quarantined test, the session
exits 0 and says so. Under xdist only the controller records (it sees every worker's
reports).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from splice._internal.model.results import RunResult, Status, SuiteResult, TestcaseResult
from splice._internal.pytest.results import ResultCollector
from splice._internal.store.attach import Recording, StoreOptions, open_recording
from splice._internal.store.errors import StoreError


class SessionRecording:
    """Opens the store when pytest configures, streams tests as they end."""

    def __init__(
        self,
        config: pytest.Config,
        collector: ResultCollector,
        project_file: Path | None,
        project_name: str,
    ) -> None:
        self.config = config
        self.collector = collector
        self.root = project_file.parent if project_file else config.rootpath
        opts = StoreOptions(
            store=config.getoption("splice_store"),
            no_store=config.getoption("splice_no_store"),
            report_to=config.getoption("splice_report_to"),
            report_token=config.getoption("splice_report_token"),
        )
        try:
            self.recording: Recording = open_recording(
                self.root, project_name, opts, self._warn, source="pytest"
            )
        except StoreError as exc:
            raise pytest.UsageError(f"splice: {exc.message}") from exc
        store = self.recording.store
        self.store_url = store.url if store is not None else None
        self.run_id = ""
        collector.on_testcase = self._testcase_finished

    def _warn(self, text: str) -> None:
        print(f"splice: warning: {text}", file=sys.stderr)

    def start(self, run_id: str, total: int, command: list[str]) -> None:
        """The run starts in the store; `command` is the command line, secrets masked."""
        self.run_id = run_id
        if self.recording.recorder is None:
            return
        run = RunResult(
            id=run_id,
            started_at=self.collector.started_at,
            command=command,
            host=socket.gethostname(),
            cwd=str(self.config.invocation_params.dir),
        )
        self.recording.recorder.run_started(run, total)

    def _testcase_finished(self, testcase: TestcaseResult) -> None:
        recorder = self.recording.recorder
        if recorder is not None and self.run_id:
            recorder.testcase_finished(SuiteResult(testcase.suite, testcase.path), testcase)

    def finish(
        self, session: pytest.Session, run: RunResult, services_failed: str | None = None
    ) -> None:
        """Record the end of the run (with why the services did not start, when they did
        not); a run failed only by quarantined tests exits 0."""
        run.interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        if run.interrupted:
            run.status = Status.INTERRUPTED
        gate = self.recording.gate
        failed_before = run.status in (Status.FAILED, Status.ERROR)
        gate.run_finished(run)
        if (
            failed_before
            and run.status == Status.PASSED
            and session.exitstatus == pytest.ExitCode.TESTS_FAILED
        ):
            session.exitstatus = pytest.ExitCode.OK
        recorder = self.recording.recorder
        if recorder is not None and self.run_id:
            if services_failed:
                recorder.services_failed(services_failed)
            recorder.run_finished(run)
        self.recording.finish(run)

    def close(self) -> None:
        self.recording.close()

    def summary(self) -> list[str]:
        lines = []
        held = self.recording.gate.summary("session")
        if held:
            lines.append(f"splice: {held}")
        if self.store_url and self.run_id:
            lines.append(f"splice: recorded run {self.run_id} in {self.store_url}")
        return lines
