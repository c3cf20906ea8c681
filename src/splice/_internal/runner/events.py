"""Events of a run, delivered to listeners (the console, reporters, the store, a user's
own listener given to `splice.run`).

A listener is a `Listener`: one method per event. Subclass `RunListener`, whose methods do
nothing, and override the events you need. The bus (`EventBus`, itself a `Listener`) calls
listeners one at a time even when testcases run in parallel, so a listener needs no
locking of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

from splice._internal.model.results import RunResult, StepResult, SuiteResult, TestcaseResult


class Listener(Protocol):
    """What hears a run's events, in the order they happen."""

    def run_started(self, run: RunResult, total: int) -> None:
        """The run starts with `total` testcases (their results already listed in `run`)."""

    def suite_started(self, suite: SuiteResult) -> None:
        """A suite starts (before its setup)."""

    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        """A testcase starts its first attempt."""

    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None:
        """A step ended (already masked); `testcase` is None for a suite's setup/teardown."""

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        """A testcase ended: passed, failed, skipped (also never started), interrupted."""

    def suite_finished(self, suite: SuiteResult) -> None:
        """A suite ended (after its teardown)."""

    def run_finished(self, run: RunResult) -> None:
        """The run ended; `run.status` is final."""

    def interrupted(self, message: str) -> None:
        """The first Ctrl-C or SIGTERM: the run is stopping (the message says how to force it)."""

    def forced_exit(self, message: str) -> None:
        """splice exits now, before the run ends: the last moment to record anything."""


class RunListener:
    """A `Listener` whose methods do nothing: subclass it and override what you need."""

    def run_started(self, run: RunResult, total: int) -> None:
        return None

    def suite_started(self, suite: SuiteResult) -> None:
        return None

    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        return None

    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None:
        return None

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        return None

    def suite_finished(self, suite: SuiteResult) -> None:
        return None

    def run_finished(self, run: RunResult) -> None:
        return None

    def interrupted(self, message: str) -> None:
        return None

    def forced_exit(self, message: str) -> None:
        return None


class EventBus:
    """Fans each event out to every listener, one listener and one event at a time."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: list[Listener] = list(listeners)
        self._lock = threading.RLock()

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def run_started(self, run: RunResult, total: int) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.run_started(run, total)

    def suite_started(self, suite: SuiteResult) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.suite_started(suite)

    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.testcase_started(suite, testcase)

    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.step_finished(suite, testcase, step)

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.testcase_finished(suite, testcase)

    def suite_finished(self, suite: SuiteResult) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.suite_finished(suite)

    def run_finished(self, run: RunResult) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.run_finished(run)

    def interrupted(self, message: str) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.interrupted(message)

    def forced_exit(self, message: str) -> None:
        with self._lock:
            for listener in self.listeners:
                listener.forced_exit(message)
