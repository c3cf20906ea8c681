"""One suite's lifecycle, for every front end: variables, secrets, setup, testcases,
teardown.

`Runner` (for `splice run` and `splice.run`) and the pytest plugin's suite items both drive
a `SuiteSession`, so a change to how a suite behaves is made here once:

1. `setup()`: the suite's variables are layered over the run's (a template in them that
   fails is a setup error), the values named secret are given to the masker once, then
   the setup steps run (stopping at the first that fails), inside the guards (the
   isolation's lock, so that under `--jobs` a setup does not overlap a testcase it must not).
2. `run(testcase, result)`: one testcase with its attempts, isolation hooks and retries;
   a passing testcase publishes its captures to the testcases after it.
3. `teardown()`: every teardown step runs, even after a failure or an interrupt (they
   watch `RunControl.forced`, not `cancelled`), with the variables published so far,
   inside the guards as the setup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from splice._internal.executors.executor_api import TestcaseSession
from splice._internal.masking import Masker
from splice._internal.model.results import (
    Failure,
    FailureKind,
    Phase,
    Status,
    StepResult,
    TestcaseResult,
)
from splice._internal.model.suite import Suite, Testcase
from splice._internal.runner.control import RunControl
from splice._internal.runner.hooks import AttemptHook, SuiteGuard
from splice._internal.runner.scope import layer
from splice._internal.runner.steps import StepEnv
from splice._internal.runner.testcases import SuiteState, run_steps, run_testcase
from splice._internal.templating import TemplateFailure

StepCallback = Callable[[StepResult], None]


def _ignore(_step: StepResult) -> None:
    return None


class SuiteSession:
    """A suite between its setup and its teardown."""

    def __init__(
        self,
        suite: Suite,
        *,
        builtins: Mapping[str, Any],
        external: Mapping[str, Any],
        secret_names: set[str],
        masker: Masker,
        control: RunControl,
        hooks: Sequence[AttemptHook] = (),
        guards: Sequence[SuiteGuard] = (),
        processes: Any = None,
        on_step: StepCallback = _ignore,
    ) -> None:
        self.suite = suite
        self.masker = masker
        self.control = control
        self.external = dict(external)
        self.variables: dict[str, Any] = {**builtins, "suite": suite.name, **self.external}
        for name in [*suite.secrets, *secret_names]:
            if name in suite.vars and name not in self.external:
                masker.add(suite.vars[name])
        self.state = SuiteState(
            suite,
            self.variables,
            self.external,
            masker,
            control.cancelled,
            hooks=list(hooks),
            processes=processes,
            forced=control.forced,
        )
        self.env = StepEnv(
            session=TestcaseSession(),
            masker=masker,
            base_dir=suite.path.parent,
            cancelled=control.cancelled,
            forced=control.forced,
            templates=suite.templates,
            processes=processes,
            on_step=on_step,
        )
        self.guards = list(guards)
        self.setup_results: list[StepResult] = []
        self._closed = False

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        with ExitStack() as stack:
            for guard in self.guards:
                stack.enter_context(guard.suite_phase(self.suite))
            yield

    @property
    def setup_ok(self) -> bool:
        return all(step.status.ok for step in self.setup_results)

    def setup(self) -> list[StepResult]:
        """Layer the suite's variables, then run its setup steps; their results."""
        suite = self.suite
        try:
            layer(self.variables, suite.vars, self.external)
        except TemplateFailure as exc:
            failure = Failure(FailureKind.ERROR, exc.message, hint=exc.hint)
            step = StepResult(
                0, "suite vars", "vars", Phase.SETUP, Status.ERROR, suite.span, failures=[failure]
            )
            self.env.on_step(step)
            self.setup_results = [step]
            return self.setup_results
        for name in suite.secrets:
            if name in self.variables:
                self.masker.add(self.variables[name])
        if not suite.setup:
            return []
        with self._guarded():
            results, _ = run_steps(
                suite.setup, self.variables, Phase.SETUP, self.env, keep_going=False
            )
        self.setup_results = results
        return results

    def run(
        self,
        testcase: Testcase,
        result: TestcaseResult,
        *,
        retries: int = 0,
        on_step: StepCallback = _ignore,
    ) -> TestcaseResult:
        """Run one testcase of the suite into `result` (its attempts and status)."""
        return run_testcase(testcase, self.state, result, on_step, retries)

    def teardown(self) -> list[StepResult]:
        """Run every teardown step (once; a second call does nothing); their results."""
        if self._closed:
            return []
        self._closed = True
        try:
            if not self.suite.teardown:
                return []
            with self._guarded():
                results, _ = run_steps(
                    self.suite.teardown,
                    self.state.snapshot(),
                    Phase.TEARDOWN,
                    self.env,
                    keep_going=True,
                )
        finally:
            self.env.session.close()
        return results


def new_testcase_result(suite: Suite, testcase: Testcase, status: Status) -> TestcaseResult:
    """The result a testcase starts with: its suite, name, place and tags."""
    return TestcaseResult(
        suite.name,
        testcase.name,
        suite.path,
        testcase.span.line if testcase.span else 0,
        status,
        tags=sorted({*suite.tags, *testcase.tags}),
    )
