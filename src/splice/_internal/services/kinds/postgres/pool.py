"""Databases cloned from a template ahead of need, by one background thread.

A testcase attempt takes a ready clone (instant) and gives it back when it ends; the
thread drops given-back clones and makes new ones while the tests run. When takers find
the pool empty (parallel jobs, short testcases), the pool grows, up to `max_size`.
Used by the postgres kind (CREATE DATABASE ... TEMPLATE) and the mysql kinds (a copy of
each table).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from splice._internal.services.kind_api import ServiceError


class ClonePool:
    """Keeps `size` clones ready; `take` returns a clone's name, `give_back` drops it."""

    def __init__(
        self,
        service: str,
        *,
        connect: Callable[[], Any],
        create: Callable[[Any, str], None],
        drop: Callable[[Any, str], None],
        prefix: str,
        size: int = 2,
        max_size: int = 6,
    ) -> None:
        self.service = service
        self._connect, self._create, self._drop = connect, create, drop
        self._prefix = prefix
        self._numbers = itertools.count(1)
        self._target, self._max = size, max_size
        self._ready: deque[str] = deque()
        self._dropping: deque[str] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._drop_on_close = True
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._work, name=f"splice-clones-{service}", daemon=True
        )
        self._thread.start()

    def take(self, timeout: float = 60.0) -> str:
        """A ready clone; waits for the thread when none is ready yet."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if not self._ready and self._target < self._max:
                self._target += 1  # takers outpace the pool: keep more ready
            while not self._ready:
                if self._error is not None:
                    raise ServiceError(
                        self.service,
                        f"could not clone the template database: {self._error}",
                        hint="read the server's log; the template may be in use or too big",
                    ) from self._error
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    raise ServiceError(self.service, "no cloned database became ready in time")
                self._cond.notify_all()
                self._cond.wait(remaining)
            name = self._ready.popleft()
            self._cond.notify_all()  # the thread makes the next one
            return name

    def give_back(self, name: str) -> None:
        with self._cond:
            self._dropping.append(name)
            self._cond.notify_all()

    def close(self, *, drop: bool = True) -> None:
        """Stop the thread; with `drop`, remove every clone still there (an external
        server keeps them otherwise; a private one is deleted whole anyway)."""
        with self._cond:
            self._closed = True
            self._drop_on_close = drop
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def _work(self) -> None:
        conn = None
        try:
            conn = self._connect()
            while True:
                with self._cond:
                    while (
                        not self._closed and not self._dropping and len(self._ready) >= self._target
                    ):
                        self._cond.wait()
                    if self._closed:
                        break
                    # a taker may be waiting: making comes before dropping
                    make = len(self._ready) < self._target
                    victim = None if make else self._dropping.popleft()
                if victim is not None:
                    with contextlib.suppress(Exception):  # a failed drop costs only space
                        self._drop(conn, victim)
                    continue
                name = f"{self._prefix}{next(self._numbers)}"
                self._create(conn, name)
                with self._cond:
                    self._ready.append(name)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the takers, who report it
            with self._cond:
                self._error = exc
                self._cond.notify_all()
        finally:
            self._finish(conn)

    def _finish(self, conn: Any) -> None:
        with self._cond:
            leftovers = [*self._ready, *self._dropping] if self._drop_on_close else []
            self._ready.clear()
            self._dropping.clear()
        if conn is None:
            return
        for name in leftovers:
            with contextlib.suppress(Exception):
                self._drop(conn, name)
        with contextlib.suppress(Exception):
            conn.close()
