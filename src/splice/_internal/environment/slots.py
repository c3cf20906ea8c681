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
"""

from __future__ import annotations

import enum
import threading
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
        self.exclusive = threading.RLock()  # held by the attempt that runs alone

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
