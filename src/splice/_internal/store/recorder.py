"""`Recorder`: the listener that records a run while it happens.

Added to the runner's event bus, it turns each event into a plain one (`store.stream`)
and hands it to its writers (the local store, a remote server). The run's final event is held
back until `finish` adds the service logs, which exist only after the services stopped; if
`finish` is never called, `close` sends it as it was.
"""

from __future__ import annotations

from typing import Any

from splice._internal.model.results import RunResult, StepResult, SuiteResult, TestcaseResult
from splice._internal.runner.events import RunListener
from splice._internal.store import stream
from splice._internal.store.meta import RunMeta
from splice._internal.store.writers import EventWriter

CLOSE_TIMEOUT = 30.0  # seconds the end of a run waits for its results to be written


class Recorder(RunListener):
    """Listener writing a run to every writer in `writers` as it progresses."""

    def __init__(
        self,
        writers: list[EventWriter],
        meta: RunMeta,
        quarantined: set[str] | None = None,
        shard: tuple[int, int] | None = None,
        shared: list[EventWriter] | None = None,
    ) -> None:
        self.writers = writers
        self.meta = meta
        self.quarantined = quarantined or set()
        # (index from 1, count): this process runs one static shard of a run other shards
        # report to as well (`store.shard_runs`); the writers to that shared run (default:
        # all; the others store this shard's part as a run of its own)
        self.shard = shard
        self.shared = writers if shared is None else shared
        self._run_id: str | None = None
        self._final: dict[str, Any] | None = None
        self._closed = False
        self._done = 0  # testcases finished: a shard's end says how many it ran

    def _put(self, event: dict[str, Any]) -> None:
        marked = event
        if self.shard is not None and event["event"] in ("run_started", "run_finished"):
            shard = {"index": self.shard[0], "count": self.shard[1]}
            if event["event"] == "run_finished":
                shard["done"] = self._done
            marked = {**event, "run": {**event["run"], "shard": shard}}
        for writer in self.writers:
            writer.put(marked if any(w is writer for w in self.shared) else event)

    def run_started(self, run: RunResult, total: int) -> None:
        self._run_id = run.id
        self._put(stream.run_started(run, total, self.meta))

    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        if self._run_id:
            self._put(stream.testcase_started(self._run_id, testcase))

    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None:
        """Steps are written with their testcase (or suite): whole attempts, one batch."""

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        self._done += 1
        if self._run_id:
            held = testcase.id in self.quarantined and not testcase.status.ok
            self._put(stream.testcase_finished(self._run_id, testcase, held))

    def suite_finished(self, suite: SuiteResult) -> None:
        if self._run_id:
            self._put(stream.suite_finished(self._run_id, suite))

    def run_finished(self, run: RunResult) -> None:
        self._final = stream.run_finished(run)

    def failed_start(self, run: RunResult, total: int, reason: str) -> None:
        """A run whose services did not start: stored with status error and `reason` (the
        error with its log tail); `finish` then adds the service logs and ends it."""
        self.run_started(run, total)
        self.services_failed(reason)
        self.run_finished(run)

    def services_failed(self, reason: str) -> None:
        """Keep why the services did not start with the run (shown with its logs)."""
        if self._run_id and not self._closed:
            item = {"kind": "error", "name": "services", "content": reason, "size": len(reason)}
            self._put(stream.artifacts(self._run_id, [item]))

    def artifacts(self, items: list[dict[str, Any]]) -> None:
        """Keep these logs or files with the run (`kind`, `name`, `content`, `size` each)."""
        if self._run_id and not self._closed and items:
            self._put(stream.artifacts(self._run_id, items))

    def forced_exit(self, message: str = "") -> None:
        """splice exits at once (a second signal, or SIGTERM's grace period is over):
        record the run as interrupted first, waiting a few seconds at most."""
        if self._run_id and not self._closed:
            self._final = self._final or {
                "event": "run_finished",
                "run_id": self._run_id,
                "run": {"status": "interrupted"},
            }
            self._final["run"]["status"] = "interrupted"
            self.close(timeout=3.0)

    def finish(self, run: RunResult) -> None:
        """Add the service logs of `run` and write its end (call after services stopped)."""
        if self._run_id is None or self._closed:
            return
        logs = stream.log_artifacts(run.services)
        if logs:
            self._put(stream.artifacts(self._run_id, logs))
        if self._final is not None:
            end = stream.run_finished(run)["run"]  # the services and coverage, now known
            self._final["run"]["services"] = end["services"]
            self._final["run"]["openapi"] = end["openapi"]
        self.close()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> list[str]:
        """Write the end of the run (if it started) and stop the writers.

        Returns the names of writers that could not write everything.
        """
        if self._closed:
            return []
        self._closed = True
        if self._run_id is not None:
            self._put(
                self._final
                or {
                    "event": "run_finished",
                    "run_id": self._run_id,
                    "run": {"status": "interrupted"},
                }
            )
        return [w.name for w in self.writers if not w.close(timeout) or w.failed]
