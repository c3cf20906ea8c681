"""Splitting a run into shards: longest expected duration first, each unit to the shard
with the least work so far (the LPT rule, within 4/3 of the best split).

A unit is one testcase, or a whole suite when its testcases must stay together and in
order (`serial: true`, or a testcase that reads an earlier one's captures). A unit's
expected duration is the median of its testcases' recent durations in the store; a
testcase without history counts as the median of those with one (1 s when none has),
so with no history at all the split is by counts. The plan depends only on its inputs:
every machine computes the same one.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from splice._internal.model.suite import Suite

DEFAULT_SECONDS = 1.0


@dataclass
class Unit:
    suite: str
    testcases: list[str]  # names, in written order
    expected: float

    @property
    def keys(self) -> list[str]:
        return [f"{self.suite}::{name}" for name in self.testcases]


@dataclass
class Shard:
    index: int
    units: list[Unit] = field(default_factory=list)

    @property
    def expected(self) -> float:
        return sum(u.expected for u in self.units)

    @property
    def keys(self) -> set[str]:
        return {key for unit in self.units for key in unit.keys}


def units_of(suites: list[Suite], durations: dict[str, float]) -> list[Unit]:
    default = statistics.median(durations.values()) if durations else DEFAULT_SECONDS
    out: list[Unit] = []
    for suite in suites:
        names = [tc.name for tc in suite.testcases]
        expect = [durations.get(f"{suite.name}::{n}", default) for n in names]
        if suite.serial:
            out.append(Unit(suite.name, names, sum(expect)))
        else:
            out.extend(Unit(suite.name, [n], e) for n, e in zip(names, expect, strict=True))
    return out


def plan(suites: list[Suite], durations: dict[str, float], count: int) -> list[Shard]:
    """`count` shards (fewer when there are fewer units), each non-empty."""
    units = units_of(suites, durations)
    shards = [Shard(i) for i in range(max(1, min(count, len(units))))]
    # longest first; ties by name, so the plan is the same everywhere
    for unit in sorted(units, key=lambda u: (-u.expected, u.suite, u.testcases)):
        lightest = min(shards, key=lambda s: (s.expected, s.index))
        lightest.units.append(unit)
    return shards


def imbalance(shards: list[Shard]) -> float:
    """How far the heaviest shard is above a perfect split, as a fraction (0.0 = perfect)."""
    return imbalance_of([s.expected for s in shards])


def imbalance_of(loads: list[float]) -> float:
    """How far the largest of `loads` (a shard's expected or measured seconds) is above
    their mean, as a fraction (0.0 = perfect): the one measure of balance, for the plan
    (`splice shard`) and for the shards of a finished run (the run page)."""
    total = sum(loads)
    if not loads or total == 0:
        return 0.0
    return max(loads) / (total / len(loads)) - 1.0
