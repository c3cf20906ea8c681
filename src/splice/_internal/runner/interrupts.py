"""SIGINT and SIGTERM while splice runs suites: under `splice run`, the pytest plugin and
`splice.run` alike (each installs `Interrupts` around its run, from the main thread).

The first signal stops the run cleanly (`RunControl.interrupt`): the running test step is
cancelled, setup and teardown steps run to their end, the reports are written and the run is
stored as `interrupted`; the exit code is 130. A second signal exits at once
(`RunControl.force`); so does the end of SIGTERM's grace period, since whoever sent SIGTERM (CI
cancelling a job, `timeout`, Kubernetes) follows it with SIGKILL. A forced exit skips the
rest of the teardowns and the reports; the reaper still stops every service and command.

Before steps run (`RunControl.started` not set: services starting, or in pytest a test
that is not a splice suite's) the first signal raises KeyboardInterrupt at once, as a plain
Ctrl-C would; the services that did start are stopped on the way out.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Protocol


class Interruptible(Protocol):
    """What the handlers stop: a run's `RunControl`, or a workflow's `Scheduler`."""

    @property
    def started(self) -> threading.Event: ...
    def interrupt(self, cause: str, then: str) -> bool: ...
    def force(self, why: str) -> None: ...


GRACE_ENV = "SPLICE_TERM_GRACE"  # or `--term-grace SECONDS`
DEFAULT_GRACE = 20.0  # seconds: below Kubernetes' default 30 s before its SIGKILL


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Interrupts:
    """Installs the handlers for the duration of a `with` block (main thread only)."""

    def __init__(self, control: Interruptible, grace: float) -> None:
        self.control = control
        self.grace = grace
        self._signals = 0
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set there; keep Python's defaults
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if sig == signal.SIGINT and previous == signal.SIG_IGN:
                continue  # started with Ctrl-C ignored (nohup, `&` in a script): keep it so
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if self._signals > 1:
            self.control.force(f"second {name}" if name == "Ctrl-C" else f"{name} again")
        if signum == signal.SIGTERM:
            self._timer = threading.Timer(self.grace, self._grace_over)
            self._timer.daemon = True
            self._timer.start()
            then = (
                f"forced exit in {_seconds(self.grace)} ({GRACE_ENV}, --term-grace) "
                "or at the next signal"
            )
        else:
            then = "press Ctrl-C again to force an exit"
        if not self.control.started.is_set():
            raise KeyboardInterrupt  # still starting services: give up on them at once
        self.control.interrupt(name, then)

    def _grace_over(self) -> None:
        self.control.force(f"SIGTERM grace period of {_seconds(self.grace)} over")
