"""What a `testcase_finished` event becomes in the `results` table: the run counter it
adds to, the columns it fills, its one-line message. Shared by both writers of the store
(`splice._internal.store.ingest` and `splice._internal.store.lite_ingest`)."""

from __future__ import annotations

from typing import Any

from splice._internal.store.errors import IngestError

COUNTERS = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "interrupted": "errors",
    "skipped": "skipped",
    "flaky": "flaky",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}
RESULT_FIELDS = (
    "status",
    "started_at",
    "duration",
    "attempts",
    "tags",
    "skip_reason",
    "message",
    "path",
    "line",
    "quarantined",
)


def body_of(event: dict[str, Any], key: str) -> dict[str, Any]:
    body = event.get(key)
    if not isinstance(body, dict):
        raise IngestError(f"{event.get('event')} without {key!r}")
    return body


def message(body: dict[str, Any]) -> str | None:
    """The first failure of the final attempt, as one line for lists."""
    attempts = body.get("attempts") or []
    if not attempts:
        return body.get("skip_reason")
    for step in attempts[-1].get("steps") or []:
        for failure in step.get("failures") or []:
            return str(failure.get("message", ""))[:500]
        if step.get("status") in ("failed", "error"):
            return f"step {step.get('name') or step.get('index')!r} {step.get('status')}"
    return None


def started_key(event: dict[str, Any]) -> tuple[str, str] | None:
    """(run id, test key) of a testcase_started event, None for any other (or a bad one).

    A writer may write such a start before the testcase_finished events it holds for its
    batch unless one of them is of the same test; so a live run, which sends a start and
    an end per testcase, still writes whole batches of testcases, not one at a time.
    """
    test = event.get("test")
    if event.get("event") != "testcase_started" or not isinstance(test, dict):
        return None
    return str(event.get("run_id", "")), f"{test.get('suite', '')}::{test.get('name', '')}"


def finished_key(run_id: str, body: dict[str, Any]) -> tuple[str, str]:
    """(run id, test key) of a testcase_finished event's testcase."""
    return run_id, f"{body.get('suite', '')}::{body.get('name', '')}"
