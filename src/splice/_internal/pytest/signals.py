"""Ctrl-C and SIGTERM in a pytest session with splice: the same rules as `splice run`.

The handlers are `splice._internal.runner.interrupts.Interrupts`, installed for the whole session
once the plugin has state (a project or suites). While a suite's steps run (its setup, a
testcase, its teardown: `SplicedSteps`), the first signal stops the session the way
`splice run` stops: the running test step is cancelled, setup and teardown steps run to
their end under their own timeouts, and pytest stops after the current item
(`session.shouldstop`, so its summary says why). Outside them (a Python test, services
starting) the first signal raises KeyboardInterrupt, as pytest's own Ctrl-C does, and
SIGTERM does the same instead of killing pytest at once, so teardowns and reports still
run. A second signal, or the end of SIGTERM's grace period, exits at once with 130 and
says so.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

import pytest

from splice._internal.runner.control import RunControl
from splice._internal.runner.interrupts import DEFAULT_GRACE, GRACE_ENV, Interrupts


class PytestStopListener:
    """Says on pytest's terminal that the session is stopping, and stops it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def interrupted(self, message: str) -> None:
        session = self.config.pluginmanager.get_plugin("session")
        if session is not None:
            session.shouldstop = message
        self._say(message)

    def forced_exit(self, message: str) -> None:
        self._say(message)

    def _say(self, message: str) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            print(message, flush=True)
            return
        if capture is None:
            terminal.write_line(message, yellow=True)
            return
        with capture.global_and_fixture_disabled():
            terminal.write_line(message, yellow=True)


class SessionInterrupts:
    """The signal handlers of one pytest session (installed from the main thread only)."""

    def __init__(self, control: RunControl) -> None:
        self.control = control
        self._handlers: Interrupts | None = None
        self._depth = 0  # `SplicedSteps` blocks open (pytest runs one item at a time)
        self._lock = threading.Lock()

    def install(self) -> None:
        if self._handlers is not None or threading.current_thread() is not threading.main_thread():
            return
        grace = os.environ.get(GRACE_ENV)
        try:
            seconds = float(grace) if grace else DEFAULT_GRACE
        except ValueError:
            seconds = DEFAULT_GRACE
        self._handlers = Interrupts(self.control, seconds).__enter__()

    def enter_steps(self) -> None:
        self.install()
        with self._lock:
            self._depth += 1
            self.control.started.set()

    def leave_steps(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self.control.started.clear()

    def uninstall(self) -> None:
        handlers, self._handlers = self._handlers, None
        if handlers is not None:
            handlers.__exit__(None, None, None)


class SplicedSteps:
    """A `with` block in which a suite's steps run (see the module's docstring)."""

    def __init__(self, interrupts: SessionInterrupts) -> None:
        self.interrupts = interrupts

    def __enter__(self) -> SplicedSteps:
        self.interrupts.enter_steps()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.interrupts.leave_steps()
