"""Static shards (`splice run --shard I/N`): every testcase in exactly one shard over
I = 1..N, the index syntax and its errors, durations files, and the store's rules for
a run reported by several shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splice._internal.errors import UsageError
from splice._internal.model.suite import Suite, Testcase
from splice._internal.shards.planner import Shard, Unit, imbalance, imbalance_of
from splice._internal.shards.static import (
    ShardSpec,
    check_run_id,
    choose,
    parse_shard,
    read_durations,
)
from splice._internal.store.errors import IngestError
from splice._internal.store.query_shards import shard_imbalance, shards_of
from splice._internal.store.shard_runs import ShardOf, end_item, outcome, shard_of, start_item


def _suite(name: str, count: int, serial: bool = False) -> Suite:
    cases = [Testcase(name=f"t{i}", span=None) for i in range(count)]
    return Suite(name=name, path=Path(f"{name}.splice.yaml"), testcases=cases, serial=serial)


def _keys(suites: list[Suite]) -> list[str]:
    return [f"{s.name}::{tc.name}" for s in suites for tc in s.testcases]


@settings(suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine is no bug
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    count=st.integers(1, 7),
    seconds=st.lists(st.floats(0.0, 30), max_size=30),
)
def test_the_shards_cover_every_testcase_exactly_once(
    sizes: list[int], count: int, seconds: list[float]
) -> None:
    """Over I = 1..N the shards' testcases are the selection, each once, in written order."""
    suites = [_suite(f"s{i}", n, serial=i % 2 == 1) for i, n in enumerate(sizes)]
    durations = dict(zip(_keys(suites), seconds, strict=False))
    chosen = [choose(suites, ShardSpec(i, count), durations) for i in range(1, count + 1)]
    seen = [key for c in chosen for key in _keys(c.suites)]
    assert sorted(seen) == sorted(_keys(suites))
    assert len(set(seen)) == len(seen)
    # the shards that report are exactly those with testcases, and all agree on how many
    assert {c.reporting for c in chosen} == {sum(1 for c in chosen if c.suites)}
    for c in chosen:  # written order inside each suite
        for suite in c.suites:
            names = [tc.name for tc in suite.testcases]
            assert names == sorted(names, key=lambda n: int(n[1:]))


def test_a_shard_index_counts_from_one_and_k8s_from_the_job_index() -> None:
    """`2/3` is the second of three; `k8s/3` with JOB_COMPLETION_INDEX=0 the first."""
    assert parse_shard("2/3") == ShardSpec(2, 3)
    assert parse_shard(" 1 / 1 ") == ShardSpec(1, 1)
    assert parse_shard("k8s/3", {"JOB_COMPLETION_INDEX": "0"}) == ShardSpec(1, 3)
    assert parse_shard("k8s/3", {"JOB_COMPLETION_INDEX": "2"}) == ShardSpec(3, 3)


@pytest.mark.parametrize(
    ("value", "env", "says"),
    [
        ("3/2", {}, "the index must be from 1 to 2"),
        ("0/2", {}, "the index must be from 1 to 2"),
        ("0/0", {}, "the count must be at least 1"),
        ("x/y", {}, "is not INDEX/COUNT"),
        ("2", {}, "is not INDEX/COUNT"),
        ("k8s/2", {}, "reads $JOB_COMPLETION_INDEX, which is ''"),
        ("k8s/2", {"JOB_COMPLETION_INDEX": "2"}, "only 2 shards (0 to 1)"),
    ],
)
def test_a_bad_shard_is_a_usage_error_with_a_hint(
    value: str, env: dict[str, str], says: str
) -> None:
    """Out of range, zero, not numbers, a missing Job index: said, with what to write."""
    with pytest.raises(UsageError) as caught:
        parse_shard(value, env)
    assert says in caught.value.message
    assert caught.value.hint


def test_run_ids_are_checked_as_the_server_checks_them() -> None:
    """A run id the API would refuse is refused before the run starts."""
    assert check_run_id("ci-1234.5:a_b") == "ci-1234.5:a_b"
    for bad in ("", "a b", "x" * 65, "ü"):
        with pytest.raises(UsageError):
            check_run_id(bad)


def test_a_durations_file_is_read_and_a_bad_one_located(tmp_path: Path) -> None:
    """An object of seconds is read; broken JSON names line and column; a bad value its key."""
    good = tmp_path / "d.json"
    good.write_text(json.dumps({"a::t0": 1.5, "a::t1": 2}))
    assert read_durations(good) == {"a::t0": 1.5, "a::t1": 2.0}
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "a::t0": ,\n}')
    with pytest.raises(UsageError) as caught:
        read_durations(broken)
    assert f"{broken}:2:" in caught.value.message
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a::t0": "slow"}))
    with pytest.raises(UsageError) as caught:
        read_durations(bad)
    assert "'a::t0'" in caught.value.message
    with pytest.raises(UsageError) as caught:
        read_durations(tmp_path / "missing.json")
    assert "splice shard durations" in (caught.value.hint or "")


