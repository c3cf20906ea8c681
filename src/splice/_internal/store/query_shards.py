"""The shards of one run (static, `splice run --shard I/N --run-id ID`, or on Dask,
`splice shard run`), from the `shard-start` and `shard-end` artifacts kept with it
(`store.shard_runs`; a Dask run writes them from the process that runs it, with its
`shard-progress` while the shards run): which host, process and Dask worker ran each, its
state and since when, how long it took or has run, its testcases done (so far) of
planned, and once all ended, the critical path (the shard that ended last) and how far
the slowest was from a perfect balance."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from splice._internal.shards.planner import imbalance_of
from splice._internal.store.shard_runs import (
    MAX_SHARDS,
    SHARD_END,
    SHARD_PROGRESS,
    SHARD_START,
    ShardState,
    end_state,
)

SHARD_KINDS = (SHARD_START, SHARD_PROGRESS, SHARD_END)
# before its end: pending (a static shard not started), or a Dask shard's state
LIVE_STATES = ("pending", *(s.value for s in ShardState))
_ENDED = ("finished", "lost")


def shards_of(artifacts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every shard of the run, by index: pending until it starts (a Dask shard: queued),
    running (or rerun) until its end is kept, then finished; a report that comes after
    the end changes nothing."""
    shards: dict[str, dict[str, Any]] = {}
    for item in artifacts:
        kind, name = item.get("kind"), str(item.get("name", ""))
        if kind not in SHARD_KINDS or _index(name) == (0, 0):
            continue  # a shard's name is `shard I/N` (any artifact event may send one)
        shard = shards.setdefault(name, _blank(name, "running"))
        content = str(item.get("content") or "")
        if kind == SHARD_START:
            state = _loads(content)
            shard["host"] = str(state.get("host") or "")
            shard["pid"] = state.get("pid") if isinstance(state.get("pid"), int) else None
            shard["started_at"] = _number(state.get("started_at"))
            planned = _number(state.get("planned"))
            shard["planned"] = int(planned) if planned is not None else None
            shard["since"] = shard["since"] or shard["started_at"]
        elif kind == SHARD_PROGRESS:
            if shard["state"] not in _ENDED:
                _progress(shard, _loads(content))
        else:
            end = end_state(content)
            shard["state"] = "finished"
            shard["status"] = str(end.get("status") or "error")
            shard["finished_at"] = _number(end.get("finished_at"))
            shard["since"] = shard["finished_at"]
            shard["duration"] = _number(end.get("duration"))
            done = _number(end.get("done"))
            shard["done"] = int(done) if done is not None else None
            starts = _number(end.get("starts"))
            shard["starts"] = int(starts) if starts is not None else 1
            if end.get("lost"):  # a Dask shard whose worker was lost, every time it ran
                shard["state"], shard["message"] = "lost", str(end["lost"])
    count = max((s["count"] for s in shards.values()), default=0)
    for index in range(1, count + 1):
        shards.setdefault(f"shard {index}/{count}", _blank(f"shard {index}/{count}", "pending"))
    return sorted(shards.values(), key=lambda s: (s["index"], s["name"]))


def _progress(shard: dict[str, Any], state: dict[str, Any]) -> None:
    """A Dask shard as the client last heard of it (`shard_runs.progress_item`)."""
    value = state.get("state")
    shard["state"] = shard["status"] = value if value in LIVE_STATES else "running"
    shard["since"] = _number(state.get("since"))
    shard["worker"] = str(state.get("worker") or "")
    if state.get("host"):
        shard["host"] = str(state["host"])
    if isinstance(state.get("pid"), int):
        shard["pid"] = state["pid"]
    for key in ("done", "planned", "starts"):
        number = _number(state.get(key))
        if number is not None:
            shard[key] = int(number)
    shard["message"] = str(state.get("message") or "")
    if shard["worker"]:  # running on it since then
        shard["started_at"] = shard["since"]


def shard_critical(shards: list[dict[str, Any]], started_at: float) -> dict[str, Any] | None:
    """Once every shard ended: the one that ended last, which the run waited for (its
    `name`, the seconds from the run's start to its end as `total`, of them `waited`
    before its last start, for a worker or for a lost attempt, and `ran`); else None."""
    if not shards or any(s["state"] != "finished" or s["finished_at"] is None for s in shards):
        return None
    last = max(shards, key=lambda s: (s["finished_at"], -s["index"]))
    total = max(0.0, float(last["finished_at"]) - started_at)
    ran = float(last["duration"]) if last["duration"] is not None else total
    return {"name": last["name"], "total": total, "ran": ran, "waited": max(0.0, total - ran)}


def shard_imbalance(shards: list[dict[str, Any]]) -> float | None:
    """How far the slowest shard took above the mean of all, as a fraction (the measure
    `splice shard` plans by); None until every shard of the run ended with its duration."""
    if not shards:
        return None
    durations = [s["duration"] for s in shards]
    if any(s["state"] != "finished" or d is None for s, d in zip(shards, durations, strict=True)):
        return None
    return imbalance_of([float(d) for d in durations])


def _blank(name: str, state: str) -> dict[str, Any]:
    index, count = _index(name)
    return {
        "name": name,
        "index": index,
        "count": count,
        "state": state,
        "status": state,
        "host": "",
        "pid": None,
        "started_at": None,
        "finished_at": None,
        "duration": None,
        "planned": None,
        "done": None,
        "since": None,  # when its current state began
        "worker": "",  # a Dask worker's address, while it runs there and after
        "starts": 1,  # a Dask shard runs again when its worker is lost
        "message": "",
    }


def _index(name: str) -> tuple[int, int]:
    """(index, count) from a shard's name, `shard I/N`; (0, 0) for a name not of that form."""
    index, _, count = name.removeprefix("shard ").partition("/")
    if not (name.startswith("shard ") and index.isdigit() and count.isdigit()):
        return (0, 0)
    i, n = int(index), int(count)
    return (i, n) if 1 <= i <= n <= MAX_SHARDS else (0, 0)


def _loads(content: str) -> dict[str, Any]:
    try:
        state = json.loads(content)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
