"""Time: the service's clock (libfaketime) and this process's (time-machine)."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime

import httpx
import pytest

from splice._internal.pytest.clock import FrozenClock
from splice._internal.pytest.handles import ServiceHandle


def server_time(client: httpx.Client) -> dt.datetime:
    """The service's clock, as its `Date` response header shows it."""
    return parsedate_to_datetime(client.get("/health").headers["date"])


def test_the_service_clock_can_be_moved(client: httpx.Client, splice_app: ServiceHandle) -> None:
    """Setting the service's clock changes the time it reports; it keeps running."""
    splice_app.clock.set("2030-01-31 12:00")
    assert abs(server_time(client) - dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC)) < dt.timedelta(
        seconds=5
    )
    splice_app.clock.shift(days=1)
    assert server_time(client).date() == dt.date(2030, 2, 1)


def test_the_service_clock_is_real_again_in_the_next_test(client: httpx.Client) -> None:
    """splice puts a moved clock back after the test that moved it."""
    now = dt.datetime.now(dt.UTC)
    assert abs(server_time(client) - now) < dt.timedelta(seconds=5)


def days_left(due: dt.date) -> int:
    """In-process code that depends on today's date."""
    return (due - dt.date.today()).days


@pytest.mark.splice_clock("2030-01-31")
def test_in_process_code_sees_a_frozen_clock(splice_clock: FrozenClock) -> None:
    """A unit test (no service): time-machine freezes this process's clock."""
    assert days_left(dt.date(2030, 2, 10)) == 10
    splice_clock.shift(days=9)
    assert days_left(dt.date(2030, 2, 10)) == 1
