"""Parallel slots: how isolation stays whole when testcases run at once (`--jobs`).

An isolation mode either gives every attempt something of its own (a cloned database, a
vhost, a name prefix: nothing to coordinate), or resets state that testcases share
(`truncate`, `snapshot`, `flush`, a mock's `reset`). For a shared mode each testcase
running at the same time needs its own copy of that state: a *slot*. A thread that runs
an attempt holds the lowest free slot number for as long as it runs (0 when nothing else
runs, so `--jobs 1` behaves as before); slot 0 is the service's own database or Redis
database, slot N a copy the kind makes the first time N testcases overlap.

A copy is of no use when another service of the project connects to the data service
(the system under test started with `DATABASE_URL` of the one database): the copy cannot
follow that connection, so the attempts that use such a service run one at a time
(`exclusive`), and the run says so once.

"One at a time" is kept by a `Gate`: an exclusive attempt holds it alone, and every other
attempt of the run holds it shared, so nothing overlaps an exclusive attempt, also not a
testcase of a suite with `isolation: none` (it may reach the same services through the
system under test). A suite's setup and teardown hold it too (`DataManager.suite_phase`):
alone when the suite's isolation resets shared state, since a setup that looks at that
state ("the cache starts empty") must not see a running testcase's writes.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from splice._internal.errors import SourceSpan


class Policy(enum.Enum):
    """How attempts that run at once share one service's isolation."""

    ATTEMPT = "attempt"  # each attempt gets its own (clone, vhost, prefix): nothing to do
    SLOT = "slot"  # each parallel slot gets its own copy of the shared state
    EXCLUSIVE = "exclusive"  # one attempt at a time

    @property
    def shared(self) -> bool:
        """Whether the mode resets state that every testcase sees."""
        return self is not Policy.ATTEMPT


@dataclass(frozen=True)
class Serialised:
    """Why attempts that use a service run one at a time under `--jobs`."""

    service: str
    mode: str
    span: SourceSpan | None  # where the mode is set: the service, the suite or `data:`
    reason: str

    def message(self, root: Path | None = None) -> str:
        where = ""
        if self.span is not None:
            path = self.span.path
            if root is not None and path.is_relative_to(root):
                path = path.relative_to(root)
            where = f", {path}:{self.span.line}:{self.span.column}"
        return (
            f"testcases run one at a time: service {self.service!r} "
            f"(isolation {self.mode}{where}) {self.reason}"
        )


class Slots:
    """Slot numbers per thread: the lowest free one, re-entrant (a pytest test that takes
    two services holds one slot), given back when the thread's last hold ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, tuple[int, int]] = {}  # thread id -> (slot, holds)
        self.gate = Gate()  # exclusive for the attempt that runs alone, else shared

    def enter(self) -> int:
        me = threading.get_ident()
        with self._lock:
            slot, holds = self._held.get(me, (-1, 0))
            if holds == 0:
                taken = {s for s, _ in self._held.values()}
                slot = next(n for n in range(len(taken) + 1) if n not in taken)
            self._held[me] = (slot, holds + 1)
            return slot

    def leave(self) -> None:
        me = threading.get_ident()
        with self._lock:
            slot, holds = self._held.get(me, (0, 1))
            if holds <= 1:
                self._held.pop(me, None)
            else:
                self._held[me] = (slot, holds - 1)


class Gate:
    """A readers-writer lock between threads: any number of shared holders, or one
    exclusive holder. Re-entrant per thread (a pytest test that takes two services; an
    exclusive holder may also take it shared), and a waiting exclusive holder keeps new
    shared ones out, so a run of parallel testcases cannot starve it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None  # the thread holding it exclusively
        self._depth = 0  # its exclusive holds
        self._shared: dict[int, int] = {}  # thread id -> shared holds
        self._waiting = 0  # threads waiting to hold it exclusively

    def acquire(self, *, exclusive: bool) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                if exclusive:
                    self._depth += 1
                else:
                    self._shared[me] = self._shared.get(me, 0) + 1
                return
            if exclusive:
                self._waiting += 1
                try:
                    # a thread that holds it shared itself waits only for the others
                    self._cond.wait_for(
                        lambda: self._owner is None and not (self._shared.keys() - {me})
                    )
                finally:
                    self._waiting -= 1
                self._owner, self._depth = me, 1
                return
            if me not in self._shared:  # a re-entrant shared hold never waits
                self._cond.wait_for(lambda: self._owner is None and not self._waiting)
            self._shared[me] = self._shared.get(me, 0) + 1

    def release(self, *, exclusive: bool) -> None:
        me = threading.get_ident()
        with self._cond:
            if exclusive:
                if self._owner != me:
                    raise RuntimeError("the gate is not held exclusively by this thread")
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
            else:
                holds = self._shared.get(me, 0)
                if holds == 0:
                    raise RuntimeError("the gate is not held shared by this thread")
                if holds == 1:
                    del self._shared[me]
                else:
                    self._shared[me] = holds - 1
            self._cond.notify_all()

    @contextmanager
    def held(self, *, exclusive: bool) -> Iterator[None]:
        """The gate for the duration of a `with` block."""
        self.acquire(exclusive=exclusive)
        try:
            yield
        finally:
            self.release(exclusive=exclusive)
