"""A whole run: suites in order, testcases in parallel workers, interrupts handled.

Suites and testcases are reported in definition order whatever order they finish in.

`interrupt` (the first Ctrl-C or SIGTERM) sets `cancelled`: the running test step is cut
short (an `exec` command stopped, an HTTP request cut, a wait or retry loop abandoned) and
reported `interrupted`; setup and teardown steps run to their end under their own timeouts;
testcases not started yet are reported `skipped` ("run interrupted"); every teardown runs
and the run is reported and stored as `interrupted`. `force` (a second signal) exits at
once with 130: the reaper stops the services and commands left running (both in
`splice._internal.runner.control`, shared with the pytest plugin). Each suite is a `SuiteSession`.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.masking import Masker
from splice._internal.model.results import (
    FAIL_FAST,
    RUN_INTERRUPTED,
    AttemptResult,
    Failure,
    FailureKind,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
    new_run_id,
)
from splice._internal.model.suite import Suite
from splice._internal.runner.control import RunControl
from splice._internal.runner.events import EventBus
from splice._internal.runner.hooks import AttemptHook, SuiteGuard
from splice._internal.runner.later_rows import expand_later
from splice._internal.runner.secrets import masked_command
from splice._internal.runner.suite_session import SuiteSession, new_testcase_result
from splice._internal.services.reaper import LazyReaper


@dataclass
class RunOptions:
    """How a run goes, as the CLI, pytest and `splice.run` give it to the runner."""

    jobs: int = 1
    fail_fast: bool = False
    retries: int = 0
    external: dict[str, Any] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)
    # lowest-precedence variables: `services`, `project`, and the project's own vars
    builtins: dict[str, Any] = field(default_factory=dict)
    # around every testcase attempt: the environment's data isolation, a user's hooks
    hooks: list[AttemptHook] = field(default_factory=list)
    # around every suite setup and teardown: the isolation's lock against testcases
    guards: list[SuiteGuard] = field(default_factory=list)


class Runner:
    """Runs planned suites and tells the bus what happens."""

    def __init__(
        self,
        suites: list[Suite],
        options: RunOptions,
        bus: EventBus,
        masker: Masker | None = None,
    ) -> None:
        self.suites = suites
        self.options = options
        self.bus = bus
        self.control = RunControl(bus)
        self.masker = masker if masker is not None else Masker()
        self.processes = LazyReaper()
        self._failed = threading.Event()
        self.result = RunResult(
            id=new_run_id(),
            command=list(sys.argv),
            host=socket.gethostname(),
            cwd=str(Path.cwd()),
        )

    @property
    def cancelled(self) -> threading.Event:
        return self.control.cancelled

    @property
    def started(self) -> threading.Event:
        return self.control.started

    def cancel(self) -> None:
        self.control.cancelled.set()

    def interrupt(
        self, cause: str = "Ctrl-C", then: str = "press Ctrl-C again to force an exit"
    ) -> bool:
        """Stop the run cleanly (see the module's docstring); False if it was already."""
        return self.control.interrupt(cause, then)

    def force(self, why: str) -> None:
        """Exit now with 130 (see `RunControl.force`)."""
        self.control.force(why)

    def run(self) -> RunResult:
        """Run everything; on KeyboardInterrupt, wind down cleanly and return what ran."""
        run = self.result
        run.started_at = time.time()
        self.control.started.set()
        clock = time.perf_counter()
        # the environment is open: testcases whose rows come from a query get them now
        self.suites = expand_later(self.suites, self.options.builtins, self.options.external)
        for name in self.options.secret_names:
            if name in self.options.external:
                self.masker.add(self.options.external[name])
        run.command = masked_command(run.command, self.masker, self.options.secret_names)
        run.suites = [SuiteResult(s.name, s.path) for s in self.suites]
        for sr, suite in zip(run.suites, self.suites, strict=True):
            sr.testcases = [
                new_testcase_result(suite, tc, Status.SKIPPED) for tc in suite.testcases
            ]
        total = sum(len(s.testcases) for s in self.suites)
        self.bus.run_started(run, total)
        jobs = max(1, self.options.jobs)
        with (
            ThreadPoolExecutor(jobs, thread_name_prefix="splice-tc") as pool,
            ThreadPoolExecutor(jobs, thread_name_prefix="splice-suite") as drivers,
        ):
            futures = [
                drivers.submit(self._run_suite, suite, sr, pool)
                for suite, sr in zip(self.suites, run.suites, strict=True)
            ]
            self._wait(futures)
        self.processes.close()
        run.interrupted = self.control.interrupted
        run.duration = time.perf_counter() - clock
        run.status = _run_status(run)
        self.bus.run_finished(run)
        return run

    def _wait(self, futures: list[Future[None]]) -> None:
        pending = list(futures)
        while pending:
            try:
                pending[0].result(timeout=0.2)
                pending.pop(0)
            except TimeoutError:
                continue
            except KeyboardInterrupt:
                # without the signal handlers (an embedding program): the same rules
                if not self.interrupt():
                    self.force("second Ctrl-C")

    def _run_suite(self, suite: Suite, sr: SuiteResult, pool: ThreadPoolExecutor) -> None:
        if self.control.cancelled.is_set():
            for tr in sr.testcases:
                self._not_started(sr, tr)
            sr.status = _suite_status(sr)
            return
        sr.started_at = time.time()
        clock = time.perf_counter()
        self.bus.suite_started(sr)
        session = SuiteSession(
            suite,
            builtins=self.options.builtins,
            external=self.options.external,
            secret_names=self.options.secret_names,
            masker=self.masker,
            control=self.control,
            hooks=self.options.hooks,
            guards=self.options.guards,
            processes=self.processes,
            on_step=self._step_listener(sr, None),
        )
        sr.setup.extend(session.setup())
        try:
            if session.setup_ok:
                self._run_testcases(suite, sr, session, pool)
            else:
                self._blocked_by_setup(sr)
        finally:
            sr.teardown.extend(session.teardown())
            sr.duration = time.perf_counter() - clock
            sr.status = _suite_status(sr)
            self.bus.suite_finished(sr)

    def _run_testcases(
        self, suite: Suite, sr: SuiteResult, session: SuiteSession, pool: ThreadPoolExecutor
    ) -> None:
        def one(index: int) -> None:
            tr = sr.testcases[index]
            if self.control.cancelled.is_set():
                self._not_started(sr, tr)
                return
            tr.status = Status.PASSED
            self.bus.testcase_started(sr, tr)
            session.run(
                suite.testcases[index],
                tr,
                retries=self.options.retries,
                on_step=self._step_listener(sr, tr),
            )
            self.bus.testcase_finished(sr, tr)
            if self.options.fail_fast and not tr.status.ok:
                self._failed.set()
                self.control.cancelled.set()

        indexes = range(len(suite.testcases))
        if suite.serial or self.options.jobs <= 1:
            for i in indexes:
                one(i)
            return
        futures = [pool.submit(one, i) for i in indexes]
        for f in futures:
            f.result()

    def _step_listener(
        self, sr: SuiteResult, tr: TestcaseResult | None
    ) -> Callable[[StepResult], None]:
        bus = self.bus

        def on_step(step: StepResult) -> None:
            bus.step_finished(sr, tr, step)

        return on_step

    def _not_started(self, sr: SuiteResult, tr: TestcaseResult) -> None:
        """A testcase the run stopped before: skipped, and reported like every other."""
        tr.status = Status.SKIPPED
        tr.skip_reason = RUN_INTERRUPTED if self.control.interrupted else FAIL_FAST
        self.bus.testcase_finished(sr, tr)

    def _blocked_by_setup(self, sr: SuiteResult) -> None:
        """Each testcase of a suite whose setup failed: an error whose one step is the
        setup's failing step, so every report says which step failed, where and why."""
        blocker = _setup_blocker(sr, Path(self.result.cwd))
        for tr in sr.testcases:
            tr.status = Status.ERROR
            tr.started_at = blocker.started_at
            tr.attempts = [
                AttemptResult(1, Status.ERROR, blocker.started_at, steps=[_copy(blocker)])
            ]
            self.bus.testcase_finished(sr, tr)


def _setup_blocker(sr: SuiteResult, cwd: Path) -> StepResult:
    step = next(s for s in sr.setup if not s.status.ok)
    where = f" at {step.location.shown(cwd)}" if step.location else ""
    why = step.failures[0].message if step.failures else step.status.value
    first = Failure(
        FailureKind.SUITE_SETUP,
        f"not run: the suite setup failed{where}: step {step.name!r}: {why}",
        hint="fix the suite's setup: none of its testcases ran",
    )
    return dataclasses.replace(
        step, name=f"suite setup › {step.name}", failures=[first, *step.failures], captures={}
    )


def _copy(step: StepResult) -> StepResult:
    return dataclasses.replace(step, failures=list(step.failures))


def _suite_status(sr: SuiteResult) -> Status:
    statuses = {tc.status for tc in sr.testcases}
    steps = {s.status for s in [*sr.setup, *sr.teardown]}
    cut = any(tc.skip_reason == RUN_INTERRUPTED for tc in sr.testcases)
    if cut or Status.INTERRUPTED in statuses or Status.INTERRUPTED in steps:
        return Status.INTERRUPTED
    if Status.ERROR in statuses or Status.ERROR in steps:
        return Status.ERROR
    if Status.FAILED in statuses or Status.XPASSED in statuses or Status.FAILED in steps:
        return Status.FAILED
    if statuses and statuses <= {Status.SKIPPED}:
        return Status.SKIPPED
    return Status.PASSED


def _run_status(run: RunResult) -> Status:
    """An interrupted run is `interrupted` whatever else happened: one outcome in every
    report, the store and the exit code (130); its failures are still counted."""
    statuses = {s.status for s in run.suites}
    if run.interrupted or Status.INTERRUPTED in statuses:
        return Status.INTERRUPTED
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAILED in statuses:
        return Status.FAILED
    return Status.PASSED
