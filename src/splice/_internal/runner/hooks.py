"""What runs around each testcase attempt besides its steps: the data isolation of the
environment (`splice._internal.environment.isolation.DataManager`), or a user's own hook given to
`splice.run`. A hook may give the attempt its own endpoints by changing `scope`.

A `SuiteGuard` is held around a suite's setup and around its teardown: the environment's
isolation keeps them apart from testcases they must not overlap under `--jobs`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from splice._internal.executors.executor_api import TestcaseSession
from splice._internal.model.suite import Suite, Testcase


class AttemptHook(Protocol):
    """Called before and after every attempt of every testcase (from its worker thread)."""

    def attempt_started(
        self, suite: Suite, testcase: Testcase, scope: dict[str, Any], session: TestcaseSession
    ) -> None:
        """Before the attempt's steps; an exception (`SpliceError`) makes it an error."""

    def attempt_finished(
        self, suite: Suite, testcase: Testcase, scope: dict[str, Any], passed: bool
    ) -> None:
        """After its teardown, whatever happened."""


class SuiteGuard(Protocol):
    """Entered around a suite's setup steps and, separately, around its teardown steps
    (from the thread that drives the suite)."""

    def suite_phase(self, suite: Suite) -> AbstractContextManager[None]:
        """What to hold while the steps run; it may wait for running testcases to end."""
