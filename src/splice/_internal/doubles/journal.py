"""The request journal: a ring buffer, so memory stays flat however long a run is.

WireMock keeps every request (1.4 GB after ~70k requests, measured); here the journal
holds the last `size` requests, each body cut at `body_limit` bytes, and counts what it
dropped so a verification over a journal that overflowed can say so instead of
miscounting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from splice._internal.doubles.http11 import Request
from splice._internal.doubles.incoming import describe

DEFAULT_SIZE = 10_000
DEFAULT_BODY_LIMIT = 64 * 1024


@dataclass(slots=True)
class Entry:
    """One received request and what the mock did with it."""

    seq: int
    at: float
    request: Request
    stub: str | None  # id of the stub that answered; None: unmatched
    label: str | None  # its name (or id)
    status: int | None  # None: a fault, no status was sent
    truncated: bool = False
    source: str = "stub"  # stub, cassette, proxy, unmatched

    def as_dict(self) -> dict[str, Any]:
        out = describe(self.request)
        out.update(
            seq=self.seq,
            time=datetime.fromtimestamp(self.at, UTC).isoformat(),
            matched=self.stub is not None,
            stub=self.stub,
            stub_name=self.label,
            status=self.status,
            source=self.source,
        )
        if self.truncated:
            out["truncated"] = True
        return out


class Journal:
    """The last `size` requests."""

    def __init__(self, size: int = DEFAULT_SIZE, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.size = size
        self.body_limit = body_limit
        self._entries: deque[Entry] = deque(maxlen=size if size > 0 else 1)
        self.total = 0  # requests recorded since the last clear

    def add(
        self,
        request: Request,
        stub: str | None,
        label: str | None,
        status: int | None,
        source: str = "stub",
    ) -> Entry:
        self.total += 1
        truncated = False
        if len(request.body) > self.body_limit:
            # keep a copy with the cut body, not the original: the full body is garbage
            request = Request(
                request.method,
                request.target,
                request.headers,
                request.body[: self.body_limit],
                request.close,
            )
            truncated = True
        entry = Entry(self.total, time.time(), request, stub, label, status, truncated, source)
        if self.size > 0:
            self._entries.append(entry)
        return entry

    @property
    def dropped(self) -> int:
        """Requests since the last clear that the ring buffer no longer holds."""
        return self.total - len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.total = 0
