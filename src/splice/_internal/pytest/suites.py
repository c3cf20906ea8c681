"""`*.splice.yaml` suites as pytest items: one item per testcase.

The file is the collector: its `setup()` (run by pytest before the first selected item of
the file) starts the services if need be and runs the suite's setup steps; its
`teardown()` (after the last) runs the suite's teardown steps. Each item runs one
testcase with splice's own runner, isolation and retries, and shows splice's failure
report (the step, diffs, request and response) in pytest's output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from splice._internal.errors import SuiteError
from splice._internal.model.results import (
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)
from splice._internal.model.suite import Suite, Testcase

if TYPE_CHECKING:
    from splice._internal.pytest.state import State
    from splice._internal.runner.suite_session import SuiteSession


class TestcaseFailed(Exception):
    """A testcase did not pass; `repr_failure` shows splice's report instead of a trace."""

    __test__ = False

    def __init__(self, result: TestcaseResult) -> None:
        super().__init__(f"{result.status.value}: {result.suite} › {result.name}")
        self.result = result


class SuiteFile(pytest.File):
    """A suite file: collects its testcases, runs the suite's setup and teardown."""

    suite: Suite
    run: SuiteRun | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from splice._internal.loader.suite_loader import load_suite
        from splice._internal.runner.analysis import analyse

        state = _state(self.config)
        self.suite = load_suite(self.path)
        known = set(state.external) | set(state.project.vars if state.project else {})
        analysis = analyse(
            self.suite, known, state.project.service_kinds() if state.project else None
        )
        if analysis.diagnostics:
            raise SuiteError(analysis.diagnostics)
        self.suite.serial = self.suite.serial or analysis.needs_order
        group = pytest.mark.xdist_group(str(self.path)) if state.has_xdist else None
        for testcase in self.suite.testcases:
            item = SuiteItem.from_parent(self, name=testcase.name, testcase=testcase)
            for tag in sorted({*self.suite.tags, *testcase.tags}):
                item.add_marker(state.marker_for_tag(tag))
            item.add_marker("integration")
            item.extra_keyword_matches.add(self.suite.name)  # `-k` matches the suite name
            if group is not None and self.suite.serial:
                item.add_marker(group)  # `--dist loadgroup` keeps dependent testcases together
            yield item

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str:
        if isinstance(excinfo.value, SuiteError):
            from splice._internal.reporting.diagnostics import render_diagnostics

            return render_diagnostics(excinfo.value.diagnostics)
        return str(super().repr_failure(excinfo))

    def setup(self) -> None:
        state = _state(self.config)
        self.run = SuiteRun(self.suite, state)
        failed = self.run.setup()
        if failed:
            pytest.fail(failed, pytrace=False)

    def teardown(self) -> None:
        if self.run is not None:
            failed = self.run.teardown()
            self.run = None
            if failed:
                pytest.fail(failed, pytrace=False)


class SuiteItem(pytest.Item):
    """One testcase of a suite."""

    def __init__(self, *, testcase: Testcase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.testcase = testcase
        self.result: TestcaseResult | None = None

    @property
    def splice_suite(self) -> str:
        """The suite's name; the plugin puts it on the item's reports."""
        return self.suite_file.suite.name

    @property
    def suite_file(self) -> SuiteFile:
        assert isinstance(self.parent, SuiteFile)
        return self.parent

    def runtest(self) -> None:
        run = self.suite_file.run
        assert run is not None, "the suite file's setup runs first"
        self.result = run.run(self.testcase)
        if self.result.status == Status.SKIPPED:
            pytest.skip(self.result.skip_reason or "skipped")
        if self.result.status == Status.XFAILED:  # pytest's own outcome: `x` and xfailed
            pytest.xfail(self.result.xfail_reason or "xfail")
        if not self.result.status.ok:
            raise TestcaseFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, TestcaseFailed):
            from splice._internal.reporting.failures import failure_report

            result = excinfo.value.result
            # the first line is what pytest's short summary shows: make it the reason
            return f"{headline(result)}\n{failure_report(result, title=False)}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        line = self.testcase.span.line if self.testcase.span else 1
        return self.path, line - 1, f"{self.suite_file.suite.name} › {self.testcase.name}"


class SuiteRun:
    """The suite's session (`splice._internal.runner.suite_session`) around the testcases pytest
    selected: the same lifecycle as under `splice run`, driven by pytest's setup, items
    and teardown; each runs with the session's signal handling on (`State.steps`)."""

    def __init__(self, suite: Suite, state: State) -> None:
        self.suite = suite
        self.state = state
        self.result = SuiteResult(suite.name, suite.path)
        self.session: SuiteSession | None = None

    def setup(self) -> str | None:
        """Run the suite's setup; the failure report when it did not pass."""
        from splice._internal.runner.suite_session import SuiteSession

        state = self.state
        builtins = state.builtins()  # starts the services when the project has any
        data = state.session.data
        self.session = SuiteSession(
            self.suite,
            builtins=builtins,
            external=state.external,
            secret_names=state.secret_names,
            masker=state.masker,
            control=state.control,
            hooks=[
                *([data] if data is not None else []),
                *state.openapi_hooks(builtins.get("services") or {}),
            ],
            guards=[data] if data is not None else [],
            processes=state.processes,
        )
        with state.steps():
            results = self.session.setup()
        self.result.setup.extend(results)
        return _steps_report(f"suite setup of {self.suite.name!r} failed", results)

    def run(self, testcase: Testcase) -> TestcaseResult:
        from splice._internal.runner.suite_session import new_testcase_result

        assert self.session is not None, "the suite's setup runs first"
        result = new_testcase_result(self.suite, testcase, Status.PASSED)
        with self.state.steps():
            self.session.run(testcase, result, retries=self.state.retries)
        self.result.testcases.append(result)
        return result

    def teardown(self) -> str | None:
        if self.session is None:
            return None
        with self.state.steps():
            results = self.session.teardown()
        self.result.teardown.extend(results)
        return _steps_report(f"suite teardown of {self.suite.name!r} failed", results)


def headline(result: TestcaseResult) -> str:
    """`failed: <step>: <first unmet expectation>` in one line."""
    from splice._internal.reporting.failures import failure_lines

    final = result.final_attempt
    step = final.failed_step if final else None
    if step is None or not step.failures:
        return f"{result.status.value}: {result.suite} › {result.name}"
    reason = failure_lines(step.failures[0])[0].removeprefix("✗ ")
    return f"{result.status.value}: {step.name}: {reason}"


def _steps_report(title: str, steps: list[StepResult]) -> str | None:
    from splice._internal.reporting.failures import step_lines

    failed = [s for s in steps if not s.status.ok]
    if not failed:
        return None
    lines = [title]
    for step in failed:
        lines += ["  " + line for line in step_lines(step)]
    return "\n".join(lines)


def _state(config: pytest.Config) -> State:
    from splice._internal.pytest.state import state_of

    return state_of(config)


def testcase_json(result: TestcaseResult) -> str:
    """A testcase's result as JSON, carried on pytest's report (also across xdist)."""
    run = RunResult(id="", suites=[SuiteResult(result.suite, result.path, testcases=[result])])
    return json.dumps(run.to_dict()["suites"][0]["testcases"][0], default=repr)
