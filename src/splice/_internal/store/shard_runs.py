"""One run reported by several shards (`splice run --shard I/N --run-id ID --report-to URL`).

A shard's `run_started` and `run_finished` carry `"shard": {"index": I, "count": N}`
(1-based, N the number of shards that have testcases; the end adds `done`, its testcases
run). The first shard to start creates the run; the others join it (their `total` adds to
the run's). Each shard's start is kept as an artifact of kind `shard-start` named
`shard I/N` (its host, pid, start time and planned testcases), its end as one of kind
`shard-end` (its status, end time, duration and testcases done): what the run page shows
of each shard (`store.query_shards`). A Dask run (`splice shard run`) also keeps, as the
client hears it, each shard's state while it runs as artifacts of kind `shard-progress`
(queued, running or rerun; its worker, since when, testcases done so far; the last one
kept counts, and none after the shard's end). The run ends when the last of its N shards ends,
with the worst of their statuses and the time from the first start to the last end.
A sharded run keeps no pid (its shards may run on other hosts or
exit before the others): it is taken for killed only when it has been silent too long.
Both ingests (`Ingest`, `LiteIngest`) follow these rules through the functions here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from splice._internal.store.errors import IngestError

MAX_SHARDS = 100_000
SHARD_START = "shard-start"
SHARD_END = "shard-end"
SHARD_PROGRESS = "shard-progress"
# from best to worst: the run's status is the worst of its shards'
_ORDER = ("passed", "failed", "error", "interrupted", "killed")


@dataclass(frozen=True)
class ShardOf:
    index: int  # 1-based
    count: int

    @property
    def name(self) -> str:
        return f"shard {self.index}/{self.count}"


class ShardState(Enum):
    """Where a shard of a Dask run stands before its end."""

    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"
    RERUN = "rerun"  # its worker was lost: waiting for another, or running again


def shard_of(body: dict[str, Any]) -> ShardOf | None:
    """The shard a run event comes from, None for a run of one process."""
    shard = body.get("shard")
    if shard is None:
        return None
    if not isinstance(shard, dict):
        raise IngestError("`shard` must be an object with index and count")
    index, count = shard.get("index"), shard.get("count")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, count)):
        raise IngestError("`shard` needs integer index and count")
    assert isinstance(index, int) and isinstance(count, int)
    if not 1 <= index <= count <= MAX_SHARDS:
        raise IngestError(f"shard {index}/{count}: the index must be from 1 to the count")
    return ShardOf(index, count)


def start_item(shard: ShardOf, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The artifact that records one shard's start (from its `run_started` body)."""
    pid = body.get("pid")
    state = {
        "host": str(body.get("host") or "")[:255],
        "pid": pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        "started_at": _number(body.get("started_at")) or now,
        "planned": int(_number(body.get("total")) or 0),
    }
    content = json.dumps(state)
    return {"kind": SHARD_START, "name": shard.name, "content": content, "size": len(content)}


def end_item(
    shard: ShardOf, status: str, body: dict[str, Any], now: float, **more: Any
) -> dict[str, Any]:
    """The artifact that records one shard's end (from its `run_finished` body); `more`:
    what a Dask shard adds, `starts` (more than 1 when a lost worker's shard was rerun) or
    `lost` (why the shard never ended)."""
    done = (body.get("shard") or {}).get("done")
    state = {
        "status": status,
        "finished_at": _number(body.get("finished_at")) or now,
        "duration": _number(body.get("duration")),
        "done": int(done) if isinstance(done, int) and not isinstance(done, bool) else None,
        **more,
    }
    content = json.dumps(state)
    return {"kind": SHARD_END, "name": shard.name, "content": content, "size": len(content)}


def progress_item(shard: ShardOf, state: ShardState, **now: Any) -> dict[str, Any]:
    """The artifact that records where a Dask shard stands (`now`: `since`, `worker`,
    `host`, `pid`, `done`, `planned`, `starts`, `message`)."""
    content = json.dumps({"state": state.value, **now})
    return {"kind": SHARD_PROGRESS, "name": shard.name, "content": content, "size": len(content)}


def end_state(content: str) -> dict[str, Any]:
    """A shard's end as kept: `{"status": ..., ...}`; a store written before ends held more
    than the status keeps the bare status."""
    try:
        state = json.loads(content)
    except ValueError:
        state = None
    return state if isinstance(state, dict) else {"status": content}


def outcome(ended: dict[str, str], count: int) -> str | None:
    """The run's status once all `count` shards ended (`ended`: shard name → the content of
    its end), else None: the run goes on."""
    if len(ended) < count:
        return None
    statuses = [str(end_state(content).get("status")) for content in ended.values()]
    known = [s if s in _ORDER else "error" for s in statuses]
    return max(known, key=_ORDER.index)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
