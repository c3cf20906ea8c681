"""The dashboard's contracts page: each integration (consumer → provider), its latest
pact and verification, and the verification matrix by version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from splice._internal.contracts import broker
from splice._internal.web.pages import _store, render

router = APIRouter(include_in_schema=False)


@router.get("/contracts", response_class=HTMLResponse)
def contracts_page(request: Request) -> Response:
    store = _store(request)
    return render(
        request,
        "contracts.html.j2",
        title="Contracts",
        nav="contracts",
        integrations=broker.integrations(store),
        matrix=broker.matrix(store, 200),
    )
