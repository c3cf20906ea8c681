"""How a run stops: the first Ctrl-C or SIGTERM (`interrupt`) and a forced exit (`force`).

One `RunControl` per run, shared by every front end (`splice run`, the pytest plugin, the
Python API): the signal handlers (`splice._internal.runner.interrupts`) call it, the suite sessions
and their steps watch its events.

- `cancelled` is set by the first interrupt: test steps watch it and stop (an `exec`
  command stopped, an HTTP request cut, a wait or retry loop abandoned).
- `forced` is set only just before splice exits at once: setup and teardown steps watch it
  instead of `cancelled`, so they run to their end under their own timeouts.
- `started` says that steps may be running: before, a signal gives up at once (while
  services start, or in pytest between splice's own items).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import NoReturn, Protocol

FORCE_NOTIFY_TIMEOUT = 5.0  # seconds a forced exit waits for the store to hear of it
EXIT_INTERRUPTED = 130


class StopListener(Protocol):
    """Who hears that a run is stopping (the console, the store, pytest's terminal)."""

    def interrupted(self, message: str) -> None:
        """The first Ctrl-C or SIGTERM: the run is stopping (the message says how to force it)."""

    def forced_exit(self, message: str) -> None:
        """splice exits now, before the run ends: the last moment to record anything."""


class RunControl:
    """The stop events of one run and the two ways to set them."""

    def __init__(self, listener: StopListener | None = None) -> None:
        self.cancelled = threading.Event()
        self.forced = threading.Event()
        self.started = threading.Event()
        self.listener = listener
        self.interrupted = False

    def interrupt(
        self, cause: str = "Ctrl-C", then: str = "press Ctrl-C again to force an exit"
    ) -> bool:
        """Stop cleanly: cancel running test steps, let setup and teardown steps finish.
        False if the run was already stopping."""
        if self.interrupted:
            return False
        self.interrupted = True
        self.cancelled.set()
        if self.listener is not None:
            message = f"stopping ({cause}): cancelling running steps, running teardowns; {then}"
            self.listener.interrupted(message)
        return True

    def force(self, why: str) -> NoReturn:
        """Exit now with 130, skipping teardowns and reports; the listener is told first
        (within seconds, whatever state the run is in) and the reaper stops what is left."""
        self.forced.set()
        message = f"{why}: forced exit; teardowns and reports skipped, the reaper stops services"
        listener = self.listener

        def notify() -> None:
            if listener is not None:
                listener.forced_exit(message)
            for stream in (sys.stdout, sys.stderr):  # os._exit does not flush them
                stream.flush()

        # a listener stuck behind a lock must not keep splice from exiting
        thread = threading.Thread(target=notify, name="splice-forced-exit", daemon=True)
        thread.start()
        thread.join(FORCE_NOTIFY_TIMEOUT)
        os._exit(EXIT_INTERRUPTED)
