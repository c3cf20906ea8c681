"""`QuarantineGate`: the listener through which `splice run` honours the quarantine (the
quarantine itself is managed in `splice._internal.store.quarantine`). Needs no database."""

from __future__ import annotations

from splice._internal.model.results import RunResult, Status
from splice._internal.runner.events import RunListener


class QuarantineGate(RunListener):
    """Listener: a run whose only failures are quarantined tests passes.

    The failed testcases keep their status (they are reported as failed); only the run's
    status changes, which decides the exit code. Suite setup or teardown errors, and
    failures of tests not in the quarantine, still fail the run.
    """

    def __init__(self, quarantined: set[str]) -> None:
        self.quarantined = quarantined
        self.held: list[str] = []  # the quarantined failures of the last run

    def run_finished(self, run: RunResult) -> None:
        failing = [tc for tc in run.testcases() if not tc.status.ok]
        self.held = [tc.id for tc in failing if tc.id in self.quarantined]
        if not self.held or run.interrupted or run.status not in (Status.FAILED, Status.ERROR):
            return
        suite_steps_ok = all(
            step.status.ok for suite in run.suites for step in [*suite.setup, *suite.teardown]
        )
        if suite_steps_ok and len(self.held) == len(failing):
            run.status = Status.PASSED

    def summary(self, what: str = "run") -> str | None:
        """The line telling that quarantined failures were held back, or None."""
        if not self.held:
            return None
        n = len(self.held)
        return (
            f"{n} quarantined failure{'s' if n != 1 else ''} reported but not failing the "
            f"{what} (`splice quarantine list`)"
        )
