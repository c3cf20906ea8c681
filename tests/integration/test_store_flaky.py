"""Flaky-test detection on recorded histories: the score, confirmation on one commit,
outage runs left out, the ranking, and the webhooks queued when a test becomes flaky."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from splice._internal.store import Store, webhooks
from splice._internal.store import schema as t
from splice._internal.store.flaky import THRESHOLD, Observation, score
from splice._internal.store.ingest import Ingest
from splice._internal.store.query_tests import flaky_ranking, get_test

pytestmark = pytest.mark.integration
NOW = time.time()


def _obs(statuses: str, commit: str = "", days_apart: float = 0.1) -> list[Observation]:
    """Observations from letters (p passed, f failed, k flaky), oldest first in the text."""
    names = {"p": "passed", "f": "failed", "k": "flaky"}
    out = [
        Observation(
            names[c], NOW - (len(statuses) - i) * days_apart * 86400, 0.1, commit, f"r{i}", False
        )
        for i, c in enumerate(statuses)
    ]
    return list(reversed(out))  # score() takes newest first


def test_steady_tests_score_zero_and_alternating_ones_near_one() -> None:
    """Always passing or always failing scores ~0; alternating outcomes score high."""
    assert score(_obs("p" * 30), NOW).score == 0.0
    assert score(_obs("f" * 30), NOW).score < 0.1
    alternating = score(_obs("pf" * 15), NOW)
    assert alternating.score > 0.8 and alternating.flips == 29


def test_a_test_that_broke_once_is_not_called_flaky() -> None:
    """Passing, then failing for good, is one flip: below the flaky threshold."""
    verdict = score(_obs("p" * 20 + "f" * 10), NOW)
    assert verdict.flips == 1 and verdict.score < THRESHOLD and not verdict.flaky


def test_old_flips_weigh_less_than_recent_ones() -> None:
    """The same pattern scores lower when it lies months back than when it is recent."""
    recent = score(_obs("p" * 10 + "pfpfpf", days_apart=0.1), NOW).score
    old = score(_obs("pfpfpf" + "p" * 10, days_apart=10), NOW).score
    assert old < recent


def test_both_outcomes_on_one_commit_confirm_flakiness() -> None:
    """A pass and a failure on the same commit (or a retry that passed) confirm it."""
    assert score(_obs("pppf", commit="abc"), NOW).confirmed
    assert not score(_obs("p") + _obs("f", commit="other"), NOW).confirmed
    retried = score(_obs("ppkp"), NOW)
    assert retried.confirmed and retried.commit.startswith("run ")


def _events(run_id: str, commit: str, outcomes: dict[str, str], at: float) -> list[dict[str, Any]]:
    head = {
        "id": run_id,
        "started_at": at,
        "total": len(outcomes),
        "commit_sha": commit,
        "branch": "main",
        "source": "run",
    }
    events: list[dict[str, Any]] = [{"event": "run_started", "run_id": run_id, "run": head}]
    worst = "passed"
    for name, status in outcomes.items():
        final = "passed" if status == "flaky" else status
        attempts = [
            {
                "number": 1,
                "status": final,
                "started_at": at,
                "duration": 0.1,
                "steps": [
                    {
                        "index": 0,
                        "name": "get",
                        "executor": "http",
                        "phase": "test",
                        "status": final,
                        "started_at": at,
                        "duration": 0.1,
                        "request": {"method": "GET", "url": "http://api/x"},
                        "failures": []
                        if final == "passed"
                        else [{"kind": "expect", "message": "boom"}],
                    }
                ],
            }
        ]
        worst = "failed" if status == "failed" else worst
        events.append(
            {
                "event": "testcase_finished",
                "run_id": run_id,
                "testcase": {
                    "suite": "s",
                    "name": name,
                    "path": "s.splice.yaml",
                    "line": 1,
                    "status": status,
                    "tags": [],
                    "started_at": at,
                    "duration": 0.1,
                    "attempts": attempts,
                },
            }
        )
    events.append(
        {
            "event": "run_finished",
            "run_id": run_id,
            "run": {"status": worst, "duration": 1.0, "finished_at": at + 1},
        }
    )
    return events


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """An empty SQLite store."""
    opened = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    yield opened
    opened.close()


def test_outage_runs_are_left_out_of_scoring(store: Store) -> None:
    """A run where most testcases fail together is flagged as an outage and does not make
    its tests flaky; the same failure of one test alone does."""
    ingest = Ingest(store)
    names = [f"t{i}" for i in range(6)]
    for i in range(8):
        ingest.apply(_events(f"ok{i}", f"c{i}", dict.fromkeys(names, "passed"), NOW - 1000 + i))
    ingest.apply(_events("outage", "c7", dict.fromkeys(names, "failed"), NOW - 500))
    with store.engine.connect() as conn:
        assert conn.execute(select(t.runs.c.outage).where(t.runs.c.id == "outage")).scalar()
        scores = set(conn.execute(select(t.tests.c.flaky_score)).scalars())
    assert scores == {0.0}
    ingest.apply(
        _events("alone", "c7", {**dict.fromkeys(names, "passed"), "t0": "failed"}, NOW - 400)
    )
    ranking = flaky_ranking(store)
    assert [r["key"] for r in ranking] == ["s::t0"]
    assert ranking[0]["flaky"]["confirmed"]  # commit c7 passed in ok7 and failed in "alone"
    assert any("commit c7" in line for line in ranking[0]["evidence"])


def test_confirmed_tests_rank_first_then_by_score(store: Store) -> None:
    """The ranking lists confirmed flaky tests before merely suspicious ones."""
    ingest = Ingest(store)
    pattern = {"wobbly": "ffpfpfpf", "retried": "pppppppk"}
    for i in range(8):
        outcomes = {
            name: {"p": "passed", "f": "failed", "k": "flaky"}[p[i]] for name, p in pattern.items()
        }
        outcomes.update({f"steady{j}": "passed" for j in range(4)})
        ingest.apply(_events(f"r{i}", f"commit{i}", outcomes, NOW - 1000 + i))
    ranking = flaky_ranking(store)
    keys = [r["key"] for r in ranking]
    assert keys == ["s::retried", "s::wobbly"]
    by_key = {r["key"]: r for r in ranking}
    assert by_key["s::retried"]["flaky"]["confirmed"]
    assert by_key["s::wobbly"]["flaky"]["score"] > by_key["s::retried"]["flaky"]["score"]
    assert not any(k.startswith("s::steady") for k in keys)
    detail = get_test(store, by_key["s::wobbly"]["id"])
    assert detail is not None and len(detail["history"]) == 8


def test_webhooks_are_queued_for_finished_failed_runs_and_newly_flaky_tests(store: Store) -> None:
    """A failed run queues run.finished and run.failed; the run in which a test becomes
    flaky queues test.flaky for it, once."""
    webhooks.add(store, "http://127.0.0.1:9/hook", ["run.finished", "run.failed", "test.flaky"])
    ingest = Ingest(store)
    ingest.apply(_events("a", "c1", {"x": "passed", "y": "passed"}, NOW - 30))
    ingest.apply(_events("b", "c1", {"x": "failed", "y": "passed"}, NOW - 20))
    ingest.apply(_events("c", "c2", {"x": "failed", "y": "passed"}, NOW - 10))
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.deliveries).order_by(t.deliveries.c.id)).all()
    events = [(json.loads(r.payload)["run"]["id"], r.event) for r in rows]
    assert events == [
        ("a", "run.finished"),
        ("b", "run.finished"),
        ("b", "run.failed"),
        ("b", "test.flaky"),
        ("c", "run.finished"),
        ("c", "run.failed"),
    ]
    flaky = json.loads(rows[3].payload)
    assert flaky["test"]["key"] == "s::x" and flaky["test"]["confirmed"]
    assert all(r.status == "pending" for r in rows)
