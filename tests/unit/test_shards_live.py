"""The live view of Dask shards: what the client hears (`ShardBoard`) becomes
`shard-progress` artifacts, and the store reads them back as each shard's state, worker,
since when and testcases done so far; an end is final; the critical path is the shard
that ended last."""

from __future__ import annotations

from typing import Any

import pytest

from splice._internal.shards.dask import _listen
from splice._internal.shards.live import ShardBoard
from splice._internal.store.query_shards import shard_critical, shards_of
from splice._internal.store.shard_runs import ShardOf, end_item, start_item

W1, W2 = "tcp://10.0.0.1:4001", "tcp://10.0.0.2:4002"


class Kept:
    """The artifacts a board wrote, in order, as the store keeps them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, items: list[dict[str, Any]]) -> None:
        self.items.extend(items)

    def shards(self) -> list[dict[str, Any]]:
        return shards_of(self.items)


def _board(kept: Kept, planned: list[int]) -> ShardBoard:
    board = ShardBoard(planned, kept, started=100.0)
    board.flush()  # as entering does, without its thread: each test flushes by hand
    return board


def test_every_shard_is_queued_from_the_run_s_start() -> None:
    """Before any worker took it, each shard is queued since the run began, 0 of planned."""
    kept = Kept()
    _board(kept, [3, 2])
    assert [
        (s["name"], s["state"], s["since"], s["done"], s["planned"]) for s in kept.shards()
    ] == [
        ("shard 1/2", "queued", 100.0, 0, 3),
        ("shard 2/2", "queued", 100.0, 0, 2),
    ]


def test_a_running_shard_shows_its_worker_and_its_count_done_so_far() -> None:
    """Started on a worker, then two testcases done: running there, 2 of 3; an unchanged
    board writes nothing more."""
    kept = Kept()
    board = _board(kept, [3, 2])
    board.shard_started(0, W1, "node-1", 4242)
    board.shard_progress(0, 1)
    board.shard_progress(0, 2)
    board.flush()
    first, second = kept.shards()
    assert (first["state"], first["worker"], first["host"], first["pid"]) == (
        "running",
        W1,
        "node-1",
        4242,
    )
    assert (first["done"], first["planned"], first["starts"]) == (2, 3, 1)
    assert first["since"] is not None and first["started_at"] == first["since"]
    assert second["state"] == "queued"
    written = len(kept.items)
    board.flush()
    assert len(kept.items) == written


def test_a_shard_whose_worker_is_lost_is_a_rerun_until_it_ends() -> None:
    """The scheduler removes its worker: rerun, no worker, counting from 0; begun again
    elsewhere: rerun there, two starts; a late loss of the old worker changes nothing."""
    kept = Kept()
    board = _board(kept, [4])
    board.shard_started(0, W1, "node-1", 1)
    board.shard_progress(0, 1)
    board.worker_lost(0, W1)
    board.flush()
    (shard,) = kept.shards()
    assert (shard["state"], shard["worker"], shard["done"]) == ("rerun", "", 0)
    assert W1 in shard["message"]
    board.shard_started(0, W2, "node-2", 2)
    board.worker_lost(0, W1)  # old news
    board.flush()
    (shard,) = kept.shards()
    assert (shard["state"], shard["worker"], shard["starts"]) == ("rerun", W2, 2)
    assert board.starts(0) == 2


def test_a_shard_begun_twice_is_a_rerun_even_unheard_of_its_lost_worker() -> None:
    """A second start is a rerun by itself (the scheduler's event may never come)."""
    kept = Kept()
    board = _board(kept, [1])
    board.shard_started(0, W1, "node-1", 1)
    board.shard_started(0, W2, "node-2", 2)
    board.flush()
    assert [(s["state"], s["starts"]) for s in kept.shards()] == [("rerun", 2)]


def test_an_end_is_final_whatever_comes_after_it() -> None:
    """A progress report written after the shard's end (the writer's thread was late)
    does not bring it back to running; the board writes nothing for an ended shard."""
    kept = Kept()
    board = _board(kept, [2])
    board.shard_started(0, W1, "node-1", 1)
    board.flush()
    body = {"host": "node-1", "pid": 1, "started_at": 101.0, "total": 2}
    kept.items.append(start_item(ShardOf(1, 1), body, now=0.0))
    end = {"duration": 4.0, "finished_at": 105.0, "shard": {"done": 2}}
    kept.items.append(end_item(ShardOf(1, 1), "passed", end, now=0.0))
    board.shard_progress(0, 1)  # a report already on its way when the end was kept
    board.flush()  # written after the end
    board.ended(0)
    board.shard_progress(0, 2)
    written = len(kept.items)
    board.flush()
    assert len(kept.items) == written
    (shard,) = kept.shards()
    assert (shard["state"], shard["status"], shard["done"], shard["worker"]) == (
        "finished",
        "passed",
        2,
        W1,
    )


def test_the_critical_path_is_the_shard_that_ended_last() -> None:
    """Once all ended: the last to end, its time from the run's start, waited and ran."""
    items = []
    for index, (started, duration) in enumerate(((101.0, 4.0), (103.0, 5.0)), start=1):
        shard = ShardOf(index, 2)
        items.append(start_item(shard, {"started_at": started, "total": 2}, now=0.0))
        if index == 1:
            assert shard_critical(shards_of(items), 100.0) is None  # shard 2 not ended yet
        end = {"duration": duration, "finished_at": started + duration}
        items.append(end_item(shard, "passed", end, now=0.0))
    critical = shard_critical(shards_of(items), 100.0)
    assert critical is not None
    assert critical["name"] == "shard 2/2"
    assert (critical["total"], critical["waited"], critical["ran"]) == pytest.approx(
        (8.0, 3.0, 5.0)
    )


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def shard_started(self, index: int, worker: str, host: str, pid: int | None) -> None:
        self.calls.append(("started", index, worker, host, pid))

    def shard_progress(self, index: int, done: int) -> None:
        self.calls.append(("done", index, done))

    def worker_lost(self, index: int, worker: str) -> None:
        self.calls.append(("lost", index, worker))


def test_dask_events_are_passed_on_and_others_ignored() -> None:
    """The run's topic and the scheduler's `remove-worker` (for this run's keys only) reach
    the watcher; malformed messages and other actions do not."""
    heard = Heard()
    shard, scheduler = _listen({"splice-shard-1-ab": 1}, heard)
    shard((1.0, {"shard": 1, "event": "started", "worker": W1, "host": "h", "pid": 7}))
    shard((1.0, {"shard": 1, "event": "done", "done": 3}))
    for odd in (None, (1.0,), (1.0, "text"), (1.0, {"shard": "1"}), (1.0, {"shard": 1})):
        shard(odd)
    lost = {"action": "remove-worker", "worker": W1}
    scheduler((2.0, {**lost, "processing-tasks": ["splice-shard-1-ab", "other-key"]}))
    scheduler((2.0, {"action": "add-worker", "worker": W2}))
    assert heard.calls == [
        ("started", 1, W1, "h", 7),
        ("done", 1, 3),
        ("lost", 1, W1),
    ]
