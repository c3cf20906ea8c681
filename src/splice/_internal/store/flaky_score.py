"""Flaky tests: confirmed when one commit saw both outcomes, otherwise ranked by a score.

For each test, the last `WINDOW` results are read (newest first), leaving out runs where
most testcases failed together (an outage says nothing about one test) and skipped ones.

- **Confirmed**: the test passed and failed on the same commit, in two runs or within one
  (a retry that passed: status `flaky`).
- **Score** in [0, 1] = sqrt(flip rate × 4·p·(1 − p)), where
  - `p` is a Bayesian estimate of the failure rate: the posterior mean under a Beta(1, 9)
    prior (a test is presumed mostly passing until shown otherwise) of the failures counted
    with time-decayed weights (half-life `HALF_LIFE_DAYS`);
  - the flip rate is the decayed share of consecutive results whose outcome differs
    (a retry that passed counts as a flip of its own), shrunk towards zero by
    `FLIP_PRIOR` pseudo-transitions so two results are not yet a pattern.

  A test that always passes or always fails scores 0 (4·p·(1 − p) or the flip rate is near
  0); one that broke once and stayed broken flips once and scores low; one that alternates
  scores near 1.

A test is *flaky* when confirmed or when its score reaches `THRESHOLD`; the moment it becomes
so, a `test.flaky` webhook is sent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WINDOW = 50
# a run where more than half of at least this many testcases failed is an outage
OUTAGE_MIN = 5
REFRESH_TESTS = 5000  # tests refreshed together at the end of a run
HALF_LIFE_DAYS = 14.0
PRIOR_FAIL, PRIOR_PASS = 1.0, 9.0
FLIP_PRIOR = 3.0
THRESHOLD = 0.3
_EMA = 0.2  # weight of the newest duration in a test's typical duration
_FAILING = ("failed", "error")
_SCORED = ("passed", "failed", "error", "flaky")


@dataclass
class Observation:
    """One result of a test, as the score sees it."""

    status: str
    started_at: float
    duration: float
    commit: str
    run_id: str
    outage: bool


@dataclass
class Verdict:
    """What `score` concludes about one test."""

    runs: int
    failures: int
    flips: int
    failure_estimate: float
    flip_rate: float
    score: float
    confirmed: bool
    commit: str  # the commit that saw both outcomes ("" when none)

    @property
    def flaky(self) -> bool:
        return self.confirmed or self.score >= THRESHOLD


def score(history: list[Observation], now: float) -> Verdict:
    """The verdict on a test from its results, newest first."""
    kept = [o for o in history if not o.outage and o.status in _SCORED]
    outcomes: dict[str, set[bool]] = defaultdict(set)
    confirmed_commit, confirmed = "", False
    weight_sum = fail_sum = flip_sum = transitions = 0.0
    failures = flips = 0
    previous: bool | None = None
    for obs in reversed(kept):  # oldest first, so flips compare neighbours in time
        age_days = max(0.0, now - obs.started_at) / 86400.0
        weight = 0.5 ** (age_days / HALF_LIFE_DAYS)
        failed = obs.status in _FAILING
        weight_sum += weight
        if failed:
            failures += 1
            fail_sum += weight
        if obs.status == "flaky":  # failed, then passed on a retry: both outcomes at once
            fail_sum += weight / 2
            flip_sum += weight
            transitions += weight
            flips += 1
            confirmed = True
            confirmed_commit = confirmed_commit or obs.commit or f"run {obs.run_id}"
        if previous is not None:
            transitions += weight
            if failed != previous:
                flip_sum += weight
                flips += 1
        previous = failed
        if obs.commit:
            seen = outcomes[obs.commit]
            seen.update((True, False) if obs.status == "flaky" else (failed,))
            if len(seen) == 2 and not confirmed_commit:
                confirmed, confirmed_commit = True, obs.commit
    p = (fail_sum + PRIOR_FAIL) / (weight_sum + PRIOR_FAIL + PRIOR_PASS)
    flip_rate = flip_sum / (transitions + FLIP_PRIOR)
    value = math.sqrt(max(0.0, flip_rate * 4 * p * (1 - p)))
    return Verdict(
        runs=len(kept),
        failures=failures,
        flips=flips,
        failure_estimate=round(p, 4),
        flip_rate=round(flip_rate, 4),
        score=round(value, 4),
        confirmed=confirmed,
        commit=confirmed_commit[:64],
    )


def latest(rows: Iterable[Sequence[Any]]) -> tuple[list[tuple[Any, ...]], set[int]]:
    """What a finished run changes in its tests' rows, before any history is read.

    `rows`: (test_id, status, started_at, duration, outage, avg_duration, window_runs,
    window_failures, flips, flaky_confirmed, flaky_score, last_seen) of each result of the
    run, oldest first. Returns the new (avg_duration, window_runs, last_seen, last_status,
    last_duration, id) of each test, and the tests to rescore from their history (those
    with a failure in their window, or failing now).
    """
    # per test: [avg_duration, window_runs, last_seen, last_status, last_duration, id]
    quick: dict[int, list[Any]] = {}
    suspects: set[int] = set()
    for (
        test_id,
        status,
        started_at,
        duration,
        outage,
        avg,
        window,
        failures,
        flips,
        confirmed,
        score_,
        last_seen,
    ) in rows:
        entry = quick.get(test_id)
        if entry is None:
            entry = quick[test_id] = [avg, window, last_seen, "", 0.0, test_id]
        if started_at >= entry[2] or not entry[3]:
            entry[2], entry[3], entry[4] = max(started_at, entry[2]), status, duration
        if status in ("passed", "flaky") or entry[0] == 0:
            entry[0] = duration if entry[0] == 0 else entry[0] * (1 - _EMA) + duration * _EMA
        if not outage and status in _SCORED:
            entry[1] = min(WINDOW, entry[1] + 1)
        if status != "passed" or failures or flips or confirmed or score_ > 0:
            suspects.add(test_id)
    return [tuple(entry) for entry in quick.values()], suspects


def verdicts(
    before: Mapping[int, Any], found: Mapping[int, list[Observation]], now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The new scores of the tests in `found` (rows keyed `b_<column>`, `b_id` the test),
    and the tests that just became flaky; `before` holds each test's row (id, key,
    flaky_score, flaky_confirmed, flaky_since) from before the run."""
    rows, newly = [], []
    for test_id, history in found.items():
        verdict = score(history, now)
        old = before.get(test_id)
        was_flaky = old is not None and (bool(old.flaky_confirmed) or old.flaky_score >= THRESHOLD)
        since = old.flaky_since if old is not None and was_flaky else None
        if verdict.flaky and not was_flaky:
            since = now
            if old is not None:
                newly.append(
                    {
                        "id": test_id,
                        "key": old.key,
                        "score": verdict.score,
                        "confirmed": verdict.confirmed,
                        "commit": verdict.commit,
                    }
                )
        rows.append(
            {
                "b_id": test_id,
                "b_window_runs": verdict.runs,
                "b_window_failures": verdict.failures,
                "b_flips": verdict.flips,
                "b_failure_estimate": verdict.failure_estimate,
                "b_flip_rate": verdict.flip_rate,
                "b_flaky_score": verdict.score,
                "b_flaky_confirmed": verdict.confirmed,
                "b_flaky_commit": verdict.commit,
                "b_flaky_since": since if verdict.flaky else None,
            }
        )
    return rows, newly
