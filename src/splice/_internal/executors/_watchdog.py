"""Cutting a blocking call short when the run is interrupted.

A driver call that blocks (a SQL statement, an HTTP request waiting for its response)
cannot look at `StepContext.cancelled` itself. `when_cancelled(event, cancel)` watches the
event while the call runs and calls `cancel` from another thread once it is set: the
executor's `cancel` makes the blocked call return (the server cancels the statement, the
socket is shut down), and the executor then raises `StepInterrupted`. With a `deadline`
(a `time.monotonic()` value) `cancel` also runs once that moment has passed: the way an
executor bounds a whole exchange whose driver only bounds each single read.

One thread serves every watched call and ends after 5 s without any.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator

_POLL = 0.05  # seconds between looks at the watched events
_IDLE_POLLS = 100  # polls without a watched call before the thread ends


class _Watchdog:
    def __init__(self) -> None:
        self._items: dict[int, tuple[threading.Event, Callable[[], None], float]] = {}
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._running = False

    @contextlib.contextmanager
    def watch(
        self, event: threading.Event, cancel: Callable[[], None], deadline: float
    ) -> Iterator[None]:
        with self._lock:
            token = next(self._tokens)
            self._items[token] = (event, cancel, deadline)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="splice-watchdog", daemon=True).start()
        try:
            yield
        finally:
            with self._lock:
                self._items.pop(token, None)

    def _run(self) -> None:
        idle = 0
        while idle < _IDLE_POLLS:
            time.sleep(_POLL)
            now = time.monotonic()
            with self._lock:
                fired = [
                    t for t, (event, _, end) in self._items.items() if event.is_set() or now >= end
                ]
                cancels = [self._items.pop(t)[1] for t in fired]
                idle = 0 if self._items else idle + 1
                self._running = idle < _IDLE_POLLS
            for cancel in cancels:
                with contextlib.suppress(Exception):  # best effort: the call may have ended
                    cancel()


_watchdog = _Watchdog()


def when_cancelled(
    event: threading.Event, cancel: Callable[[], None], deadline: float | None = None
) -> contextlib.AbstractContextManager[None]:
    """A context manager: while it is open, `cancel()` runs (once) when `event` is set or,
    with a `deadline`, once `time.monotonic()` has passed it."""
    return _watchdog.watch(event, cancel, math.inf if deadline is None else deadline)
