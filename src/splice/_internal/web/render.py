"""Rendering pages: the Jinja2 environment (autoescaped), its filters, and value diffs.

Every value from a run reaches the page through autoescaping, so a captured body holding
`<script>` is shown as text. Only the charts (built in `charts.py` from escaped parts) are
inserted as markup.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from splice._internal.web import charts

BODY_LIMIT = 20000  # characters of one request or response shown before "show less"


def pretty(value: Any) -> str:
    """A stored value as indented JSON text (strings as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def cut(text: str, limit: int = BODY_LIMIT) -> tuple[str, int]:
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def diff(expected: Any, actual: Any) -> list[tuple[str, str]]:
    """Line diff of expected and actual as pretty JSON: (kind, line), kind in ' ', '-', '+'.

    Empty when both fit on one line: then the two values side by side say it all.
    """
    left, right = pretty(expected).splitlines(), pretty(actual).splitlines()
    if len(left) <= 1 and len(right) <= 1:
        return []
    out = []
    for line in difflib.ndiff(left, right):
        kind = line[:1]
        if kind in (" ", "-", "+"):
            out.append((kind, line[2:]))
    return out


# Every filter takes whatever a store holds: a row written by an older splice or by hand may
# hold an infinite, negative or absurd number, and a page must still render.


def duration(value: float | None) -> str:
    if value is None:
        return "—"
    return charts.seconds(value)


def _moment(stamp: Any) -> datetime | None:
    """`stamp` (seconds since the epoch) as a UTC time; None when it is no time at all."""
    if not isinstance(stamp, int | float) or not stamp or not math.isfinite(stamp):
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):  # before year 1 or after 9999
        return None


def when(stamp: float | None) -> str:
    """UTC time; the page's script rewrites it into the reader's own zone."""
    moment = _moment(stamp)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def clock(stamp: float | None) -> str:
    """The time of day to the second, UTC: when a state of a few seconds began."""
    moment = _moment(stamp)
    return moment.strftime("%H:%M:%S UTC") if moment else "—"


def iso(stamp: float | None) -> str:
    moment = _moment(stamp) or datetime.fromtimestamp(0, UTC)
    return moment.isoformat(timespec="seconds")


def ago(stamp: float | None, now: float | None = None) -> str:
    if _moment(stamp) is None:
        return "—"
    seconds = max(0.0, (now or time.time()) - float(stamp or 0))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.1f}%"


def count(value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.0f}"


def series(rows: list[dict[str, Any]], key: str) -> list[tuple[str, Any]]:
    """(day, value) pairs of per-day rows, for the charts."""
    return [(row["day"], row[key]) for row in rows]


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("splice._internal.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        duration=duration,
        when=when,
        clock=clock,
        iso=iso,
        ago=ago,
        percent=percent,
        pretty=pretty,
        short=lambda text, n=10: (text or "")[:n],
    )
    env.globals.update(
        charts=charts,
        diff=diff,
        cut=cut,
        color=charts.color,
        now=time.time,
        series=series,
        count=count,
    )
    return env
