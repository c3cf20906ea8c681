"""The ASGI application of `splice serve`, and its background work.

Besides answering requests the server delivers webhooks (`Dispatcher`) and, every minute,
marks runs whose process died as killed and applies the retention policy if one is set.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from splice import __version__
from splice._internal.store.core import Store
from splice._internal.store.delivery import Dispatcher
from splice._internal.store.incoming import RunReport
from splice._internal.web.auth import AuthConfig
from splice._internal.web.guard import DEFAULT_MAX_BODY, Guard, HostPolicy
from splice._internal.web.render import environment
from splice._internal.web.triggers import TriggerQueue, TriggerSettings

MAINTENANCE_INTERVAL = 60.0  # seconds between looks for killed runs
PRUNE_EVERY = 60  # maintenance rounds between retention passes (an hour)
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY = (
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


@dataclass
class Retention:
    """Runs kept: at most `max_runs`, none older than `max_age_days` (None: no limit)."""

    max_age_days: float | None = None
    max_runs: int | None = None


def create_app(
    store: Store,
    *,
    private: bool = False,
    background: bool = True,
    retention: Retention | None = None,
    allowed_hosts: Iterable[str] = (),
    max_body: int = DEFAULT_MAX_BODY,
    triggers: TriggerSettings | None = None,
    on_stop: Iterable[Callable[[], None]] = (),
) -> FastAPI:
    """The dashboard and API over `store`; `background` runs webhooks and maintenance.

    With `triggers` the API starts runs in that project (`web.triggers`): queued (in the
    store too), run as child processes, stopped when the server stops. `on_stop` is called
    after them, as the server stops (the Dask cluster of `--dist`): uvicorn ends a server
    stopped by SIGTERM by raising it again, so code after `uvicorn.run` does not run.

    Requests must name the server in `Host`: an IP address, localhost or one of
    `allowed_hosts` (`splice._internal.web.guard`); bodies past `max_body` bytes get 413.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        queue: TriggerQueue | None = app.state.triggers
        chores = _background(store, retention) if background else contextlib.nullcontext()
        async with chores:  # stopped last: the stopped runs' webhooks go out first
            if queue is not None:
                queue.start()
            try:
                yield
            finally:
                if queue is not None:
                    await run_in_threadpool(queue.stop)
                for close in closers:
                    await run_in_threadpool(close)

    @contextlib.asynccontextmanager
    async def _background(store: Store, retention: Retention | None) -> AsyncIterator[None]:
        dispatcher = Dispatcher(store)
        dispatcher.start()
        stop = threading.Event()
        worker = threading.Thread(
            target=_maintain,
            args=(store, retention, stop),
            name="splice-maintenance",
            daemon=True,
        )
        worker.start()
        try:
            yield
        finally:
            stop.set()
            dispatcher.stop()
            worker.join(timeout=10)

    closers = list(on_stop)
    app = _application(lifespan)
    app.state.store = store
    app.state.triggers = TriggerQueue(triggers, store) if triggers is not None else None
    app.state.auth = AuthConfig(store, private=private)
    app.state.templates = environment()
    app.state.version = __version__
    app.add_middleware(Guard, hosts=HostPolicy.of(allowed_hosts), max_body=max_body)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the REST API; needs no store (for docs and property tests)."""
    return _application(None).openapi()


def _application(lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="splice",
        version=__version__,
        summary="Run history of splice: runs, tests, flakiness, trends, uploads, webhooks.",
        description=(
            "Reads need a token only when the server runs with `--private`; writes always "
            "need a write token, sent as `Authorization: Bearer TOKEN`. Create tokens with "
            "`splice store token add NAME`."
        ),
        lifespan=lifespan,
        # the interactive docs pages load their scripts from a CDN: left out, as no page of
        # splice may need the internet; the OpenAPI document itself is served
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    from splice._internal.web import api, forms, pages, pages_contracts
    from splice._internal.web import api_contracts as _contracts  # noqa: F401 - adds its routes
    from splice._internal.web import api_pacticipants as _pacticipants  # noqa: F401 - adds its routes
    from splice._internal.web import api_triggers as _triggers  # noqa: F401 - adds its routes
    from splice._internal.web import api_writes as _writes  # noqa: F401 - adds its routes to api.router

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(forms.router)
    app.include_router(pages_contracts.router)
    static = resources.files("splice._internal.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    _document_report(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.add_middleware(_Headers)

    @app.exception_handler(404)
    async def missing(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=404)
        return pages.not_found(request, "There is no page at this address.")

    return app


def _document_report(app: FastAPI) -> None:
    """Adds the schema of `POST /api/runs`'s body to the OpenAPI document: the endpoint reads
    the body as a stream (a report may be hundreds of MB), so FastAPI does not see it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = generate()
        schema = RunReport.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(schema.pop("$defs", {}))
        schemas["RunReport"] = schema
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


class _Headers:
    """Security headers on every answer, and a complete `Allow` on 405.

    Plain ASGI rather than `@app.middleware("http")`: that one runs the app in a task group,
    which turns an exception raised while the body is read (413) into a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] == 405:
                    # Starlette names only the first matching route's methods; a path served
                    # by several routes (GET and POST /api/runs) must list all of them
                    headers["Allow"] = ", ".join(_allowed(scope["app"], Request(scope)))
                for name, value in _SECURITY:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_headers)


def _allowed(app: FastAPI, request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _maintain(store: Store, retention: Retention | None, stop: threading.Event) -> None:
    from splice._internal.store.retention import prune

    rounds = 0
    while not stop.wait(MAINTENANCE_INTERVAL):
        rounds += 1
        try:
            store.reap()
            limited = retention and (
                retention.max_age_days is not None or retention.max_runs is not None
            )
            if retention and limited and rounds % PRUNE_EVERY == 1:
                prune(store, retention.max_age_days, retention.max_runs)
        except Exception:  # noqa: BLE001 - maintenance retries next minute; serving goes on
            continue
