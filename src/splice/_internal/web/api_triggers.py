"""Runs started from outside: `POST /api/workflows/{name}/runs`, `POST /api/suites/runs`,
their status at `GET /api/triggers/{id}` (all of them at `GET /api/triggers`) and `DELETE`
to stop one. Starting needs a write token; the server must run with `--project DIR`
(`web.triggers` holds the queue, `store.trigger_rows` keeps it)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from splice._internal.errors import SpliceError, SuiteError, UsageError
from splice._internal.web.api import WRITE_ERRORS, Limit, error_answer, router
from splice._internal.web.auth import api_write
from splice._internal.web.triggers import QueueFull, RunMetadata, TriggerQueue, TriggerState

_Name = Field(default="", max_length=200)


class TriggerRequest(BaseModel):
    """What a pipeline says about the run it starts (all optional)."""

    model_config = ConfigDict(extra="forbid")
    branch: str = _Name
    commit: str = Field(default="", max_length=64)
    environment: str = Field(default="", max_length=200, description="e.g. staging")
    ci_url: str = Field(default="", max_length=2000, description="the pipeline's job")


class SuitesTriggerRequest(TriggerRequest):
    suites: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=100, description="globs in the project; none: its suites"
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="only testcases with one of these tags"
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="as `splice run -k`"
    )


class TriggerItem(BaseModel):
    id: str = Field(description="the trigger's id, which is also its run's id in the store")
    kind: str
    target: str
    status: str = Field(
        description="queued, running, passed, failed, error, interrupted, cancelled"
    )
    position: int | None = Field(description="place in the queue (1: next) while queued")
    branch: str
    commit: str
    environment: str
    ci_url: str
    queued_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    reason: str = Field(
        description="why it ended as it did when that was not its own doing: stopped or "
        "cancelled through the API, or the server stopped while it ran (pid N)"
    )
    status_url: str
    run_url: str
    dashboard_url: str


class TriggerAnswer(TriggerItem):
    log: list[str] = Field(description="the last lines of the run's output")
    log_note: str = Field(
        description="empty while this server holds the output; else why `log` is empty "
        "(it ran under a server that has stopped since)"
    )


class TriggerList(BaseModel):
    triggers: list[TriggerItem] = Field(description="newest first")


_STARTED = {
    **WRITE_ERRORS,
    404: error_answer("no such workflow, or the server runs without --project"),
    429: error_answer("the queue is full: try again after Retry-After seconds"),
    503: error_answer("the server is shutting down, or its store cannot be written"),
}


def _queue(request: Request) -> TriggerQueue:
    queue: TriggerQueue | None = getattr(request.app.state, "triggers", None)
    if queue is None:
        raise HTTPException(
            404,
            "this server starts no runs: start it with `splice serve --project DIR` "
            "(the folder of splice.yaml)",
        )
    return queue


def _answer(request: Request, queue: TriggerQueue, trigger_id: str) -> dict[str, Any]:
    view = queue.view(trigger_id)
    if view is None:
        raise HTTPException(404, f"no triggered run {trigger_id!r} on this server")
    return _linked(request, view)


def _linked(request: Request, view: dict[str, Any]) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    trigger_id = view["id"]
    return {
        **view,
        "status_url": f"{base}/api/triggers/{trigger_id}",
        "run_url": f"{base}/api/runs/{trigger_id}",
        "dashboard_url": f"{base}/runs/{trigger_id}",
    }


def _submit(
    request: Request, queue: TriggerQueue, what: tuple[str, str], args: list[str], body: Any
) -> Any:
    kind, target = what
    meta = RunMetadata(body.branch, body.commit, body.environment, body.ci_url)
    try:
        trigger = queue.submit(kind, target, args, meta)
    except QueueFull as full:
        return JSONResponse(
            {"detail": f"{full.message}; try again in {full.retry_after} s"},
            status_code=full.status,
            headers={"Retry-After": str(full.retry_after)},
        )
    answer = _answer(request, queue, trigger.id)
    return JSONResponse(answer, status_code=202, headers={"Location": answer["status_url"]})


@router.post(
    "/workflows/{name}/runs",
    status_code=202,
    response_model=TriggerAnswer,
    tags=["triggers"],
    responses=_STARTED,
)
def trigger_workflow(
    request: Request,
    name: str,
    _token: Annotated[str, Depends(api_write)],
    body: TriggerRequest | None = None,
) -> Any:
    """Start `splice workflow run NAME` in the server's project; 202 with its status URL."""
    queue = _queue(request)
    _check_workflow(queue, name)
    return _submit(
        request, queue, ("workflow", name), ["workflow", "run", name], body or TriggerRequest()
    )


