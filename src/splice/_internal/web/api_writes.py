"""The writing half of the REST API: uploads of runs (whole, JUnit, streamed events), the
quarantine and webhooks. Every endpoint needs a write token (`api_write`)."""

from __future__ import annotations

import tempfile
from typing import IO, Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError

from splice._internal.store import incoming as mi
from splice._internal.store import quarantine, webhooks
from splice._internal.store.core import Store
from splice._internal.store.errors import BadImport, StoreError
from splice._internal.store.importing import Format, Imported, store_stream
from splice._internal.store.ingest import Ingest, IngestError
from splice._internal.store.meta import RunMeta
from splice._internal.web import models as m
from splice._internal.web.api import MALFORMED, WRITE_ERRORS, DbId, error_answer, router, store_of
from splice._internal.web.auth import api_write

_REPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "a splice JSON report (splice run --json)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunReport"}}},
    }
}
_TOO_LARGE = error_answer("the body is larger than the server's --max-body")
_INVALID = {
    "description": "the report does not match its schema",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


@router.post(
    "/runs",
    response_model=m.Created,
    status_code=201,
    tags=["uploads"],
    responses={
        **WRITE_ERRORS,
        409: error_answer("a run with this id is stored"),
        413: _TOO_LARGE,
        422: _INVALID,
    },
    openapi_extra=_REPORT_BODY,
)
async def upload_run(
    request: Request,
    *,
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
    return await _upload(request, meta, Format.REPORT)


@router.post(
    "/import/junit",
    response_model=m.Created,
    status_code=201,
    tags=["uploads"],
    responses={
        **WRITE_ERRORS,
        413: _TOO_LARGE,
    },
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
    meta = RunMeta(source="junit", project=project, commit_sha=commit, branch=branch, ci_url=ci_url)
    return await _upload(request, meta, Format.JUNIT)


async def _upload(request: Request, meta: RunMeta, kind: Format) -> dict[str, str]:
    """The body, spooled to an unnamed temporary file (gone with the process, whatever
    happens), then read from it as a stream: memory does not grow with the body."""
    with tempfile.TemporaryFile(prefix="splice-upload-") as handle:
        async for chunk in request.stream():
            handle.write(chunk)
        handle.seek(0)
        imported = await run_in_threadpool(_import, store_of(request), handle, meta, kind)
    return {"id": imported.run_id}


def _import(store: Store, handle: IO[bytes], meta: RunMeta, kind: Format) -> Imported:
    try:
        return store_stream(store, handle, meta, kind, "the request body")
    except BadImport as exc:
        if exc.errors is not None:
            raise RequestValidationError(
                [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors]
            ) from exc
        raise HTTPException(400, exc.located("the request body")) from exc
    except StoreError as exc:
        raise HTTPException(400, exc.message) from exc
    except IngestError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except IntegrityError as exc:
        raise HTTPException(409, "the events conflict with what is stored") from exc
    except MALFORMED as exc:
        raise HTTPException(400, f"malformed event: {exc}") from exc


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
