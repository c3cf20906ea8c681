"""Hand-written SVG charts: no charting library, nothing fetched, every text escaped.

Each function returns `Markup` holding one `<svg>` that scales to its container (viewBox),
with a `<title>` per mark for the tooltip and an `aria-label` summarising the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

COLORS = {
    "passed": "#1a7f37",
    "flaky": "#bf8700",
    "failed": "#cf222e",
    "error": "#bc4c00",
    "interrupted": "#8250df",
    "killed": "#8250df",
    "skipped": "#8c959f",
    "xfailed": "#9a6700",
    "xpassed": "#cf222e",
    "running": "#0969da",
}
_GRID, _AXIS_TEXT = "#d0d7de", "#57606a"
_FADED = ' fill-opacity="0.4"'  # results of outage runs: shown, but not counted
_LARGEST = 1e15  # past this no axis is meaningful (31 million years in seconds)


def color(status: str) -> str:
    return COLORS.get(status, "#8c959f")


def _svg(width: int, height: int, label: str, body: list[str], cls: str = "chart") -> Markup:
    # small inline charts keep their size; the big ones scale to their container
    size = "" if cls == "chart" else f' width="{width}" height="{height}"'
    return Markup(
        f'<svg class="{cls}"{size} viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def _finite(value: Any) -> float | None:
    """A value a chart can draw: a finite number of at least 0, else None (no mark).

    A store may hold anything a writer put there (an infinite duration from an old import,
    a negative one written by hand): such a value is left out rather than break the page.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0 or value > _LARGEST:
        return None
    return float(value)


def _scale(value: float, integer: bool = False) -> tuple[float, float]:
    """(top, step) of an axis showing 0..`value`: a round step (1, 2, 2.5 or 5 × 10^k; whole
    numbers for counts) and at most four steps up to the top."""
    if value <= 0:
        return 1.0, 0.25 if not integer else 1.0
    power = 10 ** math.floor(math.log10(value / 4)) if value / 4 > 0 else 1
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(s * power for s in steps if s * power * 4 >= value)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return step * math.ceil(value / step - 1e-9), float(step)


def seconds(value: float) -> str:
    if not math.isfinite(value) or abs(value) > _LARGEST:
        return "—"
    if value < 0:
        return f"−{seconds(-value)}"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%" if math.isfinite(value) else "—"


def _frame(
    width: int,
    height: int,
    top: float,
    step: float,
    *,
    fmt: Callable[[float], str],
    labels: Sequence[str],
    pad: tuple[int, int, int, int],
) -> list[str]:
    left, right, up, down = pad
    inner_h = height - up - down
    out = []
    ticks = max(1, round(top / step))
    for i in range(ticks + 1):
        value = step * i
        y = height - down - inner_h * value / top
        dash = "" if i == 0 else ' stroke-dasharray="3 3"'  # solid baseline, dashed grid
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"{dash}/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_AXIS_TEXT}">{escape(fmt(value))}</text>'
        )
    n = len(labels)
    if n:
        every = max(1, math.ceil(n / 8))
        slot = (width - left - right) / n
        for i in range(0, n, every):
            x = left + slot * (i + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{height - down + 16}" text-anchor="middle" font-size="11" '
                f'fill="{_AXIS_TEXT}">{escape(labels[i])}</text>'
            )
    return out


def line_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    label: str,
    fmt: Callable[[float], str] = percent,
    top: float | None = 1.0,
    width: int = 720,
    height: int = 220,
    stroke: str = "#1a7f37",
) -> Markup:
    """A line with a shaded area per x slot; None values leave a gap in the line."""
    pad = (48, 12, 12, 26)
    left, right, up, down = pad
    points = [(day, _finite(v)) for day, v in points]
    values = [v for _, v in points if v is not None]
    top, step = (top, top / 4) if top is not None else _scale(max(values, default=0.0))
    body = _frame(width, height, top, step, fmt=fmt, labels=[_short(d) for d, _ in points], pad=pad)
    n = max(1, len(points))
    slot = (width - left - right) / n
    inner_h = height - up - down
    segments: list[list[tuple[float, float]]] = [[]]
    for i, (day, value) in enumerate(points):
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        x = left + slot * (i + 0.5)
        y = height - down - inner_h * min(value, top) / top
        segments[-1].append((x, y))
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{stroke}" '
            f'stroke-width="2"><title>{escape(day)}: {escape(fmt(value))}</title></circle>'
        )
    base = height - down
    for seg in segments:
        if len(seg) < 2:
            continue
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
        area = f"{seg[0][0]:.1f},{base} {line} {seg[-1][0]:.1f},{base}"
        body.insert(0, f'<polygon points="{area}" fill="{stroke}" fill-opacity="0.12"/>')
        body.append(
            f'<polyline points="{line}" fill="none" stroke="{stroke}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round"/>'
        )
    if not values:
        body.append(_empty(width, height))
    return _svg(width, height, label, body)


