"""The writing half of the REST API: uploads of runs (whole, JUnit, streamed events), the
quarantine and webhooks. Every endpoint needs a write token (`api_write`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from splice.store import quarantine, webhooks
from splice.store.core import Store
from splice.store.errors import StoreError
from splice.store.importing import events_from_report, junit_run
from splice.store.ingest import Ingest, IngestError
from splice.store.meta import RunMeta
from splice.store.stream import events_of
from splice.web import models as m
from splice.web import models_in as mi
from splice.web.api import MALFORMED, WRITE_ERRORS, DbId, error_answer, router, store_of
from splice.web.auth import api_write


@router.post(
    "/runs",
    response_model=m.Created,
    status_code=201,
    tags=["uploads"],
    responses={**WRITE_ERRORS, 409: error_answer("a run with this id is stored")},
)
def upload_run(
    request: Request,
    *,
    report: Annotated[mi.RunReport, Body(description="a splice JSON report (splice run --json)")],
    _token: Annotated[str, Depends(api_write)],
    branch: Annotated[str, Query(max_length=200)] = "",
    commit: Annotated[str, Query(max_length=64)] = "",
    ci_url: Annotated[str, Query(max_length=2000)] = "",
    project: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, str]:
    """Store a finished run from its splice JSON report."""
    meta = RunMeta(
        source="upload", project=project, commit_sha=commit, branch=branch, ci_url=ci_url
    )
    try:
        events = events_from_report(report.model_dump(mode="json", by_alias=True), meta)
    except StoreError as exc:
        raise HTTPException(400, exc.message) from exc
    _apply(store_of(request), events)
    return {"id": events[0]["run_id"]}


@router.post(
    "/import/junit",
    response_model=m.Created,
    status_code=201,
    tags=["uploads"],
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    },
)
async def import_junit(
    request: Request,
    _token: Annotated[str, Depends(api_write)],
    branch: Annotated[str, Query(max_length=200)] = "",
    commit: Annotated[str, Query(max_length=64)] = "",
    ci_url: Annotated[str, Query(max_length=2000)] = "",
    project: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, str]:
    """Store a run from JUnit XML written by any tool (pytest, Maven, Jest, splice)."""
    data = await request.body()
    meta = RunMeta(source="junit", project=project, commit_sha=commit, branch=branch, ci_url=ci_url)
    try:
        parsed = junit_run(data, "the request body")
    except StoreError as exc:
        raise HTTPException(400, exc.message) from exc
    events = events_of(parsed, meta)
    await run_in_threadpool(_apply, store_of(request), events)
    return {"id": parsed.id}


@router.post(
    "/runs/{run_id}/events",
    response_model=m.Accepted,
    status_code=202,
    tags=["uploads"],
    responses={
        **WRITE_ERRORS,
        404: error_answer("unknown run"),
        409: error_answer("run exists or is finished"),
    },
)
def run_events(
    request: Request,
    run_id: mi.RunId,
    batch: mi.EventsIn,
    _token: Annotated[str, Depends(api_write)],
) -> dict[str, Any]:
    """Append events of a running run (what `splice run --report-to` streams).

    The run is the one of the URL: a `run_id` inside an event is ignored.
    """
    events = [{**event.model_dump(mode="json"), "run_id": run_id} for event in batch.events]
    _apply(store_of(request), events)
    return {"run_id": run_id, "events": len(events)}


def _apply(store: Store, events: list[dict[str, Any]]) -> None:
    try:
        Ingest(store).apply(events)
    except IngestError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except IntegrityError as exc:
        raise HTTPException(409, "the events conflict with what is stored") from exc
    except MALFORMED as exc:
        raise HTTPException(400, f"malformed event: {exc}") from exc


@router.post(
    "/quarantine",
    response_model=m.QuarantineEntry,
    status_code=201,
    tags=["quarantine"],
    responses=WRITE_ERRORS,
)
def quarantine_add(
    request: Request, entry: m.QuarantineIn, _token: Annotated[str, Depends(api_write)]
) -> dict[str, Any]:
    """Quarantine a test by its id (suite::testcase)."""
    store = store_of(request)
    try:
        quarantine.add(store, entry.test, entry.reason, added_by="api")
    except StoreError as exc:
        raise HTTPException(400, exc.message) from exc
    return next(e for e in quarantine.listing(store) if e["test"] == entry.test)


@router.delete(
    "/quarantine",
    status_code=204,
    tags=["quarantine"],
    responses={**WRITE_ERRORS, 404: error_answer("the test is not quarantined")},
)
def quarantine_remove(
    request: Request,
    *,
    test: Annotated[str, Query(max_length=2000)],
    _token: Annotated[str, Depends(api_write)],
) -> Response:
    """Release a test from the quarantine."""
    if not quarantine.remove(store_of(request), test):
        raise HTTPException(404, f"{test!r} is not quarantined")
    return Response(status_code=204)


@router.get(
    "/webhooks", response_model=list[m.WebhookOut], tags=["webhooks"], responses=WRITE_ERRORS
)
def webhooks_list(
    request: Request, _token: Annotated[str, Depends(api_write)]
) -> list[dict[str, Any]]:
    """Registered webhooks (without secrets) and their latest delivery."""
    return webhooks.listing(store_of(request))


@router.post(
    "/webhooks",
    response_model=m.WebhookCreated,
    status_code=201,
    tags=["webhooks"],
    responses=WRITE_ERRORS,
)
def webhooks_add(
    request: Request, hook: m.WebhookIn, _token: Annotated[str, Depends(api_write)]
) -> dict[str, Any]:
    """Register a webhook; the answer holds its signing secret, shown only this once."""
    try:
        hook_id, secret = webhooks.add(store_of(request), hook.url, list(hook.events), hook.secret)
    except StoreError as exc:
        raise HTTPException(400, exc.message) from exc
    return {"id": hook_id, "secret": secret}


@router.delete(
    "/webhooks/{hook_id}",
    status_code=204,
    tags=["webhooks"],
    responses={**WRITE_ERRORS, 404: error_answer("no such webhook")},
)
def webhooks_remove(
    request: Request, hook_id: DbId, _token: Annotated[str, Depends(api_write)]
) -> Response:
    """Remove a webhook and its queued deliveries."""
    if not webhooks.remove(store_of(request), hook_id):
        raise HTTPException(404, f"no webhook {hook_id}")
    return Response(status_code=204)
