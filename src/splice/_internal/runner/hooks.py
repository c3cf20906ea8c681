"""What runs around each testcase attempt besides its steps: the data isolation of the
environment (`splice._internal.environment.isolation.DataManager`), or a user's own hook given to
`splice.run`. A hook may give the attempt its own endpoints by changing `scope`."""

from __future__ import annotations

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
