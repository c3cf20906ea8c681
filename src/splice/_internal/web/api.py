"""The REST API under /api: runs, results, tests, flakiness, trends; uploads; quarantine
and webhooks. Reads need a token only on a `--private` server; writes always need one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from splice._internal.store import quarantine, query_runs, query_tests, query_trends
from splice._internal.store.core import Store
from splice._internal.store.schema import HEAD
from splice._internal.web import models as m
from splice._internal.web.auth import api_read

router = APIRouter(
    prefix="/api",
    dependencies=[Depends(api_read)],
    responses={
        400: {"description": "a request that cannot be done as asked", "model": m.Problem},
        401: {
            "description": "a token is needed (writes; reads on a private server)",
            "model": m.Problem,
        },
    },
)
Limit = Annotated[int, Query(ge=1, le=500)]
DbId = Annotated[int, Path(ge=1, le=2**62)]  # row ids: within every database's integers
_DAY = r"^\d{4}-\d{2}-\d{2}$"  # an ISO day; a number would be taken for a timestamp
_DATE: dict[str, Any] = {"format": "date"}
MALFORMED = (ValueError, TypeError, KeyError, AttributeError)


def error_answer(description: str) -> dict[str, Any]:
    """A documented error answer: `{"detail": "..."}`."""
    return {"description": description, "model": m.Problem}


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_answer("no token, or not a token of this server"),
    403: error_answer("a read-only token"),
}


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _day_start(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{value!r} is not a day (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), UTC).timestamp()


def _cursor(value: str | None) -> tuple[float, str] | None:
    if not value:
        return None
    stamp, _, run_id = value.partition(":")
    try:
        return float(stamp), run_id
    except ValueError:
        raise HTTPException(400, "before must be a cursor from a previous page's `next`") from None


@router.get("/health", response_model=m.Health, tags=["server"])
def health(request: Request) -> dict[str, Any]:
    """The server answers and its store is at the schema revision it expects."""
    running = query_trends.summary(store_of(request), days=1)["running"]
    return {"status": "ok", "schema_revision": HEAD, "running_runs": running}


@router.get("/runs", response_model=m.RunPage, tags=["runs"])
def runs(
    request: Request,
    *,
    status: m.RunStatus | None = None,
    branch: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[
        str | None,
        Query(
            pattern=_DAY,
            json_schema_extra=_DATE,
            description="runs started on or after this day (UTC)",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            pattern=_DAY,
            json_schema_extra=_DATE,
            description="runs started on or before this day (UTC)",
        ),
    ] = None,
    before: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=r"^[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?:[A-Za-z0-9._:-]*$",
            description="`next` of the previous page (started_at:id of its last run)",
        ),
    ] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Runs, newest first, filtered by status, branch, tag of their testcases and day."""
    end = _day_start(until)
    rows = query_runs.list_runs(
        store_of(request),
        status=status,
        branch=branch,
        tag=tag,
        since=_day_start(since),
        until=None if end is None else end + 86400,
        before=_cursor(before),
        limit=limit,
    )
    last = rows[-1] if len(rows) == limit else None
    return {"runs": rows, "next": f"{last['started_at']!r}:{last['id']}" if last else None}


@router.get(
    "/runs/{run_id}",
    response_model=m.RunDetail,
    tags=["runs"],
    responses={404: error_answer("no such run")},
)
def run(request: Request, run_id: str) -> dict[str, Any]:
    """One run: metadata, services, testcases by suite, suite-level steps and service logs."""
    found = query_runs.get_run(store_of(request), run_id)
    if found is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return found


@router.get(
    "/runs/{run_id}/results/{result_id}",
    response_model=m.ResultDetail,
    tags=["runs"],
    responses={404: error_answer("no such result in this run")},
)
def result(request: Request, run_id: str, result_id: DbId) -> dict[str, Any]:
    """One testcase of a run: every attempt with its steps, requests, responses, failures."""
    found = query_runs.get_result(store_of(request), run_id, result_id)
    if found is None:
        raise HTTPException(404, f"no result {result_id} in run {run_id!r}")
    return found


@router.get("/tests", response_model=list[m.TestSummary], tags=["tests"])
def tests(
    request: Request,
    *,
    sort: m.TestSort = "slowest",
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """Tests (identities across runs) with their latest statistics."""
    return query_tests.list_tests(store_of(request), sort=sort, search=search, limit=limit)


@router.get(
    "/tests/{test_id}",
    response_model=m.TestDetail,
    tags=["tests"],
    responses={404: error_answer("no such test")},
)
def test(request: Request, test_id: DbId, limit: Limit = 100) -> dict[str, Any]:
    """A test's history across runs, newest first, with its flakiness and evidence."""
    found = query_tests.get_test(store_of(request), test_id, limit)
    if found is None:
        raise HTTPException(404, f"no test {test_id}")
    return found


@router.get("/flaky", response_model=list[m.FlakyEntry], tags=["tests"])
def flaky(request: Request, limit: Limit = 50) -> list[dict[str, Any]]:
    """Flaky tests, confirmed ones first, then by score, with their recent outcomes."""
    return query_tests.flaky_ranking(store_of(request), limit)


@router.get(
    "/compare",
    response_model=m.Comparison,
    tags=["runs"],
    responses={404: error_answer("one of the runs does not exist")},
)
def compare(
    request: Request,
    *,
    base: Annotated[str, Query(max_length=64)],
    head: Annotated[str, Query(max_length=64)],
) -> dict[str, Any]:
    """What newly failed, got fixed, got slower, appeared or vanished from base to head."""
    found = query_runs.compare(store_of(request), base, head)
    if found is None:
        raise HTTPException(404, "both base and head must be stored runs")
    return found


@router.get("/trends", response_model=m.Trends, tags=["trends"])
def trends(
    request: Request,
    *,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    branch: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Pass rate and run duration per day (UTC)."""
    return query_trends.trends(store_of(request), days, branch)


@router.get("/integration-points", response_model=m.IntegrationPoints, tags=["trends"])
def integration_points(
    request: Request, days: Annotated[int, Query(ge=1, le=365)] = 30, limit: Limit = 20
) -> dict[str, Any]:
    """The services, executors and endpoints whose steps fail most."""
    return query_trends.integration_points(store_of(request), days, limit)


@router.get("/quarantine", response_model=list[m.QuarantineEntry], tags=["quarantine"])
def quarantine_list(request: Request) -> list[dict[str, Any]]:
    """Quarantined tests: their failures are reported but do not fail a run."""
    return quarantine.listing(store_of(request))
