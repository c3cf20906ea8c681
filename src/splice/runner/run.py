"""A whole run: suites in order, testcases in parallel workers, interrupts handled.

Suites and testcases are reported in definition order whatever order they finish in.
Ctrl-C sets `cancelled`: running steps finish (each is bounded by its timeout), the
remaining steps are not started, every teardown still runs, and the run is reported.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice.masking import Masker
from splice.model.results import (
    Failure,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
    new_run_id,
)
from splice.model.suite import Suite
from splice.runner.events import EventBus
from splice.runner.scope import layer
from splice.runner.secrets import masked_command
from splice.runner.steps import StepEnv
from splice.runner.testcases import SuiteState, run_steps, run_testcase
from splice.services.reaper import LazyReaper
from splice.templating import TemplateFailure


@dataclass
class RunOptions:
    jobs: int = 1
    fail_fast: bool = False
    retries: int = 0
    external: dict[str, Any] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)
    environment: Any = None  # running services, when a project has them
    # lowest-precedence variables: `services`, `project`, and the project's own vars
    builtins: dict[str, Any] = field(default_factory=dict)
    # objects with optional attempt_started(suite, testcase, scope, session) and
    # attempt_finished(suite, testcase, scope, passed): per-testcase isolation of data
    hooks: list[Any] = field(default_factory=list)


class Runner:
    """Runs planned suites and emits events to the bus."""

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
        self.cancelled = threading.Event()
        self.masker = masker if masker is not None else Masker()
        self.processes = LazyReaper()
        self._failed = threading.Event()
        self.result = RunResult(
            id=new_run_id(),
            command=list(sys.argv),
            host=socket.gethostname(),
            cwd=str(Path.cwd()),
        )

    def cancel(self) -> None:
        self.cancelled.set()

    def run(self) -> RunResult:
        """Run everything; on KeyboardInterrupt, wind down cleanly and return what ran."""
        run = self.result
        run.started_at = time.time()
        clock = time.perf_counter()
        for name in self.options.secret_names:
            if name in self.options.external:
                self.masker.add(self.options.external[name])
        run.command = masked_command(run.command, self.masker, self.options.secret_names)
        run.suites = [SuiteResult(s.name, s.path) for s in self.suites]
        for sr, suite in zip(run.suites, self.suites, strict=True):
            sr.testcases = [
                TestcaseResult(
                    suite.name,
                    tc.name,
                    suite.path,
                    tc.span.line if tc.span else 0,
                    Status.SKIPPED,
                    tags=sorted({*suite.tags, *tc.tags}),
                )
                for tc in suite.testcases
            ]
        total = sum(len(s.testcases) for s in self.suites)
        self.bus.emit("run_started", run, total)
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
        run.interrupted = self.cancelled.is_set() and not self._failed.is_set()
        run.duration = time.perf_counter() - clock
        run.status = _run_status(run)
        self.bus.emit("run_finished", run)
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
                # first Ctrl-C: stop starting work, let teardowns run; a second one exits
                if self.cancelled.is_set():
                    self.bus.emit("forced_exit")
                    os._exit(130)
                self.cancelled.set()
                self.bus.emit("interrupted")

    def _run_suite(self, suite: Suite, sr: SuiteResult, pool: ThreadPoolExecutor) -> None:
        if self.cancelled.is_set():
            self._mark_unrun(sr, "run interrupted")
            return
        sr.started_at = time.time()
        clock = time.perf_counter()
        self.bus.emit("suite_started", sr)
        external = self.options.external
        variables: dict[str, Any] = {**self.options.builtins, "suite": suite.name}
        variables.update(external)
        for name in [*suite.secrets, *self.options.secret_names]:
            if name in suite.vars and name not in external:
                self.masker.add(suite.vars[name])
        state = SuiteState(
            suite,
            variables,
            external,
            self.masker,
            self.cancelled,
            self.options.environment,
            hooks=self.options.hooks,
            processes=self.processes,
        )
        on_suite_step = self._step_listener(sr, None)
        env = self._suite_env(suite, on_suite_step)
        try:
            layer(variables, suite.vars, external)
        except TemplateFailure as exc:
            sr.setup.append(
                StepResult(
                    0,
                    "suite vars",
                    "vars",
                    Phase.SETUP,
                    Status.ERROR,
                    suite.span,
                    failures=[Failure("error", exc.message, hint=exc.hint)],
                )
            )
        for name in suite.secrets:
            if name in variables:
                self.masker.add(variables[name])
        if not sr.setup:
            results, _ = run_steps(suite.setup, variables, Phase.SETUP, env, keep_going=False)
            sr.setup.extend(results)
        setup_ok = all(s.status.ok for s in sr.setup)
        try:
            if setup_ok:
                self._run_testcases(suite, sr, state, pool)
            else:
                self._mark_unrun(sr, "suite setup failed", Status.ERROR)
        finally:
            results, _ = run_steps(
                suite.teardown, state.snapshot(), Phase.TEARDOWN, env, keep_going=True
            )
            sr.teardown.extend(results)
            env.session.close()
            sr.duration = time.perf_counter() - clock
            sr.status = _suite_status(sr)
            self.bus.emit("suite_finished", sr)

    def _suite_env(self, suite: Suite, on_step: Any) -> StepEnv:
        from splice.executors.base import TestcaseSession

        return StepEnv(
            session=TestcaseSession(),
            masker=self.masker,
            base_dir=suite.path.parent,
            cancelled=self.cancelled,
            templates=suite.templates,
            environment=self.options.environment,
            processes=self.processes,
            on_step=on_step,
        )

    def _run_testcases(
        self, suite: Suite, sr: SuiteResult, state: SuiteState, pool: ThreadPoolExecutor
    ) -> None:
        def one(index: int) -> None:
            tr = sr.testcases[index]
            if self.cancelled.is_set():
                tr.status, tr.skip_reason = Status.SKIPPED, "run interrupted"
                return
            tr.status = Status.PASSED
            self.bus.emit("testcase_started", sr, tr)
            run_testcase(
                suite.testcases[index],
                state,
                tr,
                self._step_listener(sr, tr),
                self.options.retries,
            )
            self.bus.emit("testcase_finished", sr, tr)
            if self.options.fail_fast and not tr.status.ok:
                self._failed.set()
                self.cancelled.set()

        indexes = range(len(suite.testcases))
        if suite.serial or self.options.jobs <= 1:
            for i in indexes:
                one(i)
            return
        futures = [pool.submit(one, i) for i in indexes]
        for f in futures:
            f.result()

    def _step_listener(self, sr: SuiteResult, tr: TestcaseResult | None) -> Any:
        def on_step(step: StepResult) -> None:
            self.bus.emit("step_finished", sr, tr, step)

        return on_step

    def _mark_unrun(self, sr: SuiteResult, reason: str, status: Status = Status.SKIPPED) -> None:
        for tr in sr.testcases:
            tr.status = status
            tr.skip_reason = reason


def _suite_status(sr: SuiteResult) -> Status:
    statuses = {tc.status for tc in sr.testcases}
    steps = {s.status for s in [*sr.setup, *sr.teardown]}
    if Status.ERROR in statuses or Status.ERROR in steps:
        return Status.ERROR
    if Status.FAILED in statuses or Status.FAILED in steps:
        return Status.FAILED
    if Status.INTERRUPTED in statuses:
        return Status.INTERRUPTED
    if statuses and statuses <= {Status.SKIPPED}:
        return Status.SKIPPED
    return Status.PASSED


def _run_status(run: RunResult) -> Status:
    statuses = {s.status for s in run.suites}
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAILED in statuses:
        return Status.FAILED
    if run.interrupted or Status.INTERRUPTED in statuses:
        return Status.INTERRUPTED
    return Status.PASSED