def bar_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    label: str,
    fmt: Callable[[float], str] = seconds,
    width: int = 720,
    height: int = 220,
    fill: str = "#0969da",
    integer: bool = False,
) -> Markup:
    """One bar per x slot (days); None or 0 is no bar. `integer`: counts, whole ticks."""
    pad = (56, 12, 12, 26)
    left, right, up, down = pad
    points = [(day, _finite(v)) for day, v in points]
    values = [v for _, v in points if v is not None]
    highest = max(values, default=0.0)
    top, step = _scale(highest, integer)
    body = _frame(width, height, top, step, fmt=fmt, labels=[_short(d) for d, _ in points], pad=pad)
    n = max(1, len(points))
    slot = (width - left - right) / n
    inner_h = height - up - down
    for i, (day, value) in enumerate(points):
        if not value:
            continue
        h = max(1.5, inner_h * value / top)
        x = left + slot * i + slot * 0.18
        body.append(
            f'<rect x="{x:.1f}" y="{height - down - h:.1f}" width="{slot * 0.64:.1f}" '
            f'height="{h:.1f}" rx="2" fill="{fill}"><title>{escape(day)}: '
            f"{escape(fmt(value))}</title></rect>"
        )
    if not values:
        body.append(_empty(width, height))
    return _svg(width, height, label, body)


def history_chart(
    history: Sequence[dict[str, Any]], *, width: int = 720, height: int = 160
) -> Markup:
    """A test's results oldest to newest: bar height is duration, colour is outcome."""
    pad = (56, 8, 10, 8)
    left, right, up, down = pad
    items = list(reversed(history))
    top, step = _scale(max((_finite(h["duration"]) or 0.0 for h in items), default=0.0))
    body = _frame(width, height, top, step, fmt=seconds, labels=[], pad=pad)
    n = max(1, len(items))
    slot = (width - left - right) / n
    inner_h = height - up - down
    for i, h in enumerate(items):
        bar = max(3.0, inner_h * (_finite(h["duration"]) or 0.0) / top)
        x = left + slot * i + min(1.0, slot * 0.15)
        title = f"{h['status']} · {seconds(h['duration'])} · run {h['run_id']}"
        if h.get("branch"):
            title += f" · {h['branch']}"
        if h.get("outage"):
            title += " · outage run"
        faded = _FADED if h.get("outage") else ""
        body.append(
            f'<a href="/runs/{escape(h["run_id"])}/results/{int(h["result_id"])}">'
            f'<rect x="{x:.1f}" y="{height - down - bar:.1f}" width="{max(2.0, slot * 0.7):.1f}" '
            f'height="{bar:.1f}" rx="1.5" fill="{color(h["status"])}"{faded}>'
            f"<title>{escape(title)}</title></rect></a>"
        )
    if not items:
        body.append(_empty(width, height))
    return _svg(width, height, f"history of {len(items)} results", body)


def strip(recent: Sequence[dict[str, Any]], *, size: int = 11) -> Markup:
    """Small squares, oldest left: the outcomes of a test's recent results."""
    items = list(reversed(recent))
    gap = 3
    width = max(size, len(items) * (size + gap))
    body = [
        f'<rect x="{i * (size + gap)}" y="0" width="{size}" height="{size}" rx="2" '
        f'fill="{color(h["status"])}"{_FADED if h.get("outage") else ""}>'
        f"<title>{escape(h['status'])} · run {escape(h['run_id'])}</title></rect>"
        for i, h in enumerate(items)
    ]
    return _svg(width, size, f"{len(items)} recent results", body, cls="strip")


def counts_bar(counts: dict[str, int], *, width: int = 140, height: int = 10) -> Markup:
    """A stacked bar of a run's testcases by outcome."""
    order = ("passed", "flaky", "failed", "error", "xpassed", "xfailed", "skipped")
    total = sum(max(0, counts.get(k) or 0) for k in order)
    body = [f'<rect width="{width}" height="{height}" rx="3" fill="#eaeef2"/>']
    x = 0.0
    for key in order:
        n = max(0, counts.get(key) or 0)
        if not n or not total:
            continue
        w = width * n / total
        body.append(
            f'<rect x="{x:.2f}" width="{w:.2f}" height="{height}" fill="{color(key)}">'
            f"<title>{n} {key}</title></rect>"
        )
        x += w
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in order if counts.get(k))
    return _svg(width, height, summary or "no testcases", body, cls="bar")


def _empty(width: int, height: int) -> str:
    return (
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="13" '
        f'fill="{_AXIS_TEXT}">no finished runs in this period</text>'
    )


def _short(day: str) -> str:
    """'2025-03-07' as '03-07' for axis labels."""
    return day[5:] if len(day) == 10 else day
