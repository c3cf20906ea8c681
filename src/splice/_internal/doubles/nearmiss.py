"""Near misses: for a request no stub matched, the nearest stubs and how each differed
(and, for a verification that found nothing, the nearest requests received).

Distance is the sum over failed checks of their weight times how unlike the values are
(1 - difflib's ratio), so `/v1/charge` is nearer `/v1/charges` than `/v2/refunds` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from splice._internal.doubles.checks import Difference
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.journal import Entry
from splice._internal.doubles.matching import RequestMatcher
from splice._internal.doubles.stubs import STARTED, Stub

SHOWN = 3


@dataclass
class NearMiss:
    """A stub (or a journal entry) and how a request differed from it."""

    label: str
    source: str | None
    differences: list[Difference]

    @property
    def distance(self) -> float:
        return sum(d.distance for d in self.differences)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.label,
            "source": self.source,
            "distance": round(self.distance, 3),
            "differences": [d.as_dict() for d in self.differences],
        }


def nearest_stubs(
    stubs: Iterable[Stub], request: Incoming, scenarios: dict[str, str], limit: int = SHOWN
) -> list[NearMiss]:
    """The `limit` stubs nearest to `request`, nearest first."""
    found = []
    for stub in stubs:
        differences = stub.matcher.differences(request)
        scenario = stub.scenario
        if scenario is not None and scenario.state is not None:
            current = scenarios.get(scenario.name, STARTED)
            if current != scenario.state:
                differences.append(
                    Difference(f"scenario {scenario.name}", scenario.state, current, 1.0)
                )
        found.append(NearMiss(stub.label, stub.source, differences))
    found.sort(key=lambda n: n.distance)
    return found[:limit]


def nearest_requests(
    matcher: RequestMatcher, entries: Iterable[Entry], limit: int = SHOWN
) -> list[tuple[Entry, NearMiss]]:
    """The received requests nearest to a verification's pattern."""
    found = []
    for entry in entries:
        differences = matcher.differences(Incoming(entry.request))
        found.append((entry, NearMiss(f"#{entry.seq}", None, differences)))
    found.sort(key=lambda pair: pair[1].distance)
    return found[:limit]


def report(request: Incoming, near: list[NearMiss], total: int) -> str:
    """The body of the reply to an unmatched request."""
    lines = [f"splice mock: no stub matched {request.method} {request.target}", ""]
    if not total:
        lines.append("The mock has no stubs.")
    else:
        lines.append(f"Nearest of {total} stub{'s' if total != 1 else ''}:")
        for i, miss in enumerate(near, 1):
            where = f"  ({miss.source})" if miss.source else ""
            lines.append(f"  {i}. {miss.label!r}{where}")
            width = max((len(d.part) for d in miss.differences), default=0)
            for d in miss.differences:
                lines.append(
                    f"       {d.part.ljust(width)}  expected {d.expected}, got {_shown(d.actual)}"
                )
    lines += ["", "Requests received: GET /__splice/journal"]
    return "\n".join(lines) + "\n"


def log_line(request: Incoming, near: list[NearMiss]) -> str:
    """One line for the mock's log: the request and how the nearest stub differed."""
    text = f"unmatched {request.method} {request.path}"
    if near:
        first = near[0]
        parts = ", ".join(f"{d.part} expected {d.expected}" for d in first.differences[:3])
        text += f"; nearest stub {first.label!r}: {parts}"
    return text


def _shown(actual: str) -> str:
    return actual if actual == "(missing)" else repr(actual)
