"""A triggered run as the queue holds it (`web.triggers`) and as the API shows it, also
when only its row in the store is left (`store.trigger_rows`): after a restart, or past the
triggers a server remembers."""

from __future__ import annotations

import collections
import subprocess
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

LOG_LINES = 200  # lines of a child's output kept for `GET /api/triggers/{id}`
LOG_GONE = (
    "the output of this run is not kept: only the server that ran it held it; "
    "its record is at run_url"
)


class TriggerState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # could not run: services did not start, a mistake in the suites
    INTERRUPTED = "interrupted"  # stopped while running (server shutdown, cancel)
    CANCELLED = "cancelled"  # stopped before it started

    @property
    def done(self) -> bool:
        return self not in (TriggerState.QUEUED, TriggerState.RUNNING)


@dataclass(frozen=True)
class RunMetadata:
    branch: str = ""
    commit: str = ""
    environment: str = ""
    ci_url: str = ""


@dataclass
class Trigger:
    id: str  # also the id of its run in the store
    kind: str  # workflow or suites
    target: str  # the workflow's name, or the suites' description
    args: list[str]  # of `splice`: ["workflow", "run", NAME], ["run", "--tag", ...]
    meta: RunMetadata
    state: TriggerState = TriggerState.QUEUED
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""  # why it ended as it did, when it was not its own doing
    log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    proc: subprocess.Popen[bytes] | None = None
    stop_requested: bool = False

    def as_dict(self, position: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "status": self.state.value,
            "position": position,
            "branch": self.meta.branch,
            "commit": self.meta.commit,
            "environment": self.meta.environment,
            "ci_url": self.meta.ci_url,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "log": list(self.log),
            "log_note": "",
        }

    def columns(self) -> dict[str, Any]:
        """Its row in `triggers` (without the owner)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "args": self.args,
            "state": self.state.value,
            "branch": self.meta.branch,
            "commit_sha": self.meta.commit,
            "environment": self.meta.environment,
            "ci_url": self.meta.ci_url,
            "queued_at": self.queued_at,
            "reason": self.reason,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Trigger:
        meta = RunMetadata(row["branch"], row["commit_sha"], row["environment"], row["ci_url"])
        return cls(
            row["id"],
            row["kind"],
            row["target"],
            list(row["args"] or []),
            meta,
            state=TriggerState(row["state"]),
            queued_at=row["queued_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            exit_code=row["exit_code"],
            reason=row["reason"],
        )


def row_answer(row: dict[str, Any]) -> dict[str, Any]:
    """The API's view of a trigger this server does not hold: no position, no output."""
    answer = Trigger.from_row(row).as_dict()
    answer["log_note"] = LOG_GONE
    return answer
