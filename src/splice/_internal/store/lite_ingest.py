"""`LiteIngest`: events (see `store.stream`) written into a SQLite store with sqlite3.

The same events and the same rows as `splice._internal.store.ingest.Ingest` (a test compares the two
table by table), without SQLAlchemy: each batch is one `BEGIN IMMEDIATE` transaction, rows
go in with `executemany`, ids of new results are allocated under the write lock. The end of
a run is finished here as `store.finish` does it (counts, outage, flakiness, with the
scoring of `store.flaky_score`); only when the store has webhooks are their messages
queued through SQLAlchemy, right after the run's last transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict, namedtuple
from collections.abc import Iterable
from typing import Any

from splice._internal.model.openapi_coverage import merge as merge_coverage
from splice._internal.store.errors import IngestError
from splice._internal.store.flaky_score import (
    OUTAGE_MIN,
    REFRESH_TESTS,
    WINDOW,
    Observation,
    latest,
    verdicts,
)
from splice._internal.store.lite import LiteStore
from splice._internal.store.result_rows import (
    COUNTERS,
    RESULT_FIELDS,
    body_of,
    finished_key,
    message,
    started_key,
)
from splice._internal.store.rows import dumps, loads, service_addresses
from splice._internal.store.shard_runs import ShardOf, end_item, outcome, shard_of, start_item
from splice._internal.store.step_rows import COLUMNS, Stats, stat_rows, step_rows

_CHUNK = 500  # keys per `IN (...)`
_KEEP = 50000  # test ids cached at most (as `identity.TestIds`)
_BATCH = 1000
_STEPS_SQL = f"INSERT INTO steps ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_RESULTS_SQL = (
    f"INSERT INTO results (id, run_id, test_id, {', '.join(RESULT_FIELDS)}) "
    f"VALUES ({', '.join('?' * (len(RESULT_FIELDS) + 3))})"
)
_UPDATE_RESULT_SQL = (
    f"UPDATE results SET {', '.join(f'{c} = ?' for c in RESULT_FIELDS)} WHERE id = ?"
)
_TEST_COLUMNS = "id, key, path, line"
_Before = namedtuple("_Before", "id key flaky_score flaky_confirmed flaky_since")


class LiteIngest:
    """Applies events to a `LiteStore`; `apply` writes one batch in one transaction."""

    def __init__(self, store: LiteStore) -> None:
        self.store = store
        self.conn = store.conn
        self._tests: dict[str, tuple[int, str, int]] = {}  # key -> (id, path, line)
        self._open: dict[tuple[str, str], int] = {}  # (run id, test key) -> result id
        self._addresses: dict[str, dict[str, str]] = {}
        # runs this writer started: all their open results are in `_open`, none to look up
        self._own: set[str] = set()
        self.finished: list[str] = []
        self._ended: list[tuple[str, float, list[dict[str, Any]]]] = []

    def apply(self, events: Iterable[dict[str, Any]]) -> None:
        """Write `events` in one transaction."""
        now = time.time()
        self.finished, self._ended = [], []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            pending: list[tuple[str, dict[str, Any], bool]] = []
            held: set[tuple[str, str]] = set()  # (run id, test key) of `pending`
            # starts not written yet: one whose end follows in the batch is never written,
            # its end inserts the whole row (the same row a start and an update leave)
            starts: dict[tuple[str, str], dict[str, Any]] = {}
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
                    starts.pop(key, None)
                    pending.append((run_id, body, bool(event.get("quarantined"))))
                    held.add(key)
                    if len(pending) >= _BATCH:
                        self._flush_all(pending, starts, now)
                        pending, held, starts = [], set(), {}
                    continue
                started = started_key(event)
                if started is not None and not (
                    started in held or started in starts or started in self._open
                ):
                    self._require_run(run_id)
                    starts[started] = body_of(event, "test")
                    continue
                self._flush_all(pending, starts, now)
                pending, held, starts = [], set(), {}
                self._one(kind, run_id, event, now)
            self._flush_all(pending, starts, now)
            touched.difference_update(self.finished)
            for run_id in sorted(touched):
                conn.execute(
                    "UPDATE runs SET updated_at = ? WHERE id = ? AND status = 'running'",
                    (now, run_id),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for run_id, finished_at, newly in self._ended:
            _queue_webhooks(self.store, run_id, finished_at, newly)

    def _flush_all(
        self,
        batch: list[tuple[str, dict[str, Any], bool]],
        starts: dict[tuple[str, str], dict[str, Any]],
        now: float,
    ) -> None:
        """Write the ends held, then the starts of testcases still running (in the order
        they started: ids follow the order of ends, then of starts, either way)."""
        self._flush(batch, now)
        for (run_id, _), test in starts.items():
            self._testcase_started(run_id, test)

    def _one(self, kind: Any, run_id: str, event: dict[str, Any], now: float) -> None:
        conn = self.conn
        if kind == "run_started":
            self._run_started(run_id, body_of(event, "run"), now)
        elif kind == "testcase_started":
            self._testcase_started(run_id, body_of(event, "test"))
        elif kind == "suite_finished":
            self._require_run(run_id)
            suite = body_of(event, "suite")
            name = str(suite.get("name", ""))
            stats: Stats = {}
            self._write_steps(
                [
                    *self._step_rows(run_id, None, 0, name, suite.get("setup") or [], stats=stats),
                    *self._step_rows(
                        run_id, None, 0, name, suite.get("teardown") or [], stats=stats
                    ),
                ],
                stats,
            )
        elif kind == "artifacts":
            self._require_run(run_id)
            kept = [
                (
                    run_id,
                    None,
                    str(item.get("kind", "output"))[:32],
                    str(item.get("name", "")),
                    str(item.get("content", "")),
                    int(item.get("size") or len(str(item.get("content", "")))),
                )
                for item in event.get("items") or []
                if isinstance(item, dict)
            ]
            conn.executemany(
                "INSERT INTO artifacts (run_id, result_id, kind, name, content, size) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                kept,
            )
        elif kind == "run_finished":
            self._require_run(run_id)
            body = body_of(event, "run")
            status = str(body.get("status", "passed"))
            if status not in ("passed", "failed", "error", "interrupted", "killed"):
                raise IngestError(f"unknown run status {status!r}")
            shard = shard_of(body)
            if isinstance(body.get("services"), list):
                conn.execute(
                    "UPDATE runs SET services = ? WHERE id = ?",
                    (dumps(self._services(run_id, body, shard)) or "[]", run_id),
                )
            if isinstance(body.get("openapi"), list) and body["openapi"]:
                stored = conn.execute("SELECT openapi FROM runs WHERE id = ?", (run_id,))
                merged = merge_coverage(loads(stored.fetchone()[0]), body["openapi"])
                conn.execute(
                    "UPDATE runs SET openapi = ? WHERE id = ?", (dumps(merged) or "[]", run_id)
                )
            finished_at = float(body.get("finished_at") or now)
            duration = body.get("duration")
            if shard is not None:
                item = end_item(shard, status, body, now)
                status_or_none = self._shard_ended(run_id, shard, item)
                if status_or_none is None:
                    return  # other shards of the run are still to end
                status, duration = status_or_none, None  # from the first start to the last end
            self._finish(run_id, status, finished_at, float(duration) if duration else None)
            self.finished.append(run_id)
            self._open = {k: v for k, v in self._open.items() if k[0] != run_id}
            self._own.discard(run_id)
        elif kind == "heartbeat":
            self._require_run(run_id)
        else:
            raise IngestError(f"unknown event {kind!r}")

    def _run_started(self, run_id: str, body: dict[str, Any], now: float) -> None:
        conn = self.conn
        shard = shard_of(body)
        exists = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if exists and shard is not None and exists[0] == "running":
            # another shard of the run started it: join, adding this shard's testcases
            conn.execute(
                "UPDATE runs SET total = total + ? WHERE id = ?",
                (int(body.get("total") or 0), run_id),
            )
            self._keep(run_id, start_item(shard, body, now))
            return
        if exists and shard is not None:
            raise IngestError(
                f"run {run_id!r} is already finished ({exists[0]}): a shard joins only a run "
                "still running; give each new run of the shards a new --run-id",
                status=409,
            )
        if exists:
            raise IngestError(f"run {run_id!r} is already stored", status=409)
        services = body.get("services") or []
        self._addresses[run_id] = service_addresses(services if isinstance(services, list) else [])
        pid = body.get("pid")
        if shard is not None:  # no pid: the run lives on when this shard's process ends
            pid, body = None, {**body, "pid_start": None}
        else:
            self._own.add(run_id)
        conn.execute(
            "INSERT INTO runs (id, status, source, project, started_at, updated_at, commit_sha,"
            " branch, ci_url, host, cwd, command, environment, services, pid, pid_start, total)"
            " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                str(body.get("source") or "run")[:16],
                str(body.get("project") or "")[:200],
                float(body.get("started_at") or now),
                now,
                str(body.get("commit_sha") or "")[:64],
                str(body.get("branch") or "")[:200],
                str(body.get("ci_url") or ""),
                str(body.get("host") or "")[:255],
                str(body.get("cwd") or ""),
                dumps(body.get("command")) or "[]",
                dumps(body.get("environment")) or "{}",
                dumps(services) or "[]",
                pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
                str(body["pid_start"])[:32] if body.get("pid_start") else None,
                int(body.get("total") or 0),
            ),
        )
        if shard is not None:
            self._keep(run_id, start_item(shard, body, now))

    def _services(self, run_id: str, body: dict[str, Any], shard: ShardOf | None) -> list[Any]:
        """The run's services: a shard's are added to those of the shards before it."""
        services = list(body["services"])
        if shard is None:
            return services
        row = self.conn.execute("SELECT services FROM runs WHERE id = ?", (run_id,)).fetchone()
        before = loads(row[0]) if row is not None else []
        return [*(before if isinstance(before, list) else []), *services]

    def _keep(self, run_id: str, item: dict[str, Any]) -> None:
        """Keep a shard's start or end (`store.shard_runs`) as an artifact of the run."""
        self.conn.execute(
            "INSERT INTO artifacts (run_id, result_id, kind, name, content, size)"
            " VALUES (?, NULL, ?, ?, ?, ?)",
            (run_id, item["kind"], item["name"], item["content"], item["size"]),
        )

    def _shard_ended(self, run_id: str, shard: ShardOf, item: dict[str, Any]) -> str | None:
        """Keep a shard's end; the run's status when it was the last shard, else None."""
        self._keep(run_id, item)
        rows = self.conn.execute(
            "SELECT name, content FROM artifacts WHERE run_id = ? AND kind = ?",
            (run_id, item["kind"]),
        ).fetchall()
        return outcome(dict(rows), shard.count)

    def _require_run(self, run_id: str) -> None:
        if run_id in self._addresses:
            return
        row = self.conn.execute(
            "SELECT services, status FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise IngestError(f"no run {run_id!r}: send run_started first", status=404)
        if row[1] != "running":
            raise IngestError(f"run {run_id!r} is already finished ({row[1]})", status=409)
        self._addresses[run_id] = service_addresses(loads(row[0]) or [])

    def _testcase_started(self, run_id: str, test: dict[str, Any]) -> None:
        self._require_run(run_id)
        key = f"{test.get('suite', '')}::{test.get('name', '')}"
        ids = self._test_ids([test])
        cursor = self.conn.execute(
            "INSERT INTO results (run_id, test_id, status, started_at, tags, path, line)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?)",
            (
                run_id,
                ids[key],
                float(test.get("started_at") or time.time()),
                dumps(test.get("tags")) or "[]",
                str(test.get("path", "")),
                int(test.get("line") or 0),
            ),
        )
        assert cursor.lastrowid is not None
        self._open[(run_id, key)] = cursor.lastrowid

    def _test_ids(self, tests: list[dict[str, Any]]) -> dict[str, int]:
        """Ids of tests by key, inserting the new ones; path and line follow the latest run
        (as `splice._internal.store.identity.TestIds`)."""
        wanted = {f"{t.get('suite', '')}::{t.get('name', '')}": t for t in tests}
        known = self._tests
        if len(known) > _KEEP:
            known.clear()
        missing = [k for k in wanted if k not in known]
        self._read_tests(missing)
        new = [k for k in missing if k not in known]
        if new:
            now = time.time()
            self.conn.executemany(
                "INSERT INTO tests (key, suite, name, path, line, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                [
                    (
                        k,
                        str(wanted[k].get("suite", "")),
                        str(wanted[k].get("name", "")),
                        str(wanted[k].get("path", "")),
                        int(wanted[k].get("line") or 0),
                        float(wanted[k].get("started_at") or now),
                        float(wanted[k].get("started_at") or now),
                    )
                    for k in new
                ],
            )
            self._read_tests(new)
        moved = []
        for key, test in wanted.items():
            test_id, path, line = known[key]
            new_path, new_line = str(test.get("path", "")), int(test.get("line") or 0)
            if (new_path, new_line) != (path, line):
                moved.append((new_path, new_line, test_id))
                known[key] = (test_id, new_path, new_line)
        if moved:
            self.conn.executemany("UPDATE tests SET path = ?, line = ? WHERE id = ?", moved)
        return {k: known[k][0] for k in wanted}

    def _read_tests(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for test_id, key, path, line in self.conn.execute(
                f"SELECT {_TEST_COLUMNS} FROM tests WHERE key IN ({marks})", chunk
            ):
                self._tests[key] = (test_id, path, line)

    def _flush(self, batch: list[tuple[str, dict[str, Any], bool]], now: float) -> None:
        if not batch:
            return
        conn = self.conn
        for run_id in {run_id for run_id, _, _ in batch}:
            self._require_run(run_id)
        ids = self._test_ids([body for _, body, _ in batch])
        others = {run_id for run_id, _, _ in batch} - self._own
        elsewhere: dict[tuple[str, int], int] = {}
        for run_id in others:  # results opened by another writer: find them once
            for result_id, test_id in conn.execute(
                "SELECT id, test_id FROM results WHERE run_id = ? AND status = 'running'",
                (run_id,),
            ):
                elsewhere[(run_id, test_id)] = result_id
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        slots: list[int | None] = []
        for run_id, body, quarantined in batch:
            key = f"{body.get('suite', '')}::{body.get('name', '')}"
            status = str(body.get("status", "passed"))
            if status not in COUNTERS:
                raise IngestError(f"unknown testcase status {status!r}")
            counts = counters[run_id]
            counts["done"] += 1
            counts[COUNTERS[status]] += 1
            counts["quarantined"] += int(quarantined)
            values = (
                status,
                float(body.get("started_at") or now),
                float(body.get("duration") or 0.0),
                len(body.get("attempts") or []),
                dumps(body.get("tags")) or "[]",
                body.get("skip_reason"),
                message(body),
                str(body.get("path", "")),
                int(body.get("line") or 0),
                quarantined,
            )
            open_id = self._open.pop((run_id, key), None)
            if open_id is None:
                open_id = elsewhere.pop((run_id, ids[key]), None)
            if open_id is None:
                inserts.append((run_id, ids[key], *values))
            else:
                updates.append((*values, open_id))
            slots.append(open_id)
        if updates:
            conn.executemany(_UPDATE_RESULT_SQL, updates)
        start = conn.execute("SELECT coalesce(max(id), 0) FROM results").fetchone()[0]
        new_ids = range(start + 1, start + 1 + len(inserts))
        if inserts:
            conn.executemany(
                _RESULTS_SQL, [(i, *row) for i, row in zip(new_ids, inserts, strict=True)]
            )
        inserted = iter(new_ids)
        steps_out: list[tuple[Any, ...]] = []
        attempt_rows: list[tuple[Any, ...]] = []
        tags: set[tuple[str, str]] = set()
        stats: Stats = {}
        for (run_id, body, _), slot in zip(batch, slots, strict=True):
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
        conn.executemany(
            "INSERT INTO attempts (result_id, number, status, started_at, duration)"
            " VALUES (?, ?, ?, ?, ?)",
            attempt_rows,
        )
        self._write_steps(steps_out, stats)
        if tags:
            conn.executemany(
                "INSERT INTO run_tags (run_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
                sorted(tags),
            )
        self._add_counts(counters)

    def _add_counts(self, counters: dict[str, dict[str, int]]) -> None:
        """Add the testcases of a batch to the counters of their runs."""
        for run_id, counts in counters.items():
            names = sorted(counts)
            self.conn.execute(
                f"UPDATE runs SET {', '.join(f'{n} = {n} + ?' for n in names)} WHERE id = ?",
                (*(counts[n] for n in names), run_id),
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

    def _write_steps(self, rows: list[tuple[Any, ...]], stats: Stats) -> None:
        if not rows:
            return
        self.conn.executemany(_STEPS_SQL, rows)
        self.conn.executemany(
            "INSERT INTO target_stats (day, executor, service, target, calls, failures, duration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, executor, service, target) DO UPDATE"
            " SET calls = calls + excluded.calls, failures = failures + excluded.failures,"
            " duration = duration + excluded.duration",
            stat_rows(stats),
        )

    def _finish(self, run_id: str, status: str, finished_at: float, duration: float | None) -> None:
        """`splice._internal.store.finish.finish_runs` for one run."""
        conn = self.conn
        run = conn.execute(
            "SELECT status, updated_at, started_at, done, errors, skipped, failed"
            " FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if run is None or run[0] != "running":
            return
        _, updated_at, started_at, done, errors, skipped, failed = run
        end = updated_at if status == "killed" else finished_at
        open_results = conn.execute(
            "UPDATE results SET status = 'interrupted', message = ?"
            " WHERE run_id = ? AND status = 'running'",
            ("the run ended before this testcase did", run_id),
        ).rowcount
        done, errors = done + open_results, errors + open_results
        tested = done - skipped
        failing = failed + errors
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, duration = ?, updated_at = ?,"
            " done = ?, errors = ?, outage = ? WHERE id = ?",
            (
                status,
                end,
                duration if duration is not None else max(0.0, end - started_at),
                end,
                done,
                errors,
                tested >= OUTAGE_MIN and failing * 2 > tested,
                run_id,
            ),
        )
        newly = self._refresh_flaky(run_id, finished_at)
        self._ended.append((run_id, finished_at, newly))

    def _refresh_flaky(self, run_id: str, now: float) -> list[dict[str, Any]]:
        """`splice._internal.store.flaky.refresh` for one run."""
        conn = self.conn
        ids = sorted(
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT test_id FROM results WHERE run_id = ? AND status != 'running'",
                (run_id,),
            )
        )
        newly: list[dict[str, Any]] = []
        for start in range(0, len(ids), REFRESH_TESTS):
            chunk = ids[start : start + REFRESH_TESTS]
            rows = conn.execute(
                "SELECT r.test_id, r.status, r.started_at, r.duration, u.outage,"
                " t.avg_duration, t.window_runs, t.window_failures, t.flips,"
                " t.flaky_confirmed, t.flaky_score, t.last_seen"
                " FROM results r JOIN runs u ON u.id = r.run_id JOIN tests t ON t.id = r.test_id"
                " WHERE r.run_id = ? AND r.status != 'running' AND r.test_id BETWEEN ? AND ?"
                " ORDER BY r.started_at",
                (run_id, chunk[0], chunk[-1]),
            ).fetchall()
            changed, suspects = latest(rows)
            conn.executemany(
                "UPDATE tests SET avg_duration = ?, window_runs = ?, last_seen = ?,"
                " last_status = ?, last_duration = ? WHERE id = ?",
                changed,
            )
            newly += self._rescore(sorted(suspects), now)
        return newly

    def _rescore(self, test_ids: list[int], now: float) -> list[dict[str, Any]]:
        if not test_ids:
            return []
        conn = self.conn
        before = {}
        for start in range(0, len(test_ids), _CHUNK):
            chunk = test_ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in conn.execute(
                "SELECT id, key, flaky_score, flaky_confirmed, flaky_since FROM tests"
                f" WHERE id IN ({marks})",
                chunk,
            ):
                before[row[0]] = _Before(*row)
        history = {
            test_id: [
                Observation(status, started, duration, commit, run, bool(outage))
                for status, started, duration, commit, run, outage in conn.execute(
                    "SELECT r.status, r.started_at, r.duration, u.commit_sha, r.run_id, u.outage"
                    " FROM results r JOIN runs u ON u.id = r.run_id"
                    " WHERE r.test_id = ? AND r.status != 'running'"
                    " ORDER BY r.started_at DESC LIMIT ?",
                    (test_id, WINDOW),
                )
            ]
            for test_id in test_ids
        }
        rows, newly = verdicts(before, history, now)
        if rows:
            columns = [k[2:] for k in rows[0] if k != "b_id"]
            conn.executemany(
                f"UPDATE tests SET {', '.join(f'{c} = :b_{c}' for c in columns)} WHERE id = :b_id",
                rows,
            )
        return newly


def _queue_webhooks(
    store: LiteStore, run_id: str, finished_at: float, newly: list[dict[str, Any]]
) -> None:
    """Queue the webhook messages of a run that ended, when the store has webhooks (then
    through SQLAlchemy, which builds them: `splice._internal.store.webhooks.run_ended`)."""
    try:
        if store.conn.execute("SELECT 1 FROM webhooks LIMIT 1").fetchone() is None:
            return
    except sqlite3.OperationalError:
        return
    from splice._internal.store import webhook_queue
    from splice._internal.store.core import Store

    full = Store.open(store.url)
    try:
        with full.engine.begin() as conn:
            webhook_queue.run_ended(conn, run_id, finished_at, newly)
    finally:
        full.close()
