"""Events for comparing the writers of the store: the same batches go through each."""

from __future__ import annotations

from typing import Any

from splice._internal.store.synthetic import runs


def extra_events() -> list[list[dict[str, Any]]]:
    """Events the generated history lacks: a testcase opened and then finished, suite
    steps, artifacts, tags, and a run interrupted with a testcase still open."""
    step = {
        "index": 0,
        "name": "GET /orders/17",
        "executor": "http",
        "status": "passed",
        "started_at": 1000.0,
        "duration": 0.01,
        "request": {"method": "GET", "url": "http://127.0.0.1:8000/orders/17"},
        "response": {"status": 200},
        "location": {"path": "a.splice.yaml", "line": 4, "column": 9},
    }
    test = {"suite": "a", "name": "one", "path": "a.splice.yaml", "line": 3, "tags": ["smoke"]}
    done = {
        **test,
        "status": "failed",
        "started_at": 1000.0,
        "duration": 0.2,
        "attempts": [
            {
                "number": 1,
                "status": "failed",
                "started_at": 1000.0,
                "duration": 0.2,
                "steps": [{**step, "status": "failed", "failures": [{"message": "no"}]}],
            }
        ],
    }
    head = {"started_at": 999.0, "total": 2, "project": "p", "host": "elsewhere", "pid": 1}
    return [
        [
            {"event": "run_started", "run_id": "x1", "run": head},
            {"event": "testcase_started", "run_id": "x1", "test": {**test, "started_at": 1000}},
            {"event": "testcase_finished", "run_id": "x1", "testcase": done, "quarantined": True},
            {
                "event": "suite_finished",
                "run_id": "x1",
                "suite": {"name": "a", "setup": [step], "teardown": [step]},
            },
            {
                "event": "artifacts",
                "run_id": "x1",
                "items": [{"kind": "service-log", "name": "app", "content": "started\n"}],
            },
            {"event": "heartbeat", "run_id": "x1"},
        ],
        [
            {
                "event": "testcase_started",
                "run_id": "x1",
                "test": {**test, "name": "two", "started_at": 1001.0},
            },
            {
                "event": "run_finished",
                "run_id": "x1",
                "run": {
                    "status": "interrupted",
                    "finished_at": 1002.0,
                    "services": [],
                    "openapi": [COVERAGE],
                },
            },
        ],
    ]


def batches() -> list[list[dict[str, Any]]]:
    """A generated history (flaky tests, retries, outages) and then `extra_events`."""
    return [*runs(runs=40, tests=12, steps=3, seed=3, now=2_000_000_000.0), *extra_events()]


COVERAGE = {"service": "payments", "document": "openapi.yaml", "documented": 1, "exercised": 0}
