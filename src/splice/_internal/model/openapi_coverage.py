"""A run's OpenAPI operation coverage (`RunResult.openapi`) as the shards of a run add to it.

Each shard of a sharded run (static `--shard i/n` reporting to one run id, or Dask
workers) ends with the coverage of the testcases it ran; the run's coverage is their
union: per document, an operation is exercised when any shard hit it, with every status
any shard hit. Both ingest paths of the store (`store.ingest`, `store.lite_ingest`) keep
`merge(stored, new)` in `runs.openapi`, so a run that is not sharded stores its own
coverage unchanged; `splice shard run` merges its Dask shards' coverage the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def merge(stored: Any, new: list[Any]) -> list[dict[str, Any]]:
    """The union of two coverage lists (`OpenApiMonitor.coverage`'s shape)."""
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in [*(stored if isinstance(stored, list) else []), *new]:
        if not isinstance(entry, dict):
            continue
        key = (str(entry.get("service", "")), str(entry.get("document", "")))
        doc = docs.setdefault(key, {"service": key[0], "document": key[1], "ops": {}})
        for op in entry.get("operations") or []:
            if not isinstance(op, dict) or "operation" not in op:
                continue
            name = str(op["operation"])
            kept = doc["ops"].setdefault(
                name, {"operation": name, "statuses": op.get("statuses"), "hit": set()}
            )
            kept["hit"].update(s for s in op.get("hit") or [] if isinstance(s, int | str))
            if kept["statuses"] is None:
                kept["statuses"] = op.get("statuses")
    out = []
    for doc in docs.values():
        ops = [{**op, "hit": sorted(op["hit"], key=_status_order)} for op in doc["ops"].values()]
        out.append(
            {
                "service": doc["service"],
                "document": doc["document"],
                "documented": len(ops),
                "exercised": sum(1 for op in ops if op["hit"]),
                "missing": [op["operation"] for op in ops if not op["hit"]],
                "operations": ops,
            }
        )
    return out


def merge_all(coverages: Iterable[list[Any]]) -> list[dict[str, Any]]:
    """The union of the coverage of every shard."""
    out: list[dict[str, Any]] = []
    for coverage in coverages:
        out = merge(out, coverage)
    return out


def _status_order(status: int | str) -> tuple[bool, int | str]:
    return isinstance(status, str), status
