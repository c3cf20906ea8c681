"""A generated run history: realistic enough to look at, deterministic, any size.

Used by `splice store demo` (try the dashboard before recording runs of your own), by the
benchmarks (a million stored steps) and by the dashboard's tests. Each generated test has a
character: most pass, some are slow, a few are flaky (fail at random, on some commits both
ways), one breaks at a point and stays broken; now and then a run is an outage where most
tests fail at once. Commits change every few runs, on `main` and a few feature branches.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from splice._internal.store.core import Store
from splice._internal.store.ingest import Ingest

SUITES = ("orders", "payments", "users", "inventory", "search", "notifications", "auth", "billing")
VERBS = ("creates", "lists", "updates", "cancels", "refunds", "finds", "notifies", "rejects")
THINGS = ("an order", "a draft", "a customer", "stock", "a coupon", "an invoice", "a session")
SERVICES = [
    {
        "name": "app",
        "kind": "process",
        "provider": "local",
        "url": "http://127.0.0.1:8000",
        "started_in": 0.41,
    },
    {
        "name": "db",
        "kind": "postgres",
        "provider": "local",
        "url": "postgresql://shop:****@127.0.0.1:54321/shop",
        "started_in": 0.16,
    },
    {
        "name": "cache",
        "kind": "redis",
        "provider": "local",
        "url": "redis://127.0.0.1:63791/0",
        "started_in": 0.02,
    },
]


@dataclass
class _Test:
    suite: str
    name: str
    base: float  # typical seconds per step
    flaky: float  # chance of failing at random
    breaks_at: float | None  # fraction of the history after which it fails for good
    tags: list[str]


def _tests(rng: random.Random, count: int) -> list[_Test]:
    out = []
    for i in range(count):
        suite = SUITES[i % len(SUITES)]
        name = f"{rng.choice(VERBS)} {rng.choice(THINGS)} #{i}"
        flaky = rng.choice((0.04, 0.08, 0.2)) if i % 17 == 3 else 0.0
        breaks = 0.8 if i == 11 else None
        base = rng.lognormvariate(-3.6, 0.7) * (6 if i % 23 == 5 else 1)
        tags = ["smoke"] if i % 5 == 0 else (["slow"] if base > 0.1 else [])
        out.append(_Test(suite, name, base, flaky, breaks, tags))
    return out


def _step(rng: random.Random, i: int, test: _Test, at: float, failed: bool) -> dict[str, Any]:
    kind = i % 3
    duration = max(0.0005, rng.gauss(test.base, test.base / 4))
    failures: list[dict[str, Any]] = []
    if kind == 0:
        order = rng.randint(1000, 99999)
        status = 500 if failed else 200
        request: dict[str, Any] = {
            "method": "POST" if i == 0 else "GET",
            "url": f"http://127.0.0.1:8000/{test.suite}/{order}",
        }
        response: dict[str, Any] = {
            "status": status,
            "headers": {"content-type": "application/json"},
            "body": {"id": order, "status": "pending" if not failed else "error"},
        }
        executor, name = "http", f"{request['method']} /{test.suite}/{{id}}"
        if failed:
            failures.append(
                {
                    "kind": "expect",
                    "message": f"expected status 200, got {status}",
                    "path": "status",
                    "expected": 200,
                    "actual": status,
                }
            )
    elif kind == 1:
        request = {
            "target": "service 'db' (127.0.0.1:54321)",
            "query": f"select status from {test.suite} where id = :id",
            "params": {"id": i},
        }
        response = {"rows": [{"status": "shipped" if failed else "pending"}], "rowcount": 1}
        executor, name = "sql", f"row in {test.suite}"
        if failed:
            failures.append(
                {
                    "kind": "expect",
                    "message": "rows differ",
                    "path": "rows[0].status",
                    "expected": "pending",
                    "actual": "shipped",
                }
            )
    else:
        request = {"url": "redis://127.0.0.1:63791/0", "command": ["GET", f"{test.suite}:{i}"]}
        response = {"value": None if failed else "cached"}
        executor, name = "redis", f"cache of {test.suite}"
        if failed:
            failures.append(
                {
                    "kind": "expect",
                    "message": "expected 'cached', got None",
                    "path": "value",
                    "expected": "cached",
                    "actual": None,
                }
            )
    return {
        "index": i,
        "name": name,
        "executor": executor,
        "phase": "test",
        "status": "failed" if failed else "passed",
        "location": None,
        "started_at": at,
        "duration": duration,
        "polls": 1,
        "request": request,
        "response": response,
        "captures": {},
        "failures": failures,
        "skip_reason": None,
    }


def _testcase(
    rng: random.Random, test: _Test, at: float, *, fail: bool, retry_passes: bool, steps: int
) -> dict[str, Any]:
    attempts = []
    clock = at
    tries = 2 if fail and retry_passes else 1
    for number in range(1, tries + 1):
        failing = (fail and number == 1) or (fail and not retry_passes)
        fail_at = rng.randrange(steps) if failing else steps
        rows = []
        for i in range(min(steps, fail_at + 1)):
            row = _step(rng, i, test, clock, i == fail_at)
            clock += row["duration"]
            rows.append(row)
        attempts.append(
            {
                "number": number,
                "status": "failed" if failing else "passed",
                "started_at": at,
                "duration": clock - at,
                "steps": rows,
            }
        )
    status = "flaky" if fail and retry_passes else ("failed" if fail else "passed")
    return {
        "suite": test.suite,
        "name": test.name,
        "path": f"suites/{test.suite}.splice.yaml",
        "line": 3,
        "status": status,
        "tags": test.tags,
        "started_at": at,
        "duration": clock - at,
        "attempts": attempts,
        "skip_reason": None,
    }


def runs(
    *,
    runs: int = 200,
    tests: int = 60,
    steps: int = 6,
    days: float = 30.0,
    seed: int = 7,
    now: float | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The events of each generated run, oldest first (one list per run)."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    catalogue = _tests(rng, tests)
    commit, branch = uuid.UUID(int=rng.getrandbits(128)).hex * 1, "main"
    for n in range(runs):
        if n % 3 == 0:
            commit = f"{rng.getrandbits(160):040x}"
            branch = "main" if rng.random() < 0.7 else rng.choice(("feature/cart", "fix/tax"))
        started = now - days * 86400 * (1 - n / max(1, runs)) + rng.uniform(0, 600)
        run_id = f"{rng.getrandbits(48):012x}"
        outage = rng.random() < 0.02
        head = {
            "id": run_id,
            "source": "run",
            "project": "shop",
            "started_at": started,
            "total": len(catalogue),
            "commit_sha": commit,
            "branch": branch,
            "ci_url": "",
            "host": "ci-runner-1",
            "cwd": "/builds/shop",
            "command": ["splice", "run", "-j", "4"],
            "services": SERVICES,
            "environment": {"python": "3.12.3", "platform": "Linux", "splice": "0.1.0"},
        }
        events: list[dict[str, Any]] = [{"event": "run_started", "run_id": run_id, "run": head}]
        clock = started
        worst = "passed"
        for test in catalogue:
            broken = test.breaks_at is not None and n >= runs * test.breaks_at
            fail = (outage and rng.random() < 0.9) or broken or rng.random() < test.flaky
            retry = fail and not outage and not broken and rng.random() < 0.3
            body = _testcase(rng, test, clock, fail=fail, retry_passes=retry, steps=steps)
            clock += body["duration"]
            if body["status"] == "failed":
                worst = "failed"
            events.append({"event": "testcase_finished", "run_id": run_id, "testcase": body})
        events.append(
            {
                "event": "run_finished",
                "run_id": run_id,
                "run": {
                    "status": worst,
                    "duration": clock - started + 1.2,
                    "finished_at": clock + 1.2,
                },
            }
        )
        yield events


def generate(store: Store, **kwargs: Any) -> int:
    """Write a generated history into `store`; returns the number of steps written."""
    ingest = Ingest(store)
    steps = 0
    for events in runs(**kwargs):
        ingest.apply(events)
        steps += sum(
            len(a["steps"])
            for e in events
            if e["event"] == "testcase_finished"
            for a in e["testcase"]["attempts"]
        )
    return steps