@router.post(
    "/suites/runs",
    status_code=202,
    response_model=TriggerAnswer,
    tags=["triggers"],
    responses={**_STARTED, 400: error_answer("a suite glob outside the project")},
)
def trigger_suites(
    request: Request,
    _token: Annotated[str, Depends(api_write)],
    body: SuitesTriggerRequest | None = None,
) -> Any:
    """Start `splice run` of suites (globs, tags, keywords) in the server's project."""
    queue = _queue(request)
    body = body or SuitesTriggerRequest()
    for glob in body.suites:
        path = PurePosixPath(glob)
        if path.is_absolute() or ".." in path.parts or glob.startswith("-"):
            raise HTTPException(
                400, f"the suite glob {glob!r} leaves the project: give one relative to it"
            )
    args = ["run"]
    for tag in body.tags:
        args += ["--tag", tag]
    for keyword in body.keywords:
        args += ["-k", keyword]
    args += ["--", *body.suites]
    described = " ".join([*body.suites, *(f"tag:{t}" for t in body.tags)]) or "every suite"
    return _submit(request, queue, ("suites", described), args, body)


@router.get(
    "/triggers",
    response_model=TriggerList,
    tags=["triggers"],
    responses={404: error_answer("the server runs without --project")},
)
def trigger_listing(
    request: Request,
    status: Annotated[
        list[TriggerState] | None, Query(description="only these (repeatable)")
    ] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The server's triggered runs from the store, newest first (also from before a
    restart), with their places in the queue."""
    queue = _queue(request)
    views = queue.listing([s.value for s in status or ()], limit)
    return {"triggers": [_linked(request, v) for v in views]}


@router.get(
    "/triggers/{trigger_id}",
    response_model=TriggerAnswer,
    tags=["triggers"],
    responses={404: error_answer("no such triggered run")},
)
def trigger_status(request: Request, trigger_id: str) -> dict[str, Any]:
    """A triggered run's status: queued, running, then how it ended."""
    return _answer(request, _queue(request), trigger_id)


@router.delete(
    "/triggers/{trigger_id}",
    response_model=TriggerAnswer,
    status_code=202,
    tags=["triggers"],
    responses={**WRITE_ERRORS, 404: error_answer("no such triggered run")},
)
def trigger_cancel(
    request: Request, trigger_id: str, _token: Annotated[str, Depends(api_write)]
) -> dict[str, Any]:
    """Cancel a queued run, or stop a running one (SIGTERM: its teardowns run)."""
    queue = _queue(request)
    queue.cancel(trigger_id)
    return _answer(request, queue, trigger_id)


def _check_workflow(queue: TriggerQueue, name: str) -> None:
    """404 with a did-you-mean for an unknown workflow; 400 for a project with mistakes."""
    from splice._internal.project.loader import load_project
    from splice._internal.project.model import PROJECT_FILE
    from splice._internal.workflows.loader import find_workflow

    try:
        project = load_project(queue.settings.project / PROJECT_FILE)
        find_workflow(project, name)
    except UsageError as exc:
        detail = exc.message + (f"; {exc.hint}" if exc.hint else "")
        status = 404 if exc.message.startswith("no workflow named") else 400
        raise HTTPException(status, detail) from None
    except SuiteError as exc:
        first = exc.diagnostics[0]
        where = f"{first.span.shown(queue.settings.project)}: " if first.span else ""
        hint = f" (hint: {first.hint})" if first.hint else ""
        raise HTTPException(
            400, f"the project has a mistake: {where}{first.message}{hint}"
        ) from None
    except SpliceError as exc:
        raise HTTPException(400, f"the project cannot be loaded: {exc}") from None
