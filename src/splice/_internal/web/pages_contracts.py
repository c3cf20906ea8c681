"""The dashboard's contracts pages: each integration (consumer → provider), its latest
pact and verification, and the verification matrix by version; one integration's pact
(any published version) with its interactions and the verifications of each version; and
what changed between two versions of a pact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from splice._internal.contracts import broker, pact_view
from splice._internal.web.api_contracts import pact_diff
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


@router.get("/contracts/{consumer}/{provider}", response_class=HTMLResponse)
def contract_page(
    request: Request,
    consumer: str,
    provider: str,
    version: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    store = _store(request)
    versions = broker.pact_versions(store, provider, consumer)
    pact = broker.find_pact(store, provider, consumer, version=version) if versions else None
    if pact is None:
        known = ", ".join(v["version"] for v in versions[:10])
        problem = (
            f"{consumer} published version {version!r} of no pact with {provider}; "
            f"its versions: {known}"
            if versions
            else f"no pact between {consumer} and {provider} is published"
        )
        return render(
            request,
            "contract.html.j2",
            title=f"{consumer} → {provider}",
            nav="contracts",
            consumer=consumer,
            provider=provider,
            problem=problem,
            status_code=404,
        )
    items, unreadable = pact_view.interactions(pact["content"])
    verified = broker.matrix(store, 500, consumer=consumer, provider=provider)
    by_version: dict[str, list[dict[str, object]]] = {}
    for row in verified:
        by_version.setdefault(row["consumer_version"], []).append(row)
    return render(
        request,
        "contract.html.j2",
        title=f"{consumer} → {provider} {pact['version']}",
        nav="contracts",
        consumer=consumer,
        provider=provider,
        problem=None,
        pact=pact,
        interactions=items,
        unreadable=unreadable,
        versions=versions,
        verified=by_version,
    )


@router.get("/contracts/{consumer}/{provider}/diff", response_class=HTMLResponse)
def contract_diff_page(
    request: Request,
    consumer: str,
    provider: str,
    old: Annotated[str | None, Query(alias="from", max_length=200)] = None,
    new: Annotated[str | None, Query(alias="to", max_length=200)] = None,
) -> Response:
    try:
        found = pact_diff(request, provider, consumer, old, new)
    except HTTPException as exc:
        return render(
            request,
            "contract_diff.html.j2",
            title="Contract diff",
            nav="contracts",
            consumer=consumer,
            provider=provider,
            problem=str(exc.detail),
            found=None,
            status_code=404,
        )
    return render(
        request,
        "contract_diff.html.j2",
        title=f"{consumer} → {provider}: {found['from']} → {found['to']}",
        nav="contracts",
        consumer=consumer,
        provider=provider,
        problem=None,
        found=found,
    )
