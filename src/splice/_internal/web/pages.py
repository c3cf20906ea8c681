"""The dashboard's pages: runs, a run, a testcase's attempts, tests, a test's history,
flaky tests, trends, comparison of two runs. Server-rendered; the only script is
/static/splice.js (local times, live progress)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from splice._internal.store import quarantine, query_jobs, query_runs, query_tests, query_trends
from splice._internal.store.core import Store
from splice._internal.store.query_shards import LIVE_STATES
from splice._internal.web.auth import Viewer, viewer

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page, or a redirect to /login when the server is private and no token is known."""
    who: Viewer = viewer(request)
    public = context.pop("public", False)  # the sign-in page itself
    if request.app.state.auth.private and who.scope is None and not public:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    page = request.app.state.templates.get_template(template)
    html = page.render(
        request=request,
        viewer=who,
        store_kind=_store(request).dialect,
        version=request.app.state.version,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def not_found(request: Request, what: str) -> Response:
    return render(
        request, "error.html.j2", status_code=404, title="Not found", nav="", message=what
    )


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _day(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC).timestamp()
    except ValueError:
        return None


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    *,
    status: str = "",
    branch: str = "",
    tag: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
) -> Response:
    store = _store(request)
    end = _day(until)
    cursor = None
    if before:
        stamp, _, run_id = before.partition(":")
        try:
            cursor = (float(stamp), run_id)
        except ValueError:
            cursor = None
    runs = query_runs.list_runs(
        store,
        status=status if status in query_runs.RUN_STATUSES else None,
        branch=branch or None,
        tag=tag or None,
        since=_day(since),
        until=None if end is None else end + 86400,
        before=cursor,
        limit=PAGE_SIZE,
    )
    last = runs[-1] if len(runs) == PAGE_SIZE else None
    filters = {"status": status, "branch": branch, "tag": tag, "since": since, "until": until}
    return render(
        request,
        "runs.html.j2",
        title="Runs",
        nav="runs",
        runs=runs,
        filters=filters,
        filtered=any(filters.values()),
        statuses=query_runs.RUN_STATUSES,
        branches=query_runs.branches(store),
        tags=query_runs.tags(store),
        summary=query_trends.summary(store, days=30),
        flaky_count=query_tests.count_flaky(store),
        trend=query_trends.trends(store, days=30)["days"],
        next_cursor=f"{last['started_at']!r}:{last['id']}" if last else None,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    store = _store(request)
    run = query_runs.get_run(store, run_id)
    if run is None:
        return not_found(request, f"There is no run {run_id!r} in this store.")
    previous = query_runs.list_runs(
        store, branch=run["branch"] or None, before=(run["started_at"], run["id"]), limit=1
    )
    testcases = [tc for suite in run["suites"] for tc in suite["testcases"]]
    failing = [tc for tc in testcases if tc["status"] in ("failed", "error", "interrupted")]
    now = time.time()
    path = query_jobs.critical_path(run["jobs"], now)
    return render(
        request,
        "run.html.j2",
        title=f"Run {run_id}",
        nav="runs",
        run=run,
        failing=failing,
        previous=previous[0] if previous else None,
        critical=path,
        critical_total=sum(_job_time(j, now) for j in run["jobs"] if j["name"] in path),
        # a Dask shard's testcases are stored when it ends; until then, the counts it sent
        done=max(run["done"], sum(s["done"] or 0 for s in run["shards"])),
        jobs_left=sum(1 for j in run["jobs"] if j["status"] in ("pending", "running")),
        jobs_signature=",".join(f"{j['name']}:{j['status']}" for j in run["jobs"]),
        shards_left=sum(1 for s in run["shards"] if s["state"] in LIVE_STATES),
        shards_signature=",".join(_shard_signature(s) for s in run["shards"]),
        now=now,
    )


def _shard_signature(shard: dict[str, Any]) -> str:
    """What of a shard makes the page reload when it changes (`static/splice.js` builds
    the same from the run's JSON): its state, testcases done, and starts."""
    done = "" if shard["done"] is None else shard["done"]
    return f"{shard['name']}:{shard['state']}:{done}:{shard['starts']}"


def _job_time(job: dict[str, Any], now: float) -> float:
    if job["duration"] is not None:
        return float(job["duration"])
    if job["status"] == "running" and job["started_at"] is not None:
        return max(0.0, now - float(job["started_at"]))
    return 0.0


@router.get("/runs/{run_id}/artifacts/{artifact_id}")
def artifact_download(request: Request, run_id: str, artifact_id: int) -> Response:
    """A kept log or artifact file of a run, as text to save (what the store holds of it:
    its last 256 KiB)."""
    if request.app.state.auth.private and viewer(request).scope is None:
        return RedirectResponse(f"/login?next=/runs/{run_id}", status_code=303)
    found = query_runs.get_artifact(_store(request), run_id, artifact_id)
    if found is None:
        return not_found(request, f"Run {run_id!r} has no artifact {artifact_id}.")
    name = found["name"].rsplit(": ", 1)[-1] or f"artifact-{artifact_id}"
    safe = "".join(c if c.isalnum() or c in "-_.," else "_" for c in name)[:120] or "artifact"
    return Response(
        found["content"],
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@router.get("/runs/{run_id}/results/{result_id}", response_class=HTMLResponse)
def result_page(request: Request, run_id: str, result_id: int) -> Response:
    result = query_runs.get_result(_store(request), run_id, result_id)
    if result is None:
        return not_found(request, f"Run {run_id!r} has no testcase result {result_id}.")
    return render(request, "result.html.j2", title=result["key"], nav="runs", result=result)


@router.get("/tests", response_class=HTMLResponse)
def tests_page(request: Request, sort: str = "slowest", search: str = "") -> Response:
    rows = query_tests.list_tests(_store(request), sort=sort, search=search or None, limit=100)
    return render(
        request,
        "tests.html.j2",
        title="Tests",
        nav="tests",
        tests=rows,
        sort=sort,
        search=search,
    )


@router.get("/tests/{test_id}", response_class=HTMLResponse)
def test_page(request: Request, test_id: int) -> Response:
    test = query_tests.get_test(_store(request), test_id, limit=100)
    if test is None:
        return not_found(request, f"There is no test {test_id} in this store.")
    return render(request, "test.html.j2", title=test["key"], nav="tests", test=test)


@router.get("/flaky", response_class=HTMLResponse)
def flaky_page(request: Request) -> Response:
    ranking = query_tests.flaky_ranking(_store(request), limit=100)
    return render(request, "flaky.html.j2", title="Flaky tests", nav="flaky", ranking=ranking)


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, days: int = 30, branch: str = "") -> Response:
    store = _store(request)
    days = days if days in (7, 14, 30, 90, 180, 365) else 30
    return render(
        request,
        "trends.html.j2",
        title="Trends",
        nav="trends",
        days=days,
        branch=branch,
        branches=query_runs.branches(store),
        trend=query_trends.trends(store, days, branch or None)["days"],
        slowest=query_tests.list_tests(store, sort="slowest", limit=10),
        points=query_trends.integration_points(store, days, limit=10),
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, base: str = "", head: str = "") -> Response:
    store = _store(request)
    recent = query_runs.list_runs(store, limit=100)
    comparison = query_runs.compare(store, base, head) if base and head else None
    missing = bool(base and head and comparison is None)
    return render(
        request,
        "compare.html.j2",
        title="Compare runs",
        nav="compare",
        recent=recent,
        base=base,
        head=head,
        comparison=comparison,
        missing=missing,
    )


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, error: str = "") -> Response:
    entries = quarantine.listing(_store(request))
    return render(
        request,
        "quarantine.html.j2",
        title="Quarantine",
        nav="quarantine",
        entries=entries,
        error=error,
    )
