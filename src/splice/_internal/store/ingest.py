"""Writing events (see `splice._internal.store.stream`) into the tables, in batches.

One `Ingest` serves one writer: the recorder of a run, or one request of the server. It
keeps the ids it has seen (tests by key, open results by run and key) so a live run costs
one round of bulk statements per batch, not a query per step.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from splice._internal.model.openapi_coverage import merge as merge_coverage
from splice._internal.store import schema as t
from splice._internal.store.bulk import Stats, insert_rows, step_rows, write_steps
from splice._internal.store.core import Store
from splice._internal.store.dialect import allocate_ids, insert_ignore, lock_for_writing
from splice._internal.store.errors import IngestError
from splice._internal.store.finish import finish_runs
from splice._internal.store.identity import TestIds
from splice._internal.store.result_rows import (
    COUNTERS,
    RESULT_FIELDS,
    body_of,
    finished_key,
    message,
    started_key,
)
from splice._internal.store.rows import dumps, loads, scrub, service_addresses
from splice._internal.store.shard_runs import ShardOf, end_item, outcome, shard_of, start_item

__all__ = ["Ingest", "IngestError"]

_CHUNK = 500  # keys per `IN (...)`: far below every database's limit on parameters
_BATCH = 1000  # testcases written together: an import of any size holds this many at once


@dataclass
class _Batch:
    """Rows gathered from consecutive testcase_finished events, written together."""

    testcases: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    held: set[tuple[str, str]] = field(default_factory=set)  # their (run id, test key)
    # starts not written yet: one whose end follows in the batch is never written, its
    # end inserts the whole row (the same row a start and an update leave)
    starts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class Ingest:
    """Applies events to a store; `apply` writes one batch in one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tests = TestIds()
        self._open: dict[tuple[str, str], int] = {}  # (run id, test key) -> result id
        self._addresses: dict[str, dict[str, str]] = {}  # run id -> host:port -> service
        # runs this Ingest started: all their open results are in `_open`, none to look up
        self._own: set[str] = set()
        self.finished: list[str] = []  # runs finished by the last `apply`

    def apply(self, events: Iterable[dict[str, Any]]) -> None:
        """Write `events` in one transaction; they may be a generator, consumed as written."""
        now = time.time()
        self.finished = []
        self._opened_elsewhere: dict[tuple[str, int], int] = {}
        if self.store.dialect == "postgresql":
            events = (scrub(e) for e in events)
        with self.store.engine.begin() as conn:
            lock_for_writing(conn)
            pending = _Batch()
            touched: set[str] = set()
            for event in events:
                kind, run_id = event.get("event"), str(event.get("run_id", ""))
                if not run_id:
                    raise IngestError("an event without run_id")
                touched.add(run_id)
                if kind == "testcase_finished":
                    body = event.get("testcase")
                    if not isinstance(body, dict):
                        raise IngestError("testcase_finished without a testcase")
                    key = finished_key(run_id, body)
                    pending.starts.pop(key, None)
                    pending.testcases.append((run_id, body, bool(event.get("quarantined"))))
                    pending.held.add(key)
                    if len(pending.testcases) >= _BATCH:
                        self._flush_all(conn, pending, now)
                        pending = _Batch()
                    continue
                started = started_key(event)
                if started is not None and not (
                    started in pending.held or started in pending.starts or started in self._open
                ):
                    self._require_run(conn, run_id)
                    pending.starts[started] = body_of(event, "test")
                    continue
                self._flush_all(conn, pending, now)
                pending = _Batch()
                self._one(conn, kind, run_id, event, now)
            self._flush_all(conn, pending, now)
            touched.difference_update(self.finished)
            if touched:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.id.in_(touched), t.runs.c.status == "running")
                    .values(updated_at=now)
                )

    def _flush_all(self, conn: Connection, batch: _Batch, now: float) -> None:
        """Write the ends held, then the starts of testcases still running (in the order
        they started: ids follow the order of ends, then of starts, either way)."""
        self._flush(conn, batch, now)
        for (run_id, _), test in batch.starts.items():
            self._testcase_started(conn, run_id, test)

    def _one(
        self, conn: Connection, kind: Any, run_id: str, event: dict[str, Any], now: float
    ) -> None:
        if kind == "run_started":
            self._run_started(conn, run_id, body_of(event, "run"), now)
        elif kind == "testcase_started":
            self._testcase_started(conn, run_id, body_of(event, "test"))
        elif kind == "suite_finished":
            self._require_run(conn, run_id)
            suite = body_of(event, "suite")
            name = str(suite.get("name", ""))
            stats: Stats = {}
            self._write_steps(
                conn,
                [
                    *self._step_rows(run_id, None, 0, name, suite.get("setup") or [], stats=stats),
                    *self._step_rows(
                        run_id, None, 0, name, suite.get("teardown") or [], stats=stats
                    ),
                ],
                stats,
            )
        elif kind == "artifacts":
            self._require_run(conn, run_id)
            items = event.get("items") or []
            kept = [
                {
                    "run_id": run_id,
                    "result_id": None,
                    "kind": str(item.get("kind", "output"))[:32],
                    "name": str(item.get("name", "")),
                    "content": str(item.get("content", "")),
                    "size": int(item.get("size") or len(str(item.get("content", "")))),
                }
                for item in items
                if isinstance(item, dict)
            ]
            if kept:
                conn.execute(t.artifacts.insert(), kept)
        elif kind == "run_finished":
            self._require_run(conn, run_id)
            body = body_of(event, "run")
            status = str(body.get("status", "passed"))
            if status not in ("passed", "failed", "error", "interrupted", "killed"):
                raise IngestError(f"unknown run status {status!r}")
            shard = shard_of(body)
            values: dict[str, Any] = {}
            if isinstance(body.get("services"), list):
                values["services"] = dumps(self._services(conn, run_id, body, shard)) or "[]"
            if isinstance(body.get("openapi"), list) and body["openapi"]:
                stored = conn.execute(select(t.runs.c.openapi).where(t.runs.c.id == run_id))
                merged = merge_coverage(loads(stored.scalar()), body["openapi"])
                values["openapi"] = dumps(merged) or "[]"
            if values:
                conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))
            finished_at = float(body.get("finished_at") or now)
            duration = body.get("duration")
            if shard is not None:
                item = end_item(shard, status, body, now)
                status_or_none = self._shard_ended(conn, run_id, shard, item)
                if status_or_none is None:
                    return  # other shards of the run are still to end
                status, duration = status_or_none, None  # from the first start to the last end
            finish_runs(conn, [run_id], status, finished_at, float(duration) if duration else None)
            self.finished.append(run_id)
            self._open = {k: v for k, v in self._open.items() if k[0] != run_id}
            self._own.discard(run_id)
        elif kind == "heartbeat":
            self._require_run(conn, run_id)
        else:
            raise IngestError(f"unknown event {kind!r}")

    def _run_started(self, conn: Connection, run_id: str, body: dict[str, Any], now: float) -> None:
        shard = shard_of(body)
        exists = conn.execute(
            select(t.runs.c.status, t.runs.c.total).where(t.runs.c.id == run_id)
        ).first()
        if exists and shard is not None and exists.status == "running":
            # another shard of the run started it: join, adding this shard's testcases
            total = exists.total + int(body.get("total") or 0)
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(total=total))
            self._shard_started(conn, run_id, shard, body, now)
            return
        if exists and shard is not None:
            raise IngestError(
                f"run {run_id!r} is already finished ({exists.status}): a shard joins only a run "
                "still running; give each new run of the shards a new --run-id",
                status=409,
            )
        if exists:
            raise IngestError(f"run {run_id!r} is already stored", status=409)
        services = body.get("services") or []
        self._addresses[run_id] = service_addresses(services if isinstance(services, list) else [])
        started = float(body.get("started_at") or now)
        sent = body  # a shard's own start keeps its pid
        if shard is not None:  # no pid: the run lives on when this shard's process ends
            body = {**body, "pid": None, "pid_start": None}
        else:
            self._own.add(run_id)
        conn.execute(
            t.runs.insert().values(
                id=run_id,
                status="running",
                source=str(body.get("source") or "run")[:16],
                project=str(body.get("project") or "")[:200],
                started_at=started,
                updated_at=now,
                commit_sha=str(body.get("commit_sha") or "")[:64],
                branch=str(body.get("branch") or "")[:200],
                ci_url=str(body.get("ci_url") or ""),
                host=str(body.get("host") or "")[:255],
                cwd=str(body.get("cwd") or ""),
                command=dumps(body.get("command")) or "[]",
                environment=dumps(body.get("environment")) or "{}",
                services=dumps(services) or "[]",
                pid=body.get("pid") if isinstance(body.get("pid"), int) else None,
                pid_start=str(body["pid_start"])[:32] if body.get("pid_start") else None,
                total=int(body.get("total") or 0),
            )
        )
        if shard is not None:
            self._shard_started(conn, run_id, shard, sent, now)

    def _shard_started(
        self, conn: Connection, run_id: str, shard: ShardOf, body: dict[str, Any], now: float
    ) -> None:
        item = start_item(shard, body, now)
        conn.execute(t.artifacts.insert().values(run_id=run_id, result_id=None, **item))

    def _services(
        self, conn: Connection, run_id: str, body: dict[str, Any], shard: ShardOf | None
    ) -> list[Any]:
        """The run's services: a shard's are added to those of the shards before it."""
        services = list(body["services"])
        if shard is None:
            return services
        row = conn.execute(select(t.runs.c.services).where(t.runs.c.id == run_id)).first()
        before = loads(row.services) if row is not None else []
        return [*(before if isinstance(before, list) else []), *services]

    def _shard_ended(
        self, conn: Connection, run_id: str, shard: ShardOf, item: dict[str, Any]
    ) -> str | None:
        """Keep a shard's end; the run's status when it was the last shard, else None."""
        conn.execute(t.artifacts.insert().values(run_id=run_id, result_id=None, **item))
        rows = conn.execute(
            select(t.artifacts.c.name, t.artifacts.c.content).where(
                t.artifacts.c.run_id == run_id, t.artifacts.c.kind == item["kind"]
            )
        )
        return outcome({row.name: row.content for row in rows}, shard.count)

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if run_id in self._addresses:
            return
        row = conn.execute(
            select(t.runs.c.services, t.runs.c.status).where(t.runs.c.id == run_id)
        ).first()
        if row is None:
            raise IngestError(f"no run {run_id!r}: send run_started first", status=404)
        if row.status != "running":
            raise IngestError(f"run {run_id!r} is already finished ({row.status})", status=409)
        self._addresses[run_id] = service_addresses(loads(row.services) or [])

    def _testcase_started(self, conn: Connection, run_id: str, test: dict[str, Any]) -> None:
        self._require_run(conn, run_id)
        key = f"{test.get('suite', '')}::{test.get('name', '')}"
        ids = self._test_ids(conn, [test])
        started = float(test.get("started_at") or time.time())
        result_id = conn.execute(
            t.results.insert()
            .values(
                run_id=run_id,
                test_id=ids[key],
                status="running",
                started_at=started,
                tags=dumps(test.get("tags")) or "[]",
                path=str(test.get("path", "")),
                line=int(test.get("line") or 0),
            )
            .returning(t.results.c.id)
        ).scalar_one()
        self._open[(run_id, key)] = result_id

    def _test_ids(self, conn: Connection, tests: list[dict[str, Any]]) -> dict[str, int]:
        return self._tests.ids(conn, tests)

    def _flush(self, conn: Connection, batch: _Batch, now: float) -> None:
        if not batch.testcases:
            return
        for run_id in {run_id for run_id, _, _ in batch.testcases}:
            self._require_run(conn, run_id)
        ids = self._test_ids(conn, [body for _, body, _ in batch.testcases])
        others = {run_id for run_id, _, _ in batch.testcases} - self._own
        if others:  # results opened by earlier requests (a streamed run): find them once
            for row in conn.execute(
                select(t.results.c.id, t.results.c.run_id, t.results.c.test_id).where(
                    t.results.c.run_id.in_(others), t.results.c.status == "running"
                )
            ):
                self._opened_elsewhere[(row.run_id, row.test_id)] = row.id
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        # per testcase: the id of its open result row, or None until the insert below
        slots: list[int | None] = []
        for run_id, body, quarantined in batch.testcases:
            key = f"{body.get('suite', '')}::{body.get('name', '')}"
            status = str(body.get("status", "passed"))
            if status not in COUNTERS:
                raise IngestError(f"unknown testcase status {status!r}")
            counts = counters[run_id]
            counts["done"] += 1
            counts[COUNTERS[status]] += 1
            counts["quarantined"] += int(quarantined)
            record = {
                "run_id": run_id,
                "test_id": ids[key],
                "status": status,
                "started_at": float(body.get("started_at") or now),
                "duration": float(body.get("duration") or 0.0),
                "attempts": len(body.get("attempts") or []),
                "tags": dumps(body.get("tags")) or "[]",
                "skip_reason": body.get("skip_reason"),
                "message": message(body),
                "path": str(body.get("path", "")),
                "line": int(body.get("line") or 0),
                "quarantined": quarantined,
            }
            open_id = self._open.pop((run_id, key), None)
            if open_id is None:
                open_id = self._opened_elsewhere.pop((run_id, ids[key]), None)
            if open_id is None:
                inserts.append(record)
            else:
                updates.append({f"b_{k}": record[k] for k in RESULT_FIELDS} | {"b_rid": open_id})
            slots.append(open_id)
        if updates:
            conn.execute(
                update(t.results)
                .where(t.results.c.id == bindparam("b_rid"))
                .values({c: bindparam(f"b_{c}") for c in RESULT_FIELDS}),
                updates,
            )
        new_ids = allocate_ids(conn, t.results, len(inserts))
        insert_rows(
            conn,
            "results",
            ("id", "run_id", "test_id", *RESULT_FIELDS),
            [
                (new_id, row["run_id"], row["test_id"], *(row[c] for c in RESULT_FIELDS))
                for row, new_id in zip(inserts, new_ids, strict=True)
            ],
        )
        inserted = iter(new_ids)
        steps_out: list[tuple[Any, ...]] = []
        attempt_rows: list[tuple[Any, ...]] = []
        tags: set[tuple[str, str]] = set()
        stats: Stats = {}
        for (run_id, body, _), slot in zip(batch.testcases, slots, strict=True):
            result_id = slot if slot is not None else next(inserted)
            suite = str(body.get("suite", ""))
            for attempt in body.get("attempts") or []:
                number = int(attempt.get("number") or 1)
                attempt_rows.append(
                    (
                        result_id,
                        number,
                        str(attempt.get("status", "")),
                        float(attempt.get("started_at") or 0.0),
                        float(attempt.get("duration") or 0.0),
                    )
                )
                steps_out += self._step_rows(
                    run_id, result_id, number, suite, attempt.get("steps") or [], stats=stats
                )
            for tag in body.get("tags") or []:
                tags.add((run_id, str(tag)[:200]))
        insert_rows(
            conn,
            "attempts",
            ("result_id", "number", "status", "started_at", "duration"),
            attempt_rows,
        )
        self._write_steps(conn, steps_out, stats)
        if tags:
            insert_ignore(
                conn,
                t.run_tags,
                [{"run_id": r, "tag": g} for r, g in sorted(tags)],
                ["run_id", "tag"],
            )
        for run_id, counts in counters.items():
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values({name: t.runs.c[name] + n for name, n in counts.items()})
            )

    def _step_rows(
        self,
        run_id: str,
        result_id: int | None,
        attempt: int,
        suite: str,
        steps: list[Any],
        *,
        stats: Stats,
    ) -> list[tuple[Any, ...]]:
        addresses = self._addresses.get(run_id, {})
        return step_rows(run_id, result_id, attempt, suite, steps, addresses=addresses, stats=stats)

    def _write_steps(self, conn: Connection, rows: list[tuple[Any, ...]], stats: Stats) -> None:
        write_steps(conn, rows, stats)