def test_durations_balance_the_shards() -> None:
    """One long testcase gets a shard to itself; the short ones share the other."""
    suites = [_suite("a", 5)]
    durations = {"a::t0": 10.0, **{f"a::t{i}": 1.0 for i in range(1, 5)}}
    first = choose(suites, ShardSpec(1, 2), durations)
    second = choose(suites, ShardSpec(2, 2), durations)
    assert _keys(first.suites) == ["a::t0"]
    assert _keys(second.suites) == [f"a::t{i}" for i in range(1, 5)]


def test_a_run_of_shards_ends_with_its_last_shard_and_its_worst_status() -> None:
    """Until every shard ended the run goes on; then it takes the worst status."""
    assert outcome({"shard 1/2": "passed"}, 2) is None
    assert outcome({"shard 1/2": "passed", "shard 2/2": "failed"}, 2) == "failed"
    assert outcome({"shard 1/2": "interrupted", "shard 2/2": "failed"}, 2) == "interrupted"
    assert outcome({"shard 1/1": "passed"}, 1) == "passed"
    # an end as kept now (JSON with its status), beside a bare status kept before
    ended = end_item(ShardOf(2, 2), "error", {"shard": {"done": 3}}, now=5.0)["content"]
    assert outcome({"shard 1/2": "passed", "shard 2/2": ended}, 2) == "error"


def _artifacts(*shards: tuple[int, float, float | None, int | None]) -> list[dict[str, object]]:
    """(index, started_at, duration or None while it runs, done) of shards of 3."""
    items: list[dict[str, object]] = []
    for index, started, duration, done in shards:
        shard = ShardOf(index, 3)
        body = {"host": f"ci-{index}", "pid": 100 + index, "started_at": started, "total": 4}
        items.append(start_item(shard, body, now=0.0))
        if duration is not None:
            end = {"duration": duration, "finished_at": started + duration, "shard": {"done": done}}
            items.append(end_item(shard, "passed", end, now=0.0))
    return items


def test_the_shards_of_a_run_show_what_ran_where_and_what_is_left() -> None:
    """Each shard of the run by index: pending before it starts, running, then finished
    with its testcases done of planned; no imbalance until every shard ended."""
    shards = shards_of(_artifacts((2, 10.0, 6.0, 4), (1, 11.0, None, None)))
    assert [(s["name"], s["state"]) for s in shards] == [
        ("shard 1/3", "running"),
        ("shard 2/3", "finished"),
        ("shard 3/3", "pending"),
    ]
    assert (shards[0]["host"], shards[0]["pid"], shards[0]["started_at"]) == ("ci-1", 101, 11.0)
    assert (shards[1]["done"], shards[1]["planned"], shards[1]["duration"]) == (4, 4, 6.0)
    assert shard_imbalance(shards) is None
    # what any artifacts event could send under these kinds: not a shard, or too many
    odd = [{"kind": "shard-start", "name": n, "content": "{"} for n in ("x", "shard 1/999999")]
    assert shards_of(odd) == []


def test_the_imbalance_of_finished_shards_is_the_planner_s_measure() -> None:
    """Slowest shard above the mean of all: the same function `splice shard` reports by."""
    shards = shards_of(_artifacts((1, 0.0, 3.0, 4), (2, 0.0, 6.0, 4), (3, 0.0, 3.0, 4)))
    assert shard_imbalance(shards) == pytest.approx(0.5)  # 6 over a mean of 4
    planned = [Shard(i, [Unit("s", [f"t{i}"], d)]) for i, d in enumerate((3.0, 6.0, 3.0))]
    assert imbalance(planned) == imbalance_of([3.0, 6.0, 3.0]) == shard_imbalance(shards)
    assert imbalance_of([]) == imbalance_of([0.0, 0.0]) == 0.0


def test_a_bad_shard_in_an_event_is_refused() -> None:
    """The store refuses a shard index outside 1..count."""
    assert shard_of({}) is None
    assert shard_of({"shard": {"index": 2, "count": 2}}) is not None
    for bad in ({"index": 3, "count": 2}, {"index": 0, "count": 1}, {"index": "1", "count": 1}):
        with pytest.raises(IngestError):
            shard_of({"shard": bad})
