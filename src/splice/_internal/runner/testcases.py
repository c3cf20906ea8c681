"""Running a testcase: attempts, setup, steps, teardown (always), isolation of state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from splice._internal.errors import SpliceError
from splice._internal.executors.executor_api import TestcaseSession
from splice._internal.masking import Masker
from splice._internal.model.results import (
    AttemptResult,
    Failure,
    FailureKind,
    Phase,
    Status,
    StepResult,
    TestcaseResult,
)
from splice._internal.model.suite import Step, Suite, Testcase
from splice._internal.runner.hooks import AttemptHook
from splice._internal.runner.scope import layer
from splice._internal.runner.settings import SettingFailure, testcase_retries
from splice._internal.runner.steps import StepEnv, condition, run_step
from splice._internal.templating import TemplateFailure


@dataclass
class SuiteState:
    """Shared by the testcases of one suite: published variables and the masker."""

    suite: Suite
    variables: dict[str, Any]  # suite vars plus captures published so far
    external: dict[str, Any]
    masker: Masker
    cancelled: threading.Event
    hooks: list[AttemptHook] = field(default_factory=list)
    processes: Any = None
    # set only when splice exits at once (see `StepEnv.forced`)
    forced: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = threading.Lock()  # noqa: RUF009 - replaced per instance below

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def publish(self, captures: dict[str, Any]) -> None:
        with self.lock:
            self.variables.update(captures)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.variables)


def run_steps(
    steps: list[Step], scope: dict[str, Any], phase: Phase, env: StepEnv, *, keep_going: bool
) -> tuple[list[StepResult], dict[str, Any]]:
    """Run steps in order; stop at the first failure unless `keep_going` (teardown)."""
    results: list[StepResult] = []
    captured: dict[str, Any] = {}
    env.sink = results
    for step in steps:
        if env.cancelled.is_set() and not keep_going:
            break
        result = run_step(step, scope, phase, env)
        results.append(result)
        for spec in step.captures:
            if spec.name in result.captures:
                captured[spec.name] = scope[spec.name]
        if not result.status.ok and not keep_going:
            break
    return results, captured


def run_testcase(
    testcase: Testcase,
    state: SuiteState,
    result: TestcaseResult,
    on_step: Callable[[StepResult], None],
    default_retries: int,
) -> TestcaseResult:
    """Fill `result` by running `testcase`, retrying failed attempts as configured."""
    suite = state.suite
    result.started_at = time.time()
    clock = time.perf_counter()
    base = state.snapshot()
    base["testcase"] = testcase.name
    if testcase.rows_error is not None or testcase.later is not None:
        return _without_rows(testcase, state, result, clock)
    try:
        reason = _skip_reason(testcase, base)
        retries = testcase_retries(testcase, suite, {**base, **testcase.vars}, default_retries)
    except (TemplateFailure, SettingFailure) as exc:
        reason = None
        failing = isinstance(exc, SettingFailure)
        attempt = AttemptResult(1, Status.ERROR, time.time())
        attempt.steps.append(
            StepResult(
                0,
                "retries" if failing else "skip/only",
                "setting" if failing else "condition",
                Phase.SETUP,
                Status.ERROR,
                (exc.span or testcase.span) if isinstance(exc, SettingFailure) else testcase.span,
                failures=[Failure(FailureKind.ERROR, exc.message, hint=exc.hint)],
            )
        )
        result.attempts.append(attempt)
        result.status = Status.ERROR
        result.duration = time.perf_counter() - clock
        return result
    if reason:
        result.status = Status.SKIPPED
        result.skip_reason = reason
        return result

    for number in range(1, retries + 2):
        attempt = _attempt(testcase, state, number, on_step)
        result.attempts.append(attempt)
        if attempt.status.ok or state.cancelled.is_set():
            break
    final = result.attempts[-1].status
    if final == Status.PASSED and len(result.attempts) > 1:
        result.status = Status.FLAKY
    else:
        result.status = final
    if testcase.xfail is not None:
        result.xfail_reason = testcase.xfail.reason
        result.status = _expected(result.status, testcase.xfail.strict)
    result.duration = time.perf_counter() - clock
    return result


def _expected(status: Status, strict: bool) -> Status:
    """The outcome of an `xfail:` testcase: a failure was expected. An error (the step
    could not be performed) or an interrupt is still what it is: xfail names a known bug
    of the system under test, not a broken suite."""
    if status == Status.FAILED:
        return Status.XFAILED
    if status in (Status.PASSED, Status.FLAKY):
        return Status.XPASSED if strict else status
    return status


def _without_rows(
    testcase: Testcase, state: SuiteState, result: TestcaseResult, clock: float
) -> TestcaseResult:
    """A `foreach: {sql: ...}` testcase whose rows could not be had: one error, at the query."""
    if testcase.rows_error is not None:
        message, hint, span = testcase.rows_error
    else:  # a front end that runs testcases without expanding them first
        later = testcase.later
        message = "this testcase's rows come from a query, which this front end does not run"
        hint = "run the suite with `splice run` or `splice.run`, which expand such rows"
        span = later.span if later is not None else testcase.span
    attempt = AttemptResult(1, Status.ERROR, time.time())
    attempt.steps.append(
        StepResult(
            0,
            "foreach rows",
            "foreach",
            Phase.SETUP,
            Status.ERROR,
            span,
            failures=[Failure(FailureKind.ERROR, state.masker.text(message), hint=hint)],
        )
    )
    result.attempts.append(attempt)
    result.status = Status.ERROR
    result.duration = time.perf_counter() - clock
    return result


def _skip_reason(testcase: Testcase, scope: dict[str, Any]) -> str | None:
    if testcase.skip is not None and condition(testcase.skip, scope):
        return "skip: true" if testcase.skip is True else f"skip: {testcase.skip}"
    if testcase.only is not None and not condition(testcase.only, scope):
        return "only: false" if testcase.only is False else f"only: {testcase.only} is false"
    return None


def _attempt(
    testcase: Testcase, state: SuiteState, number: int, on_step: Callable[[StepResult], None]
) -> AttemptResult:
    attempt = AttemptResult(number, Status.PASSED, time.time())
    clock = time.perf_counter()
    scope = state.snapshot()
    scope["testcase"] = testcase.name
    session = TestcaseSession()
    env = StepEnv(
        session=session,
        masker=state.masker,
        base_dir=state.suite.path.parent,
        cancelled=state.cancelled,
        forced=state.forced,
        templates=state.suite.templates,
        processes=state.processes,
        on_step=on_step,
    )
    published: dict[str, Any] = {}
    started_hooks: list[AttemptHook] = []
    try:
        try:
            for hook in state.hooks:
                hook.attempt_started(state.suite, testcase, scope, session)
                started_hooks.append(hook)
            layer(scope, testcase.vars, state.external)
        except SpliceError as exc:  # isolation could not be prepared
            attempt.steps.append(
                StepResult(
                    0,
                    "isolation",
                    "data",
                    Phase.SETUP,
                    Status.ERROR,
                    testcase.span,
                    failures=[
                        Failure(FailureKind.ERROR, str(exc), hint=getattr(exc, "hint", None))
                    ],
                )
            )
        except TemplateFailure as exc:
            attempt.steps.append(
                StepResult(
                    0,
                    "testcase vars",
                    "vars",
                    Phase.SETUP,
                    Status.ERROR,
                    testcase.span,
                    failures=[Failure(FailureKind.ERROR, exc.message, hint=exc.hint)],
                )
            )
        else:
            for phase, steps in ((Phase.SETUP, testcase.setup), (Phase.TEST, testcase.steps)):
                results, captured = run_steps(steps, scope, phase, env, keep_going=False)
                attempt.steps.extend(results)
                published.update(captured)
                if any(not r.status.ok for r in results) or state.cancelled.is_set():
                    break
    finally:
        # teardown always runs: after failures, errors and interrupts alike
        results, _ = run_steps(testcase.teardown, scope, Phase.TEARDOWN, env, keep_going=True)
        attempt.steps.extend(results)
        session.close()
        ok = all(s.status.ok for s in attempt.steps)
        for hook in reversed(started_hooks):
            try:
                hook.attempt_finished(state.suite, testcase, scope, ok)
            except SpliceError as exc:  # isolation could not be restored: this attempt's error
                attempt.steps.append(
                    StepResult(
                        0,
                        "isolation",
                        "data",
                        Phase.TEARDOWN,
                        Status.ERROR,
                        testcase.span,
                        failures=[
                            Failure(FailureKind.ERROR, str(exc), hint=getattr(exc, "hint", None))
                        ],
                    )
                )
    attempt.status = _attempt_status(attempt, testcase, state)
    if attempt.status.ok:
        state.publish(published)
    attempt.duration = time.perf_counter() - clock
    return attempt


def _attempt_status(attempt: AttemptResult, testcase: Testcase, state: SuiteState) -> Status:
    statuses = [s.status for s in attempt.steps]
    if Status.INTERRUPTED in statuses:  # cut short: what failed after (teardown) is shown too
        return Status.INTERRUPTED
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAILED in statuses:
        return Status.FAILED
    ran = sum(1 for s in attempt.steps if s.phase == Phase.TEST)
    if state.cancelled.is_set() and ran < len(testcase.steps):
        return Status.INTERRUPTED
    return Status.PASSED
