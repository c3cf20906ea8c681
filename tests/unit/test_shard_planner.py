"""The shard planner: every testcase in exactly one shard, serial suites kept whole, the
same plan from the same inputs, and balance from recorded durations."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from splice._internal.model.suite import Suite, Testcase
from splice._internal.shards.planner import imbalance, plan


def _suite(name: str, count: int, serial: bool = False) -> Suite:
    cases = [Testcase(name=f"t{i}", span=None) for i in range(count)]
    return Suite(name=name, path=Path(f"{name}.splice.yaml"), testcases=cases, serial=serial)


@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    count=st.integers(1, 8),
    seconds=st.lists(st.floats(0.01, 30), min_size=0, max_size=40),
)
def test_every_testcase_is_in_exactly_one_shard(
    sizes: list[int], count: int, seconds: list[float]
) -> None:
    """Whatever the suites, durations and shard count: a partition of the testcases."""
    suites = [_suite(f"s{i}", n, serial=i % 3 == 0) for i, n in enumerate(sizes)]
    keys = [f"{s.name}::{tc.name}" for s in suites for tc in s.testcases]
    durations = dict(zip(keys, seconds, strict=False))
    shards = plan(suites, durations, count)
    seen = [key for shard in shards for unit in shard.units for key in unit.keys]
    assert sorted(seen) == sorted(keys)
    assert all(shard.units for shard in shards)
    assert plan(suites, durations, count) == shards  # the same on every machine


def test_a_serial_suite_stays_in_one_shard_in_order() -> None:
    """Testcases that pass captures along are one unit, in written order."""
    shards = plan([_suite("ordered", 5, serial=True), _suite("free", 5)], {}, 3)
    holding = [s for s in shards if any(u.suite == "ordered" for u in s.units)]
    assert len(holding) == 1
    (unit,) = [u for u in holding[0].units if u.suite == "ordered"]
    assert unit.testcases == ["t0", "t1", "t2", "t3", "t4"]


def test_recorded_durations_balance_the_shards() -> None:
    """One long testcase and many short ones: the long one gets a shard of its own,
    and the imbalance is small; without history the split is by counts."""
    suite = _suite("s", 11)
    durations = {"s::t0": 10.0, **{f"s::t{i}": 1.0 for i in range(1, 11)}}
    shards = plan([suite], durations, 2)
    assert [len(s.units) for s in shards] == [1, 10]
    assert imbalance(shards) == 0.0
    by_count = plan([suite], {}, 2)
    assert sorted(len(s.units) for s in by_count) == [5, 6]
