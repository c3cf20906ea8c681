"""Events of a run, delivered to listeners (console, reporters, later the store).

Listeners implement any subset of `Listener`'s methods; the bus calls them one at a
time even when testcases run in parallel, so a listener needs no locking of its own.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from splice.model.results import RunResult, StepResult, SuiteResult, TestcaseResult


class Listener(Protocol):
    def run_started(self, run: RunResult, total: int) -> None: ...
    def suite_started(self, suite: SuiteResult) -> None: ...
    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None: ...
    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None: ...
    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None: ...
    def suite_finished(self, suite: SuiteResult) -> None: ...
    def run_finished(self, run: RunResult) -> None: ...
    # the first Ctrl-C or SIGTERM: the run is stopping (the message says how to force it)
    def interrupted(self, message: str) -> None: ...
    # splice exits now, before the run ends: the last moment to record anything
    def forced_exit(self, message: str) -> None: ...


class EventBus:
    """Fans events out to listeners that have a method of the event's name."""

    def __init__(self, listeners: list[Any] | None = None) -> None:
        self.listeners: list[Any] = list(listeners or [])
        self._lock = threading.RLock()

    def add(self, listener: Any) -> None:
        self.listeners.append(listener)

    def emit(self, event: str, *args: Any) -> None:
        with self._lock:
            for listener in self.listeners:
                method = getattr(listener, event, None)
                if method is not None:
                    method(*args)
