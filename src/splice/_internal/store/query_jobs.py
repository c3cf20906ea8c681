"""The jobs of a workflow run, from the `job` artifacts its recording writes (one per
change of a job's state: planned, started, finished; the newest of each job wins), and
the critical path: the chain through `needs` whose durations add up to the most."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

JOB_KIND = "job"  # the artifact kind of a job's state


def jobs_of(artifacts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each job's newest state, in the order the jobs were first written (planned order)."""
    jobs: dict[str, dict[str, Any]] = {}
    for item in artifacts:
        if item.get("kind") != JOB_KIND:
            continue
        try:
            state = json.loads(str(item.get("content") or "{}"))
        except ValueError:
            continue
        if not isinstance(state, dict):
            continue
        name = str(item.get("name", ""))
        job = {
            "name": name,
            "kind": str(state.get("kind", "")),
            "status": str(state.get("status", "pending")),
            "needs": [str(n) for n in state.get("needs") or [] if isinstance(n, str)],
            "started_at": _number(state.get("started_at")),
            "duration": _number(state.get("duration")),
            "worker": str(state.get("worker", "")),
            "testcases": int(_number(state.get("testcases")) or 0),
            "message": str(state.get("message", "")),
        }
        jobs[name] = job
    return list(jobs.values())


def critical_path(jobs: list[dict[str, Any]], now: float | None = None) -> list[str]:
    """The names along the longest chain through `needs`, by duration (a running job counts
    the time it has run until `now`); empty when no job has run."""
    by_name = {job["name"]: job for job in jobs}
    memo: dict[str, tuple[float, list[str]]] = {}

    def own(job: dict[str, Any]) -> float:
        if job["duration"] is not None:
            return float(job["duration"])
        if job["status"] == "running" and job["started_at"] is not None and now is not None:
            return max(0.0, now - float(job["started_at"]))
        return 0.0

    def longest(name: str, seen: frozenset[str]) -> tuple[float, list[str]]:
        if name in memo:
            return memo[name]
        job = by_name[name]
        best: tuple[float, list[str]] = (0.0, [])
        for need in job["needs"]:
            if need in by_name and need not in seen:  # a cycle cannot be stored; still guarded
                found = longest(need, seen | {name})
                if found[0] > best[0]:
                    best = found
        memo[name] = (best[0] + own(job), [*best[1], name])
        return memo[name]

    chains = [longest(name, frozenset()) for name in by_name]
    # on a tie the longer chain: a job still to come after a running one belongs on it
    total, names = max(chains, key=lambda c: (c[0], len(c[1])), default=(0.0, []))
    return names if total > 0 else []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
