"""Clocks a test can set: in this process (time-machine) and in a `process` service
(libfaketime, through the timestamp file the service reads on every clock call).

Times given as text are ISO 8601; one without a zone is UTC, so a test means the same
instant on every machine whatever its TZ.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

When = dt.datetime | dt.date | str | int | float


def instant(when: When) -> dt.datetime:
    """`when` as an aware datetime (UTC unless it says otherwise)."""
    if isinstance(when, bool):
        raise TypeError(f"a time is a datetime, an ISO 8601 string or epoch seconds, not {when!r}")
    if isinstance(when, int | float):
        return dt.datetime.fromtimestamp(when, dt.UTC)
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{when!r} is not an ISO 8601 time; for example '2030-01-31 12:00' "
                "or '2030-01-31T12:00:00+02:00'"
            ) from None
    if not isinstance(when, dt.datetime):  # a date: its midnight
        when = dt.datetime(when.year, when.month, when.day)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _delta(delta: dt.timedelta | float | None, parts: dict[str, float]) -> dt.timedelta:
    total = delta if isinstance(delta, dt.timedelta) else dt.timedelta(seconds=delta or 0)
    return total + dt.timedelta(**parts)


class FrozenClock:
    """The `splice_clock` fixture: this process's clock, frozen (time-machine).

    `time.time()`, `datetime.now()` and friends answer the frozen instant until moved;
    `time.monotonic()` and `perf_counter()` keep running, so timeouts still work.
    """

    def __init__(self, when: When | None = None, *, tick: bool = False) -> None:
        try:
            import time_machine
        except ImportError:
            import pytest

            pytest.fail(
                "splice_clock needs time-machine: pip install 'splice[pytest]'", pytrace=False
            )
        start = instant(when) if when is not None else dt.datetime.now(dt.UTC)
        self._travel: Any = time_machine.travel(start, tick=tick)
        self._traveller: Any = self._travel.start()

    def now(self) -> dt.datetime:
        """The frozen instant, in UTC."""
        return dt.datetime.now(dt.UTC)

    def move_to(self, when: When, *, tick: bool | None = None) -> None:
        """Jump to `when`; with `tick=True` the clock runs on from there."""
        self._traveller.move_to(instant(when), tick=tick)

    def shift(self, delta: dt.timedelta | float | None = None, **parts: float) -> None:
        """Move by `delta` (seconds or a timedelta) and/or `days=`, `hours=`, `minutes=`…"""
        self._traveller.shift(_delta(delta, parts))

    def stop(self) -> None:
        """Back to real time (the fixture does this after the test)."""
        self._travel.stop()


class ServiceClock:
    """The wall clock of a running `process` service started with `clock: true`.

    The service's clock runs on from wherever it was set, as a real clock would (a stopped
    one would stall its sleeps and timers). The offset is written to the file libfaketime
    reads, atomically, so the service never sees half a value.
    """

    def __init__(self, service: str, path: Path) -> None:
        self.service = service
        self.path = path
        self._offset = self._read()

    def _read(self) -> float:
        try:
            return float(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0

    @property
    def offset(self) -> dt.timedelta:
        """How far the service's clock is from real time."""
        return dt.timedelta(seconds=self._offset)

    def now(self) -> dt.datetime:
        """What the service's clock says now, in UTC."""
        return dt.datetime.now(dt.UTC) + self.offset

    def set(self, when: When) -> None:
        """Put the service's clock at `when`; it keeps running from there."""
        self._write((instant(when) - dt.datetime.now(dt.UTC)).total_seconds())

    def shift(self, delta: dt.timedelta | float | None = None, **parts: float) -> None:
        """Move the service's clock by `delta` and/or `days=`, `hours=`, `minutes=`…"""
        self._write(self._offset + _delta(delta, parts).total_seconds())

    def reset(self) -> None:
        """Back to real time."""
        self._write(0.0)

    def _write(self, offset: float) -> None:
        if not self.path.parent.is_dir():
            raise RuntimeError(f"service {self.service!r} is not running (no {self.path})")
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(f"{offset:+.6f}\n")
        partial.replace(self.path)
        self._offset = offset
