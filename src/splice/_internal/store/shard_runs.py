"""One run reported by several shards (`splice run --shard I/N --run-id ID --report-to URL`).

A shard's `run_started` and `run_finished` carry `"shard": {"index": I, "count": N}`
(1-based, N the number of shards that have testcases). The first shard to start creates
the run; the others join it (their `total` adds to the run's). Each shard's end is kept as
an artifact of kind `shard-end` named `shard I/N`, holding its status; the run ends when
the last of its N shards ends, with the worst of their statuses and the time from the first
start to the last end. A sharded run keeps no pid (its shards may run on other hosts or
exit before the others): it is taken for killed only when it has been silent too long.
Both ingests (`Ingest`, `LiteIngest`) follow these rules through the functions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from splice._internal.store.errors import IngestError

SHARD_END = "shard-end"
# from best to worst: the run's status is the worst of its shards'
_ORDER = ("passed", "failed", "error", "interrupted", "killed")


@dataclass(frozen=True)
class ShardOf:
    index: int  # 1-based
    count: int

    @property
    def name(self) -> str:
        return f"shard {self.index}/{self.count}"


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
    if not 1 <= index <= count <= 100_000:
        raise IngestError(f"shard {index}/{count}: the index must be from 1 to the count")
    return ShardOf(index, count)


def end_item(shard: ShardOf, status: str) -> dict[str, Any]:
    """The artifact that records one shard's end."""
    return {"kind": SHARD_END, "name": shard.name, "content": status, "size": len(status)}


def outcome(ended: dict[str, str], count: int) -> str | None:
    """The run's status once all `count` shards ended (`ended`: shard name → status), else
    None: the run goes on."""
    if len(ended) < count:
        return None
    known = [s if s in _ORDER else "error" for s in ended.values()]
    return max(known, key=_ORDER.index)
