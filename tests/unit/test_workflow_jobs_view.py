"""The jobs of a workflow run as the store reads them back (newest state of each job wins)
and the critical path through `needs`."""

from __future__ import annotations

import json
from typing import Any

from splice._internal.store.query_jobs import JOB_KIND, critical_path, jobs_of


def _state(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": JOB_KIND, "name": name, "content": json.dumps(body)}


def _job(name: str, duration: float | None, needs: list[str], status: str = "passed") -> Any:
    return {"name": name, "duration": duration, "needs": needs, "status": status,
            "started_at": None}  # fmt: skip


def test_the_newest_state_of_each_job_wins_in_planned_order() -> None:
    """pending, running, passed: the last one written is the job's state; other kinds and
    broken content are left out."""
    items = [
        _state("a", status="pending", needs=[]),
        _state("b", status="pending", needs=["a"]),
        {"kind": "job-log", "name": "a", "content": "log"},
        _state("a", status="running", started_at=10.0, worker="ci-1"),
        {"kind": JOB_KIND, "name": "c", "content": "not json"},
        _state("a", status="passed", started_at=10.0, duration=2.5, testcases=3),
    ]
    jobs = jobs_of(items)
    assert [(j["name"], j["status"]) for j in jobs] == [("a", "passed"), ("b", "pending")]
    assert jobs[0]["duration"] == 2.5 and jobs[0]["testcases"] == 3 and jobs[1]["needs"] == ["a"]


def test_the_critical_path_is_the_longest_chain_by_duration() -> None:
    """build (1) → slow (5) → report (1) beats build → fast (2) → report, and a lone long
    job beats both when it is longer still."""
    jobs = [
        _job("build", 1.0, []),
        _job("fast", 2.0, ["build"]),
        _job("slow", 5.0, ["build"]),
        _job("report", 1.0, ["fast", "slow"]),
        _job("lint", 3.0, []),
    ]
    assert critical_path(jobs) == ["build", "slow", "report"]
    jobs.append(_job("soak", 20.0, []))
    assert critical_path(jobs) == ["soak"]


def test_a_running_job_counts_its_time_so_far_and_nothing_run_has_no_path() -> None:
    """While running, a job counts the time since it started; pending jobs count nothing."""
    running = {**_job("load", None, [], "running"), "started_at": 100.0}
    jobs = [_job("quick", 1.0, []), running, _job("after", None, ["load"], "pending")]
    assert critical_path(jobs, now=110.0) == ["load", "after"]
    assert critical_path([_job("x", None, [], "pending")]) == []
